"""Tuning at a reference budget (issue 40 item 3): ExperimentConfig.tuning_reference_budget
and tuning_reference_cpu_budget make the plan tune once per model (per (allocation, model)
on the CPU axis) and every cell take that tuning; unset, the plan is the per-budget one."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sabr.analysis.markdown import TUNING_NOTE, tuning_note
from sabr.budget_labels import adaptive_start, is_adaptive, parse_cell_label
from sabr.cells import CellLedger
from sabr.config import ExperimentConfig
from sabr.errors import ConfigError
from sabr.plan import make_plan, study_models, tuning_sources

REPO = Path(__file__).resolve().parents[2]


def _plan(tmp_path, **overrides):
    return make_plan(ExperimentConfig.profile("quick", **overrides), CellLedger(tmp_path))


def test_a_point_reference_tunes_each_model_once_and_every_point_cell_takes_it(tmp_path):
    plan = _plan(tmp_path, tuning_reference_budget=200)
    cfg = ExperimentConfig.profile("quick")
    point = [t for t in plan.tunings if not isinstance(t.budget, str)]
    assert sorted((t.budget, t.model_type) for t in point) == sorted(
        (200, m) for m in cfg.model_types)                      # models x 1
    assert len(point) == len(cfg.model_types) == 4
    for p in plan.all_cells():
        if not isinstance(p.cell.budget, str):
            assert p.tuning == (200, p.cell.model_type)
    # the CPU axis keeps its per-budget tunings: 2 budgets x 2 allocations x 1 model
    assert len(plan.tunings) == 4 + 4
    assert {p.cell.budget for p in plan.all_cells()} >= {50, 200, 500}


def test_a_cpu_reference_tunes_each_allocation_and_model_once_adaptive_composed(tmp_path):
    cfg = ExperimentConfig.profile(
        "quick", allocations=["surfaces", "paths/4", "adaptive", "adaptive/spread"],
        hf_cpu_budgets=["2%", "4%", "8%"], cost_model_types=["mda_cnn", "direct_mlp"],
        n_random_seeds=2, tuning_reference_cpu_budget="4%")
    plan = make_plan(cfg, CellLedger(tmp_path))
    cpu = {(t.budget, t.model_type) for t in plan.tunings if isinstance(t.budget, str)}
    models = study_models(cfg)
    assert len(models) == 2
    # adaptive tunes as surfaces, adaptive/spread as spread: 3 tuned allocations x 2 models
    assert cpu == {(f"{a}@4%", m) for a in ("surfaces", "paths/4", "spread") for m in models}
    assert len(plan.tunings) == len(cfg.hf_budgets) * len(cfg.model_types) + 3 * 2
    assert plan.rounds and all(p.acquisition is not None for p in plan.rounds)
    for p in plan.all_cells():
        if isinstance(p.cell.budget, str):
            allocation, _ = parse_cell_label(p.cell.budget)
            tuned_as = adaptive_start(allocation) if is_adaptive(allocation) else allocation
            assert p.tuning == (f"{tuned_as}@4%", p.cell.model_type), p.id
        else:                                     # the point axis is per budget still
            assert p.tuning == (p.cell.budget, p.cell.model_type)
    assert {p.tuning[0] for p in plan.rounds} == {"surfaces@4%", "spread@4%"}
    # a reference given as the user writes it (4 -> '4s' is another budget) is its label
    assert cfg.with_overrides(tuning_reference_cpu_budget="4.0%").tuning_reference_cpu_budget == "4%"


def _per_budget_rule(budget):
    """The rule before the reference existed, written out again: a cell takes its own
    (budget, model)'s tuning; an adaptive round its start allocation's at its budget."""
    if isinstance(budget, str):
        allocation, value = parse_cell_label(budget)
        return f"{adaptive_start(allocation)}@{value}" if is_adaptive(allocation) else budget
    return budget


@pytest.mark.parametrize("profile,extra", [
    ("quick", {}), ("full", {}),
    ("quick", {"allocations": ["surfaces", "adaptive", "adaptive/spread"],
               "hf_cpu_budgets": ["2%", "4%"]})])
def test_unset_the_plan_is_the_per_budget_one(tmp_path, profile, extra):
    cfg = ExperimentConfig.profile(profile, **extra)
    assert cfg.tuning_reference_budget is None and cfg.tuning_reference_cpu_budget is None
    plan = make_plan(cfg, CellLedger(tmp_path))
    assert plan == make_plan(cfg.with_overrides(tuning_reference_budget=None,
                                                tuning_reference_cpu_budget=None),
                             CellLedger(tmp_path))
    expected = {(_per_budget_rule(b), m) for b, m, _ in plan.report_cells}
    assert {(t.budget, t.model_type) for t in plan.tunings} == expected
    assert len(plan.tunings) == len(expected)
    assert all(p.tuning == (_per_budget_rule(p.cell.budget), p.cell.model_type)
               for p in plan.all_cells())
    sources = tuning_sources(plan)
    assert all(k == v for k, v in sources.items() if "adaptive" not in k)
    assert tuning_note(sources) == TUNING_NOTE


@pytest.mark.parametrize("field,value,pattern", [
    ("tuning_reference_budget", 300,
     r"tuning_reference_budget: 300 is not one of hf_budgets; allowed one of \[50, 200, 500\], "
     r"or unset \(a tuning per budget\)"),
    ("tuning_reference_cpu_budget", "7%",
     r"tuning_reference_cpu_budget: '7%' is not one of hf_cpu_budgets; allowed one of "
     r"\['6%', '10%'\], or unset \(a tuning per budget\)"),
    ("tuning_reference_cpu_budget", "soon",
     r"tuning_reference_cpu_budget='soon' is invalid: allowed CPU-seconds > 0 .*'soon' is not"),
])
def test_a_reference_not_among_the_budgets_is_a_one_line_error(field, value, pattern):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.profile("quick", **{field: value})
    assert "\n" not in str(err.value)
    assert re.fullmatch(pattern, str(err.value)), str(err.value)
    with pytest.raises(ConfigError, match=r"allowed unset \(hf_cpu_budgets is empty\)$"):
        ExperimentConfig.profile("quick", hf_cpu_budgets=[], allocations=["spread"],
                                 tuning_reference_cpu_budget="6%")


def test_a_cells_key_follows_its_tunings_content_and_the_reference_is_in_no_key():
    """A cell's train key holds its tuned hyperparameters' content (tasks.common's
    StageContent), so a cell that takes another budget's tuning is trained again; the
    reference itself is in neither stage's settings, so the reference budget's tuning (and
    its own cells) are served from a per-budget run's cache."""
    from sabr.settings import CellSettings, TuningSettings
    from tasks.common import content_policy
    from tasks.modeling import train_cell
    base = ExperimentConfig.profile("quick")
    ref = base.with_overrides(tuning_reference_budget=200, tuning_reference_cpu_budget="10%")
    assert CellSettings.of(ref) == CellSettings.of(base)
    assert TuningSettings.of(ref) == TuningSettings.of(base)

    def key(tuned):
        return content_policy("train").compute_key(
            SimpleNamespace(task=train_cell),
            {"settings_json": CellSettings.of(base).model_dump_json(by_alias=True),
             "dataset": {"content_hash": "h", "cost_hash": "c"}, "model_type": "mda_cnn",
             "budget": 50, "seed": 0, "data_dir": "/d", "exp_dir": "/e", "tuned": tuned}, {})

    own = {"hyperparameters": {"batch_size": 32, "learning_rate": 1e-3}, "status": "ok",
           "best_value": 0.41, "n_complete": 15, "timing": {"cpu_s": 3.0}}
    reference = {"hyperparameters": {"batch_size": 64, "learning_rate": 3e-3}, "status": "ok",
                 "best_value": 0.20, "n_complete": 15, "timing": {"cpu_s": 9.0}}
    assert key(own) != key(reference)
    assert key(own) == key({**own, "timing": {"cpu_s": 99.0}})      # timing is in no key
    # the same hyperparameters from another tuning still differ (its best value does)
    assert key(own) != key({**reference, "hyperparameters": own["hyperparameters"]})


def test_the_report_says_which_tuning_a_budget_used(tmp_path):
    plan = _plan(tmp_path, tuning_reference_budget=200, tuning_reference_cpu_budget="10%")
    sources = tuning_sources(plan)
    assert sources["b=50"] == sources["b=500"] == sources["b=200"] == "b=200"
    assert sources["surfaces@6%"] == "surfaces@10%"
    note = tuning_note(sources)
    assert note != TUNING_NOTE
    assert "b=50, b=500 took b=200's" in note and "surfaces@6% took surfaces@10%'s" in note
    assert "b=200 took" not in note


def _plan_cli(*flags):
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "flows.cli", "plan", "--profile", "quick",
                           *flags], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120)


def _tune_row(text):
    row = next(line for line in text.splitlines() if line.split()[:1] == ["tune"])
    return int(row.split()[1])


def test_hf_budget_plan_with_a_reference_shows_fewer_tunings(tmp_path):
    out = ["--output-dir", str(tmp_path / "out")]
    per_budget = _plan_cli(*out)
    reused = _plan_cli(*out, "--tuning-reference-budget", "200",
                       "--tuning-reference-cpu-budget", "10%")
    assert per_budget.returncode == reused.returncode == 0, per_budget.stderr + reused.stderr
    assert _tune_row(per_budget.stdout) == 3 * 4 + 2 * 2 * 1
    assert _tune_row(reused.stdout) == 4 + 2 * 1
    assert "tuning: each model once at b=200" in reused.stdout
    assert "tuning:" not in per_budget.stdout
    bad = _plan_cli(*out, "--tuning-reference-budget", "300")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].endswith(
        "tuning_reference_budget: 300 is not one of hf_budgets; allowed one of [50, 200, 500], "
        "or unset (a tuning per budget)")
    assert not (tmp_path / "out").exists()
