"""Fixtures for the tuning tests: a tiny data set and a matching experiment config."""
import pytest

from sabr.config import ExperimentConfig
from sabr.data.dataset import build_dataset, load_dataset

TINY_DATA = {"n_parameter_sets": 20, "mc_paths": 2000, "chunk_size": 10, "n_maturities": 4,
             "n_strikes": 7, "maturity_range": [0.5, 2.0], "master_seed": 3}


@pytest.fixture(scope="session")
def tiny_config() -> ExperimentConfig:
    """The quick profile on the tiny grid, 2 tuning epochs (for the few tests that train)."""
    return ExperimentConfig.profile(
        "quick", hf_budgets=[40], data_gen_config=TINY_DATA,
        training_config={"tuning_epochs": 2, "early_stopping_patience": 5, "min_steps": 0,
                         "min_patience_steps": 0, "min_tuning_steps": 0},
        model_config={"patch_size": [3, 3]})


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, tiny_config):
    """20 thetas on a 4 x 7 grid, 2000 paths (as tests/models/conftest.py builds it)."""
    return load_dataset(build_dataset(tiny_config.data_gen_config, tmp_path_factory.mktemp("tiny")))
