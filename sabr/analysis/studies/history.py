"""Run history of an output folder: one archived copy of the analysis per run, a ``latest``
pointer, and the comparison of a run with the previous one (regressions beyond the CI).

Cells (exp_XXXX), the data set and tuning journals are shared by all runs (they are
cached); what a run concludes is archived under ``runs/<UTC time>-<run id>/`` and
never overwritten, and ``latest`` points at the newest archive.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd

from ...io import atomic_path, atomic_write_json

__all__ = ["ARCHIVED", "previous_run", "archive_run", "regressions", "comparison_markdown",
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


def regressions(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Cells of (model, budget) whose error got worse beyond the previous run's interval.

    Args:
        current, previous: analysis/performance_summary.csv frames (rmse_bp_gmean with its
            t-interval rmse_bp_lo / rmse_bp_hi per model and budget).
    Returns:
        one row per (model, budget) present in both: previous and current geometric-mean
        RMSE, the previous interval, the change, and ``regression`` (current above the
        previous upper bound) / ``improvement`` (below the previous lower bound).
    """
    keys = ["model_type", "budget"]
    cols = keys + ["rmse_bp_gmean", "rmse_bp_lo", "rmse_bp_hi"]
    cur = current[current.get("is_reference", False) == False][cols]  # noqa: E712
    prev = previous[previous.get("is_reference", False) == False][cols]  # noqa: E712
    m = cur.merge(prev, on=keys, suffixes=("", "_prev"))
    m["change_pct"] = 100.0 * (m.rmse_bp_gmean / m.rmse_bp_gmean_prev - 1.0)
    m["regression"] = m.rmse_bp_gmean > m.rmse_bp_hi_prev
    m["improvement"] = m.rmse_bp_gmean < m.rmse_bp_lo_prev
    return m


def comparison_markdown(current: pd.DataFrame, previous_dir: Path | None, *,
                        fully_cached: bool) -> str:
    """The "against the previous run" section of the summary."""
    if fully_cached:
        head = "Fully cached run: no surface, tuning or cell was recomputed"
        return head + (f"; results as in {previous_dir.name}." if previous_dir else ".")
    if previous_dir is None or not (previous_dir / "analysis" / "performance_summary.csv").is_file():
        return "First run in this output folder: nothing to compare with."
    prev = pd.read_csv(previous_dir / "analysis" / "performance_summary.csv")
    reg = regressions(current, prev)
    bad = reg[reg.regression]
    lines = [f"Against the previous run ({previous_dir.name}): {len(bad)} regression(s), "
             f"{int(reg.improvement.sum())} improvement(s) beyond the previous 95 % interval, "
             f"{len(reg)} cells compared."]
    if len(bad):
        lines += ["", "| model | budget | RMSE now (bp) | before [CI] | change |", "|---|---|---|---|---|"]
        for r in bad.itertuples():
            lines.append(f"| {r.model_type} | {r.budget} | {r.rmse_bp_gmean:.1f} | "
                         f"{r.rmse_bp_gmean_prev:.1f} [{r.rmse_bp_lo_prev:.1f}, "
                         f"{r.rmse_bp_hi_prev:.1f}] | {r.change_pct:+.1f} % |")
    return "\n".join(lines)


def write_run_log(output_dir: Path, run_id: str, config: dict, summary: dict,
                  started: float) -> Path:
    """logs/run-<UTC start>-<run id>.json: what ran (the config), how long, what finished.
    One file per run, never overwritten."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    return atomic_write_json(Path(output_dir) / "logs" / f"run-{stamp}-{run_id[:8]}.json", {
        "flow_run_id": run_id, "started_utc": stamp, "wall_seconds": time.time() - started,
        "config": config, "summary": summary})
