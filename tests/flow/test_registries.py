"""One registry per extension point: a model type and an allocation strategy registered from
this test file alone (a plugin module it writes, named in the configuration's ``plugins``)
run through a tiny experiment: ``hf-budget run`` in a fresh process, its Dask workers and
their TensorFlow processes registering them as the configuration says."""
from __future__ import annotations

import os
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

PLUGIN = textwrap.dedent('''
    """A model type and an allocation strategy of the test's own."""
    import numpy as np

    from sabr.data.allocations import register_allocation, whole_surfaces
    from sabr.model_types import TUNED_BASE, ModelType, register_model_type


    def build_toy_linear(patch_size, hp, seed=None):
        """A linear map of the 7 point features to the residual: 8 weights."""
        import keras
        features = keras.Input((7,), name="features")
        out = keras.layers.Dense(1, name="residual",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed))(features)
        return keras.Model({"features": features}, out, name="toy_linear")


    def first_surfaces(dataset, budget, seed, *, unit, validation_fraction):
        """Whole surfaces of the train pool's thetas in index order, whatever the seed."""
        return whole_surfaces("first_surfaces", dataset, budget, seed, unit, validation_fraction,
                              order=np.asarray(dataset.train_thetas))


    register_model_type(ModelType("toy_linear", build_toy_linear, ("features",), residual=True,
                                  tuned_parameters=TUNED_BASE, cost_rank=10))
    register_allocation("first_surfaces", first_surfaces)
''')


def test_a_model_type_and_a_strategy_registered_here_run_through_an_experiment(
        hf_budget_cli, tiny_experiment, tmp_path):
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "toy_plugin.py").write_text(PLUGIN)
    config = {**tiny_experiment, "plugins": ["toy_plugin"], "model_types": ["toy_linear", "residual_mlp"],
              "allocations": ["first_surfaces"], "hf_cpu_budgets": ["60%"],
              "cost_model_types": ["toy_linear"], "n_random_seeds": 1}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    path = os.pathsep.join([str(tmp_path / "plugin"), os.environ.get("PYTHONPATH", "")])
    r = hf_budget_cli(["run", "--config", str(tmp_path / "toy.yaml"), "--output-dir", str(out)],
                      tmp_path, env={"PYTHONPATH": path})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    every = pd.read_csv(out / "detailed_results.csv")
    assert set(every.status) == {"ok"} and len(every) == 3
    df = every[every.unit == "points"]
    assert sorted(df.model_type) == ["residual_mlp", "toy_linear"]
    assert df.set_index("model_type").n_params["toy_linear"] == 8          # the toy's own model
    cost = pd.read_csv(out / "cost_results.csv")
    assert cost[["allocation", "model_type", "status"]].values.tolist() == [
        ["first_surfaces", "toy_linear", "ok"]]
    # the cell trained on as many of the pool's first thetas as 60 % of its cost pays for
    from sabr.data.allocations import pool_cpu_seconds
    from sabr.data.costs import hf_cost
    from sabr.data.dataset import load_dataset
    ds = load_dataset(out / "data")
    n, m, k = ds.shape
    budget = 0.6 * pool_cpu_seconds(ds)
    spent = np.cumsum([hf_cost(ds, t * m * k + np.flatnonzero(ds.valid.reshape(n, m * k)[t]))
                       ["hf_cpu_seconds"] for t in ds.train_thetas])
    assert cost.n_hf_thetas.iloc[0] == int(np.searchsorted(spent, budget, side="right"))
    assert cost.hf_cpu_seconds.iloc[0] <= budget
    # not registered in this process: the plugin lives in the run's processes only
    from sabr.model_types import MODEL_NAMES
    assert "toy_linear" not in MODEL_NAMES

    # without the plugin the names are refused before anything runs: one error naming the
    # file, a line for each field that uses an unregistered name (issue 39)
    config.pop("plugins")
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(config))
    r = hf_budget_cli(["run", "--config", str(tmp_path / "bare.yaml"), "--output-dir",
                       str(tmp_path / "bare")], tmp_path, env={"PYTHONPATH": path})
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[0] == f"hf-budget: error: {tmp_path / 'bare.yaml'}: 3 errors:", r.stderr
    assert lines[1].strip().startswith("allocations=['first_surfaces'] is invalid: allowed a "
                                       "subset of ['adaptive', 'paths', 'random', 'spread', "
                                       "'surfaces']")
    assert [x.strip().split("=")[0] for x in lines[1:]] == ["allocations", "model_types",
                                                           "cost_model_types"], r.stderr
    assert not (tmp_path / "bare").exists() or not any((tmp_path / "bare").iterdir())
