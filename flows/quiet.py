"""Quiet output for the Python API's examples (flows/example_hf_budget_analysis.py,
examples/quickstart.ipynb): the terminal or notebook shows what the example prints and
the run's warnings and errors (a cell that did not finish, a failed flow), not the
libraries' start-up lines and the run's INFO log.

Documented settings only, each set unless the environment already sets it (so
``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO`` brings the run's progress lines back).
They must be set before Prefect, Dask and TensorFlow are imported: call
:func:`quiet_output` first. Environment variables set here are inherited by the processes
a run starts: Prefect's temporary server, Dask's scheduler and workers (flows/runner.py
starts them with this environment and ``worker_env``), and the workers' TensorFlow
processes (tasks/isolation.py).

- ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=WARNING`` (Prefect's logging settings: any key of
  its logging.yml as ``PREFECT_LOGGING_[PATH]_[KEY]``): Prefect's console handler shows
  warnings and errors; flow and task runs still log in full to the Prefect API (the UI).
- ``DASK_LOGGING__DISTRIBUTED=warning`` (Dask's ``logging.distributed`` config, read when
  ``distributed`` is imported): no cluster start-up lines (a SubprocessCluster logs each
  process's spec at INFO, the scheduler and nanny their addresses).
- ``TF_CPP_MIN_LOG_LEVEL=2``: TensorFlow's C++ INFO and WARNING lines.
- ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow's default, as the workers have it (flows/runner.py).
- ``PREFECT_SERVER_ANALYTICS_ENABLED=false``, ``DO_NOT_TRACK=1``: no telemetry or its notice
  (as the hf-budget command line).

And two in-process settings, the standard ``warnings`` and ``logging`` APIs. A warnings filter
for tqdm's "IProgress not found" warning: Optuna imports ``tqdm.auto``, which warns so in a
Jupyter kernel without ipywidgets, and Optuna draws no progress bar here.

Prefect's console handler (on the root logger) gets a logging filter that passes records at
the console level and above: while a run draws its progress bar at a terminal
(flows/progress.py), tqdm's ``logging_redirect_tqdm`` replaces that handler with one that
copies the handler's filters but not its level; the filter keeps that terminal as quiet
(the bar itself stays: one line with an ETA).

TensorFlow itself is imported here, with this process's C-level stderr sent to /dev/null for
the import only, as the workers' TensorFlow processes do (tasks/isolation.py): TensorFlow 2.21
prints absl's ``All log messages before absl::InitializeLog() is called ...`` and its
``I0000 ... oneDNN custom operations are on`` line twice on import whatever
``TF_CPP_MIN_LOG_LEVEL`` and ``TF_ENABLE_ONEDNN_OPTS=1`` say (measured), and the one setting
that removes them, ``TF_ENABLE_ONEDNN_OPTS=0``, changes TensorFlow's arithmetic. The examples
import it anyway (the tuner's data in this process). An import error is still raised, with
its Python traceback.

TensorFlow's "excessive retracing" warning, printed by the workers' TensorFlow processes, is
filtered where it is raised (tasks/isolation.py): it is not a setting of this process.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["quiet_output", "QUIET_ENV", "ConsoleLevel"]

QUIET_ENV = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


class ConsoleLevel(logging.Filter):
    """Pass records at ``level`` or above (a handler's level, as a filter: see module doc)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


def _level(name: str) -> int:
    level = logging.getLevelName(name.strip().upper())
    return level if isinstance(level, int) else logging.WARNING


def quiet_output() -> None:
    """Set the settings above (environment variables the caller has not set), import
    TensorFlow quietly and filter Prefect's console handler. Call it before importing Prefect,
    Dask or TensorFlow (the example and the notebook call it first); calling it again
    changes nothing."""
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    level = _level(os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"])
    warnings.filterwarnings("ignore", message="IProgress not found")
    # distributed reads its logging config when imported: if it already is, its loggers' level
    if "distributed" in sys.modules:
        logging.getLogger("distributed").setLevel(
            _level(os.environ["DASK_LOGGING__DISTRIBUTED"]))
    # Prefect's logging (its console handler on the root logger), set up now if not yet
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler
    ensure_logging_setup()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
                isinstance(f, ConsoleLevel) for f in handler.filters):
            handler.addFilter(ConsoleLevel(level))
    if "tensorflow" not in sys.modules:      # after Prefect's logging: its warnings go there
        from tasks.isolation import import_tensorflow_quietly
        import_tensorflow_quietly()
