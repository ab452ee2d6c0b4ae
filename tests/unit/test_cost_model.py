"""The plan before a run (sabr.estimate) and its cost model (sabr.cost_model): the fit
recovers known coefficients, the plan counts every stage's tasks, the schedule's rule,
and max_hours refuses a run in one line before anything is created."""
from __future__ import annotations

import re

import numpy as np
import pytest

from sabr.config import ExperimentConfig
from sabr.cost_model import (DEFAULT_COST_MODEL, FitRecord, fit_linear, fit_records,
                             macs_per_sample, step_floors)
from sabr.errors import ConfigError
from sabr.estimate import _makespan, estimate_run, over_limit, plan_text


def test_the_fit_recovers_the_coefficients_of_synthetic_timings():
    rng = np.random.default_rng(0)
    truth = {"fit_s": 1.3, "step_s": 2e-3, "mac_s": 5e-11, "epoch_s": 1.2e-2}
    records = []
    for _ in range(60):
        fits, batch = int(rng.integers(1, 6)), int(rng.choice([32, 64, 128]))
        epochs = float(rng.integers(10, 500)) * fits
        steps = epochs * rng.integers(1, 20)
        macs = float(rng.choice([5e3, 4e5, 7e6, 3e7]))
        seconds = (truth["fit_s"] * fits + steps * (truth["step_s"] + truth["mac_s"] * batch * macs)
                   + epochs * truth["epoch_s"])
        records.append(FitRecord(seconds, fits, epochs, steps, batch, macs))
    got = fit_records(records)
    assert got == pytest.approx(truth, rel=1e-6)
    # generation: seconds = a x path-steps + b per surface
    steps = rng.uniform(1e7, 2e8, 50)
    coef = fit_linear(np.c_[steps, np.ones(50)], 2e-8 * steps + 0.05)
    assert coef == pytest.approx([2e-8, 0.05], rel=1e-6)
    with pytest.raises(ValueError, match="too few"):
        fit_linear(np.ones((1, 2)), np.ones(1))


def test_step_floors_are_the_trainings_own():
    from sabr.learning.training import step_floors as training_floors
    for args in [(40, 64, 40, 8, 300, 60), (400, 32, 200, 20, 2000, 200), (3, 128, 5, 9, 0, 0),
                 (1000, 7, 1, 1, 10, 10)]:
        n, b, e, p, ms, mp = args
        assert step_floors(n, b, e, p, min_steps=ms, min_patience_steps=mp) == training_floors(
            n, b, e, p, min_steps=ms, min_patience_steps=mp)


def test_a_wider_network_costs_more_per_sample():
    small = macs_per_sample("mda_cnn", (9, 9), {"cnn_filters": [16, 32], "mlp_hidden_dims": [64]})
    wide = macs_per_sample("mda_cnn", (9, 9), {"cnn_filters": [32, 64, 128],
                                               "mlp_hidden_dims": [64]})
    mlp = macs_per_sample("residual_mlp", (9, 9), {"residual_mlp_hidden_dims": [32] * 5})
    assert wide > small > mlp > 0


def test_the_quick_plan_counts_every_stage_and_nothing_cached_in_an_empty_folder(tmp_path):
    cfg = ExperimentConfig.profile("quick", output_dir=str(tmp_path / "out"))
    est = estimate_run(cfg, tmp_path / "out", 2)
    counts = {k: (s.planned, s.cached) for k, s in est.stages.items()}
    # 60 thetas in chunks of 10; 3 budgets x 4 models + 2 strategies x 2 CPU budgets of
    # mda_cnn tunings; 24 point cells + 8 CPU-budget cells; no adaptive round
    assert counts == {"generate": (6, 0), "tune": (16, 0), "train": (32, 0), "acquire": (0, 0)}
    assert est.cpu_s > 0 and est.wall_s > est.cpu_s / 2          # two workers at best
    assert est.model is DEFAULT_COST_MODEL
    assert not (tmp_path / "out").exists()                       # nothing written
    text = plan_text(cfg, tmp_path / "out", 2)
    assert re.search(r"^  train +32 +0 +32 +[\d.]+$", text, re.M) and "cost model: defaults" in text


def test_an_adaptive_plan_counts_its_rounds_and_acquisitions(tmp_path):
    cfg = ExperimentConfig.profile("quick", allocations=["surfaces", "adaptive"],
                                   hf_cpu_budgets=["6%", "10%"], output_dir=str(tmp_path))
    est = estimate_run(cfg, tmp_path, 2)
    counts = {k: s.planned for k, s in est.stages.items()}
    # adaptive rounds take surfaces' tuning: 12 + 2 tunings; 24 + 2 x 2 surfaces cells +
    # 2 rounds x 2 seeds, each after its acquisition
    assert counts == {"generate": 6, "tune": 14, "train": 32, "acquire": 4}
    # every cell is a 5-member ensemble here: more CPU than the single-model plan
    single = estimate_run(ExperimentConfig.profile("quick", output_dir=str(tmp_path)), tmp_path, 2)
    assert est.cpu_s > 2 * single.cpu_s


def test_the_schedule_runs_ready_tasks_by_priority_on_free_workers():
    t = [{"id": "a", "cost": 3.0, "priority": 0, "deps": []},
         {"id": "b", "cost": 1.0, "priority": 0, "deps": []},
         {"id": "c", "cost": 1.0, "priority": 0, "deps": []}]
    assert _makespan(t, 2) == 3.0 and _makespan(t, 1) == 5.0
    # a gate: the tuning (2 s) must finish before its two cells (2 s each) start
    gated = [{"id": "tune", "cost": 2.0, "priority": 2, "deps": []},
             {"id": "other", "cost": 4.0, "priority": 1, "deps": []},
             {"id": "c1", "cost": 2.0, "priority": 0, "deps": ["tune"]},
             {"id": "c2", "cost": 2.0, "priority": 0, "deps": ["tune"]}]
    assert _makespan(gated, 2) == 6.0       # tune 0-2, other 0-4, c1 2-4, c2 4-6


def test_max_hours_refuses_a_longer_run_in_one_line_before_anything_exists(tmp_path):
    from flows.preflight import preflight
    out = tmp_path / "out"
    cfg = ExperimentConfig.profile("quick", output_dir=str(out), max_hours=1e-4)
    line = over_limit(cfg, out, 2)
    assert line is not None and "\n" not in line
    assert line.startswith("max_hours=0.0001 is exceeded: this run is estimated at ")
    assert "--max-hours" in line
    with pytest.raises(ConfigError, match=r"^max_hours=0.0001 is exceeded") as err:
        preflight("quick", output_dir=str(out), max_hours=1e-4)
    assert len(str(err.value).splitlines()) == 1 and not out.exists()
    assert over_limit(cfg.with_overrides(max_hours=1000), out, 2) is None
    # the plan says beforehand what the run would do
    assert "the run would refuse to start" in plan_text(cfg, out, 2).splitlines()[-1]
    assert plan_text(cfg.with_overrides(max_hours=1000), out, 2).splitlines()[-1] == (
        "  max_hours: 1000 h, the estimate is within it")
    assert ExperimentConfig.profile("quick").max_hours is None        # no limit by default
    with pytest.raises(ConfigError, match=r"^max_hours=0 is invalid: allowed > 0$"):
        ExperimentConfig.profile("quick", max_hours=0)
