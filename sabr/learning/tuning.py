"""Hyperparameter tuning of one (model, budget) with Optuna, on validation points only.

Tuning runs on the tuning replicate (sabr.data.budgets.TUNING_REPLICATE): its own point
order of the budget's size and its own initialisation stream, never a reported seed,
so the seeds that are reported stay exchangeable (docs/DESIGN.md, "Tuning").

``HyperparameterTuner.tune_hyperparameters`` searches a :class:`HyperparameterSpace`
with Optuna's RandomSampler (``random``), GridSampler (``grid``) or TPESampler
(``bayesian``), all seeded from what the cell is (``sabr.learning.training.cell_seed``). The
default objective trains on the budget's training points for
``training_config.tuning_epochs`` epochs and returns the best validation MSE in bp^2
(vol errors x 1e4, squared); the test set is never used. A MedianPruner stops poor
trials early. The study lives in an Optuna journal file (``study_dir/optuna_journal.log``)
under a deterministic name, so an interrupted tuning resumes and counts what was done.
A trial that raises or returns NaN/inf is recorded as failed and the study goes on.

To add a tuning method: add its name to ``sabr.config.TUNING_METHODS`` (what a config
may say) and its entry to ``TUNING_METHOD_REGISTRY`` below (how its Optuna sampler is
made); an import-time check keeps the two equal, and tests/tuning/test_tuner.py runs a
2-trial study with every registered method.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import pandas as pd

from ..model_types import MODEL_NAMES, MODEL_TYPES
from ..settings import TUNING_METHODS
from ..data.budgets import TUNING_REPLICATE
from ..data.dataset import load_dataset
from ..space import (RELEVANT_PARAMETERS, WIDTH_PARAMETERS, HyperparameterSpace, decode_widths,
                     encode_widths)
from .step_budget import effective_training
from .training import (cell_seed, configure_tensorflow, fit_model, fresh_keras_state,
                       prepare_cell_data)

__all__ = ["HyperparameterSpace", "HyperparameterTuner", "TuningResult", "run_tuning",
           "JOURNAL_FILE", "RELEVANT_PARAMETERS", "encode_widths", "decode_widths", "TuningMethod",
           "TUNING_METHOD_REGISTRY"]


def _resume_seed(cell_seed: int, n_existing: int) -> int:
    """A resumed study must not replay the first trials' draws: offset by the trials so far."""
    return int(np.random.SeedSequence([cell_seed, n_existing]).generate_state(1)[0])


@dataclass(frozen=True)
class TuningMethod:
    """A tuning method: ``make_sampler(choices, cell_seed, n_existing)`` returns the Optuna
    sampler of a study with categorical ``choices`` (HyperparameterSpace.choices) that already
    holds ``n_existing`` trials; ``exhaustive`` caps the trials at the grid size."""

    make_sampler: Callable[[dict, int, int], optuna.samplers.BaseSampler]
    exhaustive: bool = False


TUNING_METHOD_REGISTRY: dict[str, TuningMethod] = {
    "random": TuningMethod(lambda choices, seed, n: optuna.samplers.RandomSampler(
        seed=_resume_seed(seed, n))),
    # its shuffled grid order must not change between resumes: seeded by the cell alone
    "grid": TuningMethod(lambda choices, seed, n: optuna.samplers.GridSampler(choices, seed=seed),
                         exhaustive=True),
    "bayesian": TuningMethod(lambda choices, seed, n: optuna.samplers.TPESampler(
        seed=_resume_seed(seed, n), n_startup_trials=5)),
}
assert tuple(TUNING_METHOD_REGISTRY) == TUNING_METHODS, \
    f"sabr.config.TUNING_METHODS {TUNING_METHODS} != registry {tuple(TUNING_METHOD_REGISTRY)}"

JOURNAL_FILE = "optuna_journal.log"
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
             optuna.trial.TrialState.FAIL)


@dataclass
class TuningResult:
    """The outcome of a tuning; ``status`` is "failed" (best_params None) when no trial completed.

    Attributes:
        best_params: full hyperparameter dict for sabr.learning.training.train_and_evaluate, or None.
        best_value: the best objective value (default objective: validation MSE in bp^2).
        trials: one row per trial: number, state, value, the parameters (width lists
            encoded as "32-64"), error, duration_s.
        defaults: the untuned hyperparameters; ``hyperparameters`` falls back to them.
    """

    method: str
    study_name: str
    storage_path: str
    best_params: dict | None
    best_value: float | None
    trials: pd.DataFrame
    n_complete: int
    n_failed: int
    n_pruned: int
    n_running: int
    status: str
    message: str
    defaults: dict = field(default_factory=dict)

    @property
    def hyperparameters(self) -> dict:
        """The best parameters, or the defaults when every trial failed."""
        return dict(self.best_params if self.best_params is not None else self.defaults)


class HyperparameterTuner:
    """Tunes one cell's hyperparameters on its budget's validation points.

    Args:
        base_config: an ExperimentConfig (training_config, model_config, trials, method).
        data: a sabr.data.dataset.Dataset, or the path of a data-set folder (loaded and verified);
            the seed's ``data_loaders`` argument.
        model_type: a key of sabr.learning.models.MODEL_BUILDERS (default "mda_cnn").
        budget: the cell's HF budget, points or a CPU-budget cell's label such as
            'surfaces@120s' (default: data_gen_config.hf_budget, else the smallest of
            hf_budgets); seed: None (default) for the tuning replicate
            (sabr.data.budgets.TUNING_REPLICATE: its own point order and initialisation
            stream, never a reported seed, so every reported seed stays exchangeable),
            or a seed index to tune on that seed's split.
        space: the choices searched (default: the config's hyperparameter_space); study_dir:
            folder of the journal (default: a new temporary folder, so no resume across processes).
    Attributes:
        objective_function: None (train, the default) or any callable hp dict -> value to
            minimise, used instead of training (no pruning then).
    """

    def __init__(self, base_config, data, model_type: str = "mda_cnn", budget: int | None = None,
                 seed: int | None = None, *, space: HyperparameterSpace | None = None,
                 study_dir: str | Path | None = None):
        if model_type not in RELEVANT_PARAMETERS:
            raise ValueError(f"model_type={model_type!r} is invalid: allowed one of "
                             f"{list(MODEL_NAMES)}")
        if isinstance(data, (str, os.PathLike)):
            data = load_dataset(data)
        if budget is None:
            budget = base_config.data_gen_config.hf_budget or min(base_config.hf_budgets)
        self.config, self.data, self.model_type = base_config, data, model_type
        self.budget = budget if isinstance(budget, str) and "@" in budget else int(budget)
        self.seed = TUNING_REPLICATE if seed is None else int(seed)
        self.space = space or base_config.hyperparameter_space
        self.study_dir = Path(study_dir) if study_dir is not None else Path(
            tempfile.mkdtemp(prefix="sabr-tuning-"))
        master = int(data.meta.get("config", {}).get("master_seed", 0))
        self.cell_seed = cell_seed(master, self.budget, self.seed, model_type)
        self.objective_function: Callable[[dict], float] | None = None
        self._cell = None

    # ------------------------------------------------------------------ parameters
    def default_hyperparameters(self) -> dict:
        """The untuned hyperparameters (sabr.learning.models.default_hyperparameters)."""
        from .models import default_hyperparameters
        return default_hyperparameters(self.config.models, self.config.training_config)

    def decode(self, params: dict) -> dict:
        """Optuna params (encoded) -> full hyperparameter dict for train_and_evaluate."""
        hp = self.default_hyperparameters()
        for name, value in params.items():
            hp[name] = decode_widths(value) if name in WIDTH_PARAMETERS else value
        hp.update(learning_rate=float(hp["learning_rate"]), batch_size=int(hp["batch_size"]),
                  dropout_rate=float(hp["dropout_rate"]))
        for tuned, name in MODEL_TYPES[self.model_type].reads_as:
            hp[name] = list(hp[tuned])
        return hp

    def suggest(self, trial) -> dict:
        """The trial's hyperparameters (an optuna Trial or FixedTrial with encoded params)."""
        return self.decode({name: trial.suggest_categorical(name, values)
                            for name, values in self.space.choices(self.model_type).items()})

    # ------------------------------------------------------------------ objectives
    def _cell_data(self):
        if self._cell is None:
            tc = self.config.training_config
            configure_tensorflow(tc.tf_intra_op_threads, tc.tf_inter_op_threads)
            self._cell = prepare_cell_data(self.data, self.model_type, self.budget, self.seed,
                                           self.config.models.patch_size, tc.validation_fraction,
                                           include_test=False)   # tuning never sees the test set
        return self._cell

    def validation_score(self, hp: dict, trial=None) -> float:
        """Best validation MSE (bp^2) of the model trained with ``hp`` on the budget's train points.

        Args:
            hp: hyperparameters (see :meth:`decode`); trial: reports each epoch's validation
                MSE (bp^2) to Optuna and raises optuna.TrialPruned when it says so.
        Raises:
            FloatingPointError if training diverged (NaN/inf loss).
        """
        import keras
        from .models import build_model
        cell, tc = self._cell_data(), self.config.training_config
        scale = (cell.normaliser.target_std * 1e4) ** 2      # normalised MSE -> bp^2
        fresh_keras_state()
        keras.utils.set_random_seed(self.cell_seed)
        model = build_model(self.model_type, self.config.models.patch_size, hp, seed=self.cell_seed)
        callbacks = [] if trial is None else [_pruning_callback(trial, scale)]
        # the training's own rule (sabr.learning.step_budget): a trial of a large cell is
        # judged at the batch, learning rate and step cap its cell will be trained with
        applied = effective_training(len(cell.y["train"]), hp, tc, tuning=True)
        hist = fit_model(model, cell, applied.hyperparameters(hp), epochs=applied.epochs,
                         patience=applied.patience, extra_callbacks=callbacks,
                         seed=self.cell_seed)
        loss = np.asarray(hist.history.get("loss", []), float)
        val = np.asarray(hist.history.get("val_loss", []), float)
        if loss.size == 0 or not np.all(np.isfinite(loss)) or not np.any(np.isfinite(val)):
            raise FloatingPointError("diverged: non-finite training or validation loss")
        return float(np.nanmin(val) * scale)

    def _objective(self, trial) -> float:
        hp = self.suggest(trial)
        try:
            if self.objective_function is not None:
                value = float(self.objective_function(dict(hp)))
            else:
                value = self.validation_score(hp, trial)
        except optuna.TrialPruned:
            raise
        except Exception as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            raise
        if not math.isfinite(value):              # optuna records a NaN value as FAIL
            trial.set_user_attr("error", f"non-finite objective value {value}")
            return float("nan")
        return value

    # ------------------------------------------------------------------ the study
    def study_name(self, method: str) -> str:
        """Deterministic: the same cell and method resume the same study."""
        rep = "tuning" if self.seed == TUNING_REPLICATE else f"s{self.seed}"
        return f"tune-{self.model_type}-b{self.budget}-{rep}-{method}"

    def _sampler(self, method: str, n_existing: int):
        return TUNING_METHOD_REGISTRY[method].make_sampler(self.space.choices(self.model_type),
                                                           self.cell_seed, n_existing)

    def tune_hyperparameters(self, method: str | None = None, n_trials: int | None = None
                             ) -> TuningResult:
        """Run (or resume) the study until ``n_trials`` trials have finished.

        Args:
            method: "random", "grid" or "bayesian" (default: the config's tuning_method).
            n_trials: finished trials wanted, earlier runs of the study included (default: the
                config's n_hyperparameter_trials); ``grid`` caps it at the grid size.
        Returns:
            a TuningResult; status "failed" with a message when no trial completed.
        """
        method = self.config.tuning_method if method is None else method
        if method not in TUNING_METHOD_REGISTRY:
            raise ValueError(f"method={method!r} is invalid: allowed one of {list(TUNING_METHODS)}")
        n_trials = self.config.n_hyperparameter_trials if n_trials is None else n_trials
        if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
            raise ValueError(f"n_trials={n_trials!r} is invalid: allowed an integer >= 1")
        if TUNING_METHOD_REGISTRY[method].exhaustive:
            n_trials = min(int(n_trials), self.space.grid_size(self.model_type))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study_dir.mkdir(parents=True, exist_ok=True)
        path = self.study_dir / JOURNAL_FILE
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(path)))
        name = self.study_name(method)
        existing = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                       load_if_exists=True).get_trials(deepcopy=False)
        study = optuna.load_study(study_name=name, storage=storage,
                                  sampler=self._sampler(method, len(existing)),
                                  pruner=optuna.pruners.MedianPruner(n_startup_trials=2,
                                                                     n_warmup_steps=1))
        remaining = int(n_trials) - sum(t.state in _FINISHED for t in existing)
        if remaining > 0 and self.objective_function is None:
            try:                      # a budget that buys no split: one reason, no trials
                self._cell_data()
            except ValueError as err:
                return self._result(study, method, str(path), skipped=str(err))
        if remaining > 0:
            study.optimize(self._objective, n_trials=remaining, catch=(Exception,))
        return self._result(study, method, str(path))

    def _result(self, study, method: str, path: str, skipped: str | None = None) -> TuningResult:
        trials = study.get_trials(deepcopy=False)
        S = optuna.trial.TrialState
        count = {s: sum(t.state == s for t in trials) for s in S}
        rows = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params,
                 "error": t.user_attrs.get("error"),
                 "duration_s": t.duration.total_seconds() if t.duration else None} for t in trials]
        table = pd.DataFrame(rows, columns=["number", "state", "value",
                                            *RELEVANT_PARAMETERS[self.model_type], "error",
                                            "duration_s"])
        n_done = count[S.COMPLETE] + count[S.FAIL] + count[S.PRUNED]
        base = dict(method=method, study_name=study.study_name, storage_path=path, trials=table,
                    n_complete=count[S.COMPLETE], n_failed=count[S.FAIL], n_pruned=count[S.PRUNED],
                    n_running=count[S.RUNNING], defaults=self.default_hyperparameters())
        if count[S.COMPLETE] == 0:
            errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
            why = f"; first error: {errors[0]}" if errors else ""
            what = (f"no trial run: ValueError: {skipped}" if skipped is not None else
                    f"no trial completed: {count[S.FAIL]} failed, {count[S.PRUNED]} pruned of "
                    f"{n_done}{why}")
            return TuningResult(best_params=None, best_value=None, status="failed",
                                message=f"{what}; use the default hyperparameters", **base)
        best = study.best_trial
        return TuningResult(best_params=self.decode(best.params), best_value=float(best.value),
                            status="ok", message=(f"best of {count[S.COMPLETE]} completed trials "
                                                  f"({count[S.FAIL]} failed, {count[S.PRUNED]} "
                                                  f"pruned): trial {best.number}"), **base)


def run_tuning(settings_json: str, data, model_type: str, budget: int, study_dir: str | Path
              ) -> TuningResult:
    """Tune one (budget, model) on the tuning replicate with the configuration's method and
    trials: what the flow's tune task runs (in its worker's TensorFlow process).
    ``settings_json``: a :class:`sabr.settings.TuningSettings` as JSON (the sections tuning
    reads);
    ``data``: as for HyperparameterTuner."""
    from ..settings import TuningSettings
    cfg = TuningSettings.model_validate_json(settings_json)
    tuner = HyperparameterTuner(cfg, data, model_type, budget, TUNING_REPLICATE,
                                space=cfg.hyperparameter_space, study_dir=study_dir)
    return tuner.tune_hyperparameters(cfg.tuning_method, cfg.n_hyperparameter_trials)


def _pruning_callback(trial, scale: float = 1.0):
    """A keras Callback reporting val_loss x scale per epoch; raises optuna.TrialPruned when told."""
    import keras

    class _Pruning(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get("val_loss")
            if value is None or not math.isfinite(float(value)):
                return
            trial.report(float(value) * scale, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

    return _Pruning()
