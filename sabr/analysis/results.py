"""Collect cell metrics into the experiment's one results frame (pure pandas; no Prefect).

One row per planned cell, point and CPU-second budgets alike: finished cells carry their
metrics, failed ones their reason, missing ones status ``missing``. A row's identity is
its cell's (sabr.cells.Cell.columns): the seed's ``budget`` (HF points; empty for a
CPU-second budget), ``model_type``, ``seed``, and ``allocation``, ``unit`` and
``hf_cpu_budget``. The budget scaling reads the rows in points (:func:`point_rows`), the
allocation study those in CPU-seconds (:func:`cpu_rows`). Errors are in vol basis points;
the Hagan baseline and the MC noise floor are in every row.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..cells import IDENTITY, Cell
from ..io import atomic_write_json, atomic_write_text

__all__ = ["results_frame", "point_rows", "cpu_rows", "cell_budgets", "read_results",
           "performance_vs_budget", "summary_statistics", "write_tables", "METRIC_COLUMNS",
           "TASK_FAILED", "RESULTS_FILE"]

METRIC_COLUMNS = ("rmse_bp", "mae_bp", "max_abs_bp", "mse_bp2", "mean_rel_err",
                  "mse_corrected_bp2", "rmse_corrected_bp",
                  "rmse_bp_ATM", "rmse_bp_ITM", "rmse_bp_OTM", "hagan_rmse_bp", "hagan_mae_bp",
                  "hagan_mse_corrected_bp2", "noise_floor_bp", "noise_floor_se_bp", "noise_floor_bp_ITM",
                  "noise_floor_bp_ATM", "noise_floor_bp_OTM", "n_points_ITM", "n_points_ATM",
                  "n_points_OTM", "n_hf_thetas", "hf_cpu_seconds", "hf_path_steps",
                  "train_seconds", "epochs_run", "n_params")
"""Metrics summarised per (model, budget) in summary_statistics.csv: errors in bp (MSE in
bp^2; *_corrected: minus the MC noise, sabr.learning.metrics), noise floors in bp, test points per
region, the HF data's distinct thetas, Monte Carlo CPU-seconds and path-steps
(sabr.data.costs), training seconds."""
RESULTS_FILE = "detailed_results.csv"
_ID = ["budget", "model_type", "seed"]
_FIRST = _ID + ["status", "reason"] + [c for c in IDENTITY if c not in _ID]
TASK_FAILED = "task failed: "     # reason prefix of a cell whose task failed


def results_frame(cells: list[dict], planned: list[tuple], failures: dict | None = None
                  ) -> pd.DataFrame:
    """One row per planned cell, finished or not: the rows in points sorted by (budget,
    model, seed) as the seed's table, then those in CPU-seconds by (allocation, CPU budget,
    model, seed).

    Args:
        cells: metrics dicts of finished cells (sabr.learning.training.train_and_evaluate,
            plus exp_dir), their ``budget`` a point count or a CPU-budget label.
        planned: every (budget, model_type, seed) the run meant to train.
        failures: (budget, model_type, seed) -> why, for cells whose task failed in this
            run: status ``failed`` with that reason, whatever an older metrics.json says.
    """
    key = lambda b, m, s: Cell(m, b, s)
    rows = {key(c["budget"], c["model_type"], c["seed"]): c for c in cells}
    failed = {key(*k): why for k, why in (failures or {}).items()}
    out = []
    for b, m, s in planned:
        cell = key(b, m, s)
        ident = cell.columns()
        c = rows.get(cell)
        if cell in failed:
            out.append({**ident, "status": "failed", "reason": TASK_FAILED + failed[cell]})
        elif c is None:
            out.append({**ident, "status": "missing", "reason": "task failed or did not run"})
        else:
            out.append({**{k: v for k, v in c.items() if not isinstance(v, (dict, list))},
                        **ident})
    df = pd.DataFrame(out, columns=None if out else _FIRST)
    df["budget"] = df["budget"].astype("Int64")          # points; empty in CPU-seconds
    df = df[_FIRST + [c for c in df.columns if c not in _FIRST]]
    order = df.assign(_cpu=df.unit != "points").sort_values(
        ["_cpu", "budget", "allocation", "hf_cpu_budget", "model_type", "seed"],
        na_position="last", kind="stable")
    return order.drop(columns="_cpu").reset_index(drop=True)


def point_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows in points (the seed's budget axis), ``budget`` an int column."""
    rows = df[df.unit == "points"] if "unit" in df else df
    return rows.astype({"budget": "int64"}).reset_index(drop=True)


def cpu_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of HF cost budgets, in CPU-seconds or path-steps (the allocation study):
    allocation, hf_cpu_budget, model, seed, status, reason, then the metrics; sorted by
    those four."""
    rows = df[df.unit != "points"].drop(columns=["budget", "unit"])
    first = ["allocation", "hf_cpu_budget", "model_type", "seed", "status", "reason"]
    return rows[first + [c for c in rows.columns if c not in first]].sort_values(
        first[:4], ignore_index=True)


def cell_budgets(df: pd.DataFrame) -> pd.Series:
    """Each row's budget as its cell names it: the point count, or 'allocation@CPU budget'
    (a frame of the seed's columns alone: its ``budget``)."""
    if "unit" not in df:
        return df["budget"]
    return pd.Series([int(b) if u == "points" else f"{a}@{c}" for b, u, a, c in
                      zip(df.budget, df.unit, df.allocation, df.hf_cpu_budget)],
                     index=df.index, dtype=object)


def read_results(output_dir: str | Path) -> pd.DataFrame:
    """detailed_results.csv of an output folder, ``budget`` a nullable integer column."""
    return pd.read_csv(Path(output_dir) / RESULTS_FILE, dtype={"budget": "Int64"})


def performance_vs_budget(df: pd.DataFrame) -> pd.DataFrame:
    """Mean / sd / count of test RMSE per (model, budget) over finished seeds, plus Hagan
    rows (the rows in points)."""
    ok = point_rows(df)
    ok = ok[ok.status == "ok"]
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
    """Per (model, budget): count, mean, sd, min, max of each metric over finished seeds
    (the rows in points)."""
    ok = point_rows(df)
    ok = ok[ok.status == "ok"]
    cols = [c for c in METRIC_COLUMNS if c in ok.columns]
    if ok.empty or not cols:
        return pd.DataFrame()
    stats = ok.groupby(["model_type", "budget"])[cols].agg(["count", "mean", "std", "min", "max"])
    stats.columns = [f"{a}_{b}" for a, b in stats.columns]
    return stats.reset_index()


def write_tables(df: pd.DataFrame, output_dir: str | Path) -> dict[str, Path]:
    """Write detailed_results.csv (every cell), performance_vs_budget.csv and
    summary_statistics.csv (the point budgets) and run_status.json (every cell; atomic)."""
    out = Path(output_dir)
    files = {"detailed_results": out / RESULTS_FILE,
             "performance_vs_budget": out / "performance_vs_budget.csv",
             "summary_statistics": out / "summary_statistics.csv"}
    atomic_write_text(files["detailed_results"], df.to_csv(index=False))
    atomic_write_text(files["performance_vs_budget"], performance_vs_budget(df).to_csv(index=False))
    atomic_write_text(files["summary_statistics"], summary_statistics(df).to_csv(index=False))
    atomic_write_json(out / "run_status.json", {
        "cells": len(df), "by_status": df.status.value_counts().to_dict(),
        "not_ok": not_ok(df)})
    return files


def not_ok(df: pd.DataFrame) -> list[dict]:
    """The cells that did not finish: budget (as the cell names it), model, seed, status, reason."""
    bad = df[df.status != "ok"]
    return [{"budget": b, "model_type": m, "seed": int(s), "status": st, "reason": r}
            for b, m, s, st, r in zip(cell_budgets(bad), bad.model_type, bad.seed, bad.status,
                                      bad.reason)]
