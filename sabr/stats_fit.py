"""Scaling of test error with the HF budget: power-law fits, cluster bootstrap, efficiency.

Primary model: MSE = a n^-b over all seed-level points, fitted by least squares of
log MSE on log n (``scipy.stats.linregress``); b is the MSE exponent, b/2 the RMSE
one. Sensitivity model: MSE = a n^-b + c, bounded ``scipy.optimize.least_squares``
on log residuals, c >= 0 a floor (the HF label noise alone gives c >= noise_floor^2).
Uncertainty of b by a cluster bootstrap over seeds (shared/STATISTICS.md). Errors in
vol bp, MSE in bp^2, budgets n in HF points.

Note: budgets are nested per seed (sabr.budgets), so a seed's points at different
budgets are correlated; the OLS t interval treats them as independent, the cluster
bootstrap does not.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares

from .stats_compare import _quiet, finished_cells

__all__ = ["power_law_fit", "saturating_fit", "cluster_bootstrap_powerlaw", "scaling_table",
           "exponent_differences", "budget_for_target", "invert_power_law", "efficiency_table",
           "data_efficiency"]

_NAN = math.nan


def power_law_fit(budget: np.ndarray, mse: np.ndarray, *, confidence: float = 0.95) -> dict:
    """OLS of log MSE on log n (``scipy.stats.linregress``): MSE ~ a n^-b, b = -slope.

    b's interval is b +- t_{m-2} * stderr(slope) (m points). R^2 is in log space.
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


def saturating_fit(budget: np.ndarray, mse: np.ndarray, *, loss: str = "linear") -> dict:
    """Sensitivity fit MSE = a n^-b + c (c >= 0) by ``scipy.optimize.least_squares`` on log residuals.

    Residuals log(a n^-b + c) - log MSE over seed-level points; parameters (log a, b, c),
    bounds b in [-5, 5], c in [0, inf); several starts (c0 = 0, 0.3, 0.6, 0.9 x min MSE),
    the lowest cost kept. Standard errors from the Jacobian: cov = s^2 (J^T J)^-1,
    s^2 = sum(r^2) / (m - 3). c is flagged not identifiable when there are fewer than 4
    budgets, c is at its bound 0, or c < 2 se(c) (its approximate 95 % interval reaches 0).

    Args:
        budget: (m,) HF budgets. mse: (m,) test MSE in bp^2. loss: least_squares loss
            ('linear' or e.g. 'huber').
    Returns:
        dict: a (bp^2), b, c (bp^2), b_se, c_se, c_identifiable (bool), cost, note.
    """
    n, mse = np.asarray(budget, float), np.asarray(mse, float)
    x, y = np.log(n), np.log(mse)
    out = dict(a=_NAN, b=_NAN, c=_NAN, b_se=_NAN, c_se=_NAN, c_identifiable=False, cost=_NAN, note="")
    n_budgets = np.unique(n).size
    if y.size < 3 or n_budgets < 2:
        out["note"] = "too few points for a + floor fit: no fit"
        return out

    def resid(th):
        return np.log(np.exp(th[0] - th[1] * x) + th[2]) - y

    def jac(th):
        big = np.exp(th[0] - th[1] * x)
        s = big + th[2]
        return np.column_stack([big / s, -x * big / s, 1.0 / s])

    lo, hi = np.array([-np.inf, -5.0, 0.0]), np.array([np.inf, 5.0, np.inf])
    best = None
    with _quiet():
        for frac in (0.0, 0.3, 0.6, 0.9):
            c0 = frac * mse.min()
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
    if best.active_mask[2] != 0 or c <= 1e-9 * mse.min():
        why.append("c at its bound 0")
    elif not (np.isfinite(out["c_se"]) and c >= 2 * out["c_se"]):
        why.append(f"c < 2 se(c) (se = {out['c_se']:.3g})")
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


def scaling_table(df: pd.DataFrame, *, draws: dict | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Per model: power_law_fit, saturating_fit (prefixed sat_) and bootstrap percentile interval of b.

    Args:
        df: results frame. draws: cluster_bootstrap_powerlaw output (optional).
    Returns:
        frame, one row per model: power_law_fit's fields, b_boot_lo, b_boot_hi, n_boot_valid,
        rmse_exponent (= b / 2), sat_a, sat_b, sat_c, sat_b_se, sat_c_se, sat_c_identifiable,
        sat_c_rmse_bp (sqrt c, bp), noise_floor_bp (bp; c below noise_floor^2 is suspicious), note.
    """
    cells, _ = finished_cells(df)
    rows = []
    for m in sorted(cells["model_type"].unique().tolist()):
        c = cells[cells.model_type == m]
        pl = power_law_fit(c["budget"].to_numpy(), c["mse_bp2"].to_numpy(), confidence=confidence)
        sat = saturating_fit(c["budget"].to_numpy(), c["mse_bp2"].to_numpy())
        row = {"model_type": m, **{k: v for k, v in pl.items() if k != "note"},
               "rmse_exponent": pl["b"] / 2, "b_boot_lo": _NAN, "b_boot_hi": _NAN, "n_boot_valid": 0}
        if draws is not None and m in draws["models"]:
            lo, hi, k = _pct(draws["b"][:, draws["models"].index(m)], confidence)
            row.update(b_boot_lo=lo, b_boot_hi=hi, n_boot_valid=k)
        row.update({f"sat_{k}": v for k, v in sat.items() if k not in ("note", "cost")})
        row["sat_c_rmse_bp"] = math.sqrt(sat["c"]) if np.isfinite(sat["c"]) else _NAN
        row["noise_floor_bp"] = float(pd.to_numeric(c.get("noise_floor_bp"), errors="coerce").mean()) \
            if "noise_floor_bp" in c else _NAN
        row["note"] = "; ".join(s for s in (pl["note"], sat["note"]) if s)
        rows.append(row)
    return pd.DataFrame(rows)


def exponent_differences(scaling: pd.DataFrame, draws: dict, *, confidence: float = 0.95) -> pd.DataFrame:
    """b_A - b_B for every model pair with a paired cluster-bootstrap percentile interval.

    Returns: frame (model_a, model_b, b_diff, b_diff_lo, b_diff_hi, n_boot_valid); b_diff from
    the OLS fits in ``scaling``; positive means A's MSE falls faster with n.
    """
    b = dict(zip(scaling["model_type"], scaling["b"])) if len(scaling) else {}
    rows = []
    for a, c in itertools.combinations(draws["models"], 2):
        i, j = draws["models"].index(a), draws["models"].index(c)
        lo, hi, k = _pct(draws["b"][:, i] - draws["b"][:, j], confidence)
        rows.append({"model_a": a, "model_b": c, "b_diff": b.get(a, _NAN) - b.get(c, _NAN),
                     "b_diff_lo": lo, "b_diff_hi": hi, "n_boot_valid": k})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "b_diff", "b_diff_lo", "b_diff_hi",
                                       "n_boot_valid"])


def budget_for_target(budget: np.ndarray, rmse: np.ndarray, target_rmse: float) -> dict:
    """Smallest budget whose mean RMSE reaches ``target_rmse``, interpolated on log-log axes.

    Takes the first tested budget n_i (ascending) with rmse_i <= target and interpolates
    log n linearly in log rmse between n_{i-1} and n_i:
    log n* = log n_{i-1} + (log t - log r_{i-1}) (log n_i - log n_{i-1}) / (log r_i - log r_{i-1}).

    Args:
        budget: (k,) tested budgets. rmse: (k,) mean RMSE (bp) at each. target_rmse: bp.
    Returns:
        dict: budget (float; NaN unless bracketed), flag ('ok', 'below smallest budget' —
        reached already at the smallest, 'not reached', 'no data', 'no target' for a NaN or
        non-positive target), bound ('<= n_min',
        '> n_max' or '').
    """
    n, r = np.asarray(budget, float), np.asarray(rmse, float)
    keep = np.isfinite(n) & np.isfinite(r) & (r > 0)
    n, r = n[keep], r[keep]
    o = np.argsort(n)
    n, r = n[o], r[o]
    if not (np.isfinite(target_rmse) and target_rmse > 0):
        return dict(budget=_NAN, flag="no target", bound="")
    if n.size == 0:
        return dict(budget=_NAN, flag="no data", bound="")
    hit = np.nonzero(r <= target_rmse)[0]
    if hit.size == 0:
        return dict(budget=_NAN, flag="not reached", bound=f"> {n[-1]:g}")
    i = int(hit[0])
    if i == 0:
        return dict(budget=_NAN, flag="below smallest budget", bound=f"<= {n[0]:g}")
    ln0, ln1, lr0, lr1 = math.log(n[i - 1]), math.log(n[i]), math.log(r[i - 1]), math.log(r[i])
    ln = ln0 + (math.log(target_rmse) - lr0) * (ln1 - ln0) / (lr1 - lr0)
    return dict(budget=math.exp(ln), flag="ok", bound="")


def invert_power_law(log_a: np.ndarray, b: np.ndarray, target_rmse: float) -> np.ndarray:
    """Budget at which MSE = exp(log_a) n^-b reaches target_rmse^2: n* = exp((log_a - 2 log t) / b).

    Args: log_a, b: (...) fit parameters (log bp^2, unitless). target_rmse: bp.
    Returns: (...) budgets; +inf where b <= 0 (more data does not help), NaN where an input is NaN.
    """
    la, bb = np.asarray(log_a, float), np.asarray(b, float)
    with _quiet():
        out = np.where(bb > 0, np.exp((la - 2 * math.log(target_rmse)) / bb), np.inf)
    return np.where(np.isnan(la) | np.isnan(bb), np.nan, out)


def efficiency_table(summary: pd.DataFrame, scaling: pd.DataFrame, draws: dict | None,
                     target_rmse: float, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per model: minimum budget for ``target_rmse`` (bp) by interpolation and by the inverted power law.

    The fit's interval is the percentile interval (method 'inverted_cdf', so +inf draws with
    b <= 0 stay inf) of invert_power_law over the cluster-bootstrap draws.

    Args:
        summary: cell_summary output. scaling: scaling_table output. draws: bootstrap draws.
    Returns:
        frame per model: target_rmse_bp, budget_interp, interp_flag, interp_bound, budget_fit,
        budget_fit_lo, budget_fit_hi, fit_flag, hagan_rmse_bp, noise_floor_bp, note.
    """
    rows = []
    models = summary.loc[~summary.is_reference, "model_type"].unique().tolist() if len(summary) else []
    sc = scaling.set_index("model_type") if len(scaling) else pd.DataFrame()
    for m in sorted(models):
        s = summary[(summary.model_type == m) & (summary.n > 0)]
        ip = budget_for_target(s["budget"].to_numpy(), s["rmse_bp_mean"].to_numpy(), target_rmse)
        row = {"model_type": m, "target_rmse_bp": target_rmse, "budget_interp": ip["budget"],
               "interp_flag": ip["flag"], "interp_bound": ip["bound"], "budget_fit": _NAN,
               "budget_fit_lo": _NAN, "budget_fit_hi": _NAN, "fit_flag": "no fit",
               "hagan_rmse_bp": float(summary.loc[summary.is_reference, "rmse_bp_mean"].mean()),
               "noise_floor_bp": float(s["noise_floor_bp"].mean()), "note": ""}
        if m in sc.index and np.isfinite(sc.loc[m, "b"]) and np.isfinite(target_rmse):
            f = sc.loc[m]
            nstar = float(invert_power_law(f["log_a"], f["b"], target_rmse))
            flags = []
            if f["b"] <= 0:
                flags.append("b <= 0: error does not fall with budget")
            elif nstar > s["budget"].max():
                flags.append("extrapolated above the largest budget")
            elif nstar < s["budget"].min():
                flags.append("extrapolated below the smallest budget")
            if np.isfinite(f["sat_c"]) and target_rmse ** 2 <= f["sat_c"]:
                flags.append("target below the fitted floor c" +
                             ("" if f["sat_c_identifiable"] else " (c not identifiable)"))
            row.update(budget_fit=nstar, fit_flag="; ".join(flags) or "ok")
            if draws is not None and m in draws["models"]:
                j = draws["models"].index(m)
                ns = invert_power_law(draws["log_a"][:, j], draws["b"][:, j], target_rmse)
                lo, hi, _ = _pct(ns, confidence, method="inverted_cdf")
                row.update(budget_fit_lo=lo, budget_fit_hi=hi)
                if np.isinf(hi):
                    row["note"] = "bootstrap draws with b <= 0: upper end infinite"
        rows.append(row)
    return pd.DataFrame(rows)


def data_efficiency(summary: pd.DataFrame) -> pd.DataFrame:
    """Data-efficiency ratio of A over B: HF points B needs to match A's mean RMSE at n, over n.

    B's budget comes from budget_for_target on B's log-log curve of mean RMSE with target
    A's mean RMSE at n. ratio > 1: A needs fewer points. Outside B's tested range the ratio
    is NaN and ``bound`` says '> x' (B never reached it) or '<= x' (B reached it already at
    its smallest budget), x the budget bound divided by n.

    Args: summary: cell_summary output.
    Returns: frame (model_a, model_b, budget, rmse_bp_a, budget_b, ratio, flag, bound).
    """
    s = summary[(~summary.is_reference) & (summary.n > 0)] if len(summary) else summary
    models = sorted(s["model_type"].unique().tolist()) if len(s) else []
    rows = []
    for a, b in itertools.permutations(models, 2):
        sa, sb = s[s.model_type == a], s[s.model_type == b]
        for n, ra in zip(sa["budget"], sa["rmse_bp_mean"]):
            ip = budget_for_target(sb["budget"].to_numpy(), sb["rmse_bp_mean"].to_numpy(), ra)
            bound = ""
            if ip["flag"] == "not reached":
                bound = f"> {sb['budget'].max() / n:.4g}"
            elif ip["flag"] == "below smallest budget":
                bound = f"<= {sb['budget'].min() / n:.4g}"
            rows.append({"model_a": a, "model_b": b, "budget": n, "rmse_bp_a": ra,
                         "budget_b": ip["budget"], "ratio": ip["budget"] / n, "flag": ip["flag"],
                         "bound": bound})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "budget", "rmse_bp_a", "budget_b",
                                       "ratio", "flag", "bound"])
