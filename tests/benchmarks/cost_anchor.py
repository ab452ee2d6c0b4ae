"""The allocation study's lowest error, and where its measured curves put a published anchor.

Issue 40, item 7: beside the study's answer, the lowest test RMSE any allocation reaches
(geometric mean over seeds, with its seed interval) and its HF CPU-seconds, and, per
allocation, the HF CPU-seconds at which its measured curve reaches an anchor accuracy: by
default 25 bp (0.25 % vol), what Rensi, Rossi and Bianchetti (2025) report from 1.57 million
Monte Carlo SABR surfaces. The curve is the study's own (sabr.analysis.studies.allocation.
cost_for_target: the power-law fit over three or more budgets, or the log-log line between
two); a value outside the tested budgets is an extrapolation and is printed as one. The
anchor is a measured RMSE against this study's Monte Carlo test labels, whose own noise
(the floor, printed) is part of it.

    python tests/benchmarks/cost_anchor.py --output-dir <finished cost study> [--anchor-bp 25]
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sabr.analysis.results import cpu_rows, point_rows, read_results  # noqa: E402
from sabr.analysis.statistics.efficiency import (budget_for_target_between,  # noqa: E402
                                                 budget_for_target_fit, range_flag)
from sabr.analysis.studies.allocation import cost_curves, study_cells  # noqa: E402


def anchor_table(output_dir, anchor_bp: float = 25.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves sorted by RMSE, per (model, allocation) the CPU-seconds for the anchor)."""
    df = read_results(output_dir)
    cells = study_cells(cpu_rows(df), point_rows(df))
    curves = cost_curves(cells).sort_values("rmse_bp").reset_index(drop=True)
    rows = []
    for (m, a), g in cells.groupby(["model_type", "allocation"]):
        target = anchor_bp ** 2                     # measured MSE, the labels' noise included
        k = g.budget.nunique()
        if k >= 3:
            f = budget_for_target_fit(g.order.to_numpy(), g.seed.to_numpy(), g.mse_bp2.to_numpy(),
                                      target)
            method = "power-law fit"
        elif k == 2:
            f = budget_for_target_between(g.order.to_numpy(), g.seed.to_numpy(),
                                          g.mse_bp2.to_numpy(), target)
            method = "line between two budgets"
        else:
            continue
        lo_b, hi_b = float(g.order.min()), float(g.order.max())
        rows.append({"model_type": m, "allocation": a, "method": method,
                     "cpu_seconds": f["budget"], "lo": f["lo"], "hi": f["hi"],
                     "where": range_flag(f["budget"], lo_b, hi_b) or f["flag"],
                     "tested": f"{lo_b:.3g}-{hi_b:.3g}",
                     "floor_bp": float(pd.to_numeric(g.noise_floor_bp, errors="coerce").mean())})
    return curves, pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--anchor-bp", type=float, default=25.0)
    args = ap.parse_args(argv)
    curves, anchor = anchor_table(args.output_dir, args.anchor_bp)
    best = curves.iloc[0]
    print(f"lowest test RMSE in the study: {best.allocation} {best.budget} ({best.model_type}), "
          f"{best.rmse_bp:.1f} bp [{best.rmse_bp_lo:.1f}, {best.rmse_bp_hi:.1f}] (geometric "
          f"mean over {best.n} seeds, t interval), at {best.hf_cpu_seconds:.4g} HF CPU-seconds; "
          f"noise floor {best.noise_floor_bp:.1f} bp")
    print("\nthe five lowest:")
    print(curves.head(5)[["model_type", "allocation", "budget", "n", "hf_cpu_seconds", "rmse_bp",
                          "rmse_bp_lo", "rmse_bp_hi"]].to_string(index=False))
    print(f"\nHF CPU-seconds at which each measured curve reaches {args.anchor_bp:g} bp "
          f"(Rensi, Rossi and Bianchetti 2025: about 25 bp from 1.57 million MC surfaces):")
    for r in anchor.itertuples():
        ci = (f"[{r.lo:.3g}, {r.hi:.3g}]" if np.isfinite(r.lo) or math.isinf(r.hi) else "")
        print(f"  {r.model_type} {r.allocation}: {r.cpu_seconds:.3g} {ci} ({r.method}; "
              f"{r.where}; tested {r.tested} CPU-s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
