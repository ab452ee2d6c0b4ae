"""What every task shares: cache keys from content plus a code fingerprint, and the retry rule.

Prefect's default cache policy includes the flow run id (no reuse across runs), and
``TASK_SOURCE`` hashes only the task function's own text. Our key is built from
the task's name, its JSON-stable inputs (configs are passed as JSON strings, so
the class's module path never enters), the output folder, and a fingerprint of
the ``sabr`` modules the task runs, and the task function's own source: a change
to the numerics, the training code or the task invalidates what it touches; a
rerun of the same thing is ``Cached``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import resource
import time
from pathlib import Path

from sabr.data.dataset import DATA_MODULES
from sabr.errors import ConfigError
from sabr.io import code_fingerprint

__all__ = ["CODE_MODULES", "CONFIG_KEYS", "cache_key", "retry_unless_deterministic", "RETRIES",
           "FAULT_ENV", "injected_fault", "Clock"]

CODE_MODULES = {
    "data": DATA_MODULES + ("sabr.config", "sabr.io"),
}
CODE_MODULES["model"] = CODE_MODULES["data"] + tuple(f"sabr.{m}" for m in (
    "space", "model_types", "data.budgets", "data.patches", "data.costs",
    "learning.models", "learning.training", "learning.metrics", "learning.tuning"))
"""The modules (dotted names) whose source decides a stage's results: the cache key's
code fingerprint (sabr.io.code_fingerprint, by import, so it survives a move)."""
RETRIES = {"retries": 2, "retry_delay_seconds": [2, 5], "retry_jitter_factor": 0.5}


def _stable(value):
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, dict):      # a result's timing never decides what is computed
        return {k: _stable(v) for k, v in sorted(value.items()) if k != "timing"}
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


CONFIG_KEYS = {
    "data": ("data_gen_config",),
    "tune": ("data_gen_config", "training_config", "model_config", "hyperparameter_space",
             "tuning_method", "n_hyperparameter_trials"),
    "train": ("data_gen_config", "training_config", "model_config"),
}


def _source(fn) -> bytes:
    """The task function's own text (Prefect's TASK_SOURCE), so editing the task invalidates it."""
    try:
        return inspect.getsource(fn).encode()
    except (OSError, TypeError):
        return fn.__qualname__.encode()


def cache_key(kind: str):
    """A ``cache_key_fn`` for tasks of ``kind`` ('data', 'tune' or 'train').

    Of the ``config_json`` parameter only the sections that decide the task's result
    count (changing the number of seeds does not invalidate the surfaces); every
    other parameter counts whole.
    """
    modules = CODE_MODULES["data" if kind == "data" else "model"]
    keep = CONFIG_KEYS[kind]

    def key(context, parameters) -> str:
        params = dict(parameters)
        if "config_json" in params:
            cfg = json.loads(params.pop("config_json"))
            params["config"] = {k: cfg.get(k) for k in keep}
        if os.environ.get(FAULT_ENV):          # a fault-injection run never shares a cache entry
            params["_fault"] = os.environ[FAULT_ENV]
        payload = json.dumps(_stable(params), sort_keys=True, default=str)
        digest = hashlib.sha256(payload.encode() + _source(context.task.fn)).hexdigest()[:24]
        return f"{context.task.name}-{digest}-{code_fingerprint(modules)}"

    return key


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


def injected_fault(model_type: str, budget: int, seed: int) -> str | None:
    """Fault injection for reliability tests: ``HF_BUDGET_FAULT="nan:residual_mlp:20:1"``
    (comma-separated for several) makes that training cell ``nan`` (train with an infinite
    learning rate, so the real training diverges) or ``raise`` (the task raises). Returns
    the fault for this cell, or None. Unset in normal runs."""
    for spec in filter(None, os.environ.get(FAULT_ENV, "").split(",")):
        kind, _, cell = spec.strip().partition(":")
        if cell == f"{model_type}:{int(budget)}:{int(seed)}" and kind in ("nan", "raise"):
            return kind
    return None


class Clock:
    """Wall and CPU seconds of one task run, for the flow's per-stage timings.

    CPU is the worker process's (TensorFlow's and NumPy's own threads included);
    a worker runs one task at a time, so that is the task's. ``read()`` goes into
    the task's result under ``"timing"``, which cache keys ignore.
    """

    def __init__(self):
        self.start, self.cpu0 = time.time(), time.process_time()

    def read(self) -> dict:
        end = time.time()
        return {"start": self.start, "end": end, "wall_s": end - self.start,
                "cpu_s": time.process_time() - self.cpu0,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
