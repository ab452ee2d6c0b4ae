"""Numbers that must not move: the quick profile's per-cell results against a stored run
(tests/data/quick_baseline, its README says how it was made and when it was stored again).

Point-budget cells are compared with the session's quick run as they are. A CPU-budget
cell's split is cut from the data set's measured Monte Carlo timings, which differ from run
to run, so those cells are replayed, each tuned and trained as the flow does it, on the same
surfaces with the stored run's timings and the hyperparameters the stored run's cell trained
with (its config.json); the tunings are compared by their best validation loss.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).resolve().parents[1] / "data" / "quick_baseline"
MEASURED = {"hf_cpu_seconds", "train_seconds"}
"""Columns measured by a clock (the data set's timings, the training's wall time)."""
KEY = ["model_type", "budget", "seed"]
COST_KEY = ["allocation", "hf_cpu_budget", "model_type", "seed"]


def _same(old: pd.DataFrame, new: pd.DataFrame, key: list[str]) -> None:
    """Every column of ``old`` but the measured ones, equal in ``new`` row by row."""
    old = old.sort_values(key, ignore_index=True)
    new = new.sort_values(key, ignore_index=True)
    assert len(old) == len(new) and (old[key].values == new[key].values).all()
    for col in old.columns:
        if col in MEASURED:
            continue
        assert col in new.columns, col
        a, b = old[col], new[col]
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            assert np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True), \
                (col, list(zip(a, b)))
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), (col, list(zip(a, b)))


def test_the_point_budget_cells_are_those_of_the_code_before(quick_local_run):
    assert quick_local_run.result.returncode == 0, quick_local_run.result.stderr[-3000:]
    new = pd.read_csv(quick_local_run.out / "detailed_results.csv")
    # one table of every cell now: the rows in points are the old table's
    _same(pd.read_csv(BASELINE / "detailed_results.csv"), new[new.unit == "points"], KEY)


_REPLAY = textwrap.dedent("""
    import dataclasses, json, sys
    import numpy as np
    from sabr.config import ExperimentConfig
    from sabr.data.dataset import load_dataset
    from sabr.learning.training import train_and_evaluate
    from sabr.learning.tuning import run_tuning
    from sabr.settings import CellSettings, TuningSettings
    data_dir, baseline, work = sys.argv[1:4]
    cfg = ExperimentConfig.profile("quick")
    t = np.load(f"{baseline}/timings.npz")
    ds = dataclasses.replace(load_dataset(data_dir), hf_cpu_seconds=t["hf_cpu_seconds"],
                             hf_cpu_seconds_prefix=t["hf_cpu_seconds_prefix"])
    tuning = TuningSettings.of(cfg).model_dump_json(by_alias=True)
    used = json.loads(open(f"{baseline}/cost_hyperparameters.json").read())
    cells, tuned = {}, {}
    for label in [f"{a}@{c}" for c in cfg.hf_cpu_budgets for a in cfg.allocations]:
        r = run_tuning(tuning, ds, "mda_cnn", label, f"{work}/tuning/{label.replace('/', '-')}")
        tuned[label] = r.best_value
        for seed in range(cfg.n_random_seeds):
            m = train_and_evaluate(ds, "mda_cnn", used[f"mda_cnn {label} s={seed}"], label, seed,
                                   f"{work}/{label.replace('/', '-')}-{seed}",
                                   training_config=cfg.training_config, model_config=cfg.models)
            cells[f"mda_cnn {label} s={seed}"] = {k: v for k, v in m.items()
                                                  if not isinstance(v, (dict, list))}
    print(json.dumps({"cells": cells, "tuned": tuned}))
""")


def test_the_cpu_budget_cells_on_the_stored_timings_are_those_of_the_code_before(
        quick_local_run, tmp_path):
    assert quick_local_run.result.returncode == 0, quick_local_run.result.stderr[-3000:]
    data = quick_local_run.out / "data"
    old_hash = "3205fbc12d974989c275ef03a33273f5cd1c7dc33395850f96e8e75aba72b078"
    assert json.loads((data / "metadata.json").read_text())["content_hash"] == old_hash
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS="1")   # as the flow's workers
    r = subprocess.run([sys.executable, "-c", _REPLAY, str(data), str(BASELINE), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    replay = json.loads(r.stdout.strip().splitlines()[-1])
    best = json.loads((BASELINE / "cost_tuning_best.json").read_text())
    assert replay["tuned"] == best         # each tuning's best validation MSE, bp^2
    old = pd.read_csv(BASELINE / "cost_results.csv")
    rows = []
    for key, m in replay["cells"].items():
        model, label, seed = key.split()
        allocation, budget = label.split("@")
        rows.append({**m, "allocation": allocation, "hf_cpu_budget": budget, "model_type": model,
                     "seed": int(seed[2:])})
    new = pd.DataFrame(rows)
    # the flow's bookkeeping columns are not the training's: compare the cells' results
    results = [c for c in old.columns if c in new.columns and c not in ("status", "reason")]
    _same(old[results], new[results], COST_KEY)
