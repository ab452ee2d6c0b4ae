"""The flow orders its Dask work by priority: tunings before trainings, longest first."""
from __future__ import annotations

from sabr.plan import TRAIN_PRIORITY, TUNE_PRIORITY, longest_first


def test_longest_first_orders_by_budget_then_model_cost_then_seed():
    cells = [(50, "direct_mlp", 0), (500, "direct_mlp", 1), (500, "mda_cnn", 0),
             (50, "cnn_only", 1), (500, "direct_mlp", 0), (200, "residual_mlp", 0),
             (200, "new_model", 0), (500, "cnn_only", 0)]
    assert longest_first(cells) == [
        (500, "mda_cnn", 0), (500, "cnn_only", 0), (500, "direct_mlp", 0), (500, "direct_mlp", 1),
        (200, "residual_mlp", 0), (200, "new_model", 0), (50, "cnn_only", 1), (50, "direct_mlp", 0)]
    assert longest_first([(100, "direct_mlp"), (1000, "cnn_only")]) == [(1000, "cnn_only"), (100, "direct_mlp")]
    # every tuning outranks every training, however many cells there are
    assert TUNE_PRIORITY - 10_000 > TRAIN_PRIORITY


def test_a_priority_set_around_task_submit_reaches_the_dask_task(harness):
    # the flow relies on prefect-dask passing dask.annotate(priority=...) to the scheduler
    import dask
    from prefect import flow, task
    from prefect_dask import DaskTaskRunner

    @task
    def own_priority():
        from distributed import get_worker
        worker = get_worker()
        return list(worker.state.tasks[worker.get_current_task()].priority)

    @flow(task_runner=DaskTaskRunner(cluster_kwargs={
        "n_workers": 1, "threads_per_worker": 1, "processes": False, "dashboard_address": ":0"}))
    def probe():
        with dask.annotate(priority=1234):
            high = own_priority.submit()
        plain = own_priority.submit()
        return high.result(), plain.result()

    high, plain = probe()
    assert high[0] == -1234 and plain[0] == 0      # Dask stores -priority: lower runs first
