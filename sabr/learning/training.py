"""Train and score one cell (model, budget, seed).

``train_and_evaluate`` picks the budget's HF points (sabr.data.budgets), builds the
inputs (sabr.data.patches) with normalisation from the training points only, fits
the model with Adam on the MSE of normalised targets, early stopping on the
budget's validation points (best weights restored) and ``TerminateOnNaN``, then
scores the fixed test set (sabr.learning.metrics). How long a fit may train, and a large
cell's batch size and learning rate, are sabr.learning.step_budget's rule (step floors;
square-root batch scaling and a cap of optimizer steps), a function of the cell's
training points and hyperparameters only. A diverged cell returns
``status = "failed"``; it never raises for that.

Randomness: one integer seed per cell, derived from what the cell is
(master seed, budget, seed index, model type), given to
``keras.utils.set_random_seed`` with TensorFlow op determinism on.

Deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017): with ``ensemble_size`` M > 1
a cell trains M members on the same points, each from its own initialisation and
shuffling seed (:func:`member_seed`; member 0 keeps the cell's seed, so an ensemble of
one is the single model). The cell predicts the members' mean; its calibration against
the MC truth is sabr.learning.calibration's: an ensemble's members stop early on half of
the validation thetas and the spread is scaled on the other half. An ``adaptive`` cell (sabr.data.allocations.acquisition)
also has its ensemble score every train-pool theta it did not buy.
"""
from __future__ import annotations

import json
import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.allocations import cell_allocation
from ..data.budgets import TUNING_REPLICATE
from ..data.patches import fit_normaliser, lf_patches, point_features, targets
from ..io import atomic_path, atomic_save_npz, atomic_write_json, atomic_write_text
from .metrics import cell_metrics
from .step_budget import effective_training, step_floors

__all__ = ["configure_tensorflow", "cell_seed", "member_seed", "CellData", "prepare_cell_data",
           "train_and_evaluate", "fit_model", "batches", "predict", "fresh_keras_state",
           "step_floors", "effective_training"]

log = logging.getLogger(__name__)
_TUNING_INIT = 13     # the tuning replicate's initialisation stream
_LABEL_MARK = 2 ** 32 - 7   # before a CPU-budget label's CRC in a cell seed (no point budget is this)


def configure_tensorflow(intra_op_threads: int = 1, inter_op_threads: int = 1,
                         deterministic: bool = True) -> dict:
    """Set TensorFlow's thread pools (before its first op) and op determinism.

    Returns:
        the thread counts actually in force (TF keeps the first values once it has run).
    """
    import tensorflow as tf
    th = tf.config.threading
    for get, set_, want in ((th.get_intra_op_parallelism_threads, th.set_intra_op_parallelism_threads,
                             intra_op_threads),
                            (th.get_inter_op_parallelism_threads, th.set_inter_op_parallelism_threads,
                             inter_op_threads)):
        if get() != want:
            try:
                set_(want)
            except RuntimeError:     # already initialised in this process
                log.warning("TensorFlow threads already initialised; keeping %s", get())
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return {"intra_op_threads": th.get_intra_op_parallelism_threads(),
            "inter_op_threads": th.get_inter_op_parallelism_threads()}


def _budget_key(budget) -> list[int]:
    """A point budget as itself (the seed's cells keep their seeds); a CPU-budget cell's
    label ('surfaces@120s') by its CRC, after a marker no point budget takes."""
    if isinstance(budget, str) and "@" in budget:
        return [_LABEL_MARK, zlib.crc32(budget.encode())]
    return [int(budget)]


def cell_seed(master_seed: int, budget, seed: int, model_type: str) -> int:
    """The cell's integer seed: from what the cell is, not from loop order. ``budget``: a
    point count or a CPU-budget cell's label (sabr.data.allocations.cell_label).

    ``seed = TUNING_REPLICATE`` (sabr.data.budgets) draws from a stream of its own, so the
    tuning replicate never shares an initialisation with a reported seed.
    """
    key = [int(master_seed), *_budget_key(budget), int(seed), zlib.crc32(model_type.encode())]
    if int(seed) == TUNING_REPLICATE:
        key = [int(master_seed), *_budget_key(budget), zlib.crc32(model_type.encode()),
               _TUNING_INIT, 1]
    ss = np.random.SeedSequence(key)
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


def member_seed(seed: int, member: int) -> int:
    """Ensemble member ``member``'s integer seed from its cell's ``seed`` (cell_seed):
    member 0 keeps it, member k > 0 draws from SeedSequence([seed, k])."""
    if int(member) == 0:
        return int(seed)
    ss = np.random.SeedSequence([int(seed), int(member)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


@dataclass
class CellData:
    """Normalised inputs and targets of one cell for train / val / test points."""

    x: dict          # split -> {input name -> array}
    y: dict          # split -> normalised targets (train, val) ; raw for test
    points: dict     # split -> flat point indices
    normaliser: object
    residual: bool
    train_hash: str
    allocation: object = None    # sabr.data.allocations.Allocation: what the labels cost


def _inputs(dataset, points, names, patch_size, norm):
    out = {}
    if "patch" in names:
        out["patch"] = norm.patches(lf_patches(dataset.lf, points, patch_size))[..., None]
    if "features" in names:
        out["features"] = norm.features(point_features(dataset, points))
    if "params" in names:
        f = point_features(dataset, points, with_lf=False)
        out["params"] = ((f - np.array(norm.feature_mean[:6])) / np.array(norm.feature_std[:6])
                         ).astype(np.float32)
    return out


def prepare_cell_data(dataset, model_type: str, budget, seed: int, patch_size,
                      validation_fraction: float = 0.2, *, include_test: bool = True,
                      order=None, normaliser=None) -> CellData:
    """Points of the (budget, seed), model inputs and normalised targets (stats from train only).

    ``budget``: a point count (the seed's axis) or a CPU-budget cell's label such as
    'surfaces@120s' (sabr.data.allocations.cell_allocation). ``include_test=False``
    (tuning) leaves the test points out entirely. ``order``: the thetas an ``adaptive``
    cell's rounds bought (sabr.data.allocations.adaptive). ``normaliser``: use this one
    (a warm-started round keeps the scale its weights were trained on) instead of fitting.
    """
    from ..model_types import MODEL_TYPES
    from .models import MODEL_INPUTS, get_builder
    get_builder(model_type)
    allocation = cell_allocation(dataset, budget, seed, validation_fraction=validation_fraction,
                                 order=order)
    split = allocation.split
    labelled = allocation.labelled(dataset)     # 'paths/D' cells learn prefix labels
    residual = MODEL_TYPES[model_type].residual
    pts = {"train": split.train, "val": split.val}
    if include_test:
        pts["test"] = dataset.test_points()
    names = MODEL_INPUTS[model_type]
    y_train = targets(labelled, split.train, residual=residual)
    norm = normaliser or fit_normaliser(
        point_features(dataset, split.train),
        lf_patches(dataset.lf, split.train, patch_size) if "patch" in names else None, y_train)
    x = {k: _inputs(dataset, p, names, patch_size, norm) for k, p in pts.items()}
    y = {"train": norm.target(y_train),
         "val": norm.target(targets(labelled, split.val, residual=residual))}
    return CellData(x, y, pts, norm, residual, split.hash, allocation)


def _calibration_held_out(data: CellData, mask: np.ndarray) -> tuple[CellData, dict]:
    """The cell's data with only the early-stopping part of its validation points, and the
    calibration part (``mask`` True): {'points', 'x'} (issue 38, item 4)."""
    import dataclasses
    keep = ~mask
    cal = {"points": data.points["val"][mask],
           "x": {k: v[mask] for k, v in data.x["val"].items()}}
    data = dataclasses.replace(
        data, x={**data.x, "val": {k: v[keep] for k, v in data.x["val"].items()}},
        y={**data.y, "val": data.y["val"][keep]},
        points={**data.points, "val": data.points["val"][keep]})
    return data, cal


def batches(x: dict, y=None, batch_size: int = 4096, shuffle_seed: int | None = None,
            autotune: bool = False):
    """A ``tf.data.Dataset`` of (inputs, targets) batches, reshuffled each epoch when
    ``shuffle_seed`` is given (the order then depends on the seed only). ``autotune``:
    tf.data's autotuning on (TensorFlow's default; for benchmarks, see below).

    Keras accepts NumPy arrays too, but its array adapter rebuilds a shuffling
    pipeline every epoch: on a quick-profile cell (160 points, batch 64) that made an
    epoch 185 ms against 50 ms with this pipeline (tests/benchmarks/bench_training.py).

    tf.data's autotuning is off. It starts a thread for every iterator (fit makes two per
    epoch), and with TensorFlow on one core it left the process asleep, every thread
    waiting, about a sixth of the time: an mda_cnn fit took 13.0-13.9 s of wall for
    10.9-11.5 CPU-s, and 10.5-11.3 s for the same CPU-s without it, with the same losses
    bit for bit (tests/benchmarks/bench_training.py, "autotune"). These pipelines are
    slices of arrays in memory, with nothing for it to tune.
    """
    import tensorflow as tf
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle_seed is not None:
        n = len(next(iter(x.values())))
        ds = ds.shuffle(n, seed=int(shuffle_seed), reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.autotune.enabled = bool(autotune)
    return ds.batch(int(batch_size)).with_options(options)


def fit_model(model, data: CellData, hp: dict, *, epochs: int, patience: int,
              extra_callbacks=(), seed: int = 0, steps_per_execution: int | None = None,
              autotune: bool = False):
    """Compile with Adam + MSE and fit with early stopping; returns the History.
    ``seed`` fixes the order of the training points in every epoch.
    ``steps_per_execution``: batches per ``tf.function`` call (None: a whole epoch).
    ``autotune``: tf.data's autotuning on (off by default: see :func:`batches`)."""
    import keras
    bs = int(hp["batch_size"])
    # one tf.function call per epoch instead of one per batch: the same steps in the same
    # order (bit-identical losses), without Python's per-batch round trip; 1.02-1.15x
    # faster fits (tests/benchmarks/bench_training.py, "steps_per_execution")
    steps = steps_per_execution or max(1, -(-len(data.y["train"]) // bs))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(hp["learning_rate"])),
                  loss="mse", steps_per_execution=steps)
    callbacks = [keras.callbacks.TerminateOnNaN(),
                 keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(patience),
                                               restore_best_weights=True)]
    callbacks.extend(extra_callbacks)
    return model.fit(batches(data.x["train"], data.y["train"], bs, shuffle_seed=seed,
                             autotune=autotune),
                     validation_data=batches(data.x["val"], data.y["val"], bs, autotune=autotune),
                     epochs=int(epochs), shuffle=False, verbose=0, callbacks=callbacks)


def predict(model, x: dict, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for inputs ``x``, one number per point.

    Batches of 1024: an mda_cnn's activations for 4096 patches took 580 MiB for a moment
    (the seed-scale test set; 150 MiB at 1024, as fast, and bit-identical outputs: the
    batch size does not enter a point's prediction).

    The model is called eagerly, batch by batch: ``model.predict`` traces a new
    ``tf.function`` for every model, and a run builds hundreds of models (TensorFlow then
    warns of excessive retracing and the tracing costs more than the prediction)."""
    n = len(next(iter(x.values())))
    parts = [np.asarray(model({k: v[i:i + batch_size] for k, v in x.items()}, training=False))
             for i in range(0, n, batch_size)]
    return np.concatenate(parts).ravel() if parts else np.zeros(0)


def fresh_keras_state() -> None:
    """Drop what Keras keeps between models (its global graph state and layer names), so a
    worker's memory does not grow with every cell and trial. Without a forced garbage
    collection: that costs 0.26 s per call (measured), more than a quick cell's training;
    Python's own collector frees the previous model's cycles."""
    import keras
    keras.backend.clear_session(free_memory=False)


def train_and_evaluate(dataset, model_type: str, hyperparameters: dict, budget: int, seed: int,
                       out_dir: str | Path, *, training_config=None, model_config=None,
                       master_seed: int | None = None, ensemble_size: int = 1, order=None,
                       score_pool: bool = False, warm_from: str | Path | None = None,
                       warm_mode: str = "round") -> dict:
    """Train one cell and score it on the test set; write its files into ``out_dir``.

    Args:
        dataset: a sabr.data.dataset.Dataset, or the path of a data-set folder (loaded and
            verified); model_type: a key of sabr.learning.models.MODEL_BUILDERS.
        hyperparameters: learning_rate, batch_size, dropout_rate, cnn_filters,
            mlp_hidden_dims, residual_mlp_hidden_dims (sabr.learning.models.default_hyperparameters).
        budget: HF points (validation included) or a CPU-budget cell's label; seed: seed index.
        out_dir: the cell's folder: config.json, models/model.keras (member k > 0:
            models/member_k.keras), logs/history.csv (logs/history_member_k.csv),
            predictions.npz, metrics.json.
        training_config, model_config: config sections (defaults if None).
        master_seed: defaults to the data set's.
        ensemble_size: members M (module doc); the cell predicts their mean.
        order: what an adaptive cell's rounds bought (sabr.data.allocations.adaptive): the
            thetas (``adaptive``), or {'spread_points', 'rows'} (``adaptive/spread``).
        score_pool: with M >= 2, also score what the cell did not buy, for the next round:
            for ``adaptive`` the train-pool thetas (sabr.data.allocations.acquisition.
            integrated_disagreement; "scores" {"thetas", "disagreement"}), for
            ``adaptive/spread`` every valid pool point left, summed per maturity row
            (sabr.data.allocations.acquisition_points.row_disagreement; "scores" {"thetas", "rows"});
            written to acquisition.npz and returned under "scores", not in metrics.json.
        warm_from: the folder of the cell whose members this one continues, each member from
            that cell's member's weights instead of a fresh initialisation. ``warm_mode``
            'round' (the previous ``adaptive`` round, ExperimentConfig.adaptive_warm_start):
            the saved network as it is, with its normaliser. 'budget' (the next smaller
            budget of the same allocation, training_config.warm_start 'previous_budget';
            sabr.learning.warm): the cell's own network and its own normaliser, fitted on its
            own training points, its weights started at training_config.warm_shrink x the
            source's + warm_perturb x its fresh initialisation (Ash & Adams 2020).
    Returns:
        the metrics dict (also in metrics.json); status "ok" or "failed" with a reason.
        Besides the test metrics (sabr.learning.metrics.cell_metrics) of the members' mean it
        holds the cost of the cell's HF data, train + validation points
        (sabr.data.allocations.Allocation): n_hf_thetas, hf_cpu_seconds (Monte Carlo
        CPU-seconds; docs/DESIGN.md "What HF data costs"), hf_path_steps (the same runs in
        path-steps, paths x time steps: the same on every machine), hf_timed_on (whose
        CPU-seconds: the data set's machines, Dataset.meta["hf_timed_on"]) and hf_paths (the
        Monte Carlo paths behind each label); with M >= 2 the calibration columns
        (sabr.learning.calibration.ensemble_calibration) of the ensemble with its spread
        scaled by spread_scale (fitted on the validation thetas that early stopping does
        not use, sabr.learning.calibration.calibration_split and fit_spread_scale; 1 with a
        single validation theta), n_calibration_thetas and n_calibration_points, the raw
        ensemble's coverage_50_raw, coverage_90_raw and nll_raw, member_rmse_bp (the
        members' mean test RMSE) and member_mse_bp2 (their mean test MSE: what one member
        alone scores, in expectation); ensemble_size always. n_val counts both parts of the
        validation points.
        What the fit was trained with (sabr.learning.step_budget.effective_training; also
        config.json's ``training``): train_batch_size, train_learning_rate (the tuned
        ``hyperparameters`` scaled for a large cell), max_steps (the step cap in force,
        None: none), step_cap_binds (the cap lowered the epoch cap) and
        stopped_at_step_cap (the first member ran to that cap).
    """
    from ..settings import ModelConfig, TrainingConfig
    if isinstance(dataset, (str, Path)):
        from ..data.dataset import load_dataset
        dataset = load_dataset(dataset)
    tc = training_config or TrainingConfig()
    mc = model_config or ModelConfig()
    n_members = int(ensemble_size)
    if n_members < 1 or (score_pool and n_members < 2):
        raise ValueError(f"ensemble_size={ensemble_size} is invalid: allowed >= 1 "
                         f"(>= 2 to score the pool)")
    threads = configure_tensorflow(tc.tf_intra_op_threads, tc.tf_inter_op_threads)
    import keras
    from .models import MODEL_INPUTS, build_model

    out = Path(out_dir)
    master = int(dataset.meta.get("config", {}).get("master_seed", 0)
                 if master_seed is None else master_seed)
    hp = dict(hyperparameters)
    int_seed = cell_seed(master, budget, seed, model_type)
    warm = None
    if warm_mode not in ("round", "budget"):
        raise ValueError(f"warm_mode={warm_mode!r} is invalid: allowed 'round' or 'budget'")
    if warm_from is not None:
        from ..data.patches import Normaliser
        warm = json.loads((Path(warm_from) / "config.json").read_text())
        if int(warm.get("ensemble_size", 1)) != n_members:
            raise ValueError(f"warm_from={str(warm_from)!r} is invalid: it has "
                             f"{warm.get('ensemble_size', 1)} members; allowed a "
                             f"{'round' if warm_mode == 'round' else 'cell'} of {n_members}")
    data = prepare_cell_data(dataset, model_type, budget, seed, mc.patch_size,
                             tc.validation_fraction, order=order,
                             normaliser=None if warm is None or warm_mode == "budget"
                             else Normaliser.from_dict(warm["normaliser"]))
    cal = None
    if n_members > 1:         # the spread is calibrated on thetas early stopping never saw
        from .calibration import calibration_split
        data, cal = _calibration_held_out(data, calibration_split(
            dataset.unravel(data.points["val"])[0], cell_seed(master, budget, seed, model_type)))
        cal["n_thetas"] = int(np.unique(dataset.unravel(cal["points"])[0]).size)
    budget = budget if isinstance(budget, str) else int(budget)
    seeds = [member_seed(int_seed, k) for k in range(n_members)]
    # the step floors, and for a large cell its batch, learning rate and step cap: a rule of
    # n_train and hp only, the same for every allocation (sabr.learning.step_budget)
    applied = effective_training(len(data.y["train"]), hp, tc)
    epochs, patience, spe = applied.epochs, applied.patience, applied.steps_per_epoch
    cell = {"model_type": model_type, "budget": budget, "seed": int(seed),
            "cell_seed": int_seed, "hyperparameters": hp, "epochs": epochs,
            "early_stopping_patience": patience, "steps_per_epoch": spe,
            "training": applied.as_dict(),
            "patch_size": list(mc.patch_size), "dataset_hash": dataset.content_hash,
            "normaliser": data.normaliser.to_dict(), "tf_threads": threads}
    if n_members > 1:
        cell.update({"ensemble_size": n_members, "member_seeds": seeds})
    if order is not None:
        cell["order"] = (order if isinstance(order, dict)
                         else [int(t) for t in order])
    if warm_from is not None:
        cell["warm_from"] = Path(warm_from).name
        if warm_mode == "budget":
            cell["warm_start"] = {"from": Path(warm_from).name, "budget": warm["budget"],
                                  "shrink": tc.warm_shrink, "perturb": tc.warm_perturb}
    atomic_write_json(out / "config.json", cell)

    pool_x = pool_pts = cand = None
    by_rows = isinstance(order, dict)                 # adaptive/spread: score points
    if score_pool:
        from ..data.allocations.acquisition import candidate_points
        from ..data.allocations.acquisition_points import unbought_points
        if by_rows:
            pool_pts = unbought_points(dataset, data.allocation.split.all)
        else:
            bought = np.unique(np.unravel_index(data.allocation.split.all, dataset.shape)[0])
            cand, pool_pts = candidate_points(dataset, bought)
        pool_x = _inputs(dataset, pool_pts, MODEL_INPUTS[model_type], mc.patch_size,
                         data.normaliser)

    def to_sigma(points, pred_n):
        pred = data.normaliser.inverse_target(pred_n)
        return dataset.lf.ravel()[points] + pred if data.residual else pred

    members, val_members, pool_members, histories, reason = [], [], [], [], None
    train_seconds, n_params = 0.0, 0
    for k, member in enumerate(seeds):
        fresh_keras_state()
        keras.utils.set_random_seed(member)
        name = "model" if k == 0 else f"member_{k}"
        if warm is None or warm_mode == "budget":
            model = build_model(model_type, mc.patch_size, hp, seed=member)
        if warm is not None and warm_mode == "budget":    # sabr.learning.warm
            from .warm import warm_weights
            warm_weights(model, Path(warm_from) / "models" / f"{name}.keras",
                         tc.warm_shrink, tc.warm_perturb)
        elif warm is not None:
            model = keras.models.load_model(Path(warm_from) / "models" / f"{name}.keras",
                                            compile=False)
        t0 = time.perf_counter()
        hist = fit_model(model, data, applied.hyperparameters(hp), epochs=epochs,
                         patience=patience, seed=member)
        train_seconds += time.perf_counter() - t0
        history = hist.history
        histories.append(history)
        losses = np.asarray(history.get("loss", []), float)
        sigma_k = to_sigma(data.points["test"], predict(model, data.x["test"]))
        members.append(sigma_k)
        if cal is not None and cal["points"].size:
            val_members.append(to_sigma(cal["points"], predict(model, cal["x"])))
        if pool_x is not None:
            pool_members.append(to_sigma(pool_pts, predict(model, pool_x)))
        n_params = int(model.count_params())
        suffix = "" if k == 0 else f"_member_{k}"
        rows = ["epoch," + ",".join(history)] + [
            ",".join([str(i + 1)] + [repr(float(history[c][i])) for c in history])
            for i in range(losses.size)]
        atomic_write_text(out / "logs" / f"history{suffix}.csv", "\n".join(rows) + "\n")
        if losses.size == 0 or not np.all(np.isfinite(losses)):
            reason = "diverged: NaN/inf training loss (TerminateOnNaN)" + (
                f" in member {k}" if n_members > 1 else "")
            break
        if not np.all(np.isfinite(sigma_k)):
            reason = "non-finite test predictions" + (f" of member {k}" if n_members > 1 else "")
            break
        with atomic_path(out / "models" / f"{'model' if k == 0 else 'member_' + str(k)}.keras") as tmp:
            model.save(tmp)
    status = "ok" if reason is None else "failed"
    sigma = np.mean(members, axis=0)

    metrics = cell_metrics(dataset, data.points["test"], sigma)
    if n_members > 1 and status == "ok":
        from .calibration import ensemble_calibration, fit_spread_scale
        truth = dataset.hf.ravel()[data.points["test"]]
        se = dataset.hf_se.ravel()[data.points["test"]]
        labels = data.allocation.labelled(dataset)       # the validation labels as trained
        scale = fit_spread_scale(np.asarray(val_members), labels.hf.ravel()[cal["points"]],
                                 labels.hf_se.ravel()[cal["points"]]) if val_members else 1.0
        raw = ensemble_calibration(np.asarray(members), truth, se)
        metrics.update(ensemble_calibration(np.asarray(members), truth, se, spread_scale=scale))
        metrics.update({"spread_scale": scale, "n_calibration_thetas": cal["n_thetas"],
                        "n_calibration_points": int(cal["points"].size),
                        "coverage_50_raw": raw["coverage_50"],
                        "coverage_90_raw": raw["coverage_90"], "nll_raw": raw["nll"]})
        member_mse = [float(np.mean((mk - truth) ** 2)) for mk in members]
        metrics["member_rmse_bp"] = float(np.mean(np.sqrt(member_mse))) * 1e4
        metrics["member_mse_bp2"] = float(np.mean(member_mse)) * 1e8
    metrics["ensemble_size"] = n_members
    if status != "ok":
        metrics = {k: (float("nan") if isinstance(v, float) and not k.startswith(("hagan_", "noise"))
                       else v) for k, v in metrics.items()}
    first = histories[0]
    losses = np.asarray(first.get("loss", []), float)
    val_losses = np.asarray(first.get("val_loss", []), float)
    metrics.update({
        "status": status, "reason": reason, "model_type": model_type,
        "budget": budget,
        "seed": int(seed), "n_train": int(data.points["train"].size),
        "n_val": int(data.points["val"].size) + (0 if cal is None else int(cal["points"].size)),
        "n_test": int(data.points["test"].size),
        "n_hf_thetas": data.allocation.n_hf_thetas,
        "hf_cpu_seconds": data.allocation.hf_cpu_seconds,
        "hf_path_steps": data.allocation.hf_path_steps,
        "hf_timed_on": "; ".join(dataset.meta.get("hf_timed_on") or ["not recorded"]),
        "hf_paths": data.allocation.n_paths,
        "train_hash": data.train_hash, "dataset_hash": dataset.content_hash,
        "train_seconds": train_seconds, "epochs_run": int(losses.size),
        "steps_per_epoch": spe, "steps_run": int(losses.size) * spe,
        "train_batch_size": applied.batch_size, "train_learning_rate": applied.learning_rate,
        "max_steps": applied.max_steps, "step_cap_binds": applied.step_cap_binds,
        "stopped_at_step_cap": bool(applied.step_cap_binds and losses.size >= epochs),
        "best_epoch": int(np.nanargmin(val_losses)) + 1 if np.any(np.isfinite(val_losses)) else None,
        "best_val_loss": float(np.nanmin(val_losses)) if np.any(np.isfinite(val_losses)) else None,
        "n_params": n_params, "hyperparameters": hp,
    })
    if warm is not None and warm_mode == "budget":
        metrics["warm_from_budget"] = warm["budget"]
    saved = {"points": data.points["test"], "sigma": sigma}
    if n_members > 1:
        saved["sigma_members"] = np.asarray(members)
    atomic_save_npz(out / "predictions.npz", saved)
    atomic_write_json(out / "metrics.json", metrics)
    if pool_x is not None and status == "ok" and by_rows:
        from ..data.allocations.acquisition_points import row_disagreement
        thetas, rows = row_disagreement(dataset, pool_pts, np.asarray(pool_members))
        atomic_save_npz(out / "acquisition.npz", {"thetas": thetas, "rows": rows})
        return {**metrics, "scores": {"thetas": thetas.tolist(), "rows": rows.tolist()}}
    if pool_x is not None and status == "ok":
        from ..data.allocations.acquisition import integrated_disagreement
        thetas, dis = integrated_disagreement(dataset, pool_pts, np.asarray(pool_members))
        atomic_save_npz(out / "acquisition.npz", {"thetas": thetas, "disagreement": dis})
        return {**metrics, "scores": {"thetas": thetas.tolist(), "disagreement": dis.tolist()}}
    return metrics
