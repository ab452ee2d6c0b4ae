"""What a cell's HF data cost: the Monte Carlo runs its points need, in CPU-seconds and in
path-steps.

docs/DESIGN.md, "What HF data costs": one Monte Carlo run per theta gives
that theta's whole surface, every strike and every maturity up to the longest
simulated, so points are not independent purchases. A set of HF points costs,
for each distinct theta among them, that theta's run to the longest maturity
any of its points uses. Two units: the CPU-seconds measured at generation
(``Dataset.hf_cpu_seconds``, defined in sabr.numerics.mc_result: the machine's) and the
path-steps of the same runs (``Dataset.hf_path_steps``, paths x time steps of the engine's
grid, sabr.numerics.time_grid: the same on every machine).
"""
from __future__ import annotations

import numpy as np

__all__ = ["hf_cost", "cost_table", "COST_UNITS"]

COST_UNITS = {"cpu_seconds": "hf_cpu_seconds", "path_steps": "hf_path_steps"}
"""A cost unit -> the key :func:`hf_cost` returns it under (and the Dataset attribute)."""


def cost_table(dataset, unit: str = "cpu_seconds", level: int | None = None
               ) -> np.ndarray | None:
    """(N, M) cost of each theta's run to each maturity in ``unit`` (a key of COST_UNITS),
    with every path (``level`` None) or only the first ``dataset.prefix_paths[level]``;
    None where the data set does not have it."""
    if unit not in COST_UNITS:
        raise ValueError(f"unit={unit!r} is invalid: allowed one of {list(COST_UNITS)}")
    if unit == "cpu_seconds":
        table = (dataset.hf_cpu_seconds if level is None
                 else None if dataset.hf_cpu_seconds_prefix is None
                 else dataset.hf_cpu_seconds_prefix[:, level])
    else:
        prefix = None if level is None else dataset.hf_path_steps_prefix
        table = (getattr(dataset, "hf_path_steps", None) if level is None
                 else None if prefix is None else prefix[:, level])
    return None if table is None else np.asarray(table, dtype=float)


def hf_cost(dataset, points, *, level: int | None = None) -> dict:
    """HF cost of a set of points: distinct thetas, and the CPU-seconds and path-steps of
    their runs.

    Args:
        dataset: a sabr.data.dataset.Dataset (shape (N, M, K); ``hf_cpu_seconds`` and
            ``hf_path_steps`` (N, M): theta's run to maturity m, or None).
        points: (n,) flat point indices into (N, M, K), e.g. a budget's train +
            validation points (sabr.data.budgets.BudgetSplit.all); duplicates allowed.
        level: None for runs with every path; L for runs with only the first
            ``dataset.prefix_paths[L]`` paths (``Dataset.hf_cpu_seconds_prefix``,
            ``Dataset.hf_path_steps_prefix``).
    Returns:
        dict: n_hf_thetas (int, distinct thetas among the points), hf_cpu_seconds and
        hf_path_steps (float: sum over those thetas of the cost table at [theta, longest
        maturity index used]; 0.0 for no points, NaN where not known).
    """
    points = np.asarray(points, dtype=np.int64).ravel()
    if points.size == 0:
        return {"n_hf_thetas": 0, "hf_cpu_seconds": 0.0, "hf_path_steps": 0.0}
    theta, mat, _ = np.unravel_index(points, dataset.shape)
    thetas, inverse = np.unique(theta, return_inverse=True)
    longest = np.zeros(thetas.size, dtype=np.int64)
    np.maximum.at(longest, inverse, mat)
    out = {"n_hf_thetas": int(thetas.size)}
    for unit, key in COST_UNITS.items():
        table = cost_table(dataset, unit, level)
        out[key] = float("nan") if table is None else float(table[thetas, longest].sum())
    return out
