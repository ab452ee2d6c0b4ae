"""Collect cell metrics into the experiment's result tables (pure pandas; no Prefect).

One row per planned cell (budget, model, seed): finished cells carry their
metrics, failed ones their reason, missing ones status ``missing``. Errors are in
vol basis points. The Hagan baseline and the MC noise floor are in every table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import atomic_write_json, atomic_write_text

__all__ = ["results_frame", "performance_vs_budget", "summary_statistics", "write_tables",
           "METRIC_COLUMNS"]

METRIC_COLUMNS = ("rmse_bp", "mae_bp", "max_abs_bp", "mse_bp2", "mean_rel_err",
                  "mse_corrected_bp2", "rmse_corrected_bp",
                  "rmse_bp_ATM", "rmse_bp_ITM", "rmse_bp_OTM", "hagan_rmse_bp", "hagan_mae_bp",
                  "hagan_mse_corrected_bp2", "noise_floor_bp", "noise_floor_bp_ITM",
                  "noise_floor_bp_ATM", "noise_floor_bp_OTM", "n_points_ITM", "n_points_ATM",
                  "n_points_OTM", "n_hf_thetas", "hf_cpu_seconds", "train_seconds", "epochs_run",
                  "n_params")
"""Metrics summarised per (model, budget) in summary_statistics.csv: errors in bp (MSE in
bp^2; *_corrected: minus the MC noise, sabr.learning.metrics), noise floors in bp, test points per
region, the HF data's distinct thetas and Monte Carlo CPU-seconds (sabr.data.costs), training
seconds."""
_ID = ["budget", "model_type", "seed"]
TASK_FAILED = "task failed: "     # reason prefix of a cell whose task failed


def results_frame(cells: list[dict], planned: list[tuple[int, str, int]],
                  failures: dict | None = None) -> pd.DataFrame:
    """One row per planned (budget, model_type, seed), finished or not, sorted.

    Args:
        cells: metrics dicts of finished cells (sabr.learning.training.train_and_evaluate, plus exp_dir).
        planned: every (budget, model_type, seed) the run meant to train.
        failures: (budget, model_type, seed) -> why, for cells whose task failed in this
            run: status ``failed`` with that reason, whatever an older metrics.json says.
    """
    rows = {(int(c["budget"]), c["model_type"], int(c["seed"])): c for c in cells}
    failures = failures or {}
    out = []
    for b, m, s in planned:
        if (b, m, s) in failures:
            out.append({"budget": b, "model_type": m, "seed": s, "status": "failed",
                        "reason": TASK_FAILED + failures[(b, m, s)]})
            continue
        c = rows.get((b, m, s))
        if c is None:
            out.append({"budget": b, "model_type": m, "seed": s, "status": "missing",
                        "reason": "task failed or did not run"})
            continue
        row = {k: v for k, v in c.items() if not isinstance(v, (dict, list))}
        out.append(row)
    df = pd.DataFrame(out)
    first = _ID + ["status", "reason"]
    return df[first + [c for c in df.columns if c not in first]].sort_values(_ID, ignore_index=True)


def performance_vs_budget(df: pd.DataFrame) -> pd.DataFrame:
    """Mean / sd / count of test RMSE per (model, budget) over finished seeds, plus Hagan rows."""
    ok = df[df.status == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=["model_type", "budget", "rmse_bp_mean", "rmse_bp_sd", "n_seeds"])
    g = ok.groupby(["model_type", "budget"])
    perf = g.agg(rmse_bp_mean=("rmse_bp", "mean"), rmse_bp_sd=("rmse_bp", "std"),
                 mae_bp_mean=("mae_bp", "mean"), n_seeds=("seed", "count"),
                 noise_floor_bp=("noise_floor_bp", "mean")).reset_index()
    hagan = ok.groupby("budget").agg(rmse_bp_mean=("hagan_rmse_bp", "mean"),
                                     mae_bp_mean=("hagan_mae_bp", "mean"),
                                     noise_floor_bp=("noise_floor_bp", "mean")).reset_index()
    hagan["model_type"], hagan["rmse_bp_sd"], hagan["n_seeds"] = "hagan", 0.0, 0
    return pd.concat([perf, hagan[perf.columns]], ignore_index=True).sort_values(
        ["model_type", "budget"], ignore_index=True)


def summary_statistics(df: pd.DataFrame) -> pd.DataFrame:
    """Per (model, budget): count, mean, sd, min, max of each metric over finished seeds."""
    ok = df[df.status == "ok"]
    cols = [c for c in METRIC_COLUMNS if c in ok.columns]
    if ok.empty or not cols:
        return pd.DataFrame()
    stats = ok.groupby(["model_type", "budget"])[cols].agg(["count", "mean", "std", "min", "max"])
    stats.columns = [f"{a}_{b}" for a, b in stats.columns]
    return stats.reset_index()


def write_tables(df: pd.DataFrame, output_dir: str | Path) -> dict[str, Path]:
    """Write detailed_results.csv, performance_vs_budget.csv, summary_statistics.csv (atomic)."""
    out = Path(output_dir)
    files = {"detailed_results": out / "detailed_results.csv",
             "performance_vs_budget": out / "performance_vs_budget.csv",
             "summary_statistics": out / "summary_statistics.csv"}
    atomic_write_text(files["detailed_results"], df.to_csv(index=False))
    atomic_write_text(files["performance_vs_budget"], performance_vs_budget(df).to_csv(index=False))
    atomic_write_text(files["summary_statistics"], summary_statistics(df).to_csv(index=False))
    status = df.status.value_counts().to_dict()
    atomic_write_json(out / "run_status.json", {"cells": len(df), "by_status": status,
                                                "not_ok": df[df.status != "ok"][_ID + ["status", "reason"]]
                                                .to_dict(orient="records")})
    return files

