"""Check: warm starts against cold starts at equal final data (issue 41, item 1).

``training_config.warm_start: previous_budget`` starts a cell from the same model and seed at
the next smaller budget (sabr/learning/warm.py). Given two finished output folders of one
configuration that differ only in that setting, ``cold`` (``warm_start: none``) and
``warm`` (best: the warm folder a copy of the cold one, run again with the warm setting, so
that its data set and tunings are the cold run's, cached), it prints per model:

* the test RMSE ratio warm / cold over the cells that have a warm source (every budget
  but the smallest): the geometric mean of the per-cell ratios (paired on budget and
  seed) with a 95 % t interval over the seeds (scipy.stats.t), each seed's mean log ratio
  over its budgets being one observation: a seed's warm cells form one chain (each starts
  from the one before), so they are not independent of each other; per budget the same
  ratio with its t interval over seeds;
* the training cost of those cells in both arms: optimizer steps (``steps_run``, which
  does not depend on the machine) and training seconds (``train_seconds``: each cell's fit
  on a single-threaded worker), summed, and the ratio warm / cold;
* whether the smallest budget's cells (no source: cold in both arms) are equal to the last
  digit: when they are not, the two folders differ in more than the start and the
  comparison is refused.

    python tests/benchmarks/warm_start_check.py --cold <folder> --warm <folder> [--json F]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sabr.analysis.statistics.compare import geometric_mean_interval

KEY = ["model_type", "budget", "seed"]


def _cells(folder: Path) -> pd.DataFrame:
    df = pd.read_csv(folder / "detailed_results.csv")
    df = df[(df.unit == "points") & (df.status == "ok")].copy()
    df["budget"] = df.budget.astype(float).astype(int)
    return df[KEY + ["rmse_bp", "steps_run", "train_seconds"]]


def _t_interval(logs: np.ndarray, level: float) -> tuple[float, float, float, int]:
    """Geometric-mean ratio and its t interval from per-unit log ratios (the project's
    sabr.analysis.statistics.compare.geometric_mean_interval), and the number of units."""
    if logs.size == 0:
        return math.nan, math.nan, math.nan, 0
    return (*geometric_mean_interval(np.exp(logs), confidence=level), int(logs.size))


def compare(cold: Path, warm: Path, level: float = 0.95) -> dict:
    """The figures of the module doc, per model (a dict ready for json)."""
    c, w = _cells(cold), _cells(warm)
    both = c.merge(w, on=KEY, suffixes=("_cold", "_warm"))
    report = {"cold": str(cold), "warm": str(warm), "level": level, "models": {}}
    for model, g in both.groupby("model_type"):
        smallest = int(g.budget.min())
        first = g[g.budget == smallest]
        same = bool(np.allclose(first.rmse_bp_cold, first.rmse_bp_warm, rtol=0, atol=1e-9))
        chained = g[g.budget > smallest].copy()
        chained["log_ratio"] = np.log(chained.rmse_bp_warm / chained.rmse_bp_cold)
        per_seed = chained.groupby("seed").log_ratio.mean().to_numpy()
        ratio, lo, hi, n = _t_interval(per_seed, level)
        by_budget = {}
        for b, gb in chained.groupby("budget"):
            r, l_, h, k = _t_interval(gb.log_ratio.to_numpy(), level)
            by_budget[str(int(b))] = {"ratio": r, "lo": l_, "hi": h, "n_seeds": k,
                                      "rmse_bp_cold": float(np.exp(np.log(gb.rmse_bp_cold).mean())),
                                      "rmse_bp_warm": float(np.exp(np.log(gb.rmse_bp_warm).mean()))}
        cost = {}
        for what in ("steps_run", "train_seconds"):
            a, b_ = float(chained[f"{what}_cold"].sum()), float(chained[f"{what}_warm"].sum())
            cost[what] = {"cold": a, "warm": b_, "ratio": b_ / a if a > 0 else math.nan}
        report["models"][model] = {
            "smallest_budget": smallest, "smallest_equal": same,
            "n_cells": int(len(chained)), "ratio": ratio, "lo": lo, "hi": hi, "n_seeds": n,
            "by_budget": by_budget, "cost": cost}
    return report


def report_text(r: dict) -> str:
    lines = [f"warm / cold at equal final data ({r['level']:.0%} t intervals over seeds)"]
    for model, m in r["models"].items():
        if not m["smallest_equal"]:
            lines.append(f"{model}: REFUSED: the smallest budget's cells ({m['smallest_budget']}, "
                         f"no warm source) differ between the folders: they differ in more "
                         f"than the start")
            continue
        steps, secs = m["cost"]["steps_run"], m["cost"]["train_seconds"]
        lines.append(
            f"{model}: RMSE ratio {m['ratio']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}] over "
            f"{m['n_cells']} warm cells ({m['n_seeds']} seeds); optimizer steps "
            f"{steps['warm']:.0f} vs {steps['cold']:.0f} (x{steps['ratio']:.2f}), training "
            f"{secs['warm']:.0f} vs {secs['cold']:.0f} s (x{secs['ratio']:.2f})")
        for b, x in m["by_budget"].items():
            lines.append(f"    b={b}: {x['rmse_bp_warm']:.1f} vs {x['rmse_bp_cold']:.1f} bp, "
                         f"ratio {x['ratio']:.3f} [{x['lo']:.3f}, {x['hi']:.3f}]")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", type=Path, required=True)
    ap.add_argument("--warm", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    r = compare(args.cold, args.warm)
    print(report_text(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=float))
    return 0 if all(m["smallest_equal"] for m in r["models"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
