"""Primary power-law fit of the budget analysis: least squares on the per-budget MEAN log MSE.

Model (docs/DESIGN.md, "Scaling"): log MSE_ij = log a - b log n_j + u_j + s_i + e_ij for
budget j and seed i, MSE in bp^2, n in HF points. The seeds of one budget share u_j (the
hyperparameters tuned for that (model, budget), any lack of fit of the power law), so they
are not independent replicates of the line. The fit therefore uses the k budget means
ybar_j: ordinary least squares of ybar_j on log n_j, whose residuals carry u_j + mean_i e_ij,
with a Student t interval on k - 2 degrees of freedom (Draper & Smith, Applied Regression
Analysis, 3rd ed. 1998, ch. 1-3). A per-seed effect s_i common to every budget (budgets are
nested per seed) shifts every mean by the same amount and so leaves the slope alone; it does
enter the intercept, which ``line_fit`` accounts for separately (``c_seed``).

Budgets with unequal seed counts: the fit is on the k means, unweighted (each budget one
observation), so a budget with fewer seeds is not down-weighted; the lack-of-fit F then only
approximately follows its F distribution.

References: lack-of-fit F test with pure error, Draper & Smith (1998) sec. 2.1; Fieller (1954)
JRSS B 16(2) for ratio / inverse-prediction intervals (used in sabr.analysis.statistics.efficiency);
Satterthwaite (1946) Biometrics Bull. 2(6) for the degrees of freedom of a variance sum.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["scaling_exponent", "exponent_difference", "line_fit", "check_cells"]

_NAN = math.nan


def check_cells(budget, seed, **values) -> tuple[np.ndarray, np.ndarray, dict]:
    """Validate per-cell arrays (one entry per trained cell); raise a one-line ValueError naming the argument.

    Args:
        budget: (n,) HF budgets, finite and > 0. seed: (n,) seed labels; (budget, seed) unique.
        values: name -> (n,) MSE arrays (bp^2), finite and > 0.
    Returns:
        (budget (n,) float, seed (n,), {name: (n,) float}).
    """
    arrs = {"budget": np.asarray(budget), "seed": np.asarray(seed),
            **{k: np.asarray(v) for k, v in values.items()}}
    for name, a in arrs.items():
        if a.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array (one entry per cell), got shape {a.shape}")
    n = arrs["budget"].size
    for name, a in arrs.items():
        if a.size != n:
            raise ValueError(f"{name}: length {a.size} differs from budget's length {n}")
    try:
        b = arrs["budget"].astype(float)
    except (TypeError, ValueError):
        raise ValueError("budget: must be numeric") from None
    if not np.all(np.isfinite(b) & (b > 0)):
        raise ValueError("budget: every budget must be finite and > 0 (HF points)")
    out = {}
    for name in values:
        try:
            v = arrs[name].astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: must be numeric") from None
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            raise ValueError(f"{name}: every MSE must be finite and > 0 (bp^2); {int(bad.sum())} "
                             f"entries are not (first: {v[bad][0]!r})")
        out[name] = v
    if n and pd.DataFrame({"b": b, "s": arrs["seed"]}).duplicated().any():
        raise ValueError("seed: duplicate (budget, seed) pairs; give one entry per trained cell")
    return b, arrs["seed"], out


def line_fit(budget: np.ndarray, seed: np.ndarray, y: np.ndarray) -> SimpleNamespace:
    """OLS of the per-budget means of y on log(budget), with the pieces every interval needs.

    Args:
        budget: (n,) HF budgets (> 0). seed: (n,) labels. y: (n,) per-cell values (log bp^2).
    Returns:
        namespace: k budgets, N points, S seeds, budgets (k,), nj (k,) seeds per budget,
        x (k,) log budgets, xm = mean x, sxx = sum (x - xm)^2, ybar (k,), alpha (fitted value
        at xm = mean of ybar), slope, resid (k,), s2 (residual variance, k - 2 df; NaN if k < 3),
        ss_pe / df_pe (pure error: within-budget squares, N - k df), c_seed (variance of alpha
        from per-seed effects: var over seeds of their mean within-budget deviation times
        sum_i w_i^2, w_i the seed's weight in alpha; slightly conservative, it also counts
        e / k), df_seed = S - 1.
    """
    ub, inv = np.unique(budget, return_inverse=True)
    k, N = ub.size, y.size
    nj = np.bincount(inv, minlength=k)
    ybar = np.bincount(inv, weights=y, minlength=k) / nj
    x = np.log(ub)
    xm = float(x.mean()) if k else _NAN
    u = x - xm
    sxx = float(u @ u)
    f = SimpleNamespace(k=k, N=N, budgets=ub, nj=nj, x=x, xm=xm, sxx=sxx, ybar=ybar, alpha=_NAN,
                        slope=_NAN, resid=np.full(k, _NAN), s2=_NAN, ss_pe=_NAN, df_pe=N - k,
                        c_seed=0.0, df_seed=0, S=0)
    if k == 0:
        return f
    within = y - ybar[inv]
    f.ss_pe = float(within @ within)
    us, sinv = np.unique(seed, return_inverse=True)
    f.S = us.size
    f.df_seed = f.S - 1
    if f.S >= 2:
        w = np.bincount(sinv, weights=within) / np.bincount(sinv)
        weight = np.bincount(sinv, weights=1.0 / nj[inv]) / k
        f.c_seed = float(w.var(ddof=1) * (weight @ weight))
    f.alpha = float(ybar.mean())
    if k >= 2:
        f.slope = float(u @ ybar / sxx)
        f.resid = ybar - f.alpha - f.slope * u
    if k >= 3:
        f.s2 = float(f.resid @ f.resid) / (k - 2)
    return f


def satterthwaite(parts: list[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of independent variance estimates [(v, df), ...] (Satterthwaite 1946)."""
    parts = [(v, d) for v, d in parts if v > 0]
    if not parts:
        return _NAN
    den = sum(v * v / d for v, d in parts if d > 0)
    return sum(v for v, _ in parts) ** 2 / den if den > 0 else _NAN


def _slope_fit(budget, seed, y, confidence: float) -> dict:
    """b = -slope of the means fit with its t interval, R^2, lack-of-fit F and leave-largest-out."""
    f = line_fit(budget, seed, y)
    out = dict(b=_NAN, b_se=_NAN, b_lo=_NAN, b_hi=_NAN, t=_NAN, p=_NAN, log_a=_NAN, n_budgets=f.k,
               n_points=f.N, n_seeds=f.S, df=f.k - 2 if f.k >= 3 else _NAN, r2=_NAN, lof_F=_NAN,
               lof_df1=_NAN, lof_df2=_NAN, lof_p=_NAN, loo_budget=_NAN, loo_log_mse_pred=_NAN,
               loo_log_mse_obs=_NAN, loo_rmse_ratio=_NAN, note="")
    notes = []
    if f.k < 2:
        out["note"] = f"{f.k} budget(s): no fit"
        return out
    out.update(b=-f.slope, log_a=f.alpha - f.slope * f.xm)
    if f.k < 3:
        notes.append("2 budgets: no interval (k - 2 = 0 df)")
    else:
        se = math.sqrt(f.s2 / f.sxx)
        t = float(stats.t.ppf(0.5 + confidence / 2, f.k - 2))
        out.update(b_se=se, b_lo=out["b"] - t * se, b_hi=out["b"] + t * se)
        # an exact line (se 0) gives t = +-inf, p = 0: a degenerate fit, not evidence
        out["t"] = out["b"] / se if se > 0 else (math.copysign(math.inf, out["b"]) if out["b"] else _NAN)
        out["p"] = _NAN if math.isnan(out["t"]) else float(2 * stats.t.sf(abs(out["t"]), f.k - 2))
        sst = float(((f.ybar - f.alpha) ** 2).sum())
        out["r2"] = 1.0 - float(f.resid @ f.resid) / sst if sst > 0 else _NAN
        ss_lof = float((f.nj * f.resid ** 2).sum())
        if f.df_pe <= 0:
            notes.append("one seed per budget: no lack-of-fit test (no pure error)")
        elif f.ss_pe <= 0:
            notes.append("seeds identical within every budget: lack-of-fit F undefined")
        else:
            F = (ss_lof / (f.k - 2)) / (f.ss_pe / f.df_pe)
            out.update(lof_F=F, lof_df1=f.k - 2, lof_df2=f.df_pe,
                       lof_p=float(stats.f.sf(F, f.k - 2, f.df_pe)))
            if len(set(f.nj.tolist())) > 1:
                notes.append("unequal seeds per budget: lack-of-fit F approximate")
        top = f.k - 1
        xr, yr = f.x[:top], f.ybar[:top]
        sl = float(((xr - xr.mean()) @ yr) / ((xr - xr.mean()) @ (xr - xr.mean())))
        pred = yr.mean() + sl * (f.x[top] - xr.mean())
        out.update(loo_budget=float(f.budgets[top]), loo_log_mse_pred=float(pred),
                   loo_log_mse_obs=float(f.ybar[top]), loo_rmse_ratio=math.exp((pred - f.ybar[top]) / 2))
    out["note"] = "; ".join(notes)
    return out


def scaling_exponent(budget, seed, mse, *, confidence: float = 0.95) -> dict:
    """Scaling exponent b of MSE ~ a n^-b from the per-budget mean log MSE, t interval on k - 2 df.

    Least squares of the k per-budget means of log(MSE) on log(budget) (unweighted; module
    doc), b = -slope, b +- t_{k-2} se(b), se(b) = sqrt(s^2 / Sxx) from the residuals of the k
    means. Beside it the lack-of-fit F test with pure error (Draper & Smith 1998, sec. 2.1):
    F = [SS_lof / (k - 2)] / [SS_pe / (N - k)], SS_lof = sum_j n_j (ybar_j - yhat_j)^2 and
    SS_pe = sum of squared deviations of the seeds from their budget mean; a small lof_p says
    the budget means scatter about the line more than the seeds scatter within a budget
    (shared budget effects or a curved law). A per-seed effect common to all budgets adds to
    SS_pe but not to SS_lof, which makes the test conservative.

    Args:
        budget: (n,) HF budget of each trained cell. seed: (n,) its seed.
        mse: (n,) its test MSE in bp^2 (> 0). confidence: level of the interval.
    Returns:
        dict: b, b_se, b_lo, b_hi, t, p (test of b = 0), log_a (log bp^2 at n = 1), n_budgets,
        n_points, n_seeds, df (k - 2), r2 (of the means), lof_F, lof_df1, lof_df2, lof_p,
        loo_budget, loo_log_mse_pred, loo_log_mse_obs, loo_rmse_ratio (leave the largest
        budget's mean out, predict it: predicted / observed RMSE), note. NaN where undefined
        (fewer than 3 budgets: no interval; one seed per budget: no lack-of-fit test).
    Raises:
        ValueError: unequal lengths, non-positive or non-finite budget or MSE, duplicates.
    """
    b, s, v = check_cells(budget, seed, mse=mse)
    return _slope_fit(b, s, np.log(v["mse"]), confidence)


def exponent_difference(budget, seed, mse_a, mse_b, *, confidence: float = 0.95) -> dict:
    """b_A - b_B from the per-budget means of the paired differences log MSE_A - log MSE_B.

    The same fit as ``scaling_exponent`` on d = log MSE_A - log MSE_B of cells paired on
    (budget, seed): slope of the k budget means of d on log n, t interval on k - 2 df.
    Positive: A's MSE falls faster with n.

    Args:
        budget, seed: (n,) the pairs' budget and seed. mse_a, mse_b: (n,) test MSE (bp^2) of
            A and B in the same (budget, seed). confidence: interval level.
    Returns:
        dict: b_diff, b_diff_se, b_diff_lo, b_diff_hi, t, p (two-sided, b_A = b_B), df,
        n_budgets, n_points, r2, lof_p, note.
    """
    b, s, v = check_cells(budget, seed, mse_a=mse_a, mse_b=mse_b)
    f = _slope_fit(b, s, np.log(v["mse_a"]) - np.log(v["mse_b"]), confidence)
    return {"b_diff": f["b"], "b_diff_se": f["b_se"], "b_diff_lo": f["b_lo"], "b_diff_hi": f["b_hi"],
            "t": f["t"], "p": f["p"], "df": f["df"], "n_budgets": f["n_budgets"],
            "n_points": f["n_points"], "r2": f["r2"], "lof_p": f["lof_p"], "note": f["note"]}
