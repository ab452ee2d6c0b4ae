"""An output folder written by the code before the cell ledger still loads, analyses and
grows (tests/data/old_output, its README says how it was made)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

OLD = Path(__file__).resolve().parents[1] / "data" / "old_output"
RESULTS = ["rmse_bp", "mae_bp", "mse_bp2", "hagan_rmse_bp", "n_train", "n_hf_thetas"]


def _cells(out: Path) -> dict[str, tuple]:
    """Which cell each folder holds, by its config.json."""
    return {p.parent.name: (c["model_type"], c["budget"], c["seed"])
            for p in sorted([*out.glob("exp_*/config.json"), *out.glob("cost_*/config.json")])
            if (c := json.loads(p.read_text()))}


def test_an_old_output_folder_analyses_and_a_run_into_it_keeps_its_folders(hf_budget_cli,
                                                                          tmp_path):
    out = tmp_path / "old"
    shutil.copytree(OLD, out)
    before = _cells(out)

    a = hf_budget_cli(["analyze", "--output-dir", str(out)], tmp_path)
    assert a.returncode == 0, a.stdout[-2000:] + a.stderr[-2000:]
    assert "6 of 6 cells finished" in a.stdout              # 4 point and 2 CPU-budget cells
    old_df = pd.read_csv(OLD / "detailed_results.csv").sort_values(["model_type", "seed"])
    df = pd.read_csv(out / "detailed_results.csv")
    df = df[df.unit == "points"].sort_values(["model_type", "seed"])
    for col in RESULTS:
        assert np.array_equal(old_df[col].to_numpy(float), df[col].to_numpy(float)), col

    # today's code, the model list in the other order: fresh numbering would give
    # exp_0001 to mda_cnn; the ledger adopts what each folder holds instead
    r = hf_budget_cli(["run", "--config", str(OLD / "experiment.yaml"), "--output-dir", str(out),
                       "--model-types", "mda_cnn", "residual_mlp"], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert _cells(out) == before
    ledger = json.loads((out / "cells.json").read_text())["cells"]
    assert {folder: key for key, folder in ledger.items()} == {
        f: f"{m} {'b=' + str(b) if isinstance(b, int) else b} s={s}"
        for f, (m, b, s) in before.items()}
    assert set(pd.read_csv(out / "detailed_results.csv").status) == {"ok"}
    assert set(pd.read_csv(out / "cost_results.csv").status) == {"ok"}
