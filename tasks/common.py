"""What every task shares: a cache policy keyed on content, and the retry rule.

Prefect's default policy (INPUTS + TASK_SOURCE + RUN_ID) never reuses a result across
runs; ours (:func:`content_policy`) is composed from Prefect's ``INPUTS`` and
``TASK_SOURCE`` and :class:`StageContent` (docs/DESIGN.md, "How a cell is cached"):

* configuration: each task receives only the sections its stage reads (the data
  section; sabr.settings' CellSettings or TuningSettings), as an input, so the key holds
  exactly them, and a stage that read another section would fail, not go stale;
* code: the task's module and every ``tasks`` or ``sabr`` module it imports, transitively, found in
  the source (sabr.fingerprint.imported_modules), fingerprinted without comments or
  docstrings; no hand-kept list;
* data: the data set's content hash (returned by the assembly); a cell, tuning or
  acquisition that spends Monte Carlo CPU-seconds also the hash of the measured timings
  its split is cut from (``cost_hash``), so a rerun on other timings recomputes;
* other tasks' results (tuned hyperparameters, the previous round's scores) by content,
  never their timing;
* the cell itself (model, budget, seed, members, round) through ``INPUTS``. Folders are
  inputs too but never part of a key (``PATH_INPUTS``): an output folder moved or copied
  elsewhere is served from its cache.

So a comment edit changes no key; an edit of the Monte Carlo engine's code regenerates
the surfaces and retrains; the analysis is never cached.
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

from sabr.budget_labels import is_cell_label
from sabr.errors import ConfigError
from sabr.fingerprint import code_fingerprint, imported_modules

__all__ = ["STAGE_ROOTS", "stage_modules", "PATH_INPUTS", "StageContent", "content_policy",
           "retry_unless_deterministic", "RETRIES", "FAULT_ENV", "injected_fault", "Clock"]

STAGE_ROOTS: dict[str, str] = {
    "generate": "tasks.data", "assemble": "tasks.data", "tune": "tasks.modeling",
    "train": "tasks.modeling", "acquire": "tasks.acquisition"}
"""The module of each stage's task: the root of the code its key fingerprints."""


def stage_modules(stage: str, plugins: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The modules whose code decides ``stage``'s results: its task module and every
    ``tasks`` or ``sabr`` module that imports, transitively (sabr.fingerprint.imported_modules:
    what the task's process loads, this module's own imports included), and the
    configuration's ``plugins`` with every module of their packages they import."""
    tops = tuple(dict.fromkeys(("sabr", "tasks", *(p.split(".")[0] for p in plugins))))
    return imported_modules((STAGE_ROOTS[stage], *plugins), tops)


PATH_INPUTS = ("data_dir", "exp_dir", "study_dir", "out_dir", "warm_from")
"""Inputs that say where to read and write, never what is computed: in no key."""
_UNKEYED = ("recycle_mib",)
"""Inputs that decide no result (when a worker's TensorFlow process is replaced)."""
_RESULTS = ("tuned", "scored", "acquired", "previous", "warm_source")
"""Inputs that are other tasks' results: keyed on what they hold, not their timing (a
warm-started cell's ``warm_source``, its source cell's result: a retrained source retrains
it; its folder, ``warm_from``, is a path input)."""
_CONTENT_INPUTS = ("dataset", "chunks", *_RESULTS, *PATH_INPUTS, *_UNKEYED)
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
    inputs (settings, budget, model, seed, members) are Prefect's ``INPUTS``."""

    stage: str = "train"

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str:
        plugins = tuple(json.loads(inputs.get("settings_json") or "{}").get("plugins") or ())
        content = {"code": code_fingerprint(stage_modules(self.stage, plugins))}
        if "dataset" in inputs:
            content["dataset"] = inputs["dataset"]["content_hash"]
            if spends_cpu_seconds(inputs):
                content["costs"] = inputs["dataset"]["cost_hash"]
        if "chunks" in inputs:
            content["chunks"] = [c["hash"] for c in inputs["chunks"]]
        for key in _RESULTS:
            if key in inputs:
                content[key] = _stable(inputs[key]) if isinstance(inputs[key], dict) else None
        if os.environ.get(FAULT_ENV):          # a fault-injection run never shares a cache entry
            content["fault"] = os.environ[FAULT_ENV]
        return hash_objects(self.stage, json.dumps(content, sort_keys=True, default=str),
                            raise_on_failure=True)


def spends_cpu_seconds(inputs: dict) -> bool:
    """Whether a task's budget is Monte Carlo CPU-seconds (a label 'surfaces@5%'), whose
    split is cut from the data set's measured timings."""
    return is_cell_label(inputs.get("budget", inputs.get("label")))


def content_policy(stage: str) -> CachePolicy:
    """The cache policy of ``stage`` ('generate', 'assemble', 'tune', 'train', 'acquire')."""
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
