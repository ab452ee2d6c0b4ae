"""Stopping ``hf-budget run`` with SIGINT (Ctrl-C) or SIGTERM: workers stopped, lock
released, one line, exit 128 + the signal number (130, 143).

Two processes. The command the user started is a small supervisor: it runs the
experiment in a child process of its own process group and forwards SIGINT, SIGTERM
and SIGHUP to it. Ctrl-C in a terminal signals the whole foreground process group;
without the separate group it would also reach the Dask workers (tracebacks) and
Prefect's ephemeral server, and the run would then wait forever on a server that is
gone. The child notices if the supervisor dies (``kill -9``) and stops itself.

In the child, while a flow runs, Prefect's engine turns SIGTERM into
``TerminationSignal``, marks the run Crashed, then restores the handler it found and
sends the signal again. Left at the default, that second SIGTERM would end the process
on the spot, leaving its Dask workers and ephemeral server behind.
:func:`stop_on_signals` installs the handler Prefect finds, which raises
:class:`Stopped` instead, so the exception unwinds through the flow: the Dask task
runner closes the cluster (its workers with it), the flow releases the output folder's
lock, Prefect stops its server at exit. Task results stored before the signal are
kept, so the same command resumes with the finished cells ``Cached``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["Stopped", "stop_on_signals", "supervise", "watch_supervisor", "IN_CHILD"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
IN_CHILD = "HF_BUDGET_SUPERVISED_BY"
"""Set in the child's environment to the supervisor's pid."""


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (a KeyboardInterrupt, so Prefect records it as one)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def stop_on_signals():
    """Within the block, the first SIGINT or SIGTERM raises :class:`Stopped` in the main
    thread; later ones are ignored while the run shuts down (``kill -9`` still ends it)."""
    stopping = []

    def handler(signum, frame):
        if stopping:
            return
        stopping.append(signum)
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def supervise(argv: list[str]) -> int:
    """Run ``python -m flows.cli *argv`` in a process group of its own, forwarding stop
    signals to it; its exit code (128 + N if a signal N ended it)."""
    env = dict(os.environ, **{IN_CHILD: str(os.getpid())})
    child = subprocess.Popen([sys.executable, "-m", "flows.cli", *argv], env=env,
                             stdin=subprocess.DEVNULL, process_group=0)

    def forward(signum, frame):
        try:
            child.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)
        except ProcessLookupError:
            pass

    for s in (*STOP_SIGNALS, signal.SIGHUP):
        signal.signal(s, forward)
    rc = child.wait()
    if rc < 0:
        print(f"hf-budget: the run process was ended by {signal.Signals(-rc).name}; finished "
              f"cells are kept: the same command resumes", file=sys.stderr)
        return 128 - rc
    return rc


def watch_supervisor(poll_s: float = 0.5) -> None:
    """In the child: stop (as on SIGTERM) once the supervising process has gone. The
    variable naming the supervisor is removed, so processes this one starts (workers,
    the Prefect server) do not take it for theirs."""
    supervisor = int(os.environ.pop(IN_CHILD, "0") or 0)
    if not supervisor:
        return

    def watch():
        while os.getppid() == supervisor:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hf-budget-supervisor-watch", daemon=True).start()
