"""Tasks that tune one (budget, model) and train one (budget, model, seed)."""
from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from sabr.budget_labels import budget_name, cell_name
from sabr.plugins import call_with_plugins
from sabr.settings import CellSettings, TuningSettings

from .common import RETRIES, Clock, content_policy, injected_fault, retry_unless_deterministic
from .isolation import run_in_child

__all__ = ["tune_cell", "train_cell"]

TUNING_TRIAL_MIB = 30
"""What one tuning trial may add to a process (a 15-trial seed-scale tuning of mda_cnn at
b=1000 grew a fresh one from about 600 to 1039 MiB): tasks/isolation.py, ``room_mib``."""


@task(name="tune", task_run_name="tune {model_type} b={budget}",
      cache_policy=content_policy("tune"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def tune_cell(settings_json: str, dataset: dict, model_type: str, budget: int | str,
              data_dir: str, study_dir: str, recycle_mib: int = 900) -> dict:
    """Tune on the tuning replicate's points of this budget (never a reported seed's);
    returns hyperparameters. ``settings_json``: sabr.settings.TuningSettings as JSON;
    ``dataset``: the assembly's result (its hashes), the data set in ``data_dir``. The
    trials run in the worker's TensorFlow process (tasks/isolation.py), replaced after a
    task that leaves it above ``recycle_mib`` MiB."""
    from sabr.learning.tuning import run_tuning as tune
    clock = Clock()
    cfg = TuningSettings.model_validate_json(settings_json)
    result, child = run_in_child(tune, settings_json, data_dir, model_type, budget,
                                 study_dir, recycle_mib=recycle_mib,
                                 room_mib=TUNING_TRIAL_MIB * cfg.n_hyperparameter_trials)
    log = get_run_logger()
    if child.get("note"):
        log.warning(child["note"])
    (log.info if result.status == "ok" else log.warning)("%s %s: %s", model_type,
                                                          budget_name(budget), result.message)
    return {"hyperparameters": result.hyperparameters, "status": result.status,
            "best_value": result.best_value, "message": result.message,
            "n_complete": result.n_complete, "n_failed": result.n_failed,
            "n_pruned": result.n_pruned, "timing": clock.read(child)}


@task(name="train", task_run_name="train {model_type} b={budget} s={seed}",
      cache_policy=content_policy("train"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def train_cell(settings_json: str, dataset: dict, model_type: str, budget: int | str, seed: int,
               tuned, data_dir: str, exp_dir: str, ensemble_size: int = 1,
               acquired: dict | None = None, score_pool: bool = False,
               warm_from: str | None = None, warm_source: dict | None = None,
               recycle_mib: int = 900) -> dict:
    """Train and score one cell into ``exp_dir``; returns its metrics (status ok / failed).
    ``settings_json``: sabr.settings.CellSettings as JSON; ``dataset``: the assembly's
    result (its hashes), the data set in ``data_dir``. ``ensemble_size``: members of the
    cell's deep ensemble. ``acquired``: an ``adaptive`` round's acquisition (its
    ``order``, tasks/acquisition.py); ``score_pool``: the ensemble then scores the thetas not
    bought, for the next round; ``warm_from``: the previous round's cell folder, whose
    members it continues. ``warm_source``: with training_config.warm_start
    'previous_budget', the training result of the cell at the next smaller budget (keyed
    on its content, so a retrained source retrains this cell), whose folder is
    ``warm_from``: its members start from that cell's weights (sabr.learning.warm); a
    source that failed leaves this cell to train cold, with a warning. Training runs in the worker's TensorFlow process
    (tasks/isolation.py), replaced after a task that leaves it above ``recycle_mib`` MiB."""
    from sabr.learning.training import train_and_evaluate
    clock = Clock()
    cfg = CellSettings.model_validate_json(settings_json)
    hp = tuned["hyperparameters"]       # the best trial's, or the defaults (sabr.learning.tuning)
    fault = injected_fault(model_type, budget, seed)
    if fault == "raise":
        raise RuntimeError(f"injected fault ({cell_name(model_type, budget, seed)})")
    if fault == "nan":
        hp = {**hp, "learning_rate": float("inf")}     # Adam steps to inf: the loss is NaN
    extra = {}
    if ensemble_size != 1:
        extra["ensemble_size"] = int(ensemble_size)
    if acquired is not None:
        extra.update(order=acquired["order"], score_pool=bool(score_pool))
    if warm_from is not None and warm_source is None:          # an adaptive round
        extra["warm_from"] = warm_from
    elif warm_from is not None and warm_source.get("status") == "ok":
        extra.update(warm_from=warm_from, warm_mode="budget")
    elif warm_from is not None:
        get_run_logger().warning("%s trains cold: its warm start's source %s failed (%s)",
                                 cell_name(model_type, budget, seed),
                                 cell_name(model_type, warm_source.get("budget"), seed),
                                 warm_source.get("reason"))
    m, child = run_in_child(call_with_plugins, cfg.plugins, train_and_evaluate, data_dir,
                            model_type, hp, budget, seed, exp_dir,
                            training_config=cfg.training_config, model_config=cfg.models,
                            recycle_mib=recycle_mib, **extra)
    m["exp_dir"] = Path(exp_dir).name
    m["tuning_status"] = tuned["status"]
    log = get_run_logger()
    if child.get("note"):
        log.warning(child["note"])
    if m["status"] == "ok" and ensemble_size > 1:
        log.info("%s %s s=%d: test RMSE %.1f bp (Hagan %.1f bp) from %d members (one alone "
                 "%.1f bp), 90%% interval covers %.0f%% (spread calibrated on %d thetas), "
                 "in %.1f s", model_type, budget_name(budget), seed, m["rmse_bp"],
                 m["hagan_rmse_bp"], ensemble_size, m["member_rmse_bp"],
                 100 * m["coverage_90"], m.get("n_calibration_thetas", 0), m["train_seconds"])
    elif m["status"] == "ok":
        log.info("%s %s s=%d: test RMSE %.1f bp (Hagan %.1f bp) in %.1f s, %d epochs",
                 model_type, budget_name(budget), seed, m["rmse_bp"], m["hagan_rmse_bp"],
                 m["train_seconds"], m["epochs_run"])
    else:
        log.warning("%s failed: %s", cell_name(model_type, budget, seed), m["reason"])
    m["timing"] = clock.read(child)
    return m
