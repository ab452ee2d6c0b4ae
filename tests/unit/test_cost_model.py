"""The plan before a run (sabr.estimate) and its cost model (sabr.cost_model): the fit
recovers known coefficients, a fit is priced by the training's own rule
(sabr.learning.step_budget: a large cell at its capped steps, the seed design unchanged),
finished records are read at the batch they applied, the plan counts every stage's tasks,
the schedule's rule, and max_hours refuses a run in one line before anything is created."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import sabr.cost_model as cost_model
from sabr.config import ExperimentConfig, load_config
from sabr.cost_model import (DEFAULT_COST_MODEL, FitRecord, expected_fit_cost, expected_fits,
                             fit_linear, fit_records, macs_per_sample)
from sabr.errors import ConfigError
from sabr.estimate import _makespan, _n_train, _pool_cost, estimate_run, over_limit, plan_text
from sabr.learning.step_budget import effective_training

REPO = Path(__file__).resolve().parents[2]


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


def _training(cfg, **update):
    return cfg.training_config.model_copy(update=update)


def test_a_large_cpu_budget_cell_is_priced_at_its_capped_steps():
    """The largest cell of deployments/cost-full.yaml (paths/4 at 5%: about 28.6k training
    points) is priced as effective_training trains it: each choice of the search space at
    the grown batch and the capped epochs, so no fit's expected steps exceed max_steps;
    with the cap off (max_steps=0) the same cell costs more, and with the whole rule off
    its steps exceed the cap."""
    cfg = load_config(REPO / "deployments" / "cost-full.yaml")
    tc, space, mc = cfg.training_config, cfg.hyperparameter_space, cfg.models
    n = _n_train(cfg, "paths/4@5%", _pool_cost(cfg, None, None, DEFAULT_COST_MODEL))
    assert n > 25_000 and tc.max_steps == 10_000
    for tuning in (False, True):
        fits = expected_fits(DEFAULT_COST_MODEL, "mda_cnn", n, tc, space, mc, tuning=tuning)
        assert len(fits) > 1
        for f in fits:        # the training's own numbers, not a copy of them
            assert f.applied == effective_training(
                n, {"learning_rate": tc.learning_rate, **f.hp}, tc, tuning=tuning)
            assert f.applied.batch_scaled and f.applied.batch_size == -(-n // 100)
            assert f.steps <= f.applied.max_steps_run <= tc.max_steps
    capped = expected_fits(DEFAULT_COST_MODEL, "mda_cnn", n, tc, space, mc)
    assert all(f.applied.step_cap_binds for f in capped)
    cost = expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", n, tc, space, mc)
    no_cap = expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", n, _training(cfg, max_steps=0),
                               space, mc)
    off = expected_fits(DEFAULT_COST_MODEL, "mda_cnn", n,
                        _training(cfg, max_steps=0, max_steps_per_epoch=0), space, mc)
    print(f"mda_cnn fit of {n} points: {cost:.0f} s capped, {no_cap:.0f} s without the cap, "
          f"{np.mean([f.seconds for f in off]):.0f} s without the rule")
    assert no_cap > 1.2 * cost
    assert max(f.steps for f in off) > tc.max_steps
    assert cost == pytest.approx(np.mean([f.seconds for f in capped]))
    # the whole run: its train stage costs more without the cap
    out = Path("/nonexistent-hf-budget-plan")
    with_cap = estimate_run(cfg, out, 2, DEFAULT_COST_MODEL, from_scratch=True)
    without = estimate_run(cfg.model_copy(update={"training_config": _training(cfg, max_steps=0)}),
                           out, 2, DEFAULT_COST_MODEL, from_scratch=True)
    assert without.stages["train"].seconds > with_cap.stages["train"].seconds


@pytest.mark.parametrize("source", ["deployments/prod.yaml", "quick"])
def test_the_seed_designs_estimate_is_what_it_was_before_the_rule(source, tmp_path):
    """The rule is the identity on the seed design (tests/unit/test_step_budget.py), so its
    estimate equals the one with the rule off (max_steps = max_steps_per_epoch = 0: the
    step floors alone, the pricing before the rule), to the last bit."""
    cfg = load_config(REPO / source) if source.endswith(".yaml") else \
        ExperimentConfig.profile(source)
    off = cfg.model_copy(update={"training_config": _training(cfg, max_steps=0,
                                                              max_steps_per_epoch=0)})
    now, before = (estimate_run(c, tmp_path, 2, DEFAULT_COST_MODEL, from_scratch=True)
                   for c in (cfg, off))
    print(f"{source}: {now.cpu_s:.2f} CPU-s, wall {now.wall_s:.2f} s with the rule; "
          f"{before.cpu_s:.2f} CPU-s, wall {before.wall_s:.2f} s without")
    assert cfg.training_config.max_steps > 0 and cfg.training_config.max_steps_per_epoch > 0
    assert (now.cpu_s, now.wall_s) == (before.cpu_s, before.wall_s)
    assert {k: s.seconds for k, s in now.stages.items()} == \
        {k: s.seconds for k, s in before.stages.items()}


def test_one_implementation_of_the_step_floors():
    """The cost model keeps no copy of the training's rule: it calls step_budget's."""
    from sabr.learning import step_budget
    assert not hasattr(cost_model, "step_floors")
    assert cost_model.effective_training is step_budget.effective_training


def _cell(folder: Path, n_train: int, hp: dict, *, applied: dict | None, epochs_run: int,
          epochs: int, patience: int):
    folder.mkdir(parents=True)
    config = {"model_type": "residual_mlp", "budget": "paths/4@5%", "seed": 0,
              "hyperparameters": hp, "epochs": epochs, "early_stopping_patience": patience,
              "patch_size": [9, 9]}
    metrics = {"status": "ok", "train_seconds": 12.5, "n_train": n_train, "n_test": 10,
               "epochs_run": epochs_run}
    if applied is not None:
        config.update(training=applied, steps_per_epoch=applied["steps_per_epoch"])
        metrics.update(train_batch_size=applied["batch_size"],
                       steps_per_epoch=applied["steps_per_epoch"])
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_finished_cells_are_read_at_the_batch_and_caps_they_applied(tmp_path):
    """A cell of this version records what it trained with (config.json's ``training``):
    its fit is read at that batch and those steps per epoch, its early stopping against the
    capped epochs. A folder of an earlier version records the tuned batch only, which is
    what it trained with."""
    tc = ExperimentConfig.profile("cost").training_config
    hp = {"batch_size": 64, "learning_rate": 3e-4, "residual_mlp_hidden_dims": [32] * 5}
    e = effective_training(30_000, hp, tc)
    assert (e.batch_size, e.steps_per_epoch, e.epochs, e.patience) == (300, 100, 100, 20)
    _cell(tmp_path / "new" / "cost_0001", 30_000, hp, applied=e.as_dict(), epochs_run=60,
          epochs=e.epochs, patience=e.patience)
    _cell(tmp_path / "old" / "cost_0001", 30_000, hp, applied=None, epochs_run=60, epochs=200,
          patience=20)
    rec = {}
    for name in ("new", "old"):
        rec[name] = cost_model._Records()
        assert cost_model._read_cells(tmp_path / name, rec[name]) == {
            ("paths/4@5%", "residual_mlp"): 30_000}
    (new,), (old,) = rec["new"].fits, rec["old"].fits
    assert (new.batch, new.steps, new.epochs) == (300, 60 * 100, 60)
    assert (old.batch, old.steps, old.epochs) == (64, 60 * 469, 60)
    assert rec["new"].cell_stops == [pytest.approx((60 - 20) / (100 - 20))]
    assert rec["old"].cell_stops == [pytest.approx((60 - 20) / (200 - 20))]


def test_tuning_trials_are_read_by_the_rule_of_their_runs_training_section(tmp_path):
    """A trial's batch and caps: effective_training on the logged training section; a run
    logged before the rule (no max_steps in its section) trained at the tuned batch."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = ExperimentConfig.profile("cost")
    tc = cfg.training_config
    hp = {"batch_size": 64, "learning_rate": 3e-4, "residual_mlp_hidden_dims": [32] * 5}
    out = tmp_path / "out"
    _cell(out / "cost_0001", 30_000, hp, applied=None, epochs_run=60, epochs=200, patience=20)
    folder = out / "tuning" / cost_model._tuning_name("paths/4@5%", "residual_mlp")
    folder.mkdir(parents=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(folder / "optuna_journal.log")))
    study = optuna.create_study(study_name="s", storage=storage)
    study.add_trial(optuna.trial.create_trial(
        params={"batch_size": 64}, distributions={
            "batch_size": optuna.distributions.CategoricalDistribution([32, 64, 128])},
        value=1.0, intermediate_values={k: 1.0 for k in range(12)}))
    section = tc.model_dump(mode="json")
    legacy = {k: v for k, v in section.items()
              if k not in ("max_steps", "max_steps_per_epoch", "max_batch_size")}
    got = {}
    for name, logged in (("now", section), ("legacy", legacy)):
        rec = cost_model._Records()
        n_train = cost_model._read_cells(out, rec)
        cost_model._read_trials(out, rec, n_train, {
            "training_config": logged, "model_config": cfg.models.model_dump(mode="json")})
        assert rec.counts["trials"] == 1
        got[name] = rec.fits[-1]
    assert (got["now"].batch, got["now"].steps) == (300, 12 * 100)     # tuned as trained
    assert (got["legacy"].batch, got["legacy"].steps) == (64, 12 * 469)


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


def test_the_costliest_choice_prices_a_fit_above_the_mean_and_equals_it_for_one_choice():
    """price='max' (hf-budget plan's worst case): every fit at its search space's costliest
    network; with one choice per axis the two prices agree."""
    cfg = load_config(REPO / "deployments" / "cost-full.yaml")
    tc, space, mc = cfg.training_config, cfg.hyperparameter_space, cfg.models
    fits = expected_fits(DEFAULT_COST_MODEL, "mda_cnn", 5000, tc, space, mc)
    mean = expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", 5000, tc, space, mc)
    most = expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", 5000, tc, space, mc, how="max")
    assert most == max(f.seconds for f in fits) > mean
    one = space.model_copy(update={"batch_sizes": (64,), "cnn_filters": ((32, 64),),
                                   "mlp_hidden_dims": ((64, 64),)})
    assert expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", 5000, tc, one, mc, how="max") == \
        pytest.approx(expected_fit_cost(DEFAULT_COST_MODEL, "mda_cnn", 5000, tc, one, mc))
