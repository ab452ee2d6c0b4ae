"""Flow tests: a real Prefect test server (prefect_test_harness), real Dask workers."""
from __future__ import annotations

import os
from collections import Counter

import pytest
import yaml

TINY = {
    "profile": "quick",
    "data_gen_config": {"n_parameter_sets": 12, "mc_paths": 2000, "chunk_size": 6,
                        "n_maturities": 4, "n_strikes": 7, "maturity_range": [0.5, 2.0]},
    "training_config": {"epochs": 3, "tuning_epochs": 2, "early_stopping_patience": 2},
    "model_config": {"patch_size": [3, 3], "cnn_filters": [4], "mlp_hidden_dims": [8]},
    "hyperparameter_space": {"learning_rates": [0.001], "batch_sizes": [32], "dropout_rates": [0.1],
                             "cnn_filters": [[4]], "mlp_hidden_dims": [[8]]},
    "hf_budgets": [20],
    "model_types": ["residual_mlp", "mda_cnn"],
    "n_random_seeds": 2,
    "n_hyperparameter_trials": 1,
    "parallel_jobs": 2,
}


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    """A temporary Prefect home and test server for the whole flow test session."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture()
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def last_experiment_task_states() -> Counter:
    """Counter of (task kind, state name) for the newest hf-budget-experiment flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter,
                                                FlowRunFilterId)
    from prefect.client.schemas.sorting import FlowRunSort
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["hf-budget-experiment"])),
            sort=FlowRunSort.START_TIME_DESC, limit=1)
        trs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[runs[0].id])))
    return Counter((tr.name.split()[0], tr.state.name) for tr in trs)
