"""tests/benchmarks/cost_anchor.py on a synthetic finished study with a known curve: the
lowest cell, and the CPU-seconds where a two-budget line reaches the anchor."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).parent
spec = importlib.util.spec_from_file_location("cost_anchor", HERE / "cost_anchor.py")
anchor_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(anchor_mod)


def _study(root: Path, rng) -> None:
    """paths/4: MSE = 1e6 / cpu (bp^2) at 10 and 40 CPU-s; surfaces 4x dearer; b=1000 spread
    at 400 CPU-s with MSE 4e4 (200 bp)."""
    rows = []
    for alloc, scale in (("paths/4", 1.0), ("surfaces", 4.0)):
        for budget, cpu in (("2%", 10.0), ("6%", 40.0)):
            for s in range(5):
                mse = 1e6 / (cpu / scale) * math.exp(rng.normal(0, 0.02))
                rows.append({"budget": None, "unit": "cpu_fraction", "allocation": alloc,
                             "hf_cpu_budget": budget, "model_type": "mda_cnn", "seed": s,
                             "status": "ok", "reason": None, "mse_bp2": mse,
                             "rmse_bp": math.sqrt(mse), "hf_cpu_seconds": cpu,
                             "noise_floor_bp": 5.0})
    for s in range(5):
        rows.append({"budget": 1000, "unit": "points", "allocation": "spread",
                     "hf_cpu_budget": None, "model_type": "mda_cnn", "seed": s, "status": "ok",
                     "reason": None, "mse_bp2": 4e4, "rmse_bp": 200.0, "hf_cpu_seconds": 400.0,
                     "noise_floor_bp": 5.0})
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "detailed_results.csv", index=False)


def test_the_lowest_cell_and_the_anchor_on_a_known_curve(tmp_path, capsys):
    _study(tmp_path, np.random.default_rng(3))
    curves, anchor = anchor_mod.anchor_table(tmp_path, anchor_bp=100.0)
    best = curves.iloc[0]
    assert (best.allocation, best.budget) == ("paths/4", "6%")
    assert best.rmse_bp == pytest.approx(math.sqrt(1e6 / 40), rel=0.02)
    a = anchor.set_index("allocation")
    # 100 bp: paths/4 at 100 CPU-s, surfaces at 400: both beyond their budgets (extrapolated)
    assert a.loc["paths/4", "cpu_seconds"] == pytest.approx(100.0, rel=0.05)
    assert a.loc["surfaces", "cpu_seconds"] == pytest.approx(400.0, rel=0.05)
    assert a.loc["paths/4", "where"].startswith("extrapolated above")
    assert a.loc["paths/4", "lo"] < 100.0 < a.loc["paths/4", "hi"]
    # an anchor between the budgets is interpolated
    _, inside = anchor_mod.anchor_table(tmp_path, anchor_bp=math.sqrt(1e6 / 20))
    assert inside.set_index("allocation").loc["paths/4", "where"] == "ok"
    assert anchor_mod.main(["--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lowest test RMSE in the study: paths/4 6% (mda_cnn)")
    assert "Rensi, Rossi and Bianchetti 2025" in out
