"""The options of a run, in one table: the command line's flags, the flow's parameters and the
Python API's arguments all come from :data:`RUN_OPTIONS` (docs/DESIGN.md section 3).

Each option overrides the configuration field of its name; unset (None) means "as
configured", everywhere. A new option is one entry here (and, where it is a new field, the
field in sabr.config); the flow's signature is checked against this table by the tests,
since Prefect reads a flow's parameters from its signature.
"""
from __future__ import annotations

from dataclasses import dataclass

from .budget_labels import (ADAPTIVE_STARTS, ALLOCATION_NAMES, DEFAULT_PATH_DIVISOR,
                            PATH_DIVISORS)
from .model_types import MODEL_NAMES
from .settings import TUNING_METHODS

__all__ = ["RunOption", "RUN_OPTIONS", "OVERRIDES", "option"]


@dataclass(frozen=True)
class RunOption:
    """One option: ``name`` is the configuration field, the flow parameter and the API
    argument; ``flag`` the command line's; ``many``: a list of values."""

    name: str
    flag: str
    type: type
    metavar: str
    help: str
    many: bool = False


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("hf_budgets", "--hf-budgets", int, "N", "HF points per cell, validation included",
              many=True),
    RunOption("model_types", "--model-types", str, "MODEL",
              f"of {' '.join(MODEL_NAMES)} (the model-type registry)", many=True),
    RunOption("allocations", "--allocations", str, "STRATEGY",
              "allocation strategies run at every --hf-cpu-budgets entry, of "
              + " ".join(ALLOCATION_NAMES)
              + f" (paths/D with D in {' '.join(map(str, PATH_DIVISORS))}, paths alone "
              f"paths/{DEFAULT_PATH_DIVISOR}; adaptive/S with S in {' '.join(ADAPTIVE_STARTS)})",
              many=True),
    RunOption("hf_cpu_budgets", "--hf-cpu-budgets", str, "BUDGET",
              "HF budgets in Monte Carlo CPU-seconds (120), as a percentage of the pool's "
              "whole Monte Carlo CPU-seconds (5%%), or in Monte Carlo path-steps (paths x time "
              "steps, the same on every machine: 2.5e9ps, or with a k/M/G/T prefix 2.5Gps)",
              many=True),
    RunOption("ensemble_size", "--ensemble-size", int, "M",
              "members of every cell's deep ensemble, 1 to 64 (5 with an adaptive allocation "
              "when unset in the configuration too, else 1)"),
    RunOption("n_hyperparameter_trials", "--hyperparameter-trials", int, "N",
              "tuning trials per (model, budget)"),
    RunOption("n_random_seeds", "--random-seeds", int, "N", "reported seeds per (model, budget)"),
    RunOption("parallel_jobs", "--parallel-jobs", int, "N",
              "local Dask worker processes, one core each"),
    RunOption("output_dir", "--output-dir", str, "DIR", "results folder"),
    RunOption("max_hours", "--max-hours", float, "H",
              "refuse to start a run whose estimated wall time (hf-budget plan) exceeds H "
              "hours, H > 0 (unset in the configuration too: no limit)"),
    RunOption("tuning_method", "--tuning-method", str, "METHOD", " or ".join(TUNING_METHODS)),
    RunOption("tuning_reference_budget", "--tuning-reference-budget", int, "N",
              "tune each model once, at this one of --hf-budgets, and train every point "
              "budget's cells with it (unset in the configuration too: a tuning per budget)"),
    RunOption("tuning_reference_cpu_budget", "--tuning-reference-cpu-budget", str, "BUDGET",
              "tune each (allocation, model) once, at this one of --hf-cpu-budgets, and train "
              "its cells at every CPU budget with it (unset in the configuration too: a "
              "tuning per budget)"),
)
"""Every option of a run, in the command line's order."""

OVERRIDES: tuple[str, ...] = tuple(o.name for o in RUN_OPTIONS)
"""The names of the options: the flow's parameters that override a configuration field."""


def option(name: str) -> RunOption:
    """The option called ``name``."""
    return next(o for o in RUN_OPTIONS if o.name == name)
