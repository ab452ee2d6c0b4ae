"""The Monte Carlo engine's time grid: steps per year, steps per maturity interval, and the
path-steps a run does (docs/DESIGN.md, "What HF data costs").

Split out of :mod:`sabr.numerics.montecarlo` so that the grid, and with it the
machine-independent cost of a run, is known without loading the engine (numba): a run
of n paths does n x (its steps to maturity T_m) path-steps to reach T_m, whatever the
machine, while its CPU-seconds are the machine's. The step rule is the engine's own
(bias measurements: README, "Monte Carlo accuracy"; Chen, Oosterlee & van der Weide 2012
for the scheme whose drift the step resolves).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_STEPS_PER_YEAR", "MIN_STEPS", "default_steps_per_year", "step_counts",
           "path_steps_to_maturity"]

DEFAULT_STEPS_PER_YEAR = 32
"""Base time steps per year when ``steps_per_year`` is None (see default_steps_per_year)."""

_SIGMA_REF = 0.3
_MAX_REFINE = 4.0

MIN_STEPS = 8
"""Fewest steps to the first maturity, so short expiries are not under-resolved."""


def default_steps_per_year(fwd: float, alpha: float, beta: float) -> float:
    """Steps per year used when none are given: 32 x clip((sigma_ATM / 0.3)^2, 1, 4).

    The scheme's weak error grows with the backbone vol sigma_ATM = alpha F^(beta-1)
    (about as dt sigma_ATM^2): measured at 1M paths, 32 steps/year leave -9 bp on
    average at alpha 0.6 (beta 0.3 or 0.9, any rho) and 64 steps/year still -5 bp,
    while at alpha 0.25-0.3 the bias is undetectable. Keeping dt sigma_ATM^2 fixed
    keeps the bias below the 100k-path standard error across the Funahashi box
    (README, "Monte Carlo accuracy"), at 1.7x the cost on average over the box.
    """
    sig = float(alpha) * float(fwd) ** (float(beta) - 1.0)
    return DEFAULT_STEPS_PER_YEAR * min(max((sig / _SIGMA_REF) ** 2, 1.0), _MAX_REFINE)


def step_counts(maturities: np.ndarray, steps_per_year: float) -> np.ndarray:
    """Steps in each interval (T_{j-1}, T_j]; at least MIN_STEPS to the first maturity."""
    gaps = np.diff(np.concatenate([[0.0], maturities]))
    counts = np.maximum(np.ceil(gaps * steps_per_year - 1e-9), 1).astype(int)
    counts[0] = max(counts[0], MIN_STEPS)
    return counts


def path_steps_to_maturity(fwd: float, maturities, alpha: float, beta: float, n_paths: int,
                           steps_per_year: float | None = None) -> np.ndarray:
    """(n_maturities,) path-steps of a run of ``n_paths`` paths stopped at each maturity:
    n_paths x the cumulative step counts of its grid (:func:`step_counts`, at
    ``steps_per_year`` or, None, :func:`default_steps_per_year` of the theta), as int64.
    Cumulative and increasing; the last entry is the whole run's n_paths x n_steps
    (sabr.numerics.mc_result.MCResult); a run of the first p paths does p / n_paths of it."""
    spy = (default_steps_per_year(fwd, alpha, beta) if steps_per_year is None
           else float(steps_per_year))
    mats = np.atleast_1d(np.asarray(maturities, dtype=float))
    return int(n_paths) * np.cumsum(step_counts(mats, spy)).astype(np.int64)
