"""Run history of an output folder: one archived copy of the analysis per run, a ``latest``
pointer, and the comparison of a run with the previous one: like with like only, a
two-sample test per cell with Holm over the cells, and the change the run could detect.

Cells (exp_XXXX), the data set and tuning journals are shared by all runs (they are
cached); what a run concludes is archived under ``runs/<UTC time>-<run id>/`` and
never overwritten, and ``latest`` points at the newest archive.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import math

import numpy as np
import pandas as pd
from scipy import stats

from ...io import atomic_path, atomic_write_json
from ..statistics.compare import SCORED_ON, holm

__all__ = ["ARCHIVED", "previous_run", "archive_run", "regressions", "not_comparable",
           "comparison_markdown",
           "write_run_log"]

ARCHIVED = ("detailed_results.csv", "summary_statistics.csv", "statistical_analysis.json",
            "performance_vs_budget.csv", "run_status.json", "analysis", "plots")


def previous_run(output_dir: Path) -> Path | None:
    """The folder ``latest`` points at, if any."""
    link = Path(output_dir) / "latest"
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def archive_run(output_dir: Path, run_name: str, *, replace: bool = False) -> Path:
    """Copy this run's analysis into runs/<run_name>/ and point ``latest`` at it (atomically;
    a relative link, so the output folder may move; a ``latest`` that a copy made a folder
    is replaced by the link).

    An existing runs/<run_name>/ is kept (the same run archived twice) unless ``replace``
    (the run's analysis composed again, e.g. by ``hf-budget analyze``)."""
    out = Path(output_dir)
    dest = out / "runs" / run_name
    tmp = out / "runs" / f".{run_name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ARCHIVED:
        src = out / name
        if src.is_dir():
            shutil.copytree(src, tmp / name)
        elif src.is_file():
            shutil.copy2(src, tmp / name)
    if dest.exists() and not replace:         # the same run archived twice: keep the first
        shutil.rmtree(tmp)
    elif dest.exists():
        old = out / "runs" / f".{run_name}.old"
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dest)
    latest = out / "latest"
    if latest.is_dir() and not latest.is_symlink():    # a copy of the folder that followed
        shutil.rmtree(latest)                          # the link: runs/ holds the same files
    with atomic_path(latest) as link_tmp:
        os.symlink(Path("runs") / run_name, link_tmp)
    return dest


def _log_mse(cells: pd.DataFrame) -> pd.DataFrame:
    """Finished cells in points with log MSE: model_type, budget, seed, log_mse, hashes."""
    if cells is None or cells.empty or "mse_bp2" not in cells:
        return pd.DataFrame(columns=["model_type", "budget", "seed", "log_mse", *SCORED_ON])
    c = cells[(cells.status == "ok") & (cells.get("unit", "points") == "points")].copy()
    c = c[np.isfinite(c.mse_bp2) & (c.mse_bp2 > 0)]
    c["log_mse"] = np.log(c.mse_bp2.astype(float))
    c["budget"] = c.budget.astype(int)
    return c


def not_comparable(current: pd.DataFrame, previous: pd.DataFrame) -> str:
    """Why two runs' cells cannot be compared ("" when they can): another data set or
    other test labels (a new Monte Carlo stream scores the same models differently)."""
    cur, prev = _log_mse(current), _log_mse(previous)
    for key, what in zip(SCORED_ON, ("data set", "test labels")):
        if key not in cur or key not in prev:
            return f"the previous run's cells do not record their {what} ({key})"
        a, b = set(cur[key].dropna()), set(prev[key].dropna())
        if a and b and a != b:
            return (f"the {what} changed ({key} {', '.join(sorted(x[:8] for x in b))} -> "
                    f"{', '.join(sorted(x[:8] for x in a))}): the runs score other numbers")
    return ""


def regressions(current: pd.DataFrame, previous: pd.DataFrame, *, alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """Per (model, budget) in both runs: did the test error change beyond seed noise?

    Welch's two-sample t test of log MSE over the cell's seeds, now against before (seeds
    may be re-drawn, so not paired), Holm over every cell compared (Holm (1979) Scand. J.
    Statist. 6(2)): a ``regression`` (or ``improvement``) is a cell whose Holm p < alpha.
    Cells whose seeds hold the same numbers (cached) are equal, p = 1. A cell needs two
    seeds in each run to be tested. ``detectable_pct``: the RMSE change the cell's test
    detects with probability ``power`` at its Holm level alpha / m (m cells), from the
    seeds' pooled spread (normal approximation). A change of what the tuning picked moves
    every seed of a cell together: it is a change of the cell, and the test sees it.

    Args:
        current, previous: results frames (detailed_results.csv): the rows in points.
    Returns:
        one row per (model, budget): n_now, n_before, rmse_bp_gmean (now), rmse_bp_gmean_prev,
        change_pct (of the geometric-mean RMSE), t, p, p_holm, regression, improvement,
        detectable_pct.
    """
    cur, prev = _log_mse(current), _log_mse(previous)
    before = {k: g.log_mse.to_numpy() for k, g in prev.groupby(["model_type", "budget"])}
    pairs = [(m, int(b), g.log_mse.to_numpy(), before[(m, b)])
             for (m, b), g in cur.groupby(["model_type", "budget"]) if (m, b) in before]
    t, p = np.full(len(pairs), math.nan), np.full(len(pairs), math.nan)
    test = []
    for i, (_, _, x, y) in enumerate(pairs):
        if x.size >= 2 and y.size >= 2:
            if np.array_equal(np.sort(x), np.sort(y)):
                t[i], p[i] = 0.0, 1.0                    # the same seeds' numbers (cached)
            else:
                test.append(i)
    if test:                 # one call for every cell: seeds padded with NaN where fewer
        width = max(max(pairs[i][2].size, pairs[i][3].size) for i in test)
        xs, ys = np.full((len(test), width), math.nan), np.full((len(test), width), math.nan)
        for row, i in enumerate(test):
            xs[row, :pairs[i][2].size], ys[row, :pairs[i][3].size] = pairs[i][2], pairs[i][3]
        ragged = bool(np.isnan(xs).any() or np.isnan(ys).any())
        r = stats.ttest_ind(xs, ys, axis=1, equal_var=False,
                            nan_policy="omit" if ragged else "propagate")
        t[test], p[test] = np.asarray(r.statistic, float), np.asarray(r.pvalue, float)
    rows = []
    for i, (m, b, x, y) in enumerate(pairs):
        pooled = (np.sqrt((np.var(x, ddof=1) * (x.size - 1) + np.var(y, ddof=1) * (y.size - 1))
                          / (x.size + y.size - 2)) if x.size >= 2 and y.size >= 2 else math.nan)
        rows.append({"model_type": m, "budget": b, "n_now": x.size, "n_before": y.size,
                     "rmse_bp_gmean": math.exp(x.mean() / 2),
                     "rmse_bp_gmean_prev": math.exp(y.mean() / 2),
                     "change_pct": 100.0 * (math.exp((x.mean() - y.mean()) / 2) - 1.0),
                     "t": t[i], "p": p[i], "sd": float(pooled)})
    cols = ["model_type", "budget", "n_now", "n_before", "rmse_bp_gmean", "rmse_bp_gmean_prev",
            "change_pct", "t", "p", "p_holm", "regression", "improvement", "detectable_pct"]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["p_holm"] = holm(out.p.to_numpy(float))
    sig = out.p_holm < alpha
    out["regression"] = sig & (out.change_pct > 0)
    out["improvement"] = sig & (out.change_pct < 0)
    m = int(np.isfinite(out.p).sum())
    z = stats.norm.ppf(1 - alpha / (2 * max(m, 1))) + stats.norm.ppf(power)
    se = out.sd * np.sqrt(1.0 / out.n_now + 1.0 / out.n_before)
    out["detectable_pct"] = 100.0 * (np.exp(z * se / 2) - 1.0)
    return out[cols]


def comparison_markdown(current: pd.DataFrame, previous_dir: Path | None, *,
                        fully_cached: bool, alpha: float = 0.05) -> str:
    """The "against the previous run" section of the summary. ``current``: this run's
    results frame (its rows in points are compared with the previous run's
    detailed_results.csv)."""
    if fully_cached:
        head = "Fully cached run: no surface, tuning or cell was recomputed"
        return head + (f"; results as in {previous_dir.name}." if previous_dir else ".")
    if previous_dir is None or not (previous_dir / "detailed_results.csv").is_file():
        return "First run in this output folder: nothing to compare with."
    prev = pd.read_csv(previous_dir / "detailed_results.csv")
    why = not_comparable(current, prev)
    if why:
        return f"Not compared with the previous run ({previous_dir.name}): {why}."
    reg = regressions(current, prev, alpha=alpha)
    tested = reg[np.isfinite(reg.p.astype(float))] if len(reg) else reg
    lines = [f"Against the previous run ({previous_dir.name}): {int(reg.regression.sum())} "
             f"regression(s), {int(reg.improvement.sum())} improvement(s) among {len(tested)} "
             f"cells tested (Welch t on log MSE over seeds, Holm over the cells; "
             f"{len(reg) - len(tested)} cells with fewer than 2 seeds in a run not tested)."]
    if len(tested):
        d = tested.detectable_pct.median()
        lines.append(f"With these seeds, a cell's RMSE change is detected 80 % of the time "
                     f"from about {d:.0f} % (median over cells); smaller changes mostly pass "
                     f"unseen.")
    flagged = reg[reg.regression | reg.improvement]
    if len(flagged):
        lines += ["", "| model | budget | RMSE now (bp) | before (bp) | change | Holm p |",
                  "|---|---|---|---|---|---|"]
        for r in flagged.itertuples():
            lines.append(f"| {r.model_type} | {r.budget} | {r.rmse_bp_gmean:.1f} | "
                         f"{r.rmse_bp_gmean_prev:.1f} | {r.change_pct:+.1f} % | {r.p_holm:.3g} |")
    return "\n".join(lines)


def write_run_log(output_dir: Path, run_id: str, config: dict, summary: dict,
                  started: float) -> Path:
    """logs/run-<UTC start>-<run id>.json: what ran (the config), how long, what finished.
    One file per run, never overwritten."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    return atomic_write_json(Path(output_dir) / "logs" / f"run-{stamp}-{run_id[:8]}.json", {
        "flow_run_id": run_id, "started_utc": stamp, "wall_seconds": time.time() - started,
        "config": config, "summary": summary})
