"""Flow tests: a real Prefect test server (prefect_test_harness), real Dask workers."""
from __future__ import annotations

from collections import Counter

import pytest


@pytest.fixture()
def tiny_config(make_tiny_config):
    return make_tiny_config()


def _last_experiment_task_runs() -> list:
    """The task runs of the newest hf-budget-experiment flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter,
                                                FlowRunFilterId)
    from prefect.client.schemas.sorting import FlowRunSort
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["hf-budget-experiment"])),
            sort=FlowRunSort.START_TIME_DESC, limit=1)
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[runs[0].id])))


def last_experiment_task_states() -> Counter:
    """Counter of (task kind, state name) for the newest hf-budget-experiment flow run."""
    return Counter((tr.name.split()[0], tr.state.name) for tr in _last_experiment_task_runs())


def last_experiment_task_names() -> set[str]:
    """Names of the task runs of the newest hf-budget-experiment flow run."""
    return {tr.name for tr in _last_experiment_task_runs()}
