import pytest

from sabr.config import ExperimentConfig
from sabr.data.dataset import build_dataset, load_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """20 thetas on a 4 x 7 grid, 2000 paths: enough to train a few epochs."""
    cfg = ExperimentConfig.profile(
        "quick", hf_budgets=[20], data_gen_config={
            "n_parameter_sets": 20, "mc_paths": 2000, "chunk_size": 10, "n_maturities": 4,
            "n_strikes": 7, "maturity_range": [0.5, 2.0], "master_seed": 3}).data_gen_config
    return load_dataset(build_dataset(cfg, tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="session")
def quick_dataset(tmp_path_factory):
    """The quick profile's data set (60 thetas, 21 x 10, 20k paths)."""
    cfg = ExperimentConfig.profile("quick").data_gen_config
    return load_dataset(build_dataset(cfg, tmp_path_factory.mktemp("quick")))
