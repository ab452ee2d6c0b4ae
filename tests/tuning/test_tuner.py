"""HyperparameterTuner with custom objectives (no training): methods, grid, seeds, resume, failures."""
import math

import optuna
import pytest

from sabr.config import ConfigError
from sabr.learning.models import default_hyperparameters
from sabr.config import TUNING_METHODS
from sabr.learning.tuning import (JOURNAL_FILE, TUNING_METHOD_REGISTRY, HyperparameterSpace,
                                  HyperparameterTuner, encode_widths)
from sabr.model_types import MODEL_TYPES

BUDGET = 40
SMALL = HyperparameterSpace(learning_rates=[1e-4, 3e-4, 1e-3, 3e-3], batch_sizes=[32],
                            dropout_rates=[0.2], cnn_filters=[[16]], mlp_hidden_dims=[[8, 8]])


def quadratic(hp):
    """Deterministic in hp; smallest at lr 1e-3, batch 64, dropout 0.2, wider nets."""
    return ((math.log10(hp["learning_rate"]) + 3) ** 2 + (hp["batch_size"] / 64 - 1) ** 2
            + (hp["dropout_rate"] - 0.2) ** 2 + 1 / sum(hp["mlp_hidden_dims"])
            + 1 / sum(hp["cnn_filters"]))


def tuner(cfg, data, tmp_path, model="direct_mlp", seed=0, objective=quadratic, **kw):
    t = HyperparameterTuner(cfg, data, model, BUDGET, seed, study_dir=tmp_path, **kw)
    t.objective_function = objective
    return t


def param_rows(result):
    cols = [c for c in result.trials.columns if c not in ("number", "state", "value", "error",
                                                          "duration_s")]
    return [tuple(r) for r in result.trials[cols].itertuples(index=False)]


def test_the_tuning_registry_covers_exactly_the_config_methods():
    assert tuple(TUNING_METHOD_REGISTRY) == TUNING_METHODS


@pytest.mark.parametrize("method", list(TUNING_METHOD_REGISTRY))
def test_every_registered_method_runs_a_two_trial_study(tiny_config, tiny_dataset, tmp_path, method):
    sampler = TUNING_METHOD_REGISTRY[method].make_sampler(SMALL.choices("direct_mlp"), 1, 0)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    r = tuner(tiny_config, tiny_dataset, tmp_path, space=SMALL).tune_hyperparameters(method, n_trials=2)
    assert r.status == "ok" and r.n_complete == 2 and len(r.trials) == 2
    assert r.best_params["learning_rate"] in SMALL.learning_rates
    assert r.study_name.endswith(f"-{method}")


@pytest.mark.parametrize("model", list(MODEL_TYPES))
@pytest.mark.parametrize("method", list(TUNING_METHOD_REGISTRY))
def test_every_method_returns_parameters_from_the_space(tiny_config, tiny_dataset, tmp_path,
                                                        method, model):
    space = tiny_config.hyperparameter_space         # the quick profile's, not the seed's
    assert space != HyperparameterSpace()
    r = tuner(tiny_config, tiny_dataset, tmp_path, model).tune_hyperparameters(method, n_trials=6)
    assert r.status == "ok" and r.n_complete == 6 and len(r.trials) == 6
    hp, defaults = r.best_params, default_hyperparameters(tiny_config.models,
                                                          tiny_config.training_config)
    assert set(hp) == set(defaults)
    assert hp["learning_rate"] in space.learning_rates and hp["batch_size"] in space.batch_sizes
    assert hp["dropout_rate"] in space.dropout_rates
    assert isinstance(hp["batch_size"], int) and isinstance(hp["mlp_hidden_dims"], list)
    if model != "cnn_only":
        assert tuple(hp["mlp_hidden_dims"]) in space.mlp_hidden_dims
    else:                        # irrelevant to the model: the config's value, not tuned
        assert hp["mlp_hidden_dims"] == defaults["mlp_hidden_dims"]
        assert "mlp_hidden_dims" not in r.trials
    if model in ("mda_cnn", "cnn_only"):
        assert tuple(hp["cnn_filters"]) in space.cnn_filters
    else:
        assert hp["cnn_filters"] == defaults["cnn_filters"]
    if model == "residual_mlp":  # the builder reads this key
        assert hp["residual_mlp_hidden_dims"] == hp["mlp_hidden_dims"]
    else:
        assert hp["residual_mlp_hidden_dims"] == defaults["residual_mlp_hidden_dims"]
    assert r.best_value == pytest.approx(min(r.trials["value"]))
    assert r.best_value == pytest.approx(quadratic(hp))


def test_grid_trials_are_distinct_points(tiny_config, tiny_dataset, tmp_path):
    r = tuner(tiny_config, tiny_dataset, tmp_path, "mda_cnn").tune_hyperparameters("grid", 25)
    rows = param_rows(r)
    assert len(rows) == 25 and len(set(rows)) == 25


def test_grid_is_capped_at_its_size_and_finds_the_custom_optimum(tiny_config, tiny_dataset,
                                                                 tmp_path):
    calls = []

    def prefers_1e3(hp):
        calls.append(hp["learning_rate"])
        return abs(math.log10(hp["learning_rate"]) + 3)

    t = tuner(tiny_config, tiny_dataset, tmp_path, space=SMALL, objective=prefers_1e3)
    r = t.tune_hyperparameters("grid", n_trials=50)
    assert sorted(calls) == sorted(SMALL.learning_rates)          # every point once, no more
    assert r.best_params["learning_rate"] == 1e-3 and r.best_value == 0.0
    assert r.best_params["mlp_hidden_dims"] == [8, 8] and r.best_params["batch_size"] == 32
    assert t._cell is None                                        # nothing was trained
    t.tune_hyperparameters("grid", n_trials=50)
    assert len(calls) == 4                                        # the finished grid runs nothing


@pytest.mark.parametrize("method", ["random", "grid", "bayesian"])
def test_same_seed_same_trials_other_seed_other_trials(tiny_config, tiny_dataset, tmp_path, method):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        r = tuner(tiny_config, tiny_dataset, tmp_path / name, "mda_cnn", seed=seed
                  ).tune_hyperparameters(method, n_trials=8)
        runs[name] = (param_rows(r), r.best_params, r.best_value)
    assert runs["a"] == runs["b"]
    assert runs["a"][0] != runs["c"][0]


@pytest.mark.parametrize("method", ["random", "grid", "bayesian"])
def test_interrupted_tuning_resumes_to_exactly_n_trials(tiny_config, tiny_dataset, tmp_path, method):
    calls = []

    def counting(hp):
        calls.append(hp)
        return quadratic(hp)

    first = tuner(tiny_config, tiny_dataset, tmp_path, objective=counting
                  ).tune_hyperparameters(method, n_trials=3)
    assert len(calls) == 3 and len(first.trials) == 3
    again = tuner(tiny_config, tiny_dataset, tmp_path, objective=counting
                  ).tune_hyperparameters(method, n_trials=7)
    assert len(calls) == 7 and again.n_complete == 7 and (tmp_path / JOURNAL_FILE).is_file()
    rows = param_rows(again)
    assert rows[3:6] != rows[0:3]           # resumed draws are new, not a replay of the first
    if method == "grid":
        assert len(set(rows)) == 7
    tuner(tiny_config, tiny_dataset, tmp_path, objective=counting).tune_hyperparameters(method, 7)
    assert len(calls) == 7


def test_a_trial_left_running_by_a_killed_run_is_not_counted(tiny_config, tiny_dataset, tmp_path):
    t = tuner(tiny_config, tiny_dataset, tmp_path)
    t.tune_hyperparameters("random", n_trials=2)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / JOURNAL_FILE)))
    optuna.load_study(study_name=t.study_name("random"), storage=storage).ask()   # never told
    r = tuner(tiny_config, tiny_dataset, tmp_path).tune_hyperparameters("random", n_trials=4)
    assert r.n_complete == 4 and r.n_running == 1 and len(r.trials) == 5


def test_keyboard_interrupt_then_resume(tiny_config, tiny_dataset, tmp_path):
    calls = []

    def interrupted_at_third(hp):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return quadratic(hp)

    with pytest.raises(KeyboardInterrupt):
        tuner(tiny_config, tiny_dataset, tmp_path, objective=interrupted_at_third
              ).tune_hyperparameters("bayesian", n_trials=6)
    r = tuner(tiny_config, tiny_dataset, tmp_path).tune_hyperparameters("bayesian", n_trials=6)
    assert r.n_complete + r.n_failed == 6 and r.n_failed == 1 and r.status == "ok"


def test_every_trial_failing_is_a_clear_result(tiny_config, tiny_dataset, tmp_path):
    def boom(hp):
        raise RuntimeError("exploded on purpose")

    r = tuner(tiny_config, tiny_dataset, tmp_path, objective=boom).tune_hyperparameters("random", 3)
    assert r.status == "failed" and r.best_params is None and r.best_value is None
    assert r.n_failed == 3 and r.n_complete == 0 and list(r.trials["state"]) == ["FAIL"] * 3
    assert "no trial completed" in r.message and "exploded on purpose" in r.message
    assert r.hyperparameters == default_hyperparameters(tiny_config.models,
                                                        tiny_config.training_config)


def test_non_finite_values_fail_and_the_study_goes_on(tiny_config, tiny_dataset, tmp_path):
    values = iter([float("nan"), float("inf"), 2.0, 1.0])
    r = tuner(tiny_config, tiny_dataset, tmp_path, objective=lambda hp: next(values)
              ).tune_hyperparameters("random", 4)
    assert r.status == "ok" and (r.n_failed, r.n_complete) == (2, 2) and r.best_value == 1.0
    assert list(r.trials["state"]) == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert r.trials["error"][1] == "non-finite objective value inf"


def test_bad_arguments_are_one_line_value_errors(tiny_config, tiny_dataset, tmp_path):
    t = tuner(tiny_config, tiny_dataset, tmp_path)
    with pytest.raises(ValueError, match=r"^method='annealing' is invalid: allowed one of "
                                         r"\['random', 'grid', 'bayesian'\]$"):
        t.tune_hyperparameters("annealing", 3)
    with pytest.raises(ValueError, match="^n_trials=0 is invalid"):
        t.tune_hyperparameters("random", 0)
    with pytest.raises(ValueError, match="^model_type='gbm' is invalid: allowed one of"):
        HyperparameterTuner(tiny_config, tiny_dataset, "gbm", BUDGET, 0)
    assert not (tmp_path / JOURNAL_FILE).exists()


def test_defaults_come_from_the_config(tiny_dataset, tmp_path, tiny_config):
    cfg = tiny_config.with_overrides(tuning_method="grid", n_hyperparameter_trials=2)
    r = tuner(cfg, tiny_dataset, tmp_path, space=SMALL).tune_hyperparameters()
    assert r.method == "grid" and len(r.trials) == 2
    assert r.study_name == f"tune-direct_mlp-b{BUDGET}-s0-grid"


def test_objective_is_a_plain_function_of_a_fixed_trial(tiny_config, tiny_dataset, tmp_path):
    t = tuner(tiny_config, tiny_dataset, tmp_path, "residual_mlp")
    fixed = optuna.trial.FixedTrial({"learning_rate": 1e-3, "batch_size": 64, "dropout_rate": 0.2,
                                     "mlp_hidden_dims": encode_widths([128, 64])})
    hp = t.suggest(fixed)
    assert hp["mlp_hidden_dims"] == [128, 64] == hp["residual_mlp_hidden_dims"]
    assert t._objective(fixed) == pytest.approx(quadratic(hp))


def test_space_errors_are_config_errors():
    with pytest.raises(ConfigError):
        HyperparameterSpace(batch_sizes=[0])


def test_a_cpu_budget_that_buys_no_split_is_one_reason_and_no_trials(tiny_config, tiny_dataset,
                                                                      tmp_path, capfd):
    """A CPU budget too small for the strategy (one surface: no validation surface) fails the
    tuning at once with the allocation's one-line reason, not one traceback per trial."""
    t = HyperparameterTuner(tiny_config, tiny_dataset, "residual_mlp", "surfaces@1%",
                            study_dir=tmp_path)
    r = t.tune_hyperparameters("random", 3)
    assert r.status == "failed" and r.n_complete == r.n_failed == 0 and r.trials.empty
    assert r.message.startswith("no trial run: ValueError: hf_cpu_budget=")
    assert "is invalid for allocation 'surfaces'" in r.message
    assert r.message.endswith("use the default hyperparameters")
    assert "Traceback" not in capfd.readouterr().err
