"""The local cluster's workers end without interpreter teardown once closed (flows/worker_exit.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.runner import make_task_runner


def _run_and_close(kwargs: dict, marker_dir: Path) -> list[str]:
    """Start a real 2-worker LocalCluster with ``kwargs``, have each worker register an atexit
    handler that writes a marker file, close the cluster; return the markers written."""
    from distributed import Client, LocalCluster

    def register_marker(dask_worker):
        import atexit
        import os
        path = os.path.join(str(marker_dir), f"teardown-{os.getpid()}")
        atexit.register(lambda: open(path, "w").close())
        return os.getpid()

    with LocalCluster(**kwargs) as cluster, Client(cluster) as client:
        pids = client.run(register_marker)
        assert len(pids) == 2
    return sorted(p.name for p in marker_dir.iterdir())


@pytest.mark.parametrize("preload", [True, False])
def test_closed_workers_skip_teardown_only_with_the_preload(tmp_path, preload):
    kwargs = dict(make_task_runner(2, None, {}).cluster_kwargs)
    assert kwargs["preload"] == ["flows.worker_exit"] and kwargs["threads_per_worker"] == 1
    if not preload:
        kwargs.pop("preload")       # the control: without it, teardown runs the handlers
    written = _run_and_close(kwargs, tmp_path)
    # handlers registered while the worker ran run at a normal exit; the preload's exit
    # handler is registered last, at close, so it runs first and ends the process
    assert len(written) == (0 if preload else 2), written


def test_an_existing_scheduler_is_not_given_the_preload():
    runner = make_task_runner(2, "tcp://127.0.0.1:8786", {})
    assert runner.address == "tcp://127.0.0.1:8786" and not runner.cluster_kwargs.get("preload")
