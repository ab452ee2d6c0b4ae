"""Warm starts from the next smaller budget (issue 41, item 1; sabr.learning.warm): the plan
wires each cell to its source, the flow's keys hold the setting and the source's result,
and settings that would not be applied are one-line errors. No TensorFlow here (the fits
are tests/models/test_warm_start.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from sabr.cells import CellLedger
from sabr.config import ExperimentConfig
from sabr.errors import ConfigError
from sabr.plan import make_plan, submission_order, warm_sources

WARM = {"warm_start": "previous_budget"}
REFS = {"tuning_reference_budget": 200, "tuning_reference_cpu_budget": "6%"}


def _quick(training=None, **over):
    return ExperimentConfig.profile("quick", training_config=training or {}, **over)


def test_each_cell_starts_from_the_next_smaller_budget_of_its_allocation(tmp_path):
    cfg = _quick(WARM, hf_cpu_budgets=["6%", "10%", "20%"], **REFS)
    plan = make_plan(cfg, CellLedger(tmp_path))
    by_id = {p.id: p for p in plan.all_cells()}
    for (b, m, s), p in by_id.items():
        if b == 50 or (isinstance(b, str) and b.endswith("@6%")):
            assert p.warm_from is None, p.id                    # the smallest trains cold
            continue
        before = {200: 50, 500: 200}.get(b) or b.replace("@10%", "@6%").replace("@20%", "@10%")
        assert p.warm_from == by_id[(before, m, s)].cell, p.id     # same allocation, model, seed
        assert by_id[(before, m, s)].priority > p.priority          # its source runs first
    order = [p.id for p in submission_order(plan.all_cells())]     # the flow submits a
    assert sorted(order, key=str) == sorted(by_id, key=str)          # source before its cell
    for i in order:
        if (w := by_id[i].warm_from) is not None:
            assert order.index((w.budget, w.model_type, w.seed)) < order.index(i)
    # the cells and their folders are those of a cold plan: a cell's identity is unchanged
    cold = make_plan(_quick(hf_cpu_budgets=["6%", "10%", "20%"], **REFS), CellLedger(tmp_path))
    assert {p.id: p.folder for p in cold.all_cells()} == {i: p.folder for i, p in by_id.items()}
    assert all(p.warm_from is None for p in cold.all_cells())
    assert warm_sources(_quick(hf_cpu_budgets=["6%"])) == {}


def test_budgets_in_other_units_are_chains_of_their_own_and_adaptive_rounds_keep_theirs(tmp_path):
    cfg = _quick(WARM, allocations=["surfaces", "adaptive"], hf_cpu_budgets=["2%", "4%", "8%"],
                 model_types=["mda_cnn"], n_random_seeds=2, tuning_reference_budget=200,
                 tuning_reference_cpu_budget="2%")
    plan = make_plan(cfg, CellLedger(tmp_path))
    rounds = {(p.cell.seed, p.acquisition.round): p for p in plan.rounds}
    for (seed, r), p in rounds.items():      # the adaptive rounds' own warm start, unchanged
        assert p.warm_from == (rounds[(seed, r - 1)].cell if r > 1 else None)
    sources = warm_sources(cfg)
    assert not any("adaptive" in str(b) for b, _, _ in sources)
    assert sources[("surfaces@8%", "mda_cnn", 1)] == ("surfaces@4%", "mda_cnn", 1)
    mixed = warm_sources(_quick(WARM, hf_cpu_budgets=["6%", "120", "10%", "60"], **REFS))
    assert mixed[("surfaces@10%", "mda_cnn", 0)] == ("surfaces@6%", "mda_cnn", 0)
    assert mixed[("surfaces@120s", "mda_cnn", 0)] == ("surfaces@60s", "mda_cnn", 0)
    assert ("surfaces@6%", "mda_cnn", 0) not in mixed and ("surfaces@60s", "mda_cnn", 0) not in mixed


@pytest.mark.parametrize("training,over,message", [
    ({"warm_shrink": 0.5}, {}, "training_config.warm_shrink=0.5 is invalid: allowed 1 while "
                               "warm_start is 'none' (it would not be applied)"),
    ({"warm_perturb": 0.01}, {}, "training_config.warm_perturb=0.01 is invalid: allowed 0 while "
                                 "warm_start is 'none'"),
    ({**WARM, "warm_shrink": 0}, REFS, "training_config.warm_shrink=0 is invalid: allowed > 0"),
    ({**WARM, "warm_shrink": 1.5}, REFS, "training_config.warm_shrink=1.5 is invalid"),
    ({**WARM, "warm_perturb": -0.1}, REFS, "training_config.warm_perturb=-0.1 is invalid"),
    ({"warm_start": "previous"}, {}, "training_config.warm_start='previous' is invalid: allowed "
                                     "one of 'none' or 'previous_budget'"),
    (WARM, {}, "training_config.warm_start: 'previous_budget' copies weights between budgets"),
    (WARM, {"tuning_reference_budget": 200}, "allowed with tuning_reference_cpu_budget set"),
])
def test_settings_that_would_not_be_applied_are_one_line_errors(training, over, message):
    with pytest.raises(ConfigError) as err:
        _quick(training, **over)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_one_width_choice_needs_no_tuning_reference():
    space = {"cnn_filters": [[16, 32]], "mlp_hidden_dims": [[64, 64]]}
    cfg = _quick({**WARM, "warm_shrink": 0.4, "warm_perturb": 0.1}, hyperparameter_space=space)
    assert (cfg.training_config.warm_shrink, cfg.training_config.warm_perturb) == (0.4, 0.1)
    assert len(warm_sources(cfg)) == 2 * 4 * 2 + 2 * 1 * 1 * 2     # b=200, 500; the 10% cells


def _keys(training=None, warm_source=None, **over):
    """The train and tune stages' cache keys (tasks.common.content_policy) of one cell."""
    from sabr.settings import CellSettings, TuningSettings
    from tasks.common import content_policy
    from tasks.modeling import train_cell, tune_cell
    cfg = _quick(training, **{**REFS, **over})
    base = {"dataset": {"content_hash": "h", "cost_hash": "c"}, "model_type": "mda_cnn",
            "budget": 200, "seed": 0, "data_dir": "/d", "exp_dir": "/e"}
    train = content_policy("train").compute_key(
        SimpleNamespace(task=train_cell),
        {**base, "settings_json": CellSettings.of(cfg).model_dump_json(by_alias=True),
         "tuned": {"hyperparameters": {"batch_size": 64}}, "warm_source": warm_source,
         "warm_from": "/somewhere/exp_0001"}, {})
    tune = content_policy("tune").compute_key(
        SimpleNamespace(task=tune_cell),
        {**base, "settings_json": TuningSettings.of(cfg).model_dump_json(by_alias=True)}, {})
    return train, tune


def test_the_training_key_holds_the_setting_and_the_sources_result_but_not_its_folder():
    source = {"status": "ok", "rmse_bp": 150.0, "exp_dir": "exp_0001", "timing": {"wall_s": 3}}
    cold = _keys()
    warm = _keys(WARM, source)
    assert warm[0] != cold[0]                                  # warm_start is in the key
    assert warm[1] == cold[1]                                  # ... of training, not tuning
    assert _keys({**WARM, "warm_shrink": 0.5}, source)[0] != warm[0]
    assert _keys({**WARM, "warm_perturb": 0.01}, source)[0] != warm[0]
    # a retrained source (another result) retrains the cell; its timing does not
    assert _keys(WARM, {**source, "rmse_bp": 140.0})[0] != warm[0]
    assert _keys(WARM, {**source, "timing": {"wall_s": 9}})[0] == warm[0]
    assert _keys(WARM, source)[0] == warm[0]
    from tasks.common import stage_modules
    assert "sabr.learning.warm" in stage_modules("train")      # its code is in the key too


def test_the_estimate_schedules_a_warm_cell_after_its_source(tmp_path):
    from sabr.estimate import estimate_run, plan_text
    # with a worker per task the wall time is the longest chain: warm cells make chains
    cold = estimate_run(_quick(**REFS), tmp_path, 200, from_scratch=True)
    warm = estimate_run(_quick(WARM, **REFS), tmp_path, 200, from_scratch=True)
    assert warm.cpu_s == pytest.approx(cold.cpu_s)
    assert warm.wall_s > cold.wall_s
    assert "warm starts: 20 cells start from the same model and seed at the next smaller " \
           "budget (weights as they are" in plan_text(_quick(WARM, **REFS), tmp_path, 2)
    assert "warm starts" not in plan_text(_quick(**REFS), tmp_path, 2)
