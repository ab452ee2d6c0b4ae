"""What every task shares: a cache policy keyed on content, and the retry rule.

Prefect's default policy (INPUTS + TASK_SOURCE + RUN_ID) never reuses a result across
runs; ours (:func:`content_policy`) is composed from Prefect's ``INPUTS`` and
``TASK_SOURCE`` and :class:`StageContent`, which hashes what decides a stage's result:

* generation: the data configuration and the code that makes surfaces;
* assembly: the chunks' content hashes and that code;
* tuning and training: the data set's content hash (returned by the assembly), the
  budget, model, seed and training sections of the configuration, the tuned
  hyperparameters (not their timing), and the learning code;
* an ``adaptive`` round's acquisition: the data set's content hash, the thetas bought so
  far, the previous round's scores (its training result, not its timing) and the
  learning code.

Which code each stage depends on is written once, in ``STAGE_CODE``; a module's
source is found by the import system (sabr.io.code_fingerprint), so it survives a
move. So an edit that changes no number (a comment in the Monte Carlo module)
regenerates the surfaces but, their content being the same, no tuning or training
reruns; an edit of the configuration module's messages reruns nothing; an edit of the
training code retrains and keeps the data. The analysis is never cached.
"""
from __future__ import annotations

import functools
import json
import operator
import os
import resource
import time
from dataclasses import dataclass

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.utilities.hashing import hash_objects

from sabr.data.dataset import DATA_MODULES
from sabr.errors import ConfigError
from sabr.io import code_fingerprint

__all__ = ["STAGE_CODE", "CONFIG_KEYS", "StageContent", "content_policy",
           "retry_unless_deterministic", "RETRIES", "FAULT_ENV", "injected_fault", "Clock"]

_SURFACES = DATA_MODULES
_LEARNING = tuple(f"sabr.{m}" for m in (
    "model_types", "space", "budget_labels", "numerics.grid", "data.dataset", "data.budgets", "data.patches",
    "data.costs", "data.allocations", "learning.models", "learning.training",
    "learning.metrics", "learning.tuning", "learning.calibration", "data.acquisition"))
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "generate": _SURFACES, "assemble": _SURFACES, "tune": _LEARNING, "train": _LEARNING,
    "acquire": _LEARNING}
"""The modules (dotted names) whose source decides each stage's results."""

CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "generate": ("data_gen_config",),
    "assemble": ("data_gen_config",),
    "tune": ("training_config", "model_config", "hyperparameter_space", "tuning_method",
             "n_hyperparameter_trials"),
    "train": ("training_config", "model_config"),
    "acquire": ("training_config",),
}
"""The configuration sections each stage reads (the data's own config reaches tuning and
training through the data set's content hash)."""

_RESULTS = ("tuned", "scored", "acquired", "previous")
"""Inputs that are other tasks' results: keyed on what they hold, not their timing."""
_CONTENT_INPUTS = ("config_json", "dataset", "chunks", *_RESULTS)
RETRIES = {"retries": 2, "retry_delay_seconds": [2, 5], "retry_jitter_factor": 0.5}


def _stable(value):
    if isinstance(value, dict):      # a result's timing never decides what is computed
        return {k: _stable(v) for k, v in sorted(value.items()) if k != "timing"}
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


@dataclass(kw_only=True)
class StageContent(CachePolicy):
    """The content part of a stage's cache key (see the module doc); the task's other
    inputs (budget, model, seed, output folders) are Prefect's ``INPUTS``."""

    stage: str = "train"

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str:
        cfg = json.loads(inputs["config_json"])
        content = {"config": {k: cfg.get(k) for k in CONFIG_KEYS[self.stage]},
                   "code": code_fingerprint(STAGE_CODE[self.stage])}
        if "dataset" in inputs:
            content["dataset"] = inputs["dataset"]["content_hash"]
        if "chunks" in inputs:
            content["chunks"] = [c["hash"] for c in inputs["chunks"]]
        for key in _RESULTS:
            if key in inputs:
                content[key] = _stable(inputs[key]) if isinstance(inputs[key], dict) else None
        if os.environ.get(FAULT_ENV):          # a fault-injection run never shares a cache entry
            content["fault"] = os.environ[FAULT_ENV]
        return hash_objects(self.stage, json.dumps(content, sort_keys=True, default=str),
                            raise_on_failure=True)


def content_policy(stage: str) -> CachePolicy:
    """The cache policy of ``stage`` ('generate', 'assemble', 'tune' or 'train')."""
    other_inputs = functools.reduce(operator.sub, _CONTENT_INPUTS, INPUTS)   # StageContent's part
    return other_inputs + TASK_SOURCE + StageContent(stage=stage)


def retry_unless_deterministic(task, task_run, state) -> bool:
    """Retry transient failures only: a bad configuration or bad input fails the same way again."""
    try:
        state.result(raise_on_failure=True)
    except (ConfigError, ValueError, TypeError):
        return False
    except Exception:
        return True
    return False


FAULT_ENV = "HF_BUDGET_FAULT"


def injected_fault(model_type: str, budget, seed: int) -> str | None:
    """Fault injection for reliability tests: ``HF_BUDGET_FAULT="nan:residual_mlp:20:1"``
    (comma-separated for several) makes that training cell ``nan`` (train with an infinite
    learning rate, so the real training diverges) or ``raise`` (the task raises). Returns
    the fault for this cell, or None. Unset in normal runs."""
    for spec in filter(None, os.environ.get(FAULT_ENV, "").split(",")):
        kind, _, cell = spec.strip().partition(":")
        if cell == f"{model_type}:{budget}:{int(seed)}" and kind in ("nan", "raise"):
            return kind
    return None


class Clock:
    """Wall and CPU seconds of one task run, for the flow's per-stage timings.

    CPU is the worker process's and its TensorFlow process's (their own threads
    included); a worker runs one task at a time, so that is the task's. ``read()`` goes into
    the task's result under ``"timing"``, which cache keys ignore; with the Slurm job the
    worker ran in, if any.
    """

    def __init__(self):
        self.start, self.cpu0 = time.time(), time.process_time()

    def read(self, child: dict | None = None) -> dict:
        """``child``: the stats of work done in the worker's TensorFlow process
        (tasks/isolation.py): its CPU seconds are added, and the peak RSS is the worker's
        plus the child's (an upper bound of the pair's). With ``tf_process_started`` (the
        task started a new TensorFlow process) and ``tf_process_s`` (seconds spent
        starting, replacing and talking to it, outside the call itself)."""
        end = time.time()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child = child or {}
        out = {"start": self.start, "end": end, "wall_s": end - self.start,
               "cpu_s": time.process_time() - self.cpu0 + child.get("cpu_s", 0.0),
               "peak_rss_mib": peak + child.get("peak_rss_mib", 0.0),
               "slurm_job_id": os.environ.get("SLURM_JOB_ID")}      # None off Slurm
        if "overhead_s" in child:
            out.update(tf_process_started=bool(child["new_child"]),
                       tf_process_s=child["overhead_s"] + child["shutdown_s"])
        return out
