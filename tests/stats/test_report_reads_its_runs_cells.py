"""The report of a run reads that run's cell folders (its plan), not every folder there."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from sabr.analysis.report import compose_report

OLD = Path(__file__).resolve().parents[1] / "data" / "old_output"


def test_a_cell_left_by_another_run_is_not_reported_for_this_one(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(OLD, out)
    # another run's cell of the same (budget, model, seed): a 3-member ensemble, in a later folder
    shutil.copytree(out / "exp_0001", out / "exp_0009")
    config = json.loads((out / "exp_0009" / "config.json").read_text())
    (out / "exp_0009" / "config.json").write_text(json.dumps({**config, "ensemble_size": 3}))
    metrics = json.loads((out / "exp_0009" / "metrics.json").read_text())
    (out / "exp_0009" / "metrics.json").write_text(json.dumps({**metrics, "rmse_bp": 1.0}))
    planned = [(20, m, s) for m in ("residual_mlp", "mda_cnn") for s in (0, 1)]
    ours = ["exp_0001", "exp_0002", "exp_0003", "exp_0004", "cost_0001", "cost_0002"]

    def reported(**folders) -> float:
        compose_report(out, f"run{len(folders)}", planned=planned, previous=None, **folders)
        df = pd.read_csv(out / "detailed_results.csv")
        row = df[(df.model_type == "residual_mlp") & (df.seed == 0)]
        assert len(row) == 1 and set(df.status) == {"ok"}
        return float(row.rmse_bp.iloc[0])

    assert reported(folders=ours) == metrics["rmse_bp"]
    assert reported() == 1.0          # every folder read: the other run's cell wins
