"""The allocation study's table, ``cost_results.csv``: the CPU-budget rows of the results.

A CPU-budget cell is (allocation @ CPU budget, model, seed), e.g. ('surfaces@120s',
'mda_cnn', 2) (sabr.plan.planned_cost_cells). Its row of the one results frame
(sabr.analysis.results) holds the strategy, the budget as configured, the Monte Carlo
CPU-seconds its HF points really cost (never more than the budget:
sabr.data.allocations), its distinct thetas and points, and its test metrics
(sabr.learning.metrics); this file is those rows in the study's columns, as before the
results were one frame. Cells that failed or did not run have status ``failed`` /
``missing``, as in detailed_results.csv.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import atomic_write_text
from .results import cpu_rows, not_ok

__all__ = ["write_cost_results", "COST_FILE"]

COST_FILE = "cost_results.csv"


def write_cost_results(output_dir: str | Path, frame: pd.DataFrame) -> dict:
    """Write cost_results.csv from the results frame's CPU-budget rows; returns its path,
    those rows (``frame``: the studies take them from here, the file is not read back) and
    counts (n_cells, n_ok, not_ok: the cells that did not finish, as dicts)."""
    out = Path(output_dir)
    df = cpu_rows(frame)
    atomic_write_text(out / COST_FILE, df.to_csv(index=False))
    return {"file": str(out / COST_FILE), "frame": df, "n_cells": int(len(df)),
            "n_ok": int((df.status == "ok").sum()),
            "not_ok": not_ok(frame[frame.unit != "points"])}
