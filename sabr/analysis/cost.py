"""The allocation study's table: one row per CPU-budget cell (``cost_*`` folders).

A CPU-budget cell is (allocation @ CPU budget, model, seed), e.g. ('surfaces@120s',
'mda_cnn', 2) (sabr.plan.planned_cost_cells). Its row holds the strategy, the budget
as configured, the Monte Carlo CPU-seconds its HF points really cost (never more than
the budget: sabr.data.allocations), its distinct thetas and points, and its test metrics
(sabr.learning.metrics). Cells that failed or did not run get status ``failed`` /
``missing``, as in detailed_results.csv.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..budget_labels import parse_cell_label
from ..io import atomic_write_text
from .aggregator import collect_cells
from .results import TASK_FAILED

__all__ = ["collect_cost_cells", "cost_frame", "write_cost_results", "COST_FILE"]

COST_FILE = "cost_results.csv"
_ID = ["allocation", "hf_cpu_budget", "model_type", "seed"]


def collect_cost_cells(output_dir: str | Path, names: list[str] | None = None) -> list[dict]:
    """Metrics of every finished CPU-budget cell (cost_*/metrics.json), with its folder;
    ``names``: only those folders."""
    return collect_cells(output_dir, "cost_*", names)


def cost_frame(cells: list[dict], planned: list[tuple[str, str, int]],
               failures: dict | None = None) -> pd.DataFrame:
    """One row per planned (label, model, seed), finished or not, sorted.

    ``failures``: (label, model, seed) -> why, for cells whose task failed in this run."""
    rows = {(c["budget"], c["model_type"], int(c["seed"])): c for c in cells}
    failures = failures or {}
    out = []
    for label, m, s in planned:
        allocation, budget = parse_cell_label(label)
        ident = {"allocation": allocation, "hf_cpu_budget": budget, "model_type": m, "seed": s}
        c = rows.get((label, m, s))
        if (label, m, s) in failures:
            out.append({**ident, "status": "failed", "reason": TASK_FAILED + failures[(label, m, s)]})
        elif c is None:
            out.append({**ident, "status": "missing", "reason": "task failed or did not run"})
        else:
            out.append({**ident, **{k: v for k, v in c.items()
                                    if not isinstance(v, (dict, list)) and k != "budget"}})
    df = pd.DataFrame(out, columns=None if out else _ID + ["status", "reason"])
    first = _ID + ["status", "reason"]
    return df[first + [c for c in df.columns if c not in first]].sort_values(_ID, ignore_index=True)


def write_cost_results(output_dir: str | Path, planned, failures=None,
                       folders: list[str] | None = None) -> dict:
    """Write cost_results.csv for the planned CPU-budget cells; returns its path, its
    frame (``frame``: the studies take it from here, the file is not read back) and
    counts (n_cells, n_ok, not_ok: the cells that did not finish, as dicts)."""
    out = Path(output_dir)
    df = cost_frame(collect_cost_cells(out, folders), [tuple(p) for p in planned],
                    {(b, m, int(s)): why for b, m, s, why in failures or []})
    atomic_write_text(out / COST_FILE, df.to_csv(index=False))
    bad = df[df.status != "ok"]
    return {"file": str(out / COST_FILE), "frame": df, "n_cells": int(len(df)), "n_ok": int((df.status == "ok").sum()),
            "not_ok": [{"model_type": r.model_type, "budget": f"{r.allocation}@{r.hf_cpu_budget}",
                        "seed": int(r.seed), "status": r.status} for r in bad.itertuples()]}
