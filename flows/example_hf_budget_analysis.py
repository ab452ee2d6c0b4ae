"""Example: the Python API (the seed's snippets) on a small experiment, about a minute on 2 cores.

    python flows/example_hf_budget_analysis.py [--output-dir DIR] [--config FILE]

Runs the ``hf-budget`` flow through ``ExperimentOrchestrator`` (default: a small
configuration into a new temporary folder; with ``--config`` the file's grid),
prints one row per cell, the ranking per budget and a paired comparison, then
tunes one model on the run's data set with a custom objective. Run it again on
the same folder and every task is ``Cached``.
"""
from __future__ import annotations

import argparse
import math
import tempfile

from flows.hf_budget import HyperparameterSpace, create_experiment_orchestrator
from sabr.config import ExperimentConfig
from sabr.results import create_results_aggregator
from sabr.tuning import HyperparameterTuner

SMALL = {   # the quick profile, shrunk: 20 surfaces on a 5 x 9 grid, a few epochs
    "data_gen_config": {"n_parameter_sets": 20, "mc_paths": 4000, "chunk_size": 10,
                        "n_maturities": 5, "n_strikes": 9},
    "training_config": {"epochs": 8, "tuning_epochs": 3, "early_stopping_patience": 3},
    "model_config": {"patch_size": [3, 3], "cnn_filters": [8], "mlp_hidden_dims": [16]},
    # no allocation study: quick's (5 % and 8 % of the pool) buys no whole surface of 17
    "allocations": ["spread"], "hf_cpu_budgets": [],
}
SMALL_SPACE = HyperparameterSpace(learning_rates=[1e-3, 3e-3], batch_sizes=[32],
                                  dropout_rates=[0.1], cnn_filters=[[8]], mlp_hidden_dims=[[16]])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", default=None, help="results folder (default: a new temporary one)")
    ap.add_argument("--config", default=None, help="experiment YAML (default: a small built-in one)")
    args = ap.parse_args(argv)
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="hf-budget-example-")

    # --- the orchestrator: one run of the hf-budget flow (cached, resumable)
    if args.config:
        config = ExperimentConfig.from_yaml(args.config)
        grid = dict(hyperparameter_space=None, n_hyperparameter_trials=config.n_hyperparameter_trials,
                    n_random_seeds=config.n_random_seeds)
    else:
        config = ExperimentConfig.profile("quick", **SMALL)
        grid = dict(hf_budgets=[25, 50, 100], model_types=["mda_cnn", "residual_mlp"],
                    hyperparameter_space=SMALL_SPACE, n_hyperparameter_trials=2, n_random_seeds=2)
    orchestrator = create_experiment_orchestrator(base_config=config, output_dir=output_dir,
                                                  n_parallel_jobs=2, random_seed=42)
    results_df = orchestrator.run_hf_budget_analysis(**grid)
    print(results_df[["budget", "model_type", "seed", "status", "rmse_bp", "hagan_rmse_bp"]]
          .to_string(index=False))

    # --- the aggregator: statistics over the cells on disk
    aggregator = create_results_aggregator(output_dir)
    rankings = aggregator.rank_models_by_budget().sort_values(["budget", "rank"])
    print("\nRanking per budget:")
    print(rankings[["budget", "rank", "model_type", "rmse_bp_gmean", "p_rank1"]].to_string(index=False))
    models = list(orchestrator.base_config.model_types if args.config else grid["model_types"])
    if len(models) >= 2:
        comparison = aggregator.compare_models(models[0], models[1])
        print(f"\n{models[0]} vs {models[1]} (paired over seeds):")
        print(comparison[["budget", "rmse_ratio", "wins", "p_holm", "verdict"]].to_string(index=False))

    # --- the tuner: the seed's two-argument form, a custom objective instead of training
    tuner = HyperparameterTuner(orchestrator.base_config, f"{output_dir}/data")
    tuner.objective_function = lambda hp: abs(math.log10(hp["learning_rate"]) + 2.5)
    best = tuner.tune_hyperparameters(method="random", n_trials=4)
    print(f"\nTuner ({tuner.model_type}, b={tuner.budget}): {best.message}; "
          f"learning rate {best.best_params['learning_rate']}")
    print(f"\nResults in {output_dir}")


if __name__ == "__main__":      # Dask's LocalCluster starts worker processes: keep this guard
    main()
