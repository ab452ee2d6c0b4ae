"""A CPU-budget cell's split is cut from the data set's measured Monte Carlo timings, which no
content hash holds: its cache key holds their hash, so a rerun on other timings recomputes it,
and one on the same timings is served from the cache with the same split."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from flows.experiment import hf_budget

from conftest import last_experiment_task_states

pytestmark = pytest.mark.slow


def _splits(out) -> dict:
    df = pd.read_csv(out / "cost_results.csv")
    return {(a, s): (t, r) for a, s, t, r in zip(df.allocation, df.seed, df.train_hash, df.rmse_bp)}


def _points(out) -> pd.DataFrame:
    df = pd.read_csv(out / "detailed_results.csv")
    return df[df.unit == "points"].reset_index(drop=True)


def test_cpu_budget_cells_follow_the_timings_and_point_cells_do_not(harness, make_tiny_config,
                                                                   tmp_path):
    cfg = make_tiny_config(model_types=["residual_mlp"], allocations=["surfaces"],
                           hf_cpu_budgets=["60%"])
    out = tmp_path / "out"
    hf_budget(config_path=str(cfg), output_dir=str(out))
    first, points = _splits(out), _points(out)
    meta_file = out / "data" / "metadata.json"
    meta = json.loads(meta_file.read_text())

    # the timings on disk edited (the surfaces untouched): the cached record of the data set
    # no longer describes the disk, so it is assembled again from its chunks, which restores
    # the timings the cells were cut from; every cell is served from the cache
    edited = dict(meta, hf_cpu_seconds=[[2 * t for t in row] for row in meta["hf_cpu_seconds"]])
    meta_file.write_text(json.dumps(edited))
    hf_budget(config_path=str(cfg), output_dir=str(out))
    states = last_experiment_task_states()
    assert states[("assemble", "Completed")] == 1 and states[("generate", "Cached")] == 2, states
    assert states[("train", "Cached")] == 4 and not states[("train", "Completed")], states
    assert json.loads(meta_file.read_text())["hf_cpu_seconds"] == meta["hf_cpu_seconds"]
    assert _splits(out) == first

    # the data set made again: the same surfaces, new measured timings. The point cells are
    # served from the cache; the CPU-budget cells (and their tuning) are cut again
    shutil.rmtree(out / "data")
    hf_budget(config_path=str(cfg), output_dir=str(out))
    states = last_experiment_task_states()
    assert json.loads(meta_file.read_text())["content_hash"] == meta["content_hash"]
    assert json.loads(meta_file.read_text())["cost_hash"] != meta["cost_hash"]
    assert states[("generate", "Completed")] == 2, states
    assert states[("train", "Completed")] == 2 and states[("train", "Cached")] == 2, states
    assert states[("tune", "Completed")] == 1 and states[("tune", "Cached")] == 1, states
    assert _points(out).equals(points)
