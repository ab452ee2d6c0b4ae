"""An experiment that grows in one output folder trains only its new cells (issue 37).

Real runs of the quick profile, each ``hf-budget run`` in a fresh process, all into one
folder: the session's quick run (2 seeds), copied elsewhere; then a third seed for one
model; then one more budget with the model list reordered, after two cells' folders were
deleted. What each run computed or took from the cache is read from
its own ``analysis/timings.json``; what earlier cells hold, from their folders' bytes.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

_MEASURED = {"train_seconds"}
"""Fields of metrics.json that are wall-clock measurements, not results."""


def _stages(out: Path) -> dict:
    stages = json.loads((out / "analysis" / "timings.json").read_text())["stages"]
    return {name: (st["computed"], st["cached"]) for name, st in stages.items()
            if name != "aggregate"}


def _metrics(out: Path) -> dict[str, str]:
    """sha256 of every cell folder's metrics.json."""
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in ("exp_*/metrics.json", "cost_*/metrics.json")
            for p in sorted(out.glob(pattern))}


def _results(out: Path, folder: str) -> dict:
    m = json.loads((out / folder / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in _MEASURED}


def test_a_grown_experiment_trains_exactly_its_new_cells(quick_local_run, hf_budget_cli,
                                                        tmp_path):
    assert quick_local_run.result.returncode == 0, quick_local_run.result.stderr[-3000:]
    out = tmp_path / "grown"
    shutil.copytree(quick_local_run.out, out)          # a copy elsewhere: its cache comes along

    def run(*args):
        r = hf_budget_cli(["run", "--profile", "quick", "--output-dir", str(out), *args],
                          tmp_path)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
        return _stages(out)

    # the copied folder, the same command: nothing is computed
    copied = run()
    assert all(computed == 0 for computed, _ in copied.values()), copied
    assert copied["train"] == (0, 32), copied
    before = _metrics(out)
    folders = json.loads((out / "cells.json").read_text())["cells"]
    assert len(before) == len(folders) == 32

    # a third seed, for one model: its 3 point cells and 4 CPU-budget cells train, and
    # nothing else is touched
    grown = run("--random-seeds", "3", "--model-types", "mda_cnn")
    assert grown["train"] == (7, 9 + 12 - 7), grown     # 3 budgets x 3 seeds, and the study
    assert grown["tune"][0] == 0 and grown["generate"] == (0, 6), grown
    after = _metrics(out)
    assert {k: after[k] for k in before} == before        # not one byte of them changed
    ledger = json.loads((out / "cells.json").read_text())["cells"]
    assert {k: ledger[k] for k in folders} == folders      # no cell changed folder
    assert len(ledger) == 39

    # a cell's folder deleted, of each kind: trained again from scratch, to the same result
    gone = [ledger["residual_mlp b=200 s=1"], ledger["mda_cnn paths/4@10% s=1"]]
    kept = {g: _results(out, g) for g in gone}
    for g in gone:
        shutil.rmtree(out / g)

    # one more budget and the model list reordered, back to 2 seeds: the new budget's 8
    # cells and the 2 deleted ones train; the third seed's cells stay where they are
    last = run("--hf-budgets", "50", "100", "200", "500",
               "--model-types", "cnn_only", "direct_mlp", "residual_mlp", "mda_cnn")
    assert last["train"] == (8 + 2, 40 - 8 - 2), last
    assert last["tune"][0] == 4, last
    final = _metrics(out)
    assert {k: final[k] for k in after if k not in gone} == {k: after[k] for k in after
                                                            if k not in gone}
    for g in gone:
        assert _results(out, g) == kept[g], g              # to the last digit
    ledger_final = json.loads((out / "cells.json").read_text())["cells"]
    assert {k: ledger_final[k] for k in ledger} == ledger and len(ledger_final) == 47
    df = pd.read_csv(out / "detailed_results.csv")
    cost = pd.read_csv(out / "cost_results.csv")
    assert len(df) == 40 and set(df.status) == {"ok"}, df[["model_type", "budget", "seed", "status"]]
    assert (df.unit == "points").sum() == 32
    assert len(cost) == 8 and set(cost.status) == {"ok"}
    # every folder holds the cell the ledger says
    for key, folder in ledger_final.items():
        c = json.loads((out / folder / "config.json").read_text())
        assert key.startswith(f"{c['model_type']} ") and f" s={c['seed']}" in key, (key, folder)
