"""Scaling of test error with the HF budget: scaling table, exponent differences, sensitivity fits.

Primary fit (sabr.analysis.statistics.scaling.scaling_exponent): least squares of the per-budget MEAN log
MSE on log n with a t interval on k - 2 df (k budgets), beside a lack-of-fit F test
(docs/DESIGN.md, "Scaling"). Exponent differences: the same fit on the paired
per-budget mean differences of log MSE. Sensitivity model: MSE = a n^-b + c, bounded
``scipy.optimize.least_squares`` on log residuals, c >= noise_floor^2 (the HF label noise
alone puts that much into every measured MSE). The cluster bootstrap over seeds is kept as a
descriptive spread only: with 3-5 clusters and effects shared by the seeds of a budget it
under-covers badly (tests/benchmarks/coverage.py). Errors in vol bp, MSE in bp^2, budgets n
in HF points.

``power_law_fit`` is the pooled OLS over seed-level points; its interval treats the seeds of
a budget as independent and is too narrow (kept for comparison; not used for reporting).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares

from .compare import _quiet, finished_cells, holm, pair_cells
from .scaling import exponent_difference, scaling_exponent

__all__ = ["power_law_fit", "saturating_fit", "cluster_bootstrap_powerlaw", "scaling_table",
           "exponent_differences", "paired_arrays", "scaling_exponent", "exponent_difference"]

_NAN = math.nan


def power_law_fit(budget: np.ndarray, mse: np.ndarray, *, confidence: float = 0.95) -> dict:
    """Pooled OLS of log MSE on every seed-level point (``scipy.stats.linregress``): MSE ~ a n^-b.

    Not for reporting: b's interval b +- t_{m-2} * stderr(slope) (m points) treats the seeds
    of a budget as independent, but they share the budget's effects, so it under-covers
    (tests/benchmarks/coverage.py, tests/stats/test_scaling.py); use scaling_exponent.
    R^2 is in log space.
    Leave-largest-budget-out: refit without the largest budget, predict log MSE there
    and compare with the observed mean log MSE; loo_rmse_ratio = exp((pred - obs) / 2)
    is predicted / observed geometric-mean RMSE (1 = perfect).

    Args:
        budget: (m,) HF budget of each seed-level point. mse: (m,) test MSE in bp^2.
    Returns:
        dict: n_points, n_budgets, b, b_se, b_lo, b_hi, log_a, r2, loo_budget,
        loo_log_mse_pred, loo_log_mse_obs, loo_rmse_ratio, note (NaN where undefined).
    """
    n, y = np.asarray(budget, float), np.log(np.asarray(mse, float))
    x = np.log(n)
    out = dict(n_points=int(y.size), n_budgets=int(np.unique(n).size), b=_NAN, b_se=_NAN,
               b_lo=_NAN, b_hi=_NAN, log_a=_NAN, r2=_NAN, loo_budget=_NAN, loo_log_mse_pred=_NAN,
               loo_log_mse_obs=_NAN, loo_rmse_ratio=_NAN, note="")
    if out["n_budgets"] < 2:
        out["note"] = "fewer than 2 budgets: no fit"
        return out
    with _quiet():
        fit = stats.linregress(x, y)
    out.update(b=-float(fit.slope), log_a=float(fit.intercept), r2=float(fit.rvalue ** 2))
    notes = []
    if y.size > 2:
        t = stats.t.ppf(0.5 + confidence / 2, y.size - 2)
        out.update(b_se=float(fit.stderr), b_lo=out["b"] - t * fit.stderr, b_hi=out["b"] + t * fit.stderr)
    else:
        notes.append("2 points: no interval")
    if out["n_budgets"] >= 3:
        top = n.max()
        rest = stats.linregress(x[n < top], y[n < top])
        pred = rest.intercept + rest.slope * math.log(top)
        obs = float(y[n == top].mean())
        out.update(loo_budget=float(top), loo_log_mse_pred=float(pred), loo_log_mse_obs=obs,
                   loo_rmse_ratio=math.exp((pred - obs) / 2))
    else:
        notes.append("fewer than 3 budgets: no leave-largest-out check")
    out["note"] = "; ".join(notes)
    return out


def saturating_fit(budget: np.ndarray, mse: np.ndarray, *, loss: str = "linear",
                   c_min: float = 0.0) -> dict:
    """Sensitivity fit MSE = a n^-b + c (c >= c_min) by ``scipy.optimize.least_squares`` on log residuals.

    Residuals log(a n^-b + c) - log MSE over seed-level points; parameters (log a, b, c),
    bounds b in [-5, 5], c in [c_min, inf) (c_min = noise_floor^2: the MC label noise alone
    puts that much into every measured MSE); several starts (c0 = c_min + 0, 0.3, 0.6, 0.9 x
    (min MSE - c_min)), the lowest cost kept. Standard errors from the Jacobian:
    cov = s^2 (J^T J)^-1, s^2 = sum(r^2) / (m - 3). c is flagged not identifiable when there
    are fewer than 4 budgets, c is at its lower bound, or c - c_min < 2 se(c) (its approximate
    95 % interval reaches the bound).

    Args:
        budget: (m,) HF budgets. mse: (m,) test MSE in bp^2. loss: least_squares loss
            ('linear' or e.g. 'huber'). c_min: lower bound of c (bp^2).
    Returns:
        dict: a (bp^2), b, c (bp^2), b_se, c_se, c_identifiable (bool), c_min, cost, note.
    """
    n, mse = np.asarray(budget, float), np.asarray(mse, float)
    x, y = np.log(n), np.log(mse)
    c_min = float(c_min) if np.isfinite(c_min) and c_min > 0 else 0.0
    out = dict(a=_NAN, b=_NAN, c=_NAN, b_se=_NAN, c_se=_NAN, c_identifiable=False, c_min=c_min,
               cost=_NAN, note="")
    n_budgets = np.unique(n).size
    if y.size < 3 or n_budgets < 2:
        out["note"] = "too few points for a + floor fit: no fit"
        return out
    if mse.min() <= c_min:
        out["note"] = "an MSE at or below the noise floor^2: no a + floor fit"
        return out

    def resid(th):
        return np.log(np.exp(th[0] - th[1] * x) + th[2]) - y

    def jac(th):
        big = np.exp(th[0] - th[1] * x)
        s = big + th[2]
        return np.column_stack([big / s, -x * big / s, 1.0 / s])

    lo, hi = np.array([-np.inf, -5.0, c_min]), np.array([np.inf, 5.0, np.inf])
    best = None
    with _quiet():
        for frac in (0.0, 0.3, 0.6, 0.9):
            c0 = c_min + frac * (mse.min() - c_min)
            z = stats.linregress(x, np.log(mse - c0))
            th0 = np.array([z.intercept, np.clip(-z.slope, -4.9, 4.9), c0])
            try:
                res = least_squares(resid, th0, jac=jac, bounds=(lo, hi), loss=loss, x_scale="jac")
            except (ValueError, FloatingPointError):
                continue
            if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
                best = res
    if best is None:
        out["note"] = "least_squares failed from every start"
        return out
    la, b, c = best.x
    out.update(a=float(math.exp(la)), b=float(b), c=float(c), cost=float(best.cost))
    dof = y.size - 3
    if dof > 0:
        jtj = best.jac.T @ best.jac
        s2 = float(np.sum(best.fun ** 2)) / dof
        with _quiet():
            cov = s2 * np.linalg.inv(jtj) if np.linalg.cond(jtj) < 1e14 else np.full((3, 3), np.inf)
        out.update(b_se=float(np.sqrt(cov[1, 1])), c_se=float(np.sqrt(cov[2, 2])))
    why = []
    if n_budgets < 4:
        why.append(f"{n_budgets} budgets (< 4)")
    if best.active_mask[2] != 0 or c - c_min <= 1e-9 * mse.min():
        why.append(f"c at its lower bound {c_min:.4g}" + (" (noise floor^2)" if c_min else ""))
    elif not (np.isfinite(out["c_se"]) and c - c_min >= 2 * out["c_se"]):
        why.append(("c" if not c_min else "c - floor^2") + f" < 2 se(c) (se = {out['c_se']:.3g})")
    out["c_identifiable"] = not why
    out["note"] = "c not identifiable: " + ", ".join(why) if why else ""
    return out


def cluster_bootstrap_powerlaw(cells: pd.DataFrame, *, n_boot: int = 2000,
                               rng: np.random.Generator) -> dict:
    """Cluster bootstrap of the power-law fit over seeds, one seed draw shared by every model.

    Each resample draws len(seeds) seed labels with replacement; every model's points
    (all budgets) of a drawn seed enter the OLS of log MSE on log n with that seed's
    multiplicity as weight. The same draw for every budget and model makes exponent
    differences paired. A draw whose points of a model cover one budget only gives NaN.

    Args:
        cells: finished_cells output (model_type, budget, seed, log_mse).
        n_boot: resamples. rng: numpy Generator.
    Returns:
        dict: models (M,), seeds (S,), b (n_boot, M) exponents, log_a (n_boot, M) intercepts.
    """
    models = sorted(cells["model_type"].unique().tolist())
    seeds = np.array(sorted(cells["seed"].unique().tolist()))
    b = np.full((n_boot, len(models)), np.nan)
    log_a = np.full((n_boot, len(models)), np.nan)
    if seeds.size == 0:
        return dict(models=models, seeds=seeds, b=b, log_a=log_a)
    idx = rng.integers(0, seeds.size, size=(n_boot, seeds.size))
    counts = np.zeros((n_boot, seeds.size))
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1.0)
    for j, m in enumerate(models):
        c = cells[cells.model_type == m]
        x, y = np.log(c["budget"].to_numpy(float)), c["log_mse"].to_numpy(float)
        w = counts[:, np.searchsorted(seeds, c["seed"].to_numpy())]          # (n_boot, P)
        sw, sx, sy = w.sum(1), w @ x, w @ y
        sxx, sxy = w @ (x * x), w @ (x * y)
        with _quiet():
            den = sw * sxx - sx ** 2
            slope = np.where(den > 1e-12 * np.maximum(sw, 1) ** 2, (sw * sxy - sx * sy) / den, np.nan)
            b[:, j] = -slope
            log_a[:, j] = (sy - slope * sx) / sw
    return dict(models=models, seeds=seeds, b=b, log_a=log_a)


def _pct(v: np.ndarray, confidence: float, method: str = "linear") -> tuple[float, float, int]:
    v = v[~np.isnan(v)]
    if v.size == 0:
        return _NAN, _NAN, 0
    q = np.percentile(v, [50 - 50 * confidence, 50 + 50 * confidence], method=method)
    return float(q[0]), float(q[1]), int(v.size)


def paired_arrays(df: pd.DataFrame, model_a: str, model_b: str) -> tuple[dict, list[str]]:
    """Cells of A and B paired on (budget, seed) with equal hashes (pair_cells), over every budget.

    Budgets where both models finished but no seed pairs are left out (noted).

    Args: df: results frame. model_a, model_b: model types.
    Returns: ({budget, seed, mse_a, mse_b: (n,) arrays, MSE in bp^2}, notes).
    """
    cells, _ = finished_cells(df)
    both = sorted(set(cells.loc[cells.model_type == model_a, "budget"]) &
                  set(cells.loc[cells.model_type == model_b, "budget"]))
    parts, notes = [], []
    for n in both:
        pr, nt, _ = pair_cells(cells, model_a, model_b, n)
        notes += nt
        if len(pr) == 0:
            notes.append(f"b={n}: no seed pairs {model_a} with {model_b}: budget left out")
        parts.append(pr.assign(budget=n))
    p = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["budget", "seed", "log_mse_a", "log_mse_b"])
    return {"budget": p["budget"].to_numpy(float), "seed": p["seed"].to_numpy(),
            "mse_a": np.exp(p["log_mse_a"].to_numpy(float)),
            "mse_b": np.exp(p["log_mse_b"].to_numpy(float))}, notes


def scaling_table(df: pd.DataFrame, *, draws: dict | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Per model: the primary exponent fit, the a + floor sensitivity fit and the descriptive bootstrap.

    b, b_lo, b_hi, lof_p, ...: scaling_exponent (per-budget means, t on k - 2 df). sat_*:
    saturating_fit with c >= noise_floor^2 (the model's mean noise floor; 0 and noted when
    unknown). b_boot_lo_descriptive / b_boot_hi_descriptive: percentile interval of the
    cluster bootstrap over seeds (``draws``); it cannot see effects shared by the seeds of a
    budget and resamples 3-5 clusters, so it is descriptive, not a confidence interval
    (simulated coverage in tests/benchmarks/coverage.py).

    Args:
        df: results frame. draws: cluster_bootstrap_powerlaw output (optional).
        confidence: interval level.
    Returns:
        frame, one row per model: scaling_exponent's fields, rmse_exponent (= b / 2),
        b_boot_lo_descriptive, b_boot_hi_descriptive, n_boot_valid, sat_a, sat_b, sat_c,
        sat_b_se, sat_c_se, sat_c_identifiable, sat_c_min (bp^2), sat_c_rmse_bp (sqrt c, bp),
        noise_floor_bp (bp), note.
    """
    cells, _ = finished_cells(df)
    rows = []
    for m in sorted(cells["model_type"].unique().tolist()):
        c = cells[cells.model_type == m]
        fit = scaling_exponent(c["budget"].to_numpy(float), c["seed"].to_numpy(), c["mse_bp2"].to_numpy(),
                               confidence=confidence)
        floor = float(pd.to_numeric(c["noise_floor_bp"], errors="coerce").mean()) \
            if "noise_floor_bp" in c else _NAN
        c_min = floor ** 2 if np.isfinite(floor) else 0.0
        sat = saturating_fit(c["budget"].to_numpy(), c["mse_bp2"].to_numpy(), c_min=c_min)
        row = {"model_type": m, **{k: v for k, v in fit.items() if k != "note"},
               "rmse_exponent": fit["b"] / 2, "b_boot_lo_descriptive": _NAN,
               "b_boot_hi_descriptive": _NAN, "n_boot_valid": 0}
        if draws is not None and m in draws["models"]:
            lo, hi, k = _pct(draws["b"][:, draws["models"].index(m)], confidence)
            row.update(b_boot_lo_descriptive=lo, b_boot_hi_descriptive=hi, n_boot_valid=k)
        row.update({f"sat_{k}": v for k, v in sat.items() if k not in ("note", "cost")})
        row["sat_c_rmse_bp"] = math.sqrt(sat["c"]) if np.isfinite(sat["c"]) else _NAN
        row["noise_floor_bp"] = floor
        notes = [fit["note"], sat["note"]] + ([] if np.isfinite(floor) else
                                              ["noise floor unknown: sensitivity fit with c >= 0"])
        row["note"] = "; ".join(s for s in notes if s)
        rows.append(row)
    return pd.DataFrame(rows)


def exponent_differences(df: pd.DataFrame, *, pairs: list[tuple[str, str]] | None = None,
                         confidence: float = 0.95, alpha: float = 0.05) -> pd.DataFrame:
    """b_A - b_B for every model pair from the paired per-budget mean differences of log MSE.

    Cells paired on (budget, seed) with equal hashes (paired_arrays), then exponent_difference:
    the slope of the budget means of log MSE_A - log MSE_B on log n, t interval on k - 2 df.
    Positive b_diff: A's MSE falls faster with n. The pairs are one family: ``p_holm`` is
    Holm's step-down adjustment over the rows with a finite p (Holm (1979) Scand. J.
    Statist. 6(2)), ``significant`` is p_holm < alpha, as in the model comparisons.

    Args:
        df: results frame. pairs: (model_a, model_b); default every pair in sorted order.
        alpha: the family-wise level of ``significant``.
    Returns:
        frame (model_a, model_b, b_diff, b_diff_se, b_diff_lo, b_diff_hi, t, p, p_holm,
        significant, df, n_budgets, n_points, lof_p, note).
    """
    cols = ["model_a", "model_b", "b_diff", "b_diff_se", "b_diff_lo", "b_diff_hi", "t", "p", "df",
            "n_budgets", "n_points", "lof_p", "note"]
    cells, _ = finished_cells(df)
    models = sorted(cells["model_type"].unique().tolist()) if len(cells) else []
    rows = []
    for a, b in (itertools.combinations(models, 2) if pairs is None else pairs):
        arr, notes = paired_arrays(cells, a, b)
        r = exponent_difference(arr["budget"], arr["seed"], arr["mse_a"], arr["mse_b"],
                                confidence=confidence)
        note = "; ".join(x for x in [r["note"]] + notes if x)
        rows.append({"model_a": a, "model_b": b, **{k: r[k] for k in cols[2:-1]}, "note": note})
    out = pd.DataFrame(rows, columns=cols)
    out.insert(8, "p_holm", holm(out["p"].to_numpy(float)) if len(out) else [])
    out.insert(9, "significant", out["p_holm"] < alpha)
    return out
