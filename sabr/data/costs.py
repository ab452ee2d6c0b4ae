"""What a cell's HF data cost: Monte Carlo CPU-seconds of the runs its points need.

docs/DESIGN.md, "What HF data costs": one Monte Carlo run per theta gives
that theta's whole surface, every strike and every maturity up to the longest
simulated, so points are not independent purchases. A set of HF points costs,
for each distinct theta among them, that theta's run to the longest maturity
any of its points uses; the per-theta, per-maturity CPU-seconds are recorded at
generation (``Dataset.hf_cpu_seconds``, defined in sabr.numerics.mc_result).
"""
from __future__ import annotations

import numpy as np

__all__ = ["hf_cost"]


def hf_cost(dataset, points, *, level: int | None = None) -> dict:
    """HF cost of a set of points: distinct thetas and the CPU-seconds of their runs.

    Args:
        dataset: a sabr.data.dataset.Dataset (shape (N, M, K); ``hf_cpu_seconds`` (N, M)
            CPU-seconds of theta's run to maturity m, or None).
        points: (n,) flat point indices into (N, M, K), e.g. a budget's train +
            validation points (sabr.data.budgets.BudgetSplit.all); duplicates allowed.
        level: None for runs with every path; L for runs with only the first
            ``dataset.prefix_paths[L]`` paths (``Dataset.hf_cpu_seconds_prefix``).
    Returns:
        dict: n_hf_thetas (int, distinct thetas among the points) and hf_cpu_seconds
        (float, CPU-seconds: sum over those thetas of hf_cpu_seconds[theta, longest
        maturity index used]; 0.0 for no points, NaN where the timings were not recorded).
    """
    points = np.asarray(points, dtype=np.int64).ravel()
    if points.size == 0:
        return {"n_hf_thetas": 0, "hf_cpu_seconds": 0.0}
    theta, mat, _ = np.unravel_index(points, dataset.shape)
    thetas, inverse = np.unique(theta, return_inverse=True)
    longest = np.zeros(thetas.size, dtype=np.int64)
    np.maximum.at(longest, inverse, mat)
    cpu = (dataset.hf_cpu_seconds if level is None
           else None if dataset.hf_cpu_seconds_prefix is None
           else dataset.hf_cpu_seconds_prefix[:, level])
    seconds = (float("nan") if cpu is None
               else float(np.asarray(cpu, dtype=float)[thetas, longest].sum()))
    return {"n_hf_thetas": int(thetas.size), "hf_cpu_seconds": seconds}
