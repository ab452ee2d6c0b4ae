"""The step budget of a fit (sabr.learning.step_budget, issue 40 item 2): the identity on
the seed design's cells, square-root batch scaling and a step cap on large ones, the same
rule for every allocation, its settings validated and in the cells' cache keys."""
from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from sabr.config import ExperimentConfig, load_config
from sabr.errors import ConfigError
from sabr.learning.step_budget import effective_training, step_floors
from sabr.settings import TrainingConfig

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "tests" / "data" / "quick_baseline"


def _unchanged(e, n, hp, tc, *, tuning=False):
    """``e`` is what the step floors alone gave before the rule (issue 38)."""
    floors = step_floors(n, hp["batch_size"], tc.tuning_epochs if tuning else tc.epochs,
                         tc.early_stopping_patience,
                         min_steps=tc.min_tuning_steps if tuning else tc.min_steps,
                         min_patience_steps=tc.min_patience_steps)
    return ((e.batch_size, e.learning_rate, e.epochs, e.patience, e.steps_per_epoch)
            == (hp["batch_size"], hp["learning_rate"], *floors)
            and not e.batch_scaled and not e.step_cap_binds)


@pytest.mark.parametrize("source", ["deployments/prod.yaml", "quick"])
def test_the_rule_is_the_identity_on_every_budget_of_the_seed_design(source):
    """Every point budget of prod.yaml (the full profile) and of the quick profile, every
    training-set size it can have (1 .. b points), every batch size and learning rate its
    tuning may choose and the configured ones: the fit's numbers are the step floors'."""
    cfg = load_config(REPO / source) if source.endswith(".yaml") else \
        ExperimentConfig.profile(source)
    tc, space = cfg.training_config, cfg.hyperparameter_space
    assert tc.max_steps > 0 and tc.max_steps_per_epoch > 0          # the rule is on
    batches = sorted({*space.batch_sizes, tc.batch_size})
    rates = sorted({*space.learning_rates, tc.learning_rate})
    checked = 0
    for b in cfg.hf_budgets:
        for n in range(1, int(b) + 1):
            for bs in batches:
                for lr in rates:
                    hp = {"batch_size": bs, "learning_rate": lr}
                    for tuning in (False, True):
                        e = effective_training(n, hp, tc, tuning=tuning)
                        assert _unchanged(e, n, hp, tc, tuning=tuning), (b, n, hp, tuning, e)
                        checked += 1
    assert checked >= 2 * len(cfg.hf_budgets) * len(batches) * len(rates)
    assert max(cfg.hf_budgets) == (1000 if source.endswith(".yaml") else 500)


def test_the_rule_is_the_identity_on_the_stored_quick_run_allocation_cells_included():
    """The quick baseline's cells (tests/data/quick_baseline), its CPU-budget cells of up
    to 2310 training points included, with the hyperparameters they trained with: the same
    numbers, and the steps per epoch they ran."""
    tc = ExperimentConfig.profile("quick").training_config
    tuned = json.loads((BASELINE / "cost_hyperparameters.json").read_text())
    cost = pd.read_csv(BASELINE / "cost_results.csv")
    assert len(cost) == 8 and cost.n_train.max() > 2000
    for row in cost.itertuples():
        hp = tuned[f"{row.model_type} {row.allocation}@{row.hf_cpu_budget} s={row.seed}"]
        e = effective_training(row.n_train, hp, tc)
        assert _unchanged(e, row.n_train, hp, tc) and e.steps_per_epoch == row.steps_per_epoch
    for row in pd.read_csv(BASELINE / "detailed_results.csv").itertuples():
        for bs in (64, 128):
            assert _unchanged(effective_training(row.n_train, {"batch_size": bs,
                                                               "learning_rate": 1e-3}, tc),
                              row.n_train, {"batch_size": bs, "learning_rate": 1e-3}, tc)


def test_a_large_cell_by_hand():
    """30k training points at batch 64 (470 steps an epoch, 200 epochs: 94k steps) train at
    batch 300 (100 steps an epoch) with Adam's rate x sqrt(300/64), at most 10000 steps."""
    tc = TrainingConfig()
    e = effective_training(30_000, {"batch_size": 64, "learning_rate": 3e-4}, tc)
    assert (e.batch_size, e.steps_per_epoch, e.epochs, e.patience) == (300, 100, 100, 20)
    assert e.learning_rate == pytest.approx(3e-4 * math.sqrt(300 / 64))
    assert e.batch_scaled and e.step_cap_binds and e.max_steps_run == 10_000 == e.max_steps
    assert (e.nominal_batch_size, e.nominal_learning_rate) == (64, 3e-4)
    # every batch choice reaches the same batch; the rate keeps lr / sqrt(b)
    for b, lr in ((32, 1e-3), (128, 1e-4)):
        e = effective_training(30_000, {"batch_size": b, "learning_rate": lr}, tc)
        assert e.batch_size == 300 and e.learning_rate / math.sqrt(300) == pytest.approx(
            lr / math.sqrt(b))
    # 42k points: batch 420, epochs of 100 steps; a tuning trial: 30 epochs, under the cap
    e = effective_training(42_000, {"batch_size": 64, "learning_rate": 3e-4}, tc, tuning=True)
    assert (e.batch_size, e.steps_per_epoch, e.epochs, e.step_cap_binds) == (420, 100, 30, False)
    # the batch bound: 500k points at a max batch of 1024 are 489 steps an epoch, 20 epochs
    e = effective_training(500_000, {"batch_size": 64, "learning_rate": 3e-4}, tc)
    assert (e.batch_size, e.steps_per_epoch, e.epochs) == (1024, 489, 20)
    assert e.patience == 5                     # a quarter of the capped epochs
    # the rule off: the step floors alone
    off = tc.model_copy(update={"max_steps": 0, "max_steps_per_epoch": 0})
    e = effective_training(30_000, {"batch_size": 64, "learning_rate": 3e-4}, off)
    assert (e.batch_size, e.steps_per_epoch, e.epochs, e.max_steps) == (64, 469, 200, None)
    assert not e.batch_scaled and not e.step_cap_binds


@given(n=st.integers(1, 300_000), b=st.sampled_from([1, 8, 32, 64, 128, 512]),
       lr=st.sampled_from([1e-4, 1e-3, 3e-3]), epochs=st.integers(1, 1000),
       patience=st.integers(1, 100), min_steps=st.integers(0, 5000),
       min_patience=st.integers(0, 2000), extra=st.integers(0, 50_000),
       spe=st.integers(0, 1000), max_batch=st.integers(1, 4096))
def test_the_cap_bounds_every_fit_and_early_stopping_still_applies(
        n, b, lr, epochs, patience, min_steps, min_patience, extra, spe, max_batch):
    tc = TrainingConfig(epochs=epochs, early_stopping_patience=patience, min_steps=min_steps,
                        min_patience_steps=min_patience, min_tuning_steps=0,
                        max_steps=min_steps + extra + 1, max_steps_per_epoch=spe,
                        max_batch_size=max_batch)
    e = effective_training(n, {"batch_size": b, "learning_rate": lr}, tc)
    assert e.steps_per_epoch == math.ceil(n / e.batch_size)
    # the cap: never more steps than max_steps, unless one epoch alone is longer
    assert e.max_steps_run <= tc.max_steps or (e.epochs == 1 and e.steps_per_epoch > tc.max_steps)
    # the batch: grown only, to at most max_batch_size, so an epoch is at most S steps
    assert e.batch_size >= b and (e.batch_size == b or e.batch_size <= max_batch)
    if spe and e.batch_size < max(b, max_batch):
        assert e.steps_per_epoch <= spe
    # Adam's square-root rule (Malladi et al. 2022)
    assert e.learning_rate == pytest.approx(lr * math.sqrt(e.batch_size / b))
    assert e.batch_scaled == (e.batch_size != b)
    if e.step_cap_binds:               # the patience stays below a capped fit's length
        assert 1 <= e.patience <= e.epochs
        assert e.patience <= max(e.epochs // 4, math.ceil(min_patience / e.steps_per_epoch), 1)
    else:                              # the cap did not bind: the floors' numbers
        assert (e.epochs, e.patience) == step_floors(
            n, e.batch_size, epochs, patience, min_steps=min_steps,
            min_patience_steps=min_patience)[:2]


def test_the_rule_reads_the_cells_size_and_hyperparameters_only():
    """No allocation, budget or seed among its inputs: every allocation gets the same rule
    (a cell's record of it is checked against this function in tests/models)."""
    assert list(inspect.signature(effective_training).parameters) == ["n_train", "hp", "tc",
                                                                      "tuning"]
    tc = TrainingConfig()
    hp = {"batch_size": 64, "learning_rate": 1e-3, "dropout_rate": 0.1, "cnn_filters": [8]}
    a = effective_training(25_000, hp, tc)
    assert a == effective_training(25_000, {"batch_size": 64, "learning_rate": 1e-3}, tc)
    assert a.hyperparameters(hp) == {**hp, "batch_size": 250,
                                     "learning_rate": pytest.approx(1e-3 * math.sqrt(250 / 64))}


@pytest.mark.parametrize("field,value,allowed", [
    ("max_steps", -1, "allowed >= 0"),
    ("max_steps", 500, "allowed 0 (no cap) or an integer in [2000, 100000000]"),
    ("max_steps", 200_000_000, "allowed <= 100000000"),
    ("max_steps_per_epoch", -1, "allowed >= 0"),
    ("max_batch_size", 0, "allowed >= 1"),
    ("max_batch_size", 100_000, "allowed <= 65536"),
])
def test_bad_values_are_one_line_naming_the_field_and_the_range(field, value, allowed):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.profile("full", training_config={field: value})
    msg = str(err.value)
    assert msg.startswith(f"training_config.{field}={value!r} is invalid: {allowed}"), msg
    assert "\n" not in msg
    ok = ExperimentConfig.profile("full", training_config={"max_steps": 0,
                                                           "max_steps_per_epoch": 0})
    e = effective_training(30_000, {"batch_size": 64, "learning_rate": 1e-3}, ok.training_config)
    assert (e.batch_size, e.epochs, e.max_steps) == (64, 200, None)       # 0: the rule off


def test_the_settings_are_in_the_training_and_tuning_keys():
    """A changed max_steps (or batch rule) retrains and retunes, an unchanged one does not:
    the keys of the train and tune stages (tasks.common.content_policy), and the rule's
    module is in their code fingerprints."""
    from sabr.settings import CellSettings, TuningSettings
    from tasks.common import content_policy, stage_modules
    from tasks.modeling import train_cell, tune_cell

    def keys(**training):
        cfg = ExperimentConfig.profile("quick", training_config=training)
        base = {"dataset": {"content_hash": "h", "cost_hash": "c"}, "model_type": "mda_cnn",
                "budget": "surfaces@6%", "seed": 0, "data_dir": "/d", "exp_dir": "/e"}
        train = content_policy("train").compute_key(
            SimpleNamespace(task=train_cell),
            {**base, "settings_json": CellSettings.of(cfg).model_dump_json(),
             "tuned": {"hyperparameters": {"batch_size": 64}}}, {})
        tune = content_policy("tune").compute_key(
            SimpleNamespace(task=tune_cell),
            {**base, "settings_json": TuningSettings.of(cfg).model_dump_json()}, {})
        return train, tune

    same = keys(max_steps=10_000)
    assert keys(max_steps=10_000) == same == keys()          # the default, given or not
    for changed in ({"max_steps": 20_000}, {"max_steps": 0}, {"max_steps_per_epoch": 50},
                    {"max_batch_size": 512}):
        new = keys(**changed)
        assert new[0] != same[0] and new[1] != same[1], changed
    for stage in ("train", "tune"):
        assert "sabr.learning.step_budget" in stage_modules(stage)
