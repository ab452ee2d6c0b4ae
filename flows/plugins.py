"""Dask worker plugins of the flow (registered by flows.runner)."""
from __future__ import annotations

from distributed import WorkerPlugin

__all__ = ["StopTensorFlowProcess"]


class StopTensorFlowProcess(WorkerPlugin):
    """A closing worker first stops its TensorFlow process (tasks/isolation.py). Left to
    the interpreter's exit, the process pool held each worker's close past the nanny's 4 s
    ("Worker process still alive after 4.0 seconds, killing"); stopped here, a worker
    closes in about 0.2 s (measured on a LocalCluster)."""

    name = "hf-budget-stop-tensorflow-process"

    def teardown(self, worker) -> None:
        from tasks.isolation import stop_child
        stop_child()
