"""What accuracy costs: the allocation study against HF Monte Carlo CPU-seconds.

docs/DESIGN.md ("What HF data costs", "Allocation strategies", and section 7,
"Efficiency and rankings"). Inputs: the CPU-budget cells (cost_results.csv, sabr.analysis.cost) and
the seed's point cells (detailed_results.csv: the ``spread`` design at ``hf_budgets``).
Errors are compared on log MSE, like everything else; "accuracy" for a target is the
noise-corrected MSE (the geometric-mean MSE minus the test labels' noise floor^2,
sabr.analysis.statistics.compare.corrected_mse), which is what a model is, not what the
Monte Carlo noise of the test labels adds. On one test set the floor is one number, so
an allocation reaches a corrected target where its geometric-mean measured MSE reaches
target + floor^2: every seed counts, also one within the noise.

* :func:`cost_curves`: per (allocation, CPU budget, model) and per point budget of the
  seed's design: mean HF CPU-seconds spent, the geometric-mean RMSE over seeds with its
  t interval (sabr.analysis.statistics.compare.geometric_mean_interval).
* :func:`compare_allocations`: every pair of allocations at the same CPU budget, paired
  on seed (sabr.analysis.statistics.compare.paired_test) at equal actual spend (each cell
  moved along its allocation's cost curve to a common spend), Holm over the whole family.
* :func:`cost_for_target`: per (model, allocation), the CPU-seconds at which its
  power-law fit of log MSE on log CPU-seconds reaches a target, with a Fieller interval
  (sabr.analysis.statistics.efficiency.budget_for_target_fit); the target may be an estimate with
  its own variance.
* :func:`cost_ratios`: the headline. Per model, the target is the seed design's accuracy
  at its largest point budget (its corrected MSE over the seeds); each
  allocation's CPU-seconds for it, over the seed design's own CPU-seconds there, with
  the interval (the target's seed variance included; simulated coverage:
  tests/benchmarks/coverage.py, "cost ratio"). :func:`answer` says it in one sentence.
  With ``adaptive`` in the study, the same ratio against each of its baselines that the
  study has (:func:`adaptive_references`: ``surfaces``, the space-filling order it starts
  from, and ``random``, a plain random order of whole surfaces; ``spread`` for
  ``adaptive/spread``) at the baseline's largest CPU budget (:func:`adaptive_sentence`,
  allocation_adaptive.csv), and its paired comparisons with them at every shared budget,
  significant or not (:func:`adaptive_comparisons`, allocation_adaptive_comparisons.csv:
  the rows of :func:`compare_allocations`, Holm over its whole family). Published deep
  active learning often loses to random sampling; "no better" is an answer too.

Two cost units (docs/DESIGN.md, "What HF data costs"): the CPU-seconds measured where the
data set's Monte Carlo ran (the cells' ``hf_timed_on``: another machine measures other
seconds for the same runs) and the path-steps of the same runs (paths x time steps, the same
on every machine). Curves and ratios are given in both; the ratio in path-steps is the same
fit with each budget placed at its mean path-steps (``*_path_steps`` columns).
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from ..statistics.compare import (MIN_PAIRS, SCORED_ON, corrected_mse, corrected_rmse,
                                  geometric_mean_interval, holm, paired_test, training_failures)
from ..statistics.efficiency import (budget_for_target, budget_for_target_between,
                                     budget_for_target_fit)
from ..markdown import md_table
from ...budget_labels import adaptive_start, is_adaptive
from ...model_types import MODEL_NAMES

__all__ = ["POINT_DESIGN", "BELOW", "study_cells", "cost_curves", "cost_slopes", "compare_allocations",
           "cost_for_target", "cost_ratios", "answer", "allocation_tables",
           "allocation_markdown", "write_allocation_analysis", "adaptive_sentence",
           "ADAPTIVE_BASELINES", "adaptive_references", "scoring_note", "adaptive_comparisons",
           "adaptive_comparison_sentence"]

NO_TARGET = ("the reference's error is within the test labels' noise floor (noise-corrected "
             "MSE <= 0): no target")
BELOW = "below smallest budget"
"""The flag of a target reached already at the smallest tested budget (cpu_seconds NaN,
hi the smallest budget's CPU-seconds: an upper bound)."""
POINT_DESIGN = "spread (points)"
"""The allocation name of the seed's point-budget cells in these tables."""
_NAN = math.nan
ADAPTIVE_BASELINES = {"surfaces": ("surfaces", "random"), "spread": ("spread",)}
"""What an adaptive allocation is judged against, by what it starts from
(sabr.budget_labels.adaptive_start): ``adaptive`` against ``surfaces`` (its first round,
space-filling) and ``random`` (whole surfaces in a plain random order);
``adaptive/spread`` against ``spread`` (its first round, itself a random order of points)."""
INTERVAL_METHODS = ("fit", "two budgets")
"""cost_for_target's methods that give an interval: the power-law fit over three or more
budgets (Fieller), or the line between exactly two (over seeds, conditional on the design:
sabr.analysis.statistics.efficiency.budget_for_target_between)."""
OTHER_TEST_SET = "not comparable: scored on another data set or test set than the reference"


def study_cells(cost: pd.DataFrame, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Finished cells of both designs in one frame.

    Columns: allocation ('surfaces', 'paths/4', ..., or POINT_DESIGN), budget (the CPU
    budget's label, '120s' / '5%', or 'b=1000'), model_type, seed, hf_cpu_seconds,
    hf_path_steps, mse_bp2, noise_floor_bp, rmse_bp, n_hf_thetas, hf_paths, order
    (the budget's position: CPU-seconds for CPU budgets, points for the seed's),
    order_path_steps (the budget's mean path-steps; NaN where not recorded) and hf_timed_on
    (whose CPU-seconds)."""
    frames = []
    if cost is not None and len(cost):
        c = cost[cost.status == "ok"].copy()
        c["budget"] = c.hf_cpu_budget.astype(str)
        frames.append(c)
    if points is not None and len(points):
        p = points[(points.status == "ok") & points.budget.notna()].copy()
        p["allocation"] = POINT_DESIGN
        p["order"] = p.budget.astype(float)
        p["budget"] = "b=" + p.budget.astype(int).astype(str)
        frames.append(p)
    if not frames:
        return pd.DataFrame(columns=["allocation", "budget", "model_type", "seed",
                                     "hf_cpu_seconds", "mse_bp2", "noise_floor_bp", "rmse_bp"])
    df = _single_model_scores(pd.concat(frames, ignore_index=True))
    df = df[np.isfinite(df.mse_bp2) & (df.mse_bp2 > 0) & np.isfinite(df.hf_cpu_seconds)].copy()
    if "noise_floor_bp" not in df:
        df["noise_floor_bp"] = _NAN
    if "order" not in df:
        df["order"] = _NAN
    cpu = df.allocation != POINT_DESIGN
    df.loc[cpu, "order"] = df[cpu].groupby(["allocation", "budget"]).hf_cpu_seconds.transform("mean")
    for col in ("n_hf_thetas", "hf_paths", "hf_path_steps"):
        if col not in df:
            df[col] = _NAN
    df["hf_path_steps"] = pd.to_numeric(df.hf_path_steps, errors="coerce")
    df["order_path_steps"] = df.groupby(["allocation", "budget"]).hf_path_steps.transform("mean")
    if "hf_timed_on" not in df:
        df["hf_timed_on"] = ""
    df["hf_timed_on"] = df.hf_timed_on.fillna("").astype(str)
    return df.reset_index(drop=True)


def _single_model_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Like for like where a study mixes ensembles and single models (ExperimentConfig.
    ensemble_cells 'adaptive': the adaptive rounds are ensembles, every other cell one
    model): an ensemble cell is scored by its members' mean test MSE (member_mse_bp2; for
    cells from before it was recorded, member_rmse_bp squared), what one model trained on
    its points scores in expectation, so an allocation is judged by the data it buys, not
    by averaging more models. ``scored_as``: 'ensemble' / 'single model' / 'members' mean'
    per row. A study whose cells are all ensembles (or all single) is left as it is."""
    size = pd.to_numeric(df.get("ensemble_size", pd.Series(1, index=df.index)),
                         errors="coerce").fillna(1)
    df = df.copy()
    df["scored_as"] = np.where(size > 1, "ensemble", "single model")
    if not ((size > 1).any() and (size == 1).any()):
        return df
    member = pd.to_numeric(df.get("member_mse_bp2", pd.Series(_NAN, index=df.index)),
                           errors="coerce")
    old = pd.to_numeric(df.get("member_rmse_bp", pd.Series(_NAN, index=df.index)),
                        errors="coerce") ** 2
    member = member.fillna(old)
    ens = size > 1
    df.loc[ens, "mse_bp2"] = member[ens]
    df.loc[ens, "rmse_bp"] = np.sqrt(member[ens])
    df.loc[ens, "scored_as"] = "members' mean"
    return df


def timed_on(cells: pd.DataFrame) -> str:
    """Whose CPU-seconds the study's are: the machines of the cells' data sets
    ('not recorded' for cells from before it was)."""
    names = sorted({m for v in cells.get("hf_timed_on", pd.Series(dtype=str))
                    for m in str(v).split("; ") if m and m != "nan"} - {"not recorded"})
    return "; ".join(names) or "not recorded"


def _mean(g: pd.DataFrame, col: str) -> float:
    return float(g[col].mean()) if col in g else _NAN


def cost_curves(cells: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per (model, allocation, budget): n seeds, HF CPU-seconds spent (mean, least and most
    of its cells: a budget is not spent exactly), mean distinct
    thetas, the labels' paths, geometric-mean RMSE with its seed t interval (bp), and the
    noise-corrected RMSE (corrected_rmse: sqrt(max(gmean MSE - floor^2, 0)), bp), the Hagan
    baseline's RMSE and the test labels' noise floor (bp)."""
    rows = []
    for (m, a, b), g in cells.groupby(["model_type", "allocation", "budget"], sort=False):
        gm, lo, hi = geometric_mean_interval(g.mse_bp2.to_numpy(), confidence=confidence)
        rows.append({"model_type": m, "allocation": a, "budget": b, "n": len(g),
                     "hf_cpu_seconds": float(g.hf_cpu_seconds.mean()),
                     "hf_cpu_seconds_min": float(g.hf_cpu_seconds.min()),
                     "hf_cpu_seconds_max": float(g.hf_cpu_seconds.max()),
                     "hf_path_steps": _mean(g, "hf_path_steps"),
                     "n_hf_thetas": float(g.n_hf_thetas.mean()),
                     "hf_paths": float(g.hf_paths.mean()),
                     "rmse_bp": math.sqrt(gm), "rmse_bp_lo": math.sqrt(lo) if lo == lo else _NAN,
                     "rmse_bp_hi": math.sqrt(hi) if hi == hi else _NAN,
                     "rmse_bp_median": float(np.sqrt(g.mse_bp2).median()),
                     "n_training_failures": training_failures(np.sqrt(g.mse_bp2)),
                     "rmse_corrected_bp": corrected_rmse(g.mse_bp2, g.noise_floor_bp),
                     "hagan_rmse_bp": _mean(g, "hagan_rmse_bp"),
                     "noise_floor_bp": _mean(g, "noise_floor_bp"),
                     "order": float(g.order.mean())})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values(["model_type", "allocation", "order"], ignore_index=True).drop(columns="order")


def cost_slopes(cells: pd.DataFrame) -> dict:
    """Per (model, allocation) of the CPU budgets: the slope of log MSE on log CPU-seconds
    spent (least squares over its cells), the local exchange rate between spend and error
    that :func:`compare_allocations` moves cells along; absent with fewer than two
    distinct budgets."""
    out = {}
    c = cells[(cells.allocation != POINT_DESIGN) & (cells.mse_bp2 > 0) & (cells.hf_cpu_seconds > 0)]
    for key, g in c.groupby(["model_type", "allocation"]):
        if g.budget.nunique() >= 2:
            x, y = np.log(g.hf_cpu_seconds.to_numpy(float)), np.log(g.mse_bp2.to_numpy(float))
            out[key] = float(np.polyfit(x, y, 1)[0])
    return out


def compare_allocations(cells: pd.DataFrame, *, alpha: float = 0.05,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Every pair of allocations at the same CPU budget and model, paired on seed, at equal
    actual spend (issue 38): whole surfaces or points do not divide a budget exactly, so a
    cell spends less than its label says, and two allocations at one label spend different
    amounts. Each cell's log MSE is moved along its allocation's cost curve
    (:func:`cost_slopes`) to the spend X both are compared at, the geometric mean of every
    spend of the pair at that budget: log MSE + slope (log X - log x_cell). An allocation
    with one budget has no slope: its cells stay where they are, and the row says so.
    Log MSE, ratio < 1: A has the lower error for the same CPU-seconds; Holm-adjusted over
    the whole family (all models, budgets and pairs). Columns beside the test: the mean
    actual spend of each side (cpu_seconds_a / _b), the least and most any of their cells
    spent (cpu_seconds_min / _max) and the matched spend (cpu_seconds_matched)."""
    c = cells[cells.allocation != POINT_DESIGN].copy()
    slopes = cost_slopes(c)
    rows = []
    for (m, b), g in c.groupby(["model_type", "budget"], sort=False):
        hashes = [g.pivot_table(index="seed", columns="allocation", values=k, aggfunc="first")
                  for k in SCORED_ON if k in g]
        for a1, a2 in combinations(sorted(g.allocation.unique()), 2):
            both = g[g.allocation.isin([a1, a2])]
            spend = both.hf_cpu_seconds.to_numpy(float)
            matched = float(np.exp(np.log(spend).mean()))
            moved = both.assign(log_mse=np.log(both.mse_bp2) + both.allocation.map(
                lambda a: slopes.get((m, a), 0.0)) * (math.log(matched) - np.log(both.hf_cpu_seconds)))
            wide = moved.pivot_table(index="seed", columns="allocation", values="log_mse")
            pair = wide[[a1, a2]].dropna()
            # a pair is only a pair on the same data set and test labels
            other = [s for s in pair.index if any(h.at[s, a1] != h.at[s, a2] for h in hashes)]
            pair = pair.drop(index=other)
            t = paired_test(pair[a1].to_numpy(), pair[a2].to_numpy(), confidence=confidence)
            notes = [t["note"]]
            if other:
                notes.append(f"{len(other)} seed(s) scored on another data set or test set: "
                             "not paired")
            unmatched = [a for a in (a1, a2) if (m, a) not in slopes]
            if unmatched:
                notes.append(f"{', '.join(unmatched)}: one CPU budget, no cost slope: compared "
                             "at its actual spend")
            rows.append({"model_type": m, "budget": b, "allocation_a": a1, "allocation_b": a2,
                         "cpu_seconds_a": float(g[g.allocation == a1].hf_cpu_seconds.mean()),
                         "cpu_seconds_b": float(g[g.allocation == a2].hf_cpu_seconds.mean()),
                         "cpu_seconds_min": float(spend.min()),
                         "cpu_seconds_max": float(spend.max()),
                         "cpu_seconds_matched": matched,
                         **{k: t[k] for k in ("n_pairs", "rmse_ratio", "rmse_ratio_lo",
                                              "rmse_ratio_hi", "wins_a", "t", "p", "d_z")},
                         "note": "; ".join(filter(None, notes))})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = holm(out.p.to_numpy())
    out["verdict"] = [
        "too few pairs" if r.n_pairs < 2 or not np.isfinite(r.p_holm) else
        (f"{r.allocation_a} better" if r.rmse_ratio < 1 else f"{r.allocation_b} better")
        if r.p_holm < alpha else "no significant difference" for r in out.itertuples()]
    return out


def cost_for_target(cells: pd.DataFrame, model: str, allocation: str, target_mse: float, *,
                    target_log_var: float = 0.0, target_df: float = math.inf,
                    confidence: float = 0.95, by: str = "order") -> dict:
    """HF CPU-seconds at which (model, allocation) reaches ``target_mse`` (bp^2,
    noise-corrected): where its geometric-mean measured MSE reaches target_mse + floor^2
    (its cells' floor), by the power-law fit over its CPU budgets (each budget at its mean
    CPU-seconds spent) inverted, with a Fieller interval; with fewer than three budgets,
    log-log interpolation between the tested ones, without an interval. Every finished
    seed counts, also one whose own corrected MSE is <= 0. ``target_log_var``: the
    variance of log(target_mse + floor^2), the measured target's estimate. ``by``: where
    each budget sits, ``order`` (its mean CPU-seconds) or ``order_path_steps`` (its mean
    path-steps: then ``cpu_seconds``, lo and hi are path-steps).

    Returns dict: cpu_seconds, lo, hi, method ('fit' or 'interpolation'), flag, n_budgets."""
    g = cells[(cells.model_type == model) & (cells.allocation == allocation) & (cells.mse_bp2 > 0)]
    out = {"cpu_seconds": _NAN, "lo": _NAN, "hi": _NAN, "method": "", "flag": "", "n_budgets":
           int(g.budget.nunique()), "smallest": float(g[by].min()) if len(g) else _NAN}
    if g.empty or not (np.isfinite(target_mse) and target_mse > 0):
        out["flag"] = "no finished cells" if g.empty else "no target"
        return out
    if not np.isfinite(g[by].to_numpy(float)).all():
        out["flag"] = "cost not recorded for every cell"
        return out
    f2 = pd.to_numeric(g.noise_floor_bp, errors="coerce") ** 2
    measured = target_mse + (float(f2.mean()) if f2.notna().any() else 0.0)
    if out["n_budgets"] >= 3:
        f = budget_for_target_fit(g[by].to_numpy(), g.seed.to_numpy(), g.mse_bp2.to_numpy(),
                                  measured, confidence=confidence,
                                  target_log_var=target_log_var, target_df=target_df)
        out.update(cpu_seconds=f["budget"], lo=f["lo"], hi=f["hi"], method="fit", flag=f["flag"])
        return out
    if out["n_budgets"] == 2:
        f = budget_for_target_between(g[by].to_numpy(), g.seed.to_numpy(), g.mse_bp2.to_numpy(),
                                      measured, confidence=confidence,
                                      target_log_var=target_log_var, target_df=target_df)
        if f["n_seeds"] >= 2 and f["flag"] == "ok":     # between them; else as below
            out.update(cpu_seconds=f["budget"], lo=f["lo"], hi=f["hi"], method="two budgets",
                       flag="ok")
            return out
    means = g.groupby(by).mse_bp2.apply(lambda v: float(np.exp(np.log(v).mean())))
    r = budget_for_target(means.index.to_numpy(float), np.sqrt(means.to_numpy()),
                          math.sqrt(measured))
    out.update(cpu_seconds=r.get("budget", _NAN), method="interpolation",
               flag=r.get("flag", "") + f"; {out['n_budgets']} budget(s) (< 3): no interval")
    if r.get("flag") == BELOW:       # reached at the smallest tested budget: a bound only
        out["hi"] = float(means.index.min())
    return out


def cost_ratios(cells: pd.DataFrame, *, confidence: float = 0.95,
                reference: str = POINT_DESIGN, against=None) -> pd.DataFrame:
    """Per model and allocation: the CPU-seconds that reach the ``reference`` design's
    accuracy at its largest budget, as a fraction of what the reference spent there. The
    reference is the seed's point design by default; ``reference='surfaces'`` with
    ``against=['adaptive']`` asks what share of ``surfaces``' largest CPU budget
    ``adaptive`` needs for the same accuracy (issue 20). ``against``: the allocations
    scored (default: all but the reference).

    Columns: model_type, allocation, reference ('b=1000', 'surfaces@5%'), target_rmse_bp
    (its noise-corrected geometric-mean RMSE), reference_cpu_seconds, cpu_seconds [lo, hi],
    ratio [ratio_lo, ratio_hi] (cpu / reference), method, flag, cheapest (the allocation
    with the smallest ratio for the model); the same in path-steps, where every cell has
    them: reference_path_steps, path_steps [lo, hi], ratio_path_steps [lo, hi] and
    standing_path_steps (NaN and '' otherwise)."""
    out = _ratios(cells, confidence, reference, against, "order", "hf_cpu_seconds")
    if out.empty:
        return out
    steps = (_ratios(cells, confidence, reference, against, "order_path_steps", "hf_path_steps")
             if "order_path_steps" in cells else pd.DataFrame())
    names = {"reference_cpu_seconds": "reference_path_steps", "cpu_seconds": "path_steps",
             "cpu_seconds_lo": "path_steps_lo", "cpu_seconds_hi": "path_steps_hi",
             "ratio": "ratio_path_steps", "ratio_lo": "ratio_path_steps_lo",
             "ratio_hi": "ratio_path_steps_hi", "standing": "standing_path_steps"}
    if steps.empty:
        steps = out[["model_type", "allocation"]].assign(**{k: _NAN for k in names})
        steps["standing"] = ""
    steps = steps[["model_type", "allocation", *names]].rename(columns=names)
    return out.merge(steps, on=["model_type", "allocation"], how="left", validate="1:1")


def _ratios(cells, confidence, reference, against, by: str, cost: str) -> pd.DataFrame:
    """:func:`cost_ratios` in one unit: each budget at ``by`` (its mean cost), the
    reference's spend the mean of ``cost``; columns named as in CPU-seconds."""
    ref_cells = cells[cells.allocation == reference]
    rows = []
    for m in sorted(cells.model_type.unique()):
        r = ref_cells[ref_cells.model_type == m]
        if r.empty:
            continue
        top = r[r.order == r.order.max()]
        y = np.log(top.mse_bp2.to_numpy())
        corrected = corrected_mse(top.mse_bp2, top.noise_floor_bp)
        if not np.isfinite(corrected):                 # cells without a floor: uncorrected
            corrected = float(np.exp(y.mean()))
        known = corrected > 0             # else the reference is within the noise: no target
        target = corrected if known else _NAN
        var = float(y.var(ddof=1) / y.size) if known and y.size > 1 else 0.0
        ref_cpu = float(top[cost].mean())
        scored = set(cells[(cells.model_type == m)].allocation) - {POINT_DESIGN, reference}
        for a in sorted(scored if against is None else scored & set(against)):
            c = cost_for_target(cells, m, a, target, target_log_var=var,
                                target_df=max(y.size - 1, 1), confidence=confidence, by=by)
            mine = cells[(cells.model_type == m) & (cells.allocation == a)]
            if any(pd.concat([top[k], mine[k]]).nunique() > 1 for k in SCORED_ON if k in cells):
                c.update(cpu_seconds=_NAN, lo=_NAN, hi=_NAN, flag=OTHER_TEST_SET)
            name = top.budget.iloc[0] if reference == POINT_DESIGN else (
                f"{reference}@{top.budget.iloc[0]}")
            rows.append({"model_type": m, "allocation": a, "reference": name,
                         "target_rmse_bp": math.sqrt(target), "reference_cpu_seconds": ref_cpu,
                         "cpu_seconds": c["cpu_seconds"], "cpu_seconds_lo": c["lo"],
                         "cpu_seconds_hi": c["hi"], "ratio": c["cpu_seconds"] / ref_cpu,
                         "ratio_lo": c["lo"] / ref_cpu, "ratio_hi": c["hi"] / ref_cpu,
                         "method": c["method"], "smallest": c["smallest"],
                         "flag": c["flag"] if known or c["flag"] == OTHER_TEST_SET else NO_TARGET,
                         "n_budgets": c["n_budgets"]})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return _measured_only(out)


EXTRAPOLATED_BELOW = "extrapolated below the smallest budget"


def _measured_only(out: pd.DataFrame) -> pd.DataFrame:
    """What a ratio may claim. ``standing``: ``measured`` (interpolated inside the
    allocation's tested CPU budgets), ``upper bound`` (the target is reached at its smallest
    budget: at most that spend, ``ratio_hi``), ``extrapolated`` (the fit's value outside the
    tested budgets, kept in ``ratio_extrapolated`` only) or "" (not reached, no target).
    ``cheapest``: per model, the smallest measured ratio or upper bound; an extrapolation
    never competes (issue 38, item 2)."""
    out = out.copy()
    below = out.flag.str.startswith(BELOW) | (out.flag == EXTRAPOLATED_BELOW)
    inside = np.isfinite(out.ratio) & ~below & (
        (out.method == "interpolation") | (out.flag == "ok"))
    outside = np.isfinite(out.ratio) & ~below & ~inside
    out["ratio_extrapolated"] = out.ratio.where(outside | below)
    bound = out.smallest / out.reference_cpu_seconds
    out.loc[below, "ratio_hi"] = bound[below]
    out.loc[below | outside, ["ratio", "ratio_lo"]] = _NAN
    out.loc[outside, ["ratio_hi", "cpu_seconds", "cpu_seconds_lo", "cpu_seconds_hi"]] = _NAN
    out.loc[below, ["cpu_seconds", "cpu_seconds_lo"]] = _NAN
    out.loc[below, "cpu_seconds_hi"] = out.smallest[below]
    out["standing"] = np.select([inside, below, outside], ["measured", "upper bound",
                                                          "extrapolated"], "")
    key = out.ratio.where(inside, out.ratio_hi.where(below))
    best = key[np.isfinite(key)].groupby(out.model_type).idxmin()
    out["cheapest"] = out.index.isin(best.to_numpy())
    return out.drop(columns="smallest")


def _pct(v: float) -> str:
    if not np.isfinite(v):
        return "unbounded" if v == math.inf else "n/a"
    return f"{100 * v:.2g} %" if v < 0.1 else f"{100 * v:.0f} %"


def _in_steps(row, col: str = "ratio_path_steps") -> str:
    """' (in path-steps: 12 %)': the same share in the unit every machine agrees on; '' where
    it is not known."""
    v = getattr(row, col, _NAN)
    v = float(v) if isinstance(v, (int, float)) else _NAN
    return f" (in path-steps: {_pct(v)})" if np.isfinite(v) else ""


def answer(ratios: pd.DataFrame, curves: pd.DataFrame | None = None,
           model: str | None = None) -> str:
    """The study's answer in one sentence, for ``model`` (unset or absent: the study's first
    model in the registry's order, sabr.model_types); when no allocation reaches the target,
    the closest cell of ``curves`` (lowest RMSE)."""
    if ratios is None or ratios.empty:
        return ""
    if model not in set(ratios.model_type):
        present = set(ratios.model_type)
        model = next((m for m in MODEL_NAMES if m in present), sorted(present)[0])
    mine = ratios[ratios.model_type == model]
    if (mine.flag == NO_TARGET).all():
        return (f"For {model}, the spread design's {mine.reference.iloc[0]} error is within the "
                f"test labels' Monte Carlo noise floor, so no CPU-second cost for it is measured.")
    closest = None
    if curves is not None and not curves.empty:
        mine = curves[(curves.model_type == model) & (curves.allocation != POINT_DESIGN)]
        if len(mine) and mine.rmse_bp.notna().any():
            closest = mine.loc[mine.rmse_bp.idxmin()]
    r = ratios[(ratios.model_type == model) & ratios.cheapest]
    if len(r) and r.iloc[0].standing == "upper bound":
        e = r.iloc[0]
        return (f"For {model}, {e.allocation} reaches the spread design's {e.reference} accuracy "
                f"({e.target_rmse_bp:.0f} bp, noise-corrected) already at its smallest tested "
                f"CPU budget: at most {_pct(e.ratio_hi)} of the {e.reference_cpu_seconds:.3g} "
                f"HF CPU-seconds{_in_steps(e, 'ratio_path_steps_hi')} that spread points need.")
    if r.empty:
        mine = ratios[ratios.model_type == model].iloc[0]
        text = (f"For {model}, no allocation reached the spread design's {mine.reference} "
                f"accuracy ({mine.target_rmse_bp:.0f} bp, noise-corrected) within its tested "
                f"CPU budgets")
        if closest is not None:
            text += (f"; closest: {closest.allocation}@{closest.budget}, {closest.rmse_bp:.0f} bp "
                     f"at {closest.hf_cpu_seconds:.3g} CPU-seconds "
                     f"({_pct(closest.hf_cpu_seconds / mine.reference_cpu_seconds)} of the "
                     f"{mine.reference_cpu_seconds:.3g} that spread points need)")
        return text + "."
    r = r.iloc[0]
    interval = (f" [{_pct(r.ratio_lo)}, {_pct(r.ratio_hi)}]" if r.method == "fit" else
                f" [{_pct(r.ratio_lo)}, {_pct(r.ratio_hi)}] (between its two budgets; the "
                f"interval over seeds, for this design)" if r.method == "two budgets"
                else " (interpolated between two budgets: no interval)")
    return (f"For {model}, {r.allocation} reaches the spread design's {r.reference} accuracy "
            f"({r.target_rmse_bp:.0f} bp, noise-corrected) at {_pct(r.ratio)}{interval} of the "
            f"{r.reference_cpu_seconds:.3g} HF CPU-seconds{_in_steps(r)} that spread points need.")


def allocation_tables(cost: pd.DataFrame, points: pd.DataFrame | None = None, *,
                      confidence: float = 0.95) -> dict:
    """Every table of the study: cells, curves, comparisons, ratios (DataFrames) and the
    answer (str)."""
    cells = study_cells(cost, points)
    ratios = cost_ratios(cells, confidence=confidence)
    curves = cost_curves(cells, confidence=confidence)
    found = set(cells.allocation)
    adaptive = [cost_ratios(cells, confidence=confidence, reference=ref, against=[a])
                for a in sorted(found) if is_adaptive(a)
                for ref in adaptive_references(a) if ref in found]
    adaptive = [t for t in adaptive if not t.empty]
    adaptive = pd.concat(adaptive, ignore_index=True) if adaptive else pd.DataFrame()
    comparisons = compare_allocations(cells, confidence=confidence)
    return {"cells": cells, "curves": curves, "comparisons": comparisons,
            "ratios": ratios, "answer": answer(ratios, curves), "adaptive": adaptive,
            "adaptive_comparisons": adaptive_comparisons(comparisons),
            "timed_on": timed_on(cells), "scoring": scoring_note(cells)}


def scoring_note(cells: pd.DataFrame) -> str:
    """One sentence on how the study's cells are scored where it mixes ensembles and single
    models (:func:`_single_model_scores`); '' where it does not."""
    if "scored_as" not in cells or not (cells.scored_as == "members' mean").any():
        return ""
    mixed = sorted(set(cells.allocation[cells.scored_as == "members' mean"]))
    sizes = pd.to_numeric(cells.ensemble_size[cells.scored_as == "members' mean"],
                          errors="coerce").dropna().astype(int)
    return (f"{', '.join(mixed)}: ensembles of {'/'.join(map(str, sorted(set(sizes))))} "
            f"members (they choose where to buy by where the members disagree), scored here as "
            f"single models, by their members' mean test MSE, like every other cell, which is "
            f"one model; the ensembles' own RMSE is in cost_results.csv (rmse_bp).")


def adaptive_references(name) -> tuple[str, ...]:
    """The baselines an adaptive allocation is judged against (ADAPTIVE_BASELINES): for
    ``adaptive`` ('surfaces', 'random'), for ``adaptive/spread`` ('spread',)."""
    return ADAPTIVE_BASELINES.get(adaptive_start(name), (adaptive_start(name),))


def adaptive_comparisons(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`compare_allocations` (paired on seed at equal actual spend, Holm
    over its whole family) that pair an adaptive allocation with one of its baselines
    (:func:`adaptive_references`), at every budget both ran, significant or not; a column
    ``baseline`` names the baseline. Empty when there are none."""
    if comparisons is None or comparisons.empty:
        return pd.DataFrame()
    keep, base = [], []
    for x in comparisons.itertuples():
        pair = None
        if is_adaptive(x.allocation_a) and x.allocation_b in adaptive_references(x.allocation_a):
            pair = x.allocation_b
        elif is_adaptive(x.allocation_b) and x.allocation_a in adaptive_references(x.allocation_b):
            pair = x.allocation_a
        keep.append(pair is not None)
        base.append(pair)
    out = comparisons[keep].copy()
    out.insert(4, "baseline", [b for b in base if b is not None])
    return out.reset_index(drop=True)


def adaptive_comparison_sentence(rows: pd.DataFrame) -> str:
    """Each adaptive-against-baseline comparison in words: 'mda_cnn @5% (80.1 CPU-s):
    adaptive / random RMSE ratio 0.93 [0.81, 1.07], Holm p 0.41 (no significant
    difference)'; with too few seeds, says so."""
    parts = []
    for x in rows.itertuples():
        head = (f"{x.model_type} @{x.budget} ({x.cpu_seconds_matched:.3g} CPU-s): "
                f"{x.allocation_a} / {x.allocation_b}")
        if not np.isfinite(pd.to_numeric(x.p, errors="coerce")):
            parts.append(f"{head}: not tested ({x.note or x.verdict}; {x.n_pairs} seeds paired)")
            continue
        parts.append(f"{head} RMSE ratio {x.rmse_ratio:.2f} [{x.rmse_ratio_lo:.2f}, "
                     f"{x.rmse_ratio_hi:.2f}], Holm p {x.p_holm:.3g} ({x.verdict})")
    return "; ".join(parts) + "." if parts else ""


def adaptive_sentence(adaptive: pd.DataFrame) -> str:
    """Per model, adaptive allocation and baseline (:func:`adaptive_references`: what it
    starts from, ``surfaces`` for ``adaptive`` and ``spread`` for ``adaptive/spread``, and
    ``random`` for ``adaptive``): the share of the baseline's CPU-seconds at its largest
    budget with which it reaches the same accuracy (cost_ratios with that reference)."""
    parts = []
    for x in adaptive.itertuples():
        if x.flag == NO_TARGET:
            parts.append(f"{x.model_type}: {x.reference} is within the noise floor, no target")
        elif x.standing == "upper bound":
            parts.append(f"{x.model_type}: {x.allocation} reaches {x.reference}'s accuracy "
                         f"({x.target_rmse_bp:.0f} bp) already at its smallest tested budget, at "
                         f"most {_pct(x.ratio_hi)} of its {x.reference_cpu_seconds:.3g} "
                         f"CPU-seconds{_in_steps(x, 'ratio_path_steps_hi')}")
        elif x.standing == "measured":
            ci = (f" [{_pct(x.ratio_lo)}, {_pct(x.ratio_hi)}]" if x.method in INTERVAL_METHODS
                  else " (interpolated: no interval)")
            parts.append(f"{x.model_type}: {x.allocation} reaches {x.reference}'s accuracy "
                         f"({x.target_rmse_bp:.0f} bp) at {_pct(x.ratio)}{ci} of its "
                         f"{x.reference_cpu_seconds:.3g} CPU-seconds{_in_steps(x)}")
        else:
            parts.append(f"{x.model_type}: {x.allocation} does not reach {x.reference}'s accuracy "
                         f"({x.target_rmse_bp:.0f} bp) within its tested budgets")
    return "; ".join(parts) + "." if parts else ""


def _f(v, spec=".1f") -> str:
    return format(v, spec) if isinstance(v, (int, float)) and np.isfinite(v) else (
        "unbounded" if v == math.inf else "")


def allocation_markdown(tables: dict, *, alpha: float = 0.05) -> str:
    """The summary.md section "What accuracy costs": the answer, the ratios, the curves
    and the significant comparisons."""
    lines = ["## What accuracy costs (HF Monte Carlo CPU-seconds)", ""]
    if tables["answer"]:
        lines += [f"**{tables['answer']}**", ""]
    lines += [f"CPU-seconds are those measured where this data set's Monte Carlo ran "
              f"({tables.get('timed_on') or 'not recorded'}): the same runs cost other seconds "
              f"on another machine. Path-steps (paths x time steps of the runs) are the same on "
              f"every machine; a budget given in them ('2.5Gps') buys the same cells anywhere.",
              ""]
    if tables.get("scoring"):
        lines += [tables["scoring"], ""]
    r = tables["ratios"]
    if not r.empty:
        lines += ["CPU-seconds each allocation needs to reach the spread design's accuracy at its "
                  "largest point budget (noise-corrected geometric-mean MSE over seeds), as a "
                  "share of what the spread design spent there. Interval: the inverted power-law "
                  "fit of log MSE on log CPU-seconds (Fieller), the target's seed variance "
                  "included (coverage: tests/benchmarks/coverage.py, 'cost ratio'). It is "
                  "conditional on the reference cell's one tuning: its seeds share that draw, "
                  "so as an interval for the design's accuracy averaged over tunings it covers "
                  "less (about 0.85-0.9 when the tuning moves log MSE by sd 0.2; the benchmark's "
                  "'cost ratio, of the unconditional target'). An allocation tested at two "
                  "budgets has no residual for a fit: its share is where the log-log line "
                  "between its two budgets meets the target, its interval over the seeds "
                  "(Fieller), conditional on the design's cells at those budgets ('two "
                  "budgets'; coverage: the benchmark's 'cost ratio, two budgets').", "",
                  "Only a share measured inside the allocation's tested CPU budgets, or an upper "
                  "bound where the target is met at its smallest budget, is stated or can be "
                  "cheapest; a fit's value outside them is in the last column only.", "",
                  ]
        rows = []
        for x in r.itertuples():
            mark = " (cheapest)" if x.cheapest else ""
            if x.standing == "upper bound":
                need, share = (f"<= {_f(x.cpu_seconds_hi, '.3g')}",
                               f"<= {_pct(x.ratio_hi)}")
            elif x.standing == "measured" and x.method in INTERVAL_METHODS:
                need = (f"{_f(x.cpu_seconds, '.3g')} [{_f(x.cpu_seconds_lo, '.3g') or 'n/a'}, "
                        f"{_f(x.cpu_seconds_hi, '.3g') or 'n/a'}]")
                share = f"{_pct(x.ratio)} [{_pct(x.ratio_lo)}, {_pct(x.ratio_hi)}]"
            elif x.standing == "measured":          # between two budgets: no interval
                need, share = _f(x.cpu_seconds, ".3g"), _pct(x.ratio)
            else:
                need = share = "not measured"
            extrapolated = x.ratio_extrapolated
            rows.append([x.model_type, f"{x.allocation}{mark}",
                         f"{x.reference}: {_f(x.target_rmse_bp)} bp at "
                         f"{_f(x.reference_cpu_seconds, '.3g')} s", need, share,
                         _steps_share(x), x.standing or "not reached", f"{x.method}; {x.flag}",
                         _pct(extrapolated) if np.isfinite(extrapolated) else ""])
        lines += md_table(["model", "allocation", "target", "CPU-s needed [CI]",
                           "share of spread's [CI]", "in path-steps [CI]", "standing", "how",
                           "extrapolated share (not measured)"], rows, missing="none")
        lines.append("")
    c = tables["curves"]
    if not c.empty:
        rows = []
        for x in c.itertuples():
            ci = (f"[{_f(x.rmse_bp_lo)}, {_f(x.rmse_bp_hi)}]{' †' if x.n < MIN_PAIRS else ''}"
                  if _f(x.rmse_bp_lo) and _f(x.rmse_bp_hi) else f"({x.n} seed: no interval)")
            rows.append([x.model_type, x.allocation, x.budget, x.n,
                         f"{_f(x.hf_cpu_seconds, '.3g')} ({_f(x.hf_cpu_seconds_min, '.3g')}-"
                         f"{_f(x.hf_cpu_seconds_max, '.3g')})",
                         _f(getattr(x, "hf_path_steps", _NAN), ".3g"), _f(x.n_hf_thetas, ".0f"),
                         _f(x.hf_paths, ".0f"), f"{_f(x.rmse_bp)} {ci}", _f(x.rmse_bp_median),
                         f"{x.n_training_failures} of {x.n}"])
        lines += md_table(["model", "allocation", "budget", "seeds",
                           "CPU-s spent, mean (least-most)", "path-steps, mean", "thetas", "paths",
                           "RMSE bp [seed CI]", "median", "failed"], rows)
        if ((c.n < MIN_PAIRS) & (c.n > 1)).any():
            lines += ["", f"† from fewer than {MIN_PAIRS} seeds: correct, but too wide to decide "
                      "anything."]
        lines.append("")
    if not tables.get("adaptive", pd.DataFrame()).empty:
        lines += ["Adaptive against its baselines (what it starts from, and for adaptive also "
                  "random, whole surfaces in a plain random order; the same interval, the "
                  "target that baseline's accuracy at its largest CPU budget): "
                  + adaptive_sentence(tables["adaptive"]), ""]
    if not tables.get("adaptive_comparisons", pd.DataFrame()).empty:
        lines += ["Adaptive against its baselines at every shared CPU budget, paired on seed "
                  "at equal actual spend (as below; Holm over the whole family), significant "
                  "or not: " + adaptive_comparison_sentence(tables["adaptive_comparisons"]), ""]
    comp = tables["comparisons"]
    tested = comp[np.isfinite(pd.to_numeric(comp.p, errors="coerce"))] if not comp.empty else comp
    if not comp.empty and tested.empty:
        lines.append(f"Paired comparisons at equal actual spend: none tested ({MIN_PAIRS} or "
                     "more seeds per allocation are needed).")
    elif not comp.empty:
        sig = comp[comp.p_holm < alpha]
        lines.append(f"Paired comparisons at equal actual spend (each cell moved along its "
                     f"allocation's cost curve to the pair's common spend; Holm over "
                     f"{len(tested)}): "
                     + ("; ".join(f"{x.model_type} @{x.budget} ({x.cpu_seconds_matched:.3g} "
                                  f"CPU-s): {x.allocation_a} / "
                                  f"{x.allocation_b} RMSE ratio {x.rmse_ratio:.2f} "
                                  f"[{x.rmse_ratio_lo:.2f}, {x.rmse_ratio_hi:.2f}], Holm p "
                                  f"{x.p_holm:.3g}" for x in sig.itertuples())
                        if len(sig) else "none significant at the "
                        f"{alpha:g} level") + ".")
    return "\n".join(lines) + "\n"


def _steps_share(x) -> str:
    """A ratio row's share in path-steps, as the CPU-second share is shown ('' unknown)."""
    standing = getattr(x, "standing_path_steps", "")
    hi, lo, v = (getattr(x, f"ratio_path_steps{s}", _NAN) for s in ("_hi", "_lo", ""))
    if standing == "upper bound":
        return f"<= {_pct(hi)}"
    if standing == "measured" and x.method in INTERVAL_METHODS:
        return f"{_pct(v)} [{_pct(lo)}, {_pct(hi)}]"
    return _pct(v) if standing == "measured" else ""


def write_allocation_analysis(output_dir, cost: pd.DataFrame, points: pd.DataFrame | None,
                              *, plot: bool = True) -> dict:
    """Write analysis/allocation_{curves,comparisons,ratios}.csv (and, with adaptive
    allocations, allocation_adaptive.csv and allocation_adaptive_comparisons.csv) and
    plots/cost_curves.png;
    returns the tables, the markdown section and the files written."""
    from pathlib import Path
    from ...io import atomic_write_text
    out = Path(output_dir)
    tables = allocation_tables(cost, points)
    files = {}
    for name in ("curves", "comparisons", "ratios", "adaptive", "adaptive_comparisons"):
        if name.startswith("adaptive") and tables[name].empty:
            continue
        path = out / "analysis" / f"allocation_{name}.csv"
        atomic_write_text(path, tables[name].to_csv(index=False))
        files[f"allocation_{name}"] = str(path)
    plots = []
    if plot and not tables["curves"].empty:
        from ..plots import plot_cost_curves
        plots.append(str(plot_cost_curves(tables["curves"], out / "plots" / "cost_curves.png",
                                          POINT_DESIGN)))
    return {"tables": tables, "markdown": allocation_markdown(tables), "files": files,
            "plots": plots}
