"""Builders of small results frames (sabr.analysis.results shape) for the statistics tests."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def cell(model: str, budget: int, seed: int, mse: float, **extra) -> dict:
    """One finished cell: MSE in bp^2, RMSE its root, hashes shared by every model at (budget, seed)."""
    row = {"budget": budget, "model_type": model, "seed": seed, "status": "ok", "reason": None,
           "rmse_bp": math.sqrt(mse), "mae_bp": 0.8 * math.sqrt(mse), "mse_bp2": mse,
           "hagan_rmse_bp": 30.0, "noise_floor_bp": 2.0, "train_seconds": 10.0,
           "train_hash": f"tr-{budget}-{seed}", "test_hash": "te", "dataset_hash": "ds", "n_params": 100}
    row.update(extra)
    return row


def frame_from_logs(logs: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """{(model, budget): [log MSE per seed 0, 1, ...]} -> results frame."""
    return pd.DataFrame([cell(m, b, s, math.exp(v)) for (m, b), vals in logs.items()
                         for s, v in enumerate(vals)])


def power_law_frame(models: dict[str, tuple[float, float, float]], budgets, n_seeds: int,
                    rng: np.random.Generator, shared_noise: bool = False) -> pd.DataFrame:
    """MSE = a n^-b x exp(sigma z) per (model, budget, seed); shared_noise uses one z for all models."""
    z = rng.standard_normal((len(budgets), n_seeds, len(models)))
    if shared_noise:
        z[...] = z[..., :1]
    rows = []
    for k, (m, (a, b, sigma)) in enumerate(models.items()):
        for i, n in enumerate(budgets):
            for s in range(n_seeds):
                rows.append(cell(m, n, s, a * n ** -b * math.exp(sigma * z[i, s, k])))
    return pd.DataFrame(rows)
