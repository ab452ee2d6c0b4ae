"""Restart a Dask worker whose memory has passed a limit, between two tasks, losing no work.

TensorFlow keeps about 10 MiB of every Keras model a process has built, for the life of
the process, even after ``keras.backend.clear_session()`` and a garbage collection
(measured: 24 fits took a worker from 811 to 1039 MiB; upstream keras-team/keras#17458,
keras-team/tf-keras#286). A worker that builds hundreds of models (trials and cells)
grew to 4.2 GiB in the seed-scale run. :class:`MemoryRecycler` restarts such a worker
through its nanny, as Dask's own ``distributed.worker.lifetime.restart`` does, but only
between tasks:

1. the worker stops starting new tasks (status ``paused``, what Dask's memory monitor
   does at its pause threshold; tasks queued on it go back to the scheduler later). The
   local cluster runs without a Dask ``memory_limit``, whose monitor would resume it;
2. the task it is running finishes;
3. the scheduler retires it: its results are copied to another worker first;
4. its nanny restarts it (``Client.restart_workers``): a fresh process, which gets this
   plugin again (the scheduler keeps registered plugins for new workers).

It recycles only while another worker is running, one worker at a time (the heaviest
first), because Dask refuses to retire a worker whose results no other worker can take
(a single-worker cluster, or all others paused); a refused retirement sets the worker
back to work, and it tries again after a pause. Each restart is logged as a Dask event (:data:`EVENT_TOPIC`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["MemoryRecycler", "EVENT_TOPIC", "restarts"]

EVENT_TOPIC = "hf-budget-worker-restart"
log = logging.getLogger("hf_budget.recycling")


def _rss() -> int:
    import psutil
    return psutil.Process(os.getpid()).memory_info().rss


class MemoryRecycler(WorkerPlugin):
    """Restart the worker, between tasks, once its resident memory exceeds ``limit_mib``.

    Args:
        limit_mib: the threshold (MiB of resident memory of the worker process).
        interval: seconds between two checks.
        retry_after: seconds to wait after a retirement Dask refused (plus up to 50 %
            at random, so two workers that refused each other do not meet again).
    """

    idempotent = True          # registering it again (a rerun on the same cluster) is a no-op
    name = "hf-budget-memory-recycler"

    def __init__(self, limit_mib: int, interval: float = 1.0, retry_after: float = 20.0):
        self.limit_mib = int(limit_mib)
        self.interval = float(interval)
        self.retry_after = float(retry_after)

    def setup(self, worker) -> None:
        self._worker = worker
        self._not_before = 0.0
        self._tasks_done = 0         # a process that has run nothing has nothing to free

    def transition(self, key, start, finish, **kwargs) -> None:
        if start == "executing":
            self._tasks_done += 1
        self._task = asyncio.ensure_future(self._watch())

    def teardown(self, worker) -> None:
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()

    async def _watch(self) -> None:
        from distributed.core import Status
        worker = self._worker
        while worker.status in (Status.init, Status.running, Status.paused):
            await asyncio.sleep(self.interval)
            if (worker.status == Status.running and worker.nanny and self._tasks_done
                    and time.monotonic() >= self._not_before
                    and _rss() > self.limit_mib * 2 ** 20):
                try:
                    outcome = await self._recycle()
                except Exception as err:          # never take the worker down with us
                    log.warning("memory recycling of %s failed: %s", worker.address, err)
                    if worker.status == Status.paused:
                        worker.status = Status.running
                    outcome = "refused"
                if outcome == "restarting":
                    return
                if outcome == "refused":
                    self._not_before = time.monotonic() + self.retry_after * (1 + 0.5 * random.random())

    async def _my_turn(self) -> bool:
        """Whether this worker may recycle now: another worker is running (to take its
        results and tasks), none is already being recycled, and of the running workers
        above the limit (memory as last reported to the scheduler) it has the most."""
        me = self._worker.address
        workers = (await self._worker.scheduler.identity()).get("workers", {})
        if any(w.get("status") in ("paused", "closing_gracefully") for w in workers.values()):
            return False
        running = {a: w for a, w in workers.items() if w.get("status") == "running"}
        if me not in running or len(running) < 2:
            return False
        limit = self.limit_mib * 2 ** 20
        mine = max(_rss(), limit + 1)
        heavier = [a for a, w in running.items() if a != me
                   and (w.get("metrics", {}).get("memory") or 0) > limit
                   and ((w.get("metrics", {}).get("memory") or 0), a) > (mine, me)]
        return not heavier

    async def _recycle(self) -> str:
        """One attempt: "restarting" (its nanny restarts it), "wait" (not its turn) or
        "refused" (by Dask, or resumed meanwhile: try again later)."""
        from distributed.core import Status
        worker = self._worker
        await asyncio.sleep(random.random())        # two workers rarely decide at once
        if not await self._my_turn():
            return "wait"
        worker.status = Status.paused                 # start no new task here
        while worker.state.executing and worker.status == Status.paused:
            await asyncio.sleep(0.1)                  # let the running task finish
        if worker.status != Status.paused:            # resumed by Dask's memory monitor
            return "refused"                          # (a memory_limit on this cluster)
        rss = _rss()
        retired = await worker.scheduler.retire_workers(
            workers=[worker.address], close_workers=False, remove=False,
            stimulus_id=f"hf-budget-memory-recycling-{time.time()}")
        if worker.address not in retired:              # no other worker could take its results
            if worker.status in (Status.paused, Status.closing_gracefully):
                worker.status = Status.running
            return "refused"
        for _ in range(50):               # the scheduler's word that it is closing gracefully
            if worker.status == Status.closing_gracefully:
                break
            await asyncio.sleep(0.1)
        worker.log_event(EVENT_TOPIC, {"worker": worker.address, "rss_mib": round(rss / 2 ** 20),
                                       "limit_mib": self.limit_mib})
        log.info("worker %s restarted at %d MiB (limit %d MiB)", worker.address,
                 rss / 2 ** 20, self.limit_mib)
        # the nanny restarts it (what Client.restart_workers does): a task of its own, as
        # the restart tears this plugin down, which cancels the watcher
        self._closing = asyncio.ensure_future(self._restart())
        return "restarting"

    async def _restart(self) -> None:
        from distributed.comm import CommClosedError
        try:
            await self._worker.scheduler.restart_workers(
                workers=[self._worker.address], wait_for_workers=False, on_error="return",
                stimulus_id=f"hf-budget-memory-recycling-{time.time()}")
        except (CommClosedError, OSError, asyncio.CancelledError):
            pass                  # the answer does not reach a process its nanny has stopped


def restarts(client, since: float = 0.0) -> list[dict]:
    """The restarts logged on the cluster of ``client`` from time ``since`` (epoch
    seconds) on, one dict per restart."""
    return [msg for t, msg in client.get_events(EVENT_TOPIC) if t >= since]
