"""Example: the Python API (the seed's snippets) on a small experiment, about a minute on 2 cores.

    python flows/example_hf_budget_analysis.py [--output-dir DIR] [--config FILE]

Runs the ``hf-budget`` flow through ``ExperimentOrchestrator`` (default: a small
configuration into a new temporary folder; with ``--config`` the file's grid),
prints one row per cell, the ranking per budget and a paired comparison, then
tunes one model on the run's data set with a custom objective. Run it again on
the same folder and every task is ``Cached``.

The terminal shows what the example runs, its results and where the files are, and the
run's warnings and errors (a cell that did not finish); at a terminal, also the run's
progress bar (one line with an ETA). Prefect's, Dask's and TensorFlow's start-up lines and
the run's INFO log (its progress lines) are not shown (flows/quiet.py); the Prefect UI has
the run's full log, and ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO`` brings its progress
lines to the terminal.
"""
from __future__ import annotations

import argparse
import math
import tempfile

from flows.quiet import quiet_output

quiet_output()      # before Prefect, Dask and TensorFlow are imported (flows/quiet.py)

from flows.hf_budget import HyperparameterSpace, create_experiment_orchestrator  # noqa: E402
from sabr.config import ExperimentConfig  # noqa: E402
from sabr.plan import planned_cells, planned_cost_cells  # noqa: E402
from sabr.results import create_results_aggregator  # noqa: E402
from sabr.tuning import HyperparameterTuner  # noqa: E402

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
    cfg = orchestrator.analysis_config(**grid)
    n_cells = len(planned_cells(cfg)) + len(planned_cost_cells(cfg))
    print(f"hf-budget example: {n_cells} cells (HF budgets {', '.join(map(str, cfg.hf_budgets))}; "
          f"{', '.join(cfg.model_types)}; {cfg.n_random_seeds} seeds"
          + (f"; CPU budgets {', '.join(map(str, cfg.hf_cpu_budgets))}" if cfg.hf_cpu_budgets else "")
          + f") into {orchestrator.output_dir}\n", flush=True)
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
    report = orchestrator.output_dir / "analysis" / "report.html"
    if report.is_file():
        print(f"\nReport (the answer, every table and plot): {report}")
    print(f"Results in {orchestrator.output_dir}")


if __name__ == "__main__":      # Dask's LocalCluster starts worker processes: keep this guard
    main()
