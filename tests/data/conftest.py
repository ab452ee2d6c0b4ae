import pytest

from sabr.config import ExperimentConfig
from sabr.data.dataset import build_dataset, load_dataset


def small_config(**data):
    base = {"n_parameter_sets": 20, "mc_paths": 2000, "chunk_size": 4, "n_maturities": 4,
            "n_strikes": 7, "maturity_range": [0.5, 2.0], "master_seed": 7}
    base.update(data)
    return ExperimentConfig.profile("quick", data_gen_config=base, hf_budgets=[10, 20, 40],
                                    allocations=["spread"], hf_cpu_budgets=[],
                                    model_config={"patch_size": [3, 3]}).data_gen_config


@pytest.fixture(scope="session")
def make_small_config():
    """Factory: the small data config with some fields replaced."""
    return small_config


@pytest.fixture(scope="session")
def small_cfg():
    return small_config()


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, small_cfg):
    out = build_dataset(small_cfg, tmp_path_factory.mktemp("ds"))
    return load_dataset(out)


@pytest.fixture(scope="session")
def full_pool(tmp_path_factory):
    """The full profile's pool shape (1000 thetas, 10 x 21 grid), built with few paths."""
    cfg = ExperimentConfig.profile("full").data_gen_config.model_copy(
        update={"mc_paths": 100, "chunk_size": 1000})
    return load_dataset(build_dataset(cfg, tmp_path_factory.mktemp("full_pool")))


@pytest.fixture(scope="session")
def steady_dataset(small_dataset):
    """The small data set with Monte Carlo costs that do not move with the machine's load.

    Its measured CPU-seconds are milliseconds per 2000-path run and jitter by tens of
    percent between runs, so a budget of 20 % of the pool bought one surface in one CI
    run and three in another. The allocation and acquisition tests test what is bought
    for a cost, not the clock: here every theta's cost is the pool's mean measured curve
    over maturities, times a fixed factor in [0.75, 1.25) per theta (costs still differ)."""
    from dataclasses import replace

    import numpy as np
    ds = small_dataset
    curve = np.asarray(ds.hf_cpu_seconds, float)[np.asarray(ds.train_thetas)].mean(axis=0)
    factor = 0.75 + 0.5 * ((np.arange(ds.shape[0]) * 0.6180339887) % 1.0)
    return replace(ds, hf_cpu_seconds=factor[:, None] * curve[None, :])
