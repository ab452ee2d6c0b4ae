"""The named base configurations a run starts from (``--profile``, a file's ``profile:``).

Each profile is the overrides of the defaults in sabr.config.ExperimentConfig (and its
sections, sabr.settings); sabr.config validates them like any file. Pure data.
"""
from __future__ import annotations

__all__ = ["PROFILES"]

PROFILES: dict[str, dict] = {
    # The seed's numbers.
    "full": {},
    # The seed's experiment plus the allocation study on the full pool (issue 19): every
    # model, whole surfaces and surfaces at a quarter of the paths against spread points,
    # at 0.5-5 % of the pool's Monte Carlo CPU-seconds (the seed design's b=1000 spends
    # about 45 % of it, so 5 % is about a ninth of that).
    "cost": {
        "name": "hf-budget-cost",
        "allocations": ["spread", "surfaces", "paths/4"],
        "hf_cpu_budgets": ["0.5%", "1%", "2%", "5%"],
        "output_dir": "results-cost",
    },
    # The whole flow in a few minutes on 2 cores.
    "quick": {
        "name": "hf-budget-quick",
        "data_gen_config": {"n_parameter_sets": 60, "mc_paths": 20_000, "chunk_size": 10},
        "training_config": {"epochs": 40, "early_stopping_patience": 8, "tuning_epochs": 8,
                            "batch_size": 64, "learning_rate": 1e-3,
                            # b=50 is one step an epoch here: 40 epochs were 40 steps
                            "min_steps": 300, "min_patience_steps": 60, "min_tuning_steps": 60},
        "model_config": {"cnn_filters": [16, 32], "mlp_hidden_dims": [64, 64]},
        # the tuning searches small networks only: the full space's widest choices (a
        # 64-128-256 CNN, batches of 32) made a quick run 1.7x slower for no quick answer
        "hyperparameter_space": {"learning_rates": [3e-4, 1e-3, 3e-3], "batch_sizes": [64, 128],
                                 "cnn_filters": [[16, 32], [32, 64]],
                                 "mlp_hidden_dims": [[64, 64], [128, 64]]},
        "hf_budgets": [50, 200, 500],
        # the allocation study, small: two strategies at two CPU budgets, for mda_cnn
        "allocations": ["surfaces", "paths/4"],
        "hf_cpu_budgets": ["6%", "10%"],
        "cost_model_types": ["mda_cnn"],
        "n_random_seeds": 2,
        "n_hyperparameter_trials": 2,
        "output_dir": "results-quick",
    },
}
