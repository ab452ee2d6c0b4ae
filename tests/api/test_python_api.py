"""The seed's Python API: its README snippets, with this layout's import paths, on a tiny config.

The flow-running tests use the shared ``harness`` fixture (tests/conftest.py).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from flows.hf_budget import ExperimentOrchestrator, HyperparameterSpace, create_experiment_orchestrator
from sabr.data.budgets import TUNING_REPLICATE
from sabr.config import ExperimentConfig
from sabr.results import ResultsAggregator, create_results_aggregator
from sabr.tuning import HyperparameterTuner

BUDGETS, MODELS, SEEDS = [20, 40], ["mda_cnn", "residual_mlp"], 2
TINY_SPACE = HyperparameterSpace(learning_rates=[1e-3], batch_sizes=[32], dropout_rates=[0.1],
                                 cnn_filters=[[4]], mlp_hidden_dims=[[8]])


def test_seed_yaml_loads_with_defaults_for_every_other_field(tmp_path):
    seed = {"name": "sabr_mf_experiment",
            "data_gen_config": {"n_parameter_sets": 200, "mc_paths": 50000, "hf_budget": 100},
            "training_config": {"epochs": 50, "batch_size": 32, "learning_rate": 0.001},
            "model_config": {"patch_size": [9, 9], "cnn_filters": [16, 32],
                             "mlp_hidden_dims": [32, 32]}}
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    cfg = ExperimentConfig.from_yaml(path)
    assert cfg.name == "sabr_mf_experiment"
    d, t, m = cfg.data_gen_config, cfg.training_config, cfg.models
    assert (d.n_parameter_sets, d.mc_paths, d.hf_budget) == (200, 50000, 100)
    assert (t.epochs, t.batch_size, t.learning_rate) == (50, 32, 0.001)
    assert (m.patch_size, m.cnn_filters, m.mlp_hidden_dims) == ((9, 9), (16, 32), (32, 32))
    got, default = cfg.model_dump(by_alias=True), ExperimentConfig().model_dump(by_alias=True)
    for section, keys in seed.items():          # every field the seed file does not set: default
        for key in keys if isinstance(keys, dict) else ():
            del got[section][key], default[section][key]
    del got["name"], default["name"]
    assert got == default


def test_tuner_two_argument_form_with_a_custom_objective(make_tiny_config, tmp_path):
    from sabr.data.dataset import build_dataset
    space = {"learning_rates": [1e-4, 3e-4, 1e-3], "batch_sizes": [32, 64],
             "dropout_rates": [0.1, 0.2], "cnn_filters": [[4], [8]], "mlp_hidden_dims": [[8], [16]]}
    base_config = ExperimentConfig.from_yaml(make_tiny_config(hyperparameter_space=space))
    data_loaders = str(build_dataset(base_config.data_gen_config, tmp_path / "data"))
    calls = []

    def score(params):
        return abs(math.log10(params["learning_rate"]) + 3) + params["dropout_rate"]

    def custom_objective(params):
        calls.append(params)
        return score(params)

    tuner = HyperparameterTuner(base_config, data_loaders)          # the seed's two arguments
    tuner.objective_function = custom_objective
    result = tuner.tune_hyperparameters(method="random", n_trials=6)
    assert (tuner.model_type, tuner.budget, tuner.seed) == ("mda_cnn", min(base_config.hf_budgets),
                                                            TUNING_REPLICATE)
    assert len(calls) == 6 and result.n_complete == 6
    best, s = result.best_params, base_config.hyperparameter_space
    assert best["learning_rate"] in s.learning_rates and best["batch_size"] in s.batch_sizes
    assert best["dropout_rate"] in s.dropout_rates
    assert tuple(best["cnn_filters"]) in s.cnn_filters
    assert tuple(best["mlp_hidden_dims"]) in s.mlp_hidden_dims
    assert result.best_value == min(score(p) for p in calls)
    pinned = base_config.with_overrides(data_gen_config={"hf_budget": 40})
    assert HyperparameterTuner(pinned, data_loaders).budget == 40    # the seed's single budget


@pytest.mark.slow
def test_orchestrator_runs_the_flow_cached_and_the_aggregator_reads_it(harness, make_tiny_config,
                                                                         tmp_path):
    config = ExperimentConfig.from_yaml(make_tiny_config())
    out = tmp_path / "my_experiment"
    orchestrator = create_experiment_orchestrator(base_config=config, output_dir=str(out),
                                                  n_parallel_jobs=2, random_seed=42)
    assert isinstance(orchestrator, ExperimentOrchestrator)
    results_df = orchestrator.run_hf_budget_analysis(
        hf_budgets=BUDGETS, model_types=MODELS, hyperparameter_space=TINY_SPACE,
        n_hyperparameter_trials=1, n_random_seeds=SEEDS)
    assert len(results_df) == len(BUDGETS) * len(MODELS) * SEEDS
    assert set(results_df.status) == {"ok"}
    cells = set(zip(results_df.budget, results_df.model_type, results_df.seed))
    assert cells == {(b, m, s) for b in BUDGETS for m in MODELS for s in range(SEEDS)}
    metrics = results_df[["rmse_bp", "mae_bp", "max_abs_bp", "hagan_rmse_bp"]].to_numpy(float)
    assert np.isfinite(metrics).all() and (metrics > 0).all()
    written = ExperimentConfig.from_yaml(out / "orchestrator_config.yaml")
    assert written.hf_budgets == tuple(BUDGETS) and written.hyperparameter_space == TINY_SPACE

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("exp_*/metrics.json")}
    assert len(stamps) == len(results_df)
    again = ExperimentOrchestrator(config, str(out), 2, 42).run_hf_budget_analysis(
        hf_budgets=BUDGETS, model_types=MODELS, hyperparameter_space=TINY_SPACE,
        n_hyperparameter_trials=1, n_random_seeds=SEEDS)
    assert {p: p.stat().st_mtime_ns for p in out.glob("exp_*/metrics.json")} == stamps
    pd.testing.assert_frame_equal(again, results_df)

    aggregator = create_results_aggregator(str(out))
    assert isinstance(aggregator, ResultsAggregator)
    summary = aggregator.get_performance_summary()
    rankings = aggregator.rank_models_by_budget()
    comparison = aggregator.compare_models("mda_cnn", "residual_mlp")
    assert isinstance(summary, pd.DataFrame) and len(summary) >= len(BUDGETS) * len(MODELS)
    assert set(rankings.budget) == set(BUDGETS)
    assert set(rankings.model_type) == set(MODELS)
    assert set(comparison.budget) == set(BUDGETS)
    assert (comparison.model_a == "mda_cnn").all()
    rows = json.loads(json.dumps(comparison.to_dict(orient="records")))
    assert len(rows) == len(BUDGETS)


@pytest.mark.slow
def test_failed_cells_warn_and_still_return_every_row(harness, make_tiny_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "exp_0002").write_text("a file where the cell's folder should be\n")
    orchestrator = ExperimentOrchestrator(ExperimentConfig.from_yaml(make_tiny_config()), out)
    with pytest.warns(RuntimeWarning, match="1 of 2 cells did not finish"):
        df = orchestrator.run_hf_budget_analysis(hf_budgets=[20], model_types=["residual_mlp"],
                                                 n_hyperparameter_trials=1, n_random_seeds=2)
    assert df.status.tolist()[0] == "ok" and df.status.tolist()[1] != "ok"
    assert np.isfinite(df.rmse_bp[0]) and len(df) == 2


def test_python_m_flows_hf_budget_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "flows.hf_budget", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "{run,plan,analyze,demo}" in done.stdout
