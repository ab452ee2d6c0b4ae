"""What a run's tasks cost, in worker-seconds, before anything is computed (issue 40, item 1).

The rule, one task at a time (each task runs on one single-threaded worker, one core):

* a **data chunk**: ``chunk_s`` + per surface ``surface_s`` + ``path_step_s`` x its Monte
  Carlo path-steps (paths x time steps to the last maturity, the engine's step rule);
* a **fit** (one ensemble member of a cell, or one tuning trial): ``fit_s`` + per optimizer
  step ``step_s`` + ``mac_s`` x batch size x the model's multiply-adds per sample
  (:func:`macs_per_sample`, a size proxy of its layers) + per epoch ``epoch_s``
  (validation pass, callbacks). A fit is priced as it is trained: the batch size, steps
  per epoch, epoch cap and patience are those of the training's own rule,
  sabr.learning.step_budget.effective_training (the step floors; for a large cell a batch
  grown to ceil(n_train / max_steps_per_epoch), at most max_batch_size, and an epoch cap
  lowered so that epochs x steps per epoch <= max_steps, the patience with it). The epochs
  it runs: early stopping at patience + ``early_stop`` x (cap - patience)
  (``early_stop_tune`` for tuning trials, which pruning also stops), so its expected steps
  never exceed the step cap (but where a single epoch is longer than it);
* a **training** task: ``train_task_s`` (its process, data, saving) + its members' fits +
  their test-set predictions (a forward pass: a third of a training sample's ``mac_s``); a **tuning**: ``tune_task_s`` + trials x one fit at the tuning's caps; an
  **acquisition**: ``acquire_task_s``; the run: ``flow_s`` (cluster start, assembly,
  aggregation).

The tuned batch size and widths are not known before the run: a fit's cost is its mean
over the search space's choices (random tuning picks any of them), each choice through the
rule above. The coefficients are fitted by non-negative least squares on relative errors
(``scipy.optimize.nnls``) from a finished output folder's own records
(:func:`fit_folders`): per-surface seconds and path-steps (data/metadata.json), each
cell's fit seconds, steps and epochs at the batch it applied (exp_*/cost_* config.json's
``training`` and metrics.json's ``train_batch_size``; a folder of an earlier version, which
records neither, trained at its tuned ``hyperparameters``), each tuning trial's duration
and epochs (the Optuna journals; its batch and caps by the rule on the run's training
section, the rule off where that section predates it), and per stage task time (the
newest logs/run-*.json). No Prefect, no TensorFlow.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .learning.step_budget import EffectiveTraining, effective_training
from .model_types import MODEL_TYPES

__all__ = ["CostModel", "DEFAULT_COST_MODEL", "FitRecord", "ExpectedFit", "macs_per_sample",
           "fit_cost", "expected_fits", "expected_fit_cost", "fit_linear", "fit_records",
           "fit_folders", "refit"]


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work (see the module doc); ``source`` says where they came from."""

    path_step_s: float
    surface_s: float
    chunk_s: float
    fit_s: float
    step_s: float
    mac_s: float
    epoch_s: float
    early_stop: float
    early_stop_tune: float
    train_task_s: float
    tune_task_s: float
    acquire_task_s: float
    flow_s: float
    source: str = "defaults"

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_COST_MODEL = CostModel(
    # fit_folders() of these three finished runs of this machine (2 cores; records of
    # 228 cells, 229 tuning trials, 1120 surfaces), to 3 digits, at commit 14dd2f1:
    # /work/runs/study/after (the 1000-theta pool, 160 cells of the four
    # models, 2 budgets x 20 seeds, 8 tunings, snapshot of the 2026-12-07 small-budget
    # study), /work/runs/baseA and /work/runs/qb (the quick profile, 32 cells, 16 tunings).
    # acquire_task_s is a guess (no adaptive run measured): the training task's overhead.
    path_step_s=2.24e-08, surface_s=0.0547, chunk_s=0.448, fit_s=1.56, step_s=1.37e-03,
    mac_s=5.35e-11, epoch_s=1.09e-02, early_stop=0.314, early_stop_tune=0.229,
    train_task_s=1.72, tune_task_s=1.22, acquire_task_s=1.72, flow_s=8.0,
    source="defaults (fitted on runs/study/after, runs/baseA, runs/qb at commit 14dd2f1)")
"""The coefficients a plan uses when its output folder holds no finished run."""


# ------------------------------------------------------------------ one fit
def _conv(patch, filters) -> tuple[float, int]:
    h, w = patch
    total, cin = 0.0, 1
    for f in filters:
        total, cin = total + h * w * 9 * cin * int(f), int(f)
    return total, cin


def _dense(n_in: int, widths) -> tuple[float, int]:
    total = 0.0
    for w in widths:
        total, n_in = total + n_in * int(w), int(w)
    return total, n_in


def macs_per_sample(model_type: str, patch_size, hp: dict) -> float:
    """Multiply-adds of one sample's forward pass, a size proxy (sabr.learning.models): a
    3x3 same-padded Conv2D stack over the patch when the model reads ``patch``, a dense
    stack over its point features when it reads ``features`` or ``params`` (the widths it
    reads, ``reads_as``), and mda_cnn's fusion layers. A registered model type of your own
    is costed by its inputs the same way."""
    t = MODEL_TYPES.get(model_type)
    inputs = t.inputs if t is not None else ("features",)
    widths_key = dict(t.reads_as).get("mlp_hidden_dims", "mlp_hidden_dims") if t else \
        "mlp_hidden_dims"
    total, outs = 0.0, 0
    if "patch" in inputs:
        macs, c = _conv(patch_size, hp.get("cnn_filters", (32,)))
        total, outs = total + macs, outs + c
    for name, n_in in (("features", 7), ("params", 6)):
        if name in inputs:
            macs, m = _dense(n_in, hp.get(widths_key, (64, 64)))
            total, outs = total + macs, outs + m
    if "patch" in inputs and len(inputs) > 1:           # mda_cnn's dense fusion
        w = int(hp.get("mlp_hidden_dims", (64,))[-1])
        total, outs = total + outs * w + w * w, w
    return total + outs


def fit_cost(cm: CostModel, *, epochs: int, steps: int, batch: int, macs: float) -> float:
    """Seconds of one fit that runs ``epochs`` epochs of ``steps`` optimizer steps in all."""
    return cm.fit_s + steps * (cm.step_s + cm.mac_s * batch * macs) + epochs * cm.epoch_s


def expected_epochs(cap: int, patience: int, early_stop: float) -> float:
    """Epochs a fit is expected to run: early stopping at patience + early_stop x (cap -
    patience), at most the cap."""
    patience = min(patience, cap)
    return min(cap, patience + early_stop * (cap - patience))


def _choices(model_type: str, space, model_config) -> list[dict]:
    """Every combination of the search space's batch sizes and the widths this model type
    tunes (the others as configured)."""
    t = MODEL_TYPES.get(model_type)
    tuned = set(t.tuned_parameters) if t is not None else set()
    base = {"cnn_filters": tuple(model_config.cnn_filters),
            "mlp_hidden_dims": tuple(model_config.mlp_hidden_dims),
            "residual_mlp_hidden_dims": tuple(model_config.residual_mlp_hidden_dims)}
    axes = {"batch_size": tuple(space.batch_sizes)}
    for name in ("cnn_filters", "mlp_hidden_dims"):
        if name in tuned:
            axes[name] = tuple(tuple(w) for w in getattr(space, name))
    out = []
    for values in product(*axes.values()):
        hp = {**base, **dict(zip(axes, values))}
        for p, reads in (t.reads_as if t is not None else ()):
            hp[reads] = hp[p]
        out.append(hp)
    return out


@dataclass(frozen=True)
class ExpectedFit:
    """One choice of the search space, priced: its hyperparameters ``hp``, what the training
    applies to it (``applied``, sabr.learning.step_budget.effective_training), the epochs
    and optimizer steps it is expected to run, and its ``seconds``."""

    hp: dict
    applied: EffectiveTraining
    epochs: float
    steps: float
    seconds: float


def expected_fits(cm: CostModel, model_type: str, n_train: int, training, space, model_config,
                  *, tuning: bool = False) -> list[ExpectedFit]:
    """Each choice of the search space (batch sizes x the widths this model type tunes) as a
    fit of ``n_train`` points is trained (module doc): batch, steps per epoch, epoch cap and
    patience by effective_training(n_train, hp, training, tuning=tuning), then early
    stopping at patience + ``early_stop`` x (cap - patience) (``early_stop_tune`` for a
    tuning trial). ``training``: the training section (floors, step cap, batch rule)."""
    stop = cm.early_stop_tune if tuning else cm.early_stop
    out = []
    for hp in _choices(model_type, space, model_config):
        # the learning rate does not change the cost; the rule needs one to scale
        e = effective_training(n_train, {"learning_rate": training.learning_rate, **hp},
                               training, tuning=tuning)
        ep = expected_epochs(e.epochs, e.patience, stop)
        steps = ep * e.steps_per_epoch
        out.append(ExpectedFit(hp, e, ep, steps, fit_cost(
            cm, epochs=ep, steps=steps, batch=e.batch_size,
            macs=macs_per_sample(model_type, model_config.patch_size, hp))))
    return out


def expected_fit_cost(cm: CostModel, model_type: str, n_train: int, training, space,
                      model_config, *, tuning: bool = False, how: str = "mean") -> float:
    """A fit's seconds, the mean (``how='mean'``) or the most (``'max'``) of
    :func:`expected_fits` over the search space's choices (each priced at the batch, steps
    and caps the training applies to it). A tuning trial is a draw from the space, so the
    mean prices tuning; a cell trains the tuning's pick, which may be the costliest."""
    seconds = [f.seconds for f in expected_fits(cm, model_type, n_train, training, space,
                                                model_config, tuning=tuning)]
    return float(np.max(seconds) if how == "max" else np.mean(seconds))


# ------------------------------------------------------------------ fitting
def fit_linear(features: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Non-negative coefficients c minimising sum(((features @ c - seconds) / seconds)^2)
    (scipy.optimize.nnls on relative errors: a 1 s task and a 100 s task count alike)."""
    from scipy.optimize import nnls
    x, y = np.asarray(features, float), np.asarray(seconds, float)
    keep = np.isfinite(y) & (y > 0) & np.all(np.isfinite(x), axis=1)
    if keep.sum() < x.shape[1]:
        raise ValueError(f"{int(keep.sum())} timing records are too few to fit "
                         f"{x.shape[1]} coefficients; allowed at least {x.shape[1]}")
    return nnls(x[keep] / y[keep, None], np.ones(int(keep.sum())))[0]


@dataclass
class FitRecord:
    """One measured fit (or M of them: a cell's ensemble): ``seconds`` in all."""

    seconds: float
    fits: int
    epochs: float
    steps: float
    batch: int
    macs: float


@dataclass
class _Records:
    fits: list = field(default_factory=list)
    cell_stops: list = field(default_factory=list)
    trial_stops: list = field(default_factory=list)
    surfaces: list = field(default_factory=list)       # (path_steps, seconds)
    eval_macs: float = 0.0                              # test predictions' multiply-adds
    folders: list = field(default_factory=list)         # (last run, seconds inside stages)
    overheads: dict = field(default_factory=lambda: {k: [] for k in (
        "chunk_s", "train_task_s", "tune_task_s", "flow_s")})
    counts: dict = field(default_factory=lambda: {"cells": 0, "trials": 0, "surfaces": 0})


def fit_records(fits: list[FitRecord]) -> dict:
    """fit_s, step_s, mac_s, epoch_s from measured fits (:func:`fit_linear`)."""
    x = np.array([[r.fits, r.steps, r.steps * r.batch * r.macs, r.epochs] for r in fits], float)
    c = fit_linear(x, np.array([r.seconds for r in fits], float))
    return dict(zip(("fit_s", "step_s", "mac_s", "epoch_s"), (float(v) for v in c)))


def _stop_fraction(epochs_run: float, cap: int, patience: int) -> float | None:
    if cap <= patience:
        return None
    return float(np.clip((epochs_run - patience) / (cap - patience), 0.0, 1.0))


def _last_run(out: Path) -> dict | None:
    """The newest logs/run-*.json of an output folder (config, wall_seconds, summary)."""
    logs = sorted((out / "logs").glob("run-*.json"))
    for path in reversed(logs):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def _applied_cell(config: dict, metrics: dict) -> tuple[int, int, int | None, int]:
    """(batch size, steps per epoch, epoch cap, patience) a finished cell trained with: the
    applied values its config.json records under ``training`` (metrics.json's
    ``train_batch_size``, ``steps_per_epoch``), else, in a folder of an earlier version that
    applied no batch rule, its tuned ``hyperparameters``' batch size with steps per epoch
    ceil(n_train / batch); the cap and patience its config.json's ``epochs`` and
    ``early_stopping_patience`` (after the floors and the step cap; None: not recorded)."""
    applied = config.get("training") or {}
    hp = config.get("hyperparameters") or {}
    batch = int(applied.get("batch_size") or metrics.get("train_batch_size")
                or hp.get("batch_size", 64))
    spe = int(applied.get("steps_per_epoch") or metrics.get("steps_per_epoch")
              or config.get("steps_per_epoch") or max(1, -(-int(metrics["n_train"]) // batch)))
    cap = applied.get("epochs", config.get("epochs"))
    patience = applied.get("patience", config.get("early_stopping_patience", 0))
    return batch, max(1, spe), None if cap is None else int(cap), int(patience)


_RULE_OFF = {"max_steps": 0, "max_steps_per_epoch": 0}


def _training_section(tc: dict) -> SimpleNamespace:
    """A logged run's training section as effective_training reads it; the step cap and
    the batch rule off where it predates them (what its fits were trained with)."""
    return SimpleNamespace(**{"epochs": 200, "tuning_epochs": 30, "early_stopping_patience": 20,
                              "min_steps": 0, "min_tuning_steps": 0, "min_patience_steps": 0,
                              "learning_rate": 1e-3, "max_batch_size": 1024, **_RULE_OFF,
                              **tc})


def _read_cells(out: Path, rec: _Records) -> dict:
    """Each finished cell's fits; returns {(budget, model): n_train} for the tunings."""
    from .cells import cell_folders
    n_train = {}
    for folder in cell_folders(out):
        try:
            c = json.loads((folder / "config.json").read_text())
            m = json.loads((folder / "metrics.json").read_text())
        except (OSError, ValueError):
            continue
        if m.get("status") != "ok" or not m.get("train_seconds"):
            continue
        hp, members = c.get("hyperparameters") or {}, int(c.get("ensemble_size", 1))
        batch, spe, cap, patience = _applied_cell(c, m)
        ep = int(m["epochs_run"])
        macs = macs_per_sample(c["model_type"], c.get("patch_size", (9, 9)), hp)
        rec.fits.append(FitRecord(float(m["train_seconds"]), members, members * ep,
                                  members * ep * spe, batch, macs))
        stop = _stop_fraction(ep, ep if cap is None else cap, patience)
        if stop is not None:
            rec.cell_stops.append(stop)
        n_train[(str(c["budget"]), c["model_type"])] = int(m["n_train"])
        rec.eval_macs += members * int(m.get("n_test", 0)) * macs
        rec.counts["cells"] += 1
    return n_train


def _read_trials(out: Path, rec: _Records, n_train: dict, cfg: dict | None) -> float:
    """Each finished tuning trial of the Optuna journals under tuning/; returns the trials'
    seconds in all."""
    folders = sorted(p for p in (out / "tuning").glob("*") if (p / "optuna_journal.log").is_file())
    if not folders or cfg is None:
        return 0.0
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tc, mc = cfg.get("training_config", {}), cfg.get("model_config", {})
    section = _training_section(tc)
    total = 0.0
    by_name = {_tuning_name(*k): k for k in n_train}
    for folder in folders:
        key = by_name.get(folder.name)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder / "optuna_journal.log")))
        for name in optuna.get_all_study_names(storage):
            for t in optuna.load_study(study_name=name, storage=storage).trials:
                if t.datetime_complete is None or t.datetime_start is None:
                    continue
                seconds = (t.datetime_complete - t.datetime_start).total_seconds()
                total += seconds
                if key is None or not t.intermediate_values:
                    continue
                hp = _trial_hp(key[1], {**mc, **t.params})
                # the trial as the tuning trained it: the training's rule on its n_train
                e = effective_training(n_train[key], {
                    "batch_size": tc.get("batch_size", 64), "learning_rate": section.learning_rate,
                    **hp}, section, tuning=True)
                ep = len(t.intermediate_values)
                rec.fits.append(FitRecord(seconds, 1, ep, ep * e.steps_per_epoch, e.batch_size,
                                          macs_per_sample(key[1], mc.get("patch_size", (9, 9)),
                                                          hp)))
                stop = _stop_fraction(ep, e.epochs, e.patience)
                if stop is not None:
                    rec.trial_stops.append(stop)
                rec.counts["trials"] += 1
    return total


def _trial_hp(model_type: str, hp: dict) -> dict:
    """A trial's hyperparameters as its builder reads them: widths from their '32-64'
    spelling, and under the names the model type reads them (``reads_as``)."""
    hp = dict(hp)
    for p in ("cnn_filters", "mlp_hidden_dims"):
        if isinstance(hp.get(p), str):
            hp[p] = [int(w) for w in hp[p].split("-")]
    t = MODEL_TYPES.get(model_type)
    for p, reads in (t.reads_as if t is not None else ()):
        hp[reads] = hp.get(p, hp.get(reads))
    return hp


def _tuning_name(budget: str, model: str) -> str:
    """The tuning folder's name of (budget, model), as sabr.plan names it."""
    from .budget_labels import budget_name
    b = int(budget) if budget.isdigit() else budget
    return f"{model}_{budget_name(b).replace('=', '').replace('/', '-')}"


def _read_surfaces(out: Path, rec: _Records) -> float:
    try:
        meta = json.loads((out / "data" / "metadata.json").read_text())
        secs = np.asarray(meta["hf_seconds_per_surface"], float)
        steps = np.asarray(meta["path_steps_per_surface"], float)
    except (OSError, ValueError, KeyError):
        return 0.0
    rec.surfaces.extend(zip(steps.tolist(), secs.tolist()))
    rec.counts["surfaces"] += int(secs.size)
    return float(secs.sum())


def _read_stages(run: dict | None, rec: _Records, inside: dict, cm: CostModel) -> None:
    """Per-task overheads: a stage's task time less the work inside it (fits, test
    predictions, surfaces), per task, from the last run's stage timings (only stages it
    computed in full)."""
    stages = ((run or {}).get("summary") or {}).get("timings", {}).get("stages", {})
    inside = {**inside, "train": inside["train"] + inside["eval_macs"] * cm.mac_s / 3}
    for stage, key in (("generate", "chunk_s"), ("train", "train_task_s"), ("tune", "tune_task_s")):
        st = stages.get(stage) or {}
        if st.get("computed") and not st.get("cached") and inside[stage] > 0:
            rec.overheads[key].append(max(0.0, (st["task_wall_s"] - inside[stage]) / st["computed"]))
    if stages:
        first = min((s.get("starts_after_s") for s in stages.values()
                     if s.get("starts_after_s") is not None), default=0.0)
        rec.overheads["flow_s"].append(first + sum(
            (stages.get(s) or {}).get("task_wall_s", 0.0) for s in ("assemble", "aggregate")))


def _read_folder(out: Path, rec: _Records) -> None:
    run = _last_run(out)
    n_fits, eval_macs = len(rec.fits), rec.eval_macs
    n_train = _read_cells(out, rec)
    fit_seconds = sum(r.seconds for r in rec.fits[n_fits:])
    trials = _read_trials(out, rec, n_train, (run or {}).get("config"))
    rec.folders.append((run, {"generate": _read_surfaces(out, rec), "train": fit_seconds,
                              "tune": trials, "eval_macs": rec.eval_macs - eval_macs}))


def fit_folders(folders, base: CostModel = DEFAULT_COST_MODEL) -> tuple[CostModel, dict]:
    """The cost model refitted from finished output folders' records (see the module doc),
    each coefficient from the records that measure it, ``base``'s where none does; and the
    counts of records used ({"cells", "trials", "surfaces"})."""
    rec = _Records()
    for out in folders:
        _read_folder(Path(out), rec)
    new = {}
    if len(rec.fits) >= 8:
        new.update(fit_records(rec.fits))
    if len(rec.surfaces) >= 2:
        s = np.array(rec.surfaces, float)
        c = fit_linear(np.c_[s[:, 0], np.ones(len(s))], s[:, 1])
        new.update(path_step_s=float(c[0]), surface_s=float(c[1]))
    if rec.cell_stops:
        new["early_stop"] = float(np.mean(rec.cell_stops))
    if rec.trial_stops:
        new["early_stop_tune"] = float(np.mean(rec.trial_stops))
    for run, inside in rec.folders:
        _read_stages(run, rec, inside, replace(base, **new))
    for key, values in rec.overheads.items():
        if values:
            new[key] = float(np.mean(values))
    if not new:
        return base, dict(rec.counts)
    names = ", ".join(str(Path(f)) for f in folders)
    return replace(base, **new, source=f"refitted from {names}"), dict(rec.counts)


def refit(output_dir) -> tuple[CostModel, dict]:
    """The defaults refitted from ``output_dir``'s own records when it holds a finished
    run (some cell with metrics, or a data set with timings), else the defaults."""
    return fit_folders([output_dir])


def seconds_label(seconds: float) -> str:
    """'42 s', '12.5 min', '3.2 h'."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
