"""TensorFlow work in a child process of the Dask worker, replaced when it has grown.

Keras and TensorFlow keep memory for every model a process builds (about 9 MiB per model
here, and a 15-trial tuning task grows a process by 400-600 MiB; neither
``keras.backend.clear_session``, oneDNN's primitive cache nor TensorFlow's kernel cache
gives it back: docs/PERFORMANCE.md). Memory a process holds is returned only when it exits.
So the tuning and training tasks run their TensorFlow part in one child process per worker
(a ``concurrent.futures.ProcessPoolExecutor`` of one spawned process); after a task whose
child ends above ``recycle_mib`` resident, the child is shut down and the next task starts a
fresh one; a task that says how much it may grow (``room_mib``: a tuning's trials, up to
about 30 MiB each, measured) starts a fresh one unless the current one has that room below
``recycle_mib``. The worker itself never imports TensorFlow, so a worker with its child
stays near ``recycle_mib`` plus one training cell's growth, plus the worker's own few
hundred MiB.

A child that loses its worker (killed, or stopped by the run's SIGINT/SIGTERM) exits within
half a second: it watches its parent's pid. It ignores SIGINT, which a terminal sends to the
whole process group: the run stops its workers, and they stop it. It imports TensorFlow when
it starts, with its C-level stderr sent to /dev/null for the import only: TensorFlow's
absl start-up lines ("All log messages before absl::InitializeLog() ...", the oneDNN
banner) ignore ``TF_CPP_MIN_LOG_LEVEL`` and would be printed by every new process. Its
logger drops one warning, TensorFlow's "excessive retracing" of Keras's train and test step:
Keras traces that step anew for every model it fits, and this process fits one per trial and
cell by design (a ``logging`` filter on the "tensorflow" logger; every other TensorFlow
warning, and that one for any other function, is kept).
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["run_in_child", "rss_mib", "DAEMON_NOTE", "stop_child", "import_tensorflow_quietly"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_noted = False
_last_rss = 0.0
DAEMON_NOTE = ("this Dask worker is a daemon process, so TensorFlow runs inside it and its "
               "memory is not given back between tasks; start workers with "
               "DASK_DISTRIBUTED__WORKER__DAEMON=False to recycle it")


def rss_mib() -> float:
    """This process's resident memory now (Linux /proc; the peak where /proc is absent)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _not_keras_step_retracing(record: logging.LogRecord) -> bool:
    """False for TensorFlow's retracing warning about Keras's train/test step (module doc)."""
    msg = record.getMessage()
    return not ("triggered tf.function retracing" in msg
                and "TensorFlowTrainer._make_function" in msg)


def import_tensorflow_quietly() -> None:
    """``import tensorflow`` with file descriptor 2 on /dev/null meanwhile: its absl start-up
    lines ignore ``TF_CPP_MIN_LOG_LEVEL`` (module doc). Also flows/quiet.py's."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # nothing to flush or save at exit (results went back, files are written atomically):
    # skip the interpreter's and TensorFlow's teardown, 1.6 s, which held the worker's close
    atexit.register(os._exit, 0)
    import_tensorflow_quietly()         # what every task here needs; quietly, see above
    logging.getLogger("tensorflow").addFilter(_not_keras_step_retracing)

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)                     # the worker is gone: so is its work
    threading.Thread(target=watch, daemon=True, name="watch-worker").start()


def _call(fn, args, kwargs):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn(*args, **kwargs)
    return result, {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
                    "rss_mib": rss_mib(),
                    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    "pid": os.getpid()}


def run_in_child(fn, *args, recycle_mib: float, room_mib: float = 0.0, **kwargs):
    """``fn(*args, **kwargs)`` in this worker's TensorFlow process; returns ``(result, stats)``.

    ``stats``: the call's CPU and wall seconds in the child, the child's resident and peak
    MiB after it, its pid, ``new_child`` (this call started the process), ``overhead_s``
    (seconds beyond the call itself: replacing a process without ``room_mib``, the new
    process's start and TensorFlow's import, passing arguments and result) and
    ``shutdown_s`` (replacing the process after the call). ``fn`` and its arguments must
    be picklable (a module-level function). An exception ``fn`` raises is raised here; a
    child that died (killed, out of memory) raises ``BrokenProcessPool`` and the next call
    starts a new one. ``room_mib``: what the call may grow the process by; a process
    without that room below ``recycle_mib`` is replaced first.

    A daemonic worker (Dask's default ``distributed.worker.daemon: true``, which the local
    clusters of flows/runner.py turn off) may not start processes: there ``fn`` runs in the
    worker itself and ``stats`` is ``{"isolated": False}``, with a ``note`` to log the first
    time.
    """
    global _pool, _noted, _last_rss
    if multiprocessing.current_process().daemon:
        note = None if _noted else DAEMON_NOTE
        _noted = True
        return fn(*args, **kwargs), {"isolated": False, "note": note}
    with _lock:                          # a worker runs one task at a time; be sure of it
        t0 = time.perf_counter()
        if _pool is not None and _last_rss + room_mib > recycle_mib:
            _pool.shutdown(wait=True)
            _pool = None
        new = _pool is None
        if new:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(os.getpid(),))
        try:
            result, stats = _pool.submit(_call, fn, args, kwargs).result()
        except BrokenProcessPool:
            _pool = None
            raise
        t1 = time.perf_counter()
        _last_rss = stats["rss_mib"]
        if stats["rss_mib"] > recycle_mib:
            _pool.shutdown(wait=True)
            _pool = None
        stats.update(new_child=new, overhead_s=t1 - t0 - stats["wall_s"],
                     shutdown_s=time.perf_counter() - t1)
        return result, stats


def stop_child() -> None:
    """Shut this worker's TensorFlow process down (it is idle between tasks); a closing
    worker calls it (flows.runner.StopTensorFlowProcess)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None

