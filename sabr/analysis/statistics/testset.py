"""Test-set uncertainty: a bootstrap over test thetas, paired across models and budgets.

The seed intervals cover training randomness only; the test set is one draw of parameter
sets (thetas) and a few high-vol thetas dominate a pooled RMSE (docs/DESIGN.md section 7,
"Test-set uncertainty"). Resampling the test thetas with replacement (Efron & Tibshirani,
An Introduction to the Bootstrap, 1993, ch. 6 and 13: percentile interval) gives an interval
for the RMSE over the population of test thetas, for the trained models at hand. Every cell
uses the same draws, so the intervals of different models and budgets are paired. With
~100+ thetas the bootstrap resamples many values, unlike a bootstrap over 3-5 seeds.
Errors in vol bp, squared errors in bp^2.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ...learning.metrics import BP

__all__ = ["test_theta_bootstrap", "per_theta_sse", "combined_interval"]


def per_theta_sse(points: np.ndarray, sigma: np.ndarray, truth_flat: np.ndarray,
                  theta_of_point: np.ndarray, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squared errors (bp^2) and point count of one cell's predictions per test theta.

    Args:
        points: (p,) flat point indices predicted. sigma: (p,) predicted vols (decimals).
        truth_flat: the data set's flattened HF vols (decimals), indexed by points.
        theta_of_point: (p,) theta index of each point. thetas: (T,) the test thetas, the
            columns of the result (points of other thetas are ignored).
    Returns:
        (sse (T,) bp^2, n (T,) counts); a theta without a finite prediction has sse NaN.
    """
    thetas = np.asarray(thetas)
    col = np.searchsorted(thetas, theta_of_point)
    col = np.clip(col, 0, max(thetas.size - 1, 0))
    ok = thetas.size > 0
    inside = (thetas[col] == theta_of_point) if ok else np.zeros(len(points), bool)
    err2 = ((np.asarray(sigma, float) - np.asarray(truth_flat)[np.asarray(points)]) * BP) ** 2
    sse = np.bincount(col[inside], weights=err2[inside], minlength=thetas.size)
    n = np.bincount(col[inside], minlength=thetas.size).astype(float)
    return sse, n


def _bca_levels(draws: np.ndarray, point: np.ndarray, jack: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """BCa percentile levels (Efron & Tibshirani 1993, ch. 14.3) per column.

    z0 = Phi^-1(share of draws below the estimate); acceleration a from the jackknife values
    (T, G): a = sum (m - j)^3 / (6 (sum (m - j)^2)^1.5); level = Phi(z0 + (z0 + z) / (1 - a (z0 + z))).
    """
    share = (draws < point[None, :]).mean(axis=0) + 0.5 * (draws == point[None, :]).mean(axis=0)
    z0 = stats.norm.ppf(np.clip(share, 1e-6, 1 - 1e-6))
    d = jack.mean(axis=0)[None, :] - jack
    den = 6.0 * (d ** 2).sum(axis=0) ** 1.5
    a = np.divide((d ** 3).sum(axis=0), den, out=np.zeros(den.shape), where=den > 0)
    z = stats.norm.ppf(levels)[:, None]
    return stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))


def test_theta_bootstrap(sse: np.ndarray, n: np.ndarray, *, groups=None, n_boot: int = 2000,
                         rng=None, confidence: float = 0.95, method: str = "bca") -> dict:
    """BCa (or percentile) interval of each group's RMSE from a bootstrap over test thetas, one draw for all cells.

    A draw takes T thetas with replacement (multinomial counts w, (n_boot, T)); a cell's RMSE
    in the draw is sqrt(w @ sse_c / w @ n_c), a group's (seeds of one (model, budget)) the
    geometric mean over its cells. method 'percentile': the (1 -+ confidence) / 2
    percentiles of the draws (Efron & Tibshirani 1993, ch. 13); 'bca' (default): the
    bias-corrected and accelerated percentiles (ch. 14), acceleration from the jackknife over
    thetas; a few heavy thetas make the statistic skewed, where the plain percentile interval
    under-covers (tests/benchmarks/coverage.py). The same w serves every cell, so models and
    budgets are paired. Cost: two (n_boot, T) @ (T, C) products.

    Args:
        sse: (C, T) per cell and test theta the sum of squared errors, bp^2. A cell with a
            non-finite entry is left out of its group.
        n: (C, T) or (T,) the point counts behind sse.
        groups: (C,) group label of each cell (default: each cell its own group).
        n_boot: resamples. rng: numpy Generator or seed. confidence: interval level.
        method: 'bca' or 'percentile'.
    Returns:
        dict: groups (G,) labels in first-seen order, rmse (G,) bp (geometric mean over the
        group's cells of sqrt(sum sse / sum n)), lo (G,), hi (G,) bp, n_cells (G,), n_thetas
        (T), log_rmse_draws (n_boot, G). Groups without a usable cell get NaN.
    """
    sse = np.atleast_2d(np.asarray(sse, float))
    C, T = sse.shape
    n = np.asarray(n, float)
    n = np.broadcast_to(n, (C, T)) if n.ndim == 1 else n
    if n.shape != (C, T):
        raise ValueError(f"n: shape {n.shape} does not match sse's {(C, T)}")
    labels = list(range(C)) if groups is None else list(groups)
    if len(labels) != C:
        raise ValueError(f"groups: length {len(labels)} differs from the {C} cells of sse")
    uniq = list(dict.fromkeys(labels))
    good = np.isfinite(sse).all(axis=1) & np.isfinite(n).all(axis=1) & (n.sum(axis=1) > 0)
    member = np.zeros((C, len(uniq)))
    for i, g in enumerate(labels):
        if good[i]:
            member[i, uniq.index(g)] = 1.0
    size = member.sum(axis=0)
    avg = np.divide(member, size, out=np.zeros_like(member), where=size > 0)
    rng = np.random.default_rng(rng)
    w = rng.multinomial(T, np.full(T, 1.0 / T), size=n_boot).astype(float) if T else np.zeros((n_boot, 0))
    s, m = np.where(good[:, None], sse, 0.0), np.where(good[:, None], n, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_cell = 0.5 * np.log((w @ s.T) / (w @ m.T))                 # (n_boot, C)
        log_cell[:, ~good] = 0.0
        point_cell = 0.5 * np.log(s.sum(axis=1) / m.sum(axis=1))
        point_cell[~good] = 0.0
    draws = log_cell @ avg                                             # (n_boot, G)
    point = point_cell @ avg
    levels = np.array([0.5 - confidence / 2, 0.5 + confidence / 2])
    if method == "bca" and n_boot and T > 2:
        with np.errstate(divide="ignore", invalid="ignore"):        # jackknife: leave one theta out
            jk = 0.5 * np.log((s.sum(1)[None, :] - s.T) / (m.sum(1)[None, :] - m.T))   # (T, C)
        jk[:, ~good] = 0.0
        levels = _bca_levels(draws, point, jk @ avg, levels)           # (2, G)
    elif method not in ("bca", "percentile"):
        raise ValueError(f"method: 'bca' or 'percentile', not {method!r}")
    else:
        levels = np.repeat(levels[:, None], len(uniq), axis=1)
    q = np.full((2, len(uniq)), np.nan)
    for g in range(len(uniq) if n_boot else 0):
        v = draws[:, g][np.isfinite(draws[:, g])]
        if v.size and np.all(np.isfinite(levels[:, g])):
            q[:, g] = np.percentile(v, 100 * levels[:, g])
    none = size == 0
    rmse, lo, hi = np.exp(point), np.exp(q[0]), np.exp(q[1])
    for a in (rmse, lo, hi):
        a[none] = math.nan
    return {"groups": uniq, "rmse": rmse, "lo": lo, "hi": hi, "n_cells": size.astype(int),
            "n_thetas": T, "log_rmse_draws": draws}


test_theta_bootstrap.__test__ = False        # not a pytest test, whatever imports it


def combined_interval(log_rmse_mean: float, log_rmse_sd: float, n: int, test_lo: float,
                      test_hi: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """An RMSE interval that carries both draws behind a cell's number: its seeds (training
    randomness) and its test thetas (the test set), for the geometric-mean RMSE over the
    population of both (issue 38: the two intervals printed apart each cover one).

    On log RMSE the two errors add: v_seed = sd^2 / n over the n seeds' log RMSE (the seed
    interval's), v_test from the test-theta interval's half-width, ((log hi - log lo) /
    (2 z))^2 (its BCa interval, so a skewed bootstrap still sets the scale). The interval is
    the geometric mean times exp(+- t sqrt(v_seed + v_test)), t on Satterthwaite's (1946)
    degrees of freedom (v_seed + v_test)^2 / (v_seed^2 / (n - 1)) (the bootstrap part counts
    as known), and never narrower than the seed interval (t on n - 1) or the test part (z)
    alone: with few seeds Satterthwaite's extra degrees of freedom could otherwise shrink
    it below the seed interval a reader sees beside it. Coverage simulated in
    tests/benchmarks/coverage.py ("combined (seeds and test thetas)").

    Args:
        log_rmse_mean, log_rmse_sd: mean and sd (ddof 1) of the seeds' log RMSE; n >= 2 seeds.
        test_lo, test_hi: the test-theta interval of the group's geometric mean (bp).
    Returns:
        (lo, hi) in bp; NaN for fewer than two seeds or a missing test interval.
    """
    if not (n >= 2 and np.isfinite(log_rmse_mean) and np.isfinite(log_rmse_sd)
            and np.isfinite(test_lo) and np.isfinite(test_hi) and 0 < test_lo < test_hi):
        return math.nan, math.nan
    q = 0.5 + confidence / 2
    z = stats.norm.ppf(q)
    v_seed = float(log_rmse_sd) ** 2 / n
    v_test = ((math.log(test_hi) - math.log(test_lo)) / (2 * z)) ** 2
    total = v_seed + v_test
    df = total ** 2 / (v_seed ** 2 / (n - 1)) if v_seed > 0 else math.inf
    half = max(stats.t.ppf(q, df) * math.sqrt(total),          # never narrower than either
               stats.t.ppf(q, n - 1) * math.sqrt(v_seed), z * math.sqrt(v_test))
    return math.exp(log_rmse_mean - half), math.exp(log_rmse_mean + half)
