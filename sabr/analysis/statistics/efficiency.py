"""Efficiency: the HF budget a model needs for a target error, and data-efficiency ratios.

Both invert the primary scaling fit (sabr.analysis.statistics.scaling: least squares on the k per-budget
mean log MSE), and both intervals are Fieller intervals (Fieller 1954, JRSS B 16(2); inverse
prediction, Draper & Smith 1998 sec. 3.2): the set of values z for which the fitted line's
distance from the target is not significant at the t quantile. Such a set may be unbounded
when the slope is not clearly negative; then the interval reaches 0 or infinity and says
so. The variance of the fitted level also carries the per-seed effect (``line_fit.c_seed``);
its degrees of freedom follow Satterthwaite (1946).

Budget for a target uses the noise-corrected MSE (the geometric-mean MSE - noise_floor_bp^2,
sabr.analysis.statistics.compare.corrected_mse: the error against the exact surface), so a
target is a statement about the model, not the MC labels. A budget more than ``RANGE_FACTOR`` x beyond the largest tested budget (or below
1/RANGE_FACTOR of the smallest) is flagged "beyond the tested range" and should not be
printed as a number. MSE in bp^2, RMSE in bp, budgets in HF points.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from .compare import _quiet, finished_cells
from .fit import paired_arrays
from .scaling import check_cells, line_fit, satterthwaite

__all__ = ["budget_for_target", "invert_power_law", "budget_for_target_fit",
           "budget_for_target_between", "data_efficiency_ratio",
           "efficiency_table", "data_efficiency", "range_flag", "RANGE_FACTOR"]

_NAN = math.nan
RANGE_FACTOR = 10.0
BEYOND = "beyond the tested range"


def range_flag(n: float, lo: float, hi: float) -> str:
    """'ok', 'extrapolated above/below' the tested budgets [lo, hi], or 'beyond the tested range'
    (more than RANGE_FACTOR x above hi or below lo / RANGE_FACTOR); '' for a NaN n."""
    if not np.isfinite(n) and not np.isinf(n):
        return ""
    if n > RANGE_FACTOR * hi or n < lo / RANGE_FACTOR:
        return BEYOND
    if n > hi:
        return "extrapolated above the largest budget"
    if n < lo:
        return "extrapolated below the smallest budget"
    return "ok"


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


def _fieller_set(a: float, b2: float, c: float, est: float) -> tuple[float, float]:
    """The piece of {z: a z^2 + b2 z + c <= 0} that holds ``est`` (a Fieller set), as (lo, hi).

    a > 0: the bounded interval between the roots. a <= 0 (the slope is not significant at
    the chosen level): the set is unbounded, a ray or the whole line.
    """
    disc = b2 * b2 - 4 * a * c
    if a > 0:
        r = math.sqrt(max(disc, 0.0))
        return (-b2 - r) / (2 * a), (-b2 + r) / (2 * a)
    if a == 0 or disc <= 0:
        return -math.inf, math.inf
    r = math.sqrt(disc)
    z1, z2 = sorted(((-b2 - r) / (2 * a), (-b2 + r) / (2 * a)))
    if est >= z2:
        return z2, math.inf
    if est <= z1:
        return -math.inf, z1
    return -math.inf, math.inf


def _t(confidence: float, dof: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def budget_for_target_fit(budget, seed, mse, target_mse: float, *, confidence: float = 0.95,
                          target_log_var: float = 0.0, target_df: float = math.inf) -> dict:
    """HF budget at which the primary power-law fit reaches ``target_mse``, with a Fieller interval.

    Fit: log ybar_j = alpha + beta (log n_j - xm) on the k budget means (sabr.analysis.statistics.scaling);
    n* = exp(xm + (log target - alpha) / beta). Interval: every n with
    (alpha + beta u - log target)^2 <= t^2 [s^2 (1/k + u^2 / Sxx) + c_seed], u = log n - xm
    (Fieller / inverse prediction; Draper & Smith 1998 sec. 3.2), t on the Satterthwaite
    df of s^2 (k - 2 df) and c_seed (S - 1 df) at u*. Unbounded when beta is not
    significantly negative (hi = inf, and lo may be 0). A target that is itself an
    estimate (another design's mean log MSE) adds its variance ``target_log_var`` (on
    ``target_df`` df) to the bracket, and to the Satterthwaite df.

    Args:
        budget, seed: (n,) per trained cell. mse: (n,) MSE in bp^2 (> 0; pass the
            noise-corrected MSE for a claim about the model). target_mse: bp^2.
    Returns:
        dict: budget (n*, HF points; inf when b <= 0), lo, hi, b, log_a, df, n_budgets,
        flag (range_flag of n*, or why there is none), note.
    """
    b, s, v = check_cells(budget, seed, mse=mse)
    out = dict(budget=_NAN, lo=_NAN, hi=_NAN, b=_NAN, log_a=_NAN, df=_NAN, n_budgets=0, flag="", note="")
    if not (np.isfinite(target_mse) and target_mse > 0):
        out["flag"] = "no target"
        return out
    f = line_fit(b, s, np.log(v["mse"]))
    out["n_budgets"] = f.k
    if f.k < 3:
        out["flag"] = f"{f.k} budget(s) (< 3): no fit"
        return out
    beta = f.slope
    out.update(b=-beta, log_a=f.alpha - beta * f.xm)
    if beta >= 0:
        out.update(budget=math.inf, flag="b <= 0: error does not fall with budget")
        return out
    c0 = f.alpha - math.log(target_mse)
    u_star = -c0 / beta
    v_line = f.s2 * (1.0 / f.k + u_star ** 2 / f.sxx)
    parts = [(v_line, f.k - 2), (f.c_seed, f.df_seed)]
    if target_log_var > 0:
        parts.append((float(target_log_var), float(target_df)))
    dof = satterthwaite(parts)
    dof = f.k - 2 if not np.isfinite(dof) else dof
    t = _t(confidence, dof)
    lo, hi = _fieller_set(beta ** 2 - t * t * f.s2 / f.sxx, 2 * c0 * beta,
                          c0 ** 2 - t * t * (f.s2 / f.k + f.c_seed + max(target_log_var, 0.0)),
                          u_star)
    with _quiet():
        out.update(budget=float(np.exp(f.xm + u_star)), lo=float(np.exp(f.xm + lo)),
                   hi=float(np.exp(f.xm + hi)), df=dof)             # np.exp: overflow -> inf
    out["flag"] = range_flag(out["budget"], f.budgets[0], f.budgets[-1])
    notes = []
    if f.S < 2:
        notes.append("one seed: the seeds' shared effect is not in the interval")
    if math.isinf(hi) or lo == -math.inf:
        notes.append("slope not significant at this level: interval unbounded")
    out["note"] = "; ".join(notes)
    return out


def budget_for_target_between(budget, seed, mse, target_mse: float, *, confidence: float = 0.95,
                              target_log_var: float = 0.0, target_df: float = math.inf) -> dict:
    """HF budget at which a design tested at exactly two budgets reaches ``target_mse``, on
    the straight line through its two geometric-mean MSEs on log-log axes, with an interval
    over training seeds conditional on the design.

    With two budgets a power law has no residual degrees of freedom, so the Fieller interval
    of :func:`budget_for_target_fit` (which counts each budget's own departure from the
    line, k - 2 df) does not exist. What two budgets do measure is this design's own line:
    its cells at each budget are fixed choices (an allocation's order of thetas, the same
    for every seed), so the budget-level part of the error is a property of the design, not
    a draw, and only the seeds vary. With m1, m2 the seeds' mean log MSE at log budgets
    u1 < u2 (paired on seed: the same seeds at both) and L the log target, the crossing is
    u* = u1 + w (u2 - u1), w = (L - m1) / (m2 - m1), and its interval is Fieller's for the
    ratio w (Fieller 1954): every w with (A - w B)^2 <= t^2 (V_A - 2 w C_AB + w^2 V_B), A =
    L - m1, B = m2 - m1, their variances and covariance from the seeds' paired values (plus
    ``target_log_var`` on A, the target's own estimate), t on the Satterthwaite df of the
    seed part (S - 1) and the target's (``target_df``). Covers the design's crossing
    (simulated: tests/benchmarks/coverage.py, 'cost ratio, two budgets'); between the two
    budgets the line is an interpolation, outside it an extrapolation (flagged).

    Args:
        budget, seed: (n,) per trained cell (two distinct budgets). mse: (n,) MSE in bp^2.
        target_mse: bp^2.
    Returns:
        dict: budget, lo, hi, df, n_budgets, n_seeds, flag (range_flag of the budget, or why
        there is none), note.
    """
    b, s, v = check_cells(budget, seed, mse=mse)
    out = dict(budget=_NAN, lo=_NAN, hi=_NAN, df=_NAN, n_budgets=0, n_seeds=0, flag="", note="")
    if not (np.isfinite(target_mse) and target_mse > 0):
        out["flag"] = "no target"
        return out
    frame = pd.DataFrame({"u": np.log(b), "seed": s, "y": np.log(v["mse"])})
    levels = np.sort(frame.u.unique())
    out["n_budgets"] = int(levels.size)
    if levels.size != 2:
        out["flag"] = f"{levels.size} budget(s): the two-budget line needs exactly 2"
        return out
    wide = frame.pivot_table(index="seed", columns="u", values="y", aggfunc="mean").dropna()
    n = len(wide)
    out["n_seeds"] = n
    if n < 2:
        out["flag"] = "fewer than 2 seeds at both budgets: no interval"
        return out
    y1, y2 = wide[levels[0]].to_numpy(), wide[levels[1]].to_numpy()
    m1, m2 = float(y1.mean()), float(y2.mean())
    cov = np.cov(np.vstack([y1, y2]), ddof=1) / n
    v11, v22, v12 = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    L = math.log(target_mse)
    A, B = L - m1, m2 - m1
    VA, VB, CAB = v11 + max(target_log_var, 0.0), v11 + v22 - 2 * v12, v11 - v12
    if B >= 0:
        out.update(budget=math.inf, flag="b <= 0: error does not fall with budget")
        return out
    parts = [(v11 + v22, n - 1)]
    if target_log_var > 0:
        parts.append((float(target_log_var), float(target_df)))
    dof = satterthwaite(parts)
    dof = n - 1 if not np.isfinite(dof) else dof
    t2 = _t(confidence, dof) ** 2
    w = A / B
    # (A - w B)^2 - t^2 (VA - 2 w CAB + w^2 VB) <= 0, a quadratic in w
    lo, hi = _fieller_set(B * B - t2 * VB, -2 * A * B + 2 * t2 * CAB, A * A - t2 * VA, w)
    du = levels[1] - levels[0]
    with _quiet():
        out.update(budget=float(np.exp(levels[0] + w * du)), lo=float(np.exp(levels[0] + lo * du)),
                   hi=float(np.exp(levels[0] + hi * du)), df=dof)
    out["flag"] = range_flag(out["budget"], float(np.exp(levels[0])), float(np.exp(levels[1])))
    notes = ["two budgets: the interval is over seeds, conditional on this design's two cells "
             "per seed (its fixed choice of thetas), on the log-log line between them"]
    if math.isinf(hi) or lo == -math.inf:
        notes.append("the fall between the budgets is not significant at this level: "
                     "interval unbounded")
    out["note"] = "; ".join(notes)
    return out


def data_efficiency_ratio(budget, seed, mse_a, mse_b, at_budget: float, *,
                          confidence: float = 0.95) -> dict:
    """HF points B needs to match A's fitted error at ``at_budget``, over at_budget, with a Fieller interval.

    From the paired per-budget means: D(u) = alpha_D + beta_D u, the line of the budget
    means of d = log MSE_A - log MSE_B, and B's own line with slope beta_B (u = log n - xm).
    B matches A's error at n0 where log(ratio) = rho = D(u0) / beta_B. Interval: the rho with
    (D - rho beta_B)^2 <= t^2 [var D - 2 rho cov(D, beta_B) + rho^2 var beta_B] (Fieller 1954),
    variances from the k residuals of both lines (k - 2 df; cov from their cross products)
    plus the seed term of alpha_D, Satterthwaite df. ratio > 1: A needs fewer points.

    Args:
        budget, seed: (n,) per (budget, seed) pair. mse_a, mse_b: (n,) paired test MSE (bp^2).
        at_budget: n0, A's budget (HF points). confidence: interval level.
    Returns:
        dict: ratio, lo, hi (exp of the rho interval; 0 / inf when unbounded), budget_b
        (= ratio x n0), df, n_budgets, flag (range_flag of budget_b against the tested
        budgets), note.
    """
    b, s, v = check_cells(budget, seed, mse_a=mse_a, mse_b=mse_b)
    out = dict(ratio=_NAN, lo=_NAN, hi=_NAN, budget_b=_NAN, df=_NAN, n_budgets=0, flag="", note="")
    ya, yb = np.log(v["mse_a"]), np.log(v["mse_b"])
    fd, fb = line_fit(b, s, ya - yb), line_fit(b, s, yb)
    out["n_budgets"] = fd.k
    if fd.k < 3:
        out["flag"] = f"{fd.k} paired budget(s) (< 3): no fit"
        return out
    beta = fb.slope
    if beta >= 0:
        out.update(flag="B's error does not fall with budget: no ratio")
        return out
    u0 = math.log(at_budget) - fd.xm
    D = fd.alpha + fd.slope * u0
    rho = D / beta
    vd_line = fd.s2 * (1.0 / fd.k + u0 ** 2 / fd.sxx)
    vb = fb.s2 / fd.sxx
    cdb = float(fd.resid @ fb.resid) / (fd.k - 2) * u0 / fd.sxx
    dof = satterthwaite([(vd_line - 2 * rho * cdb + rho ** 2 * vb, fd.k - 2), (fd.c_seed, fd.df_seed)])
    dof = fd.k - 2 if not np.isfinite(dof) else dof
    t2 = _t(confidence, dof) ** 2
    lo, hi = _fieller_set(beta ** 2 - t2 * vb, -2 * (D * beta - t2 * cdb),
                          D ** 2 - t2 * (vd_line + fd.c_seed), rho)
    with _quiet():
        out.update(ratio=float(np.exp(rho)), lo=float(np.exp(lo)), hi=float(np.exp(hi)), df=dof)
    out["budget_b"] = out["ratio"] * at_budget
    out["flag"] = range_flag(out["budget_b"], fd.budgets[0], fd.budgets[-1])
    if math.isinf(hi) or lo == -math.inf:
        out["note"] = "B's slope not significant at this level: interval unbounded"
    return out


def _cells_with_floor(df: pd.DataFrame) -> pd.DataFrame:
    """finished_cells plus floor (bp, NaN where the cell does not record it)."""
    cells, _ = finished_cells(df)
    floor = pd.to_numeric(cells["noise_floor_bp"], errors="coerce") if "noise_floor_bp" in cells \
        else pd.Series(np.nan, index=cells.index)
    return cells.assign(floor=floor.astype(float))


def efficiency_table(summary: pd.DataFrame, df: pd.DataFrame, target_rmse: float, *,
                     scaling: pd.DataFrame | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Per model: the HF budget for a test RMSE of ``target_rmse`` (bp) on the noise-corrected MSE.

    The corrected RMSE is the one definition (sabr.analysis.statistics.compare.corrected_mse):
    the geometric-mean MSE minus the floor^2. A target t is therefore reached where the
    geometric-mean measured MSE is t^2 + floor^2 (one floor per test set), so every seed
    of every budget counts, also one within the MC noise. budget_interp: budget_for_target
    on the per-budget geometric-mean RMSE at sqrt(t^2 + floor^2) (no interval).
    budget_fit [lo, hi]: budget_for_target_fit (primary fit, Fieller interval) on the cells'
    measured MSE at t^2 + floor^2. Flags: range_flag (beyond_range = more than 10x outside the tested budgets), a
    target below the MC noise floor (not verifiable on this test set) and a target below the
    sensitivity fit's floor (sat_c - floor^2, from ``scaling``).

    Args:
        summary: cell_summary output. df: results frame. target_rmse: bp.
        scaling: scaling_table output (for sat_c; optional).
    Returns:
        frame per model: target_rmse_bp, budget_interp, interp_flag, interp_bound, budget_fit,
        budget_fit_lo, budget_fit_hi, fit_flag, beyond_range (bool), n_budgets_fit, df,
        tested_min, tested_max (the model's tested budgets), hagan_rmse_bp, noise_floor_bp, note.
    """
    rows = []
    models = summary.loc[~summary.is_reference, "model_type"].unique().tolist() if len(summary) else []
    cells = _cells_with_floor(df) if df is not None and len(df) else pd.DataFrame(
        columns=["model_type", "budget", "seed", "mse_bp2", "floor"])
    sc = scaling.set_index("model_type") if scaling is not None and len(scaling) else pd.DataFrame()
    hagan = float(summary.loc[summary.is_reference, "rmse_bp_mean"].mean()) if len(summary) else _NAN
    for m in sorted(models):
        c = cells[(cells.model_type == m) & np.isfinite(cells.mse_bp2) & (cells.mse_bp2 > 0)]
        f2 = c["floor"] ** 2
        floor = math.sqrt(float(f2.mean())) if f2.notna().any() else _NAN
        measured = target_rmse ** 2 + (floor ** 2 if np.isfinite(floor) else 0.0)
        g = c.groupby("budget")["mse_bp2"].apply(lambda v: math.exp(np.log(v).mean() / 2))
        ip = budget_for_target(g.index.to_numpy(), g.to_numpy(), math.sqrt(measured))
        row = {"model_type": m, "target_rmse_bp": target_rmse, "budget_interp": ip["budget"],
               "interp_flag": ip["flag"], "interp_bound": ip["bound"], "budget_fit": _NAN,
               "budget_fit_lo": _NAN, "budget_fit_hi": _NAN, "fit_flag": "no fit",
               "beyond_range": False, "n_budgets_fit": 0, "df": _NAN,
               "tested_min": float(c.budget.min()) if len(c) else _NAN,
               "tested_max": float(c.budget.max()) if len(c) else _NAN, "hagan_rmse_bp": hagan,
               "noise_floor_bp": floor, "note": ""}
        notes = []
        fit = None
        if len(c) and np.isfinite(target_rmse) and target_rmse > 0:
            fit = budget_for_target_fit(c["budget"].to_numpy(), c["seed"].to_numpy(),
                                        c["mse_bp2"].to_numpy(), measured,
                                        confidence=confidence)
            flags = [fit["flag"]] if fit["flag"] else []
            if np.isfinite(floor) and target_rmse < floor:
                flags.append("target below the MC noise floor")
            if m in sc.index and np.isfinite(sc.loc[m].get("sat_c", _NAN)) and \
                    target_rmse ** 2 <= sc.loc[m, "sat_c"] - (floor if np.isfinite(floor) else 0) ** 2:
                flags.append("target below the fitted floor c" +
                             ("" if sc.loc[m].get("sat_c_identifiable", False) else " (c not identifiable)"))
            row.update(budget_fit=fit["budget"], budget_fit_lo=fit["lo"], budget_fit_hi=fit["hi"],
                       fit_flag="; ".join(flags) or "no fit", beyond_range=fit["flag"] == BEYOND,
                       n_budgets_fit=fit["n_budgets"], df=fit["df"])
            notes += [fit["note"]] if fit["note"] else []
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def data_efficiency(summary: pd.DataFrame, df: pd.DataFrame | None = None, *,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Data-efficiency ratio of A over B: HF points B needs to match A's error at n, over n.

    On log MSE throughout. ratio [ratio_lo, ratio_hi]: data_efficiency_ratio on the cells
    paired by (budget, seed) (needs ``df``; primary fit, Fieller interval). ratio_interp:
    B's budget from budget_for_target on B's log-log curve of geometric-mean RMSE at A's
    geometric-mean RMSE at n, over n (no interval; NaN outside B's tested range, where
    ``bound`` says '> x' or '<= x'). ratio > 1: A needs fewer points.

    Args: summary: cell_summary output. df: results frame (for the fitted ratio).
    Returns: frame (model_a, model_b, budget, rmse_bp_a (geometric mean, bp), ratio,
        ratio_lo, ratio_hi, budget_b, fit_flag, beyond_range, ratio_interp, budget_b_interp,
        flag, bound, note).
    """
    cols = ["model_a", "model_b", "budget", "rmse_bp_a", "ratio", "ratio_lo", "ratio_hi", "budget_b",
            "fit_flag", "beyond_range", "ratio_interp", "budget_b_interp", "flag", "bound", "note"]
    s = summary[(~summary.is_reference) & (summary.n > 0)] if len(summary) else summary
    models = sorted(s["model_type"].unique().tolist()) if len(s) else []
    rows = []
    for a, b in itertools.permutations(models, 2):
        sa, sb = s[s.model_type == a], s[s.model_type == b]
        pairs, pnotes = paired_arrays(df, a, b) if df is not None and len(df) else (None, [])
        for n, ra in zip(sa["budget"], sa["rmse_bp_gmean"]):
            ip = budget_for_target(sb["budget"].to_numpy(), sb["rmse_bp_gmean"].to_numpy(), ra)
            bound = ""
            if ip["flag"] == "not reached":
                bound = f"> {sb['budget'].max() / n:.4g}"
            elif ip["flag"] == "below smallest budget":
                bound = f"<= {sb['budget'].min() / n:.4g}"
            row = {"model_a": a, "model_b": b, "budget": n, "rmse_bp_a": ra, "ratio": _NAN,
                   "ratio_lo": _NAN, "ratio_hi": _NAN, "budget_b": _NAN, "fit_flag": "no fit",
                   "beyond_range": False, "ratio_interp": ip["budget"] / n,
                   "budget_b_interp": ip["budget"], "flag": ip["flag"], "bound": bound, "note": ""}
            if pairs is not None and len(pairs["budget"]):
                r = data_efficiency_ratio(pairs["budget"], pairs["seed"], pairs["mse_a"], pairs["mse_b"],
                                          float(n), confidence=confidence)
                row.update(ratio=r["ratio"], ratio_lo=r["lo"], ratio_hi=r["hi"], budget_b=r["budget_b"],
                           fit_flag=r["flag"] or "no fit", beyond_range=r["flag"] == BEYOND,
                           note="; ".join(x for x in [r["note"]] + pnotes[:1] if x))
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)
