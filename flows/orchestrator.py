"""The seed's Python API: ``ExperimentOrchestrator`` runs the ``hf-budget`` flow from Python.

A notebook or script drives the same flow as ``hf-budget run``: the orchestrator
passes the flow its configuration with the analysis' overrides (validated once, here), so
a run is cached and resumable exactly as from the command line; it also records that
configuration in ``<output_dir>/orchestrator_config.yaml``, which ``hf-budget run
--config`` runs again.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import yaml

from sabr.config import ExperimentConfig
from sabr.errors import ConfigError
from sabr.io import atomic_write_text
from sabr.options import OVERRIDES
from sabr.space import HyperparameterSpace

__all__ = ["ExperimentOrchestrator", "create_experiment_orchestrator", "HyperparameterSpace",
           "CONFIG_FILE"]

CONFIG_FILE = "orchestrator_config.yaml"
_FIXED = ("output_dir", "parallel_jobs")
"""Options the orchestrator is made with (its output_dir and n_parallel_jobs)."""


class ExperimentOrchestrator:
    """HF-budget analyses of ``base_config`` into ``output_dir``, each one run of the flow.

    Args:
        base_config: an ExperimentConfig (default: the ``quick`` profile).
        output_dir: the results folder (default: the config's ``output_dir``).
        n_parallel_jobs: local Dask worker processes (default: the config's ``parallel_jobs``).
        random_seed: the data set's master seed (default: the config's
            ``data_gen_config.master_seed``).
    Raises:
        ConfigError: an override is invalid (one line naming the field).
    """

    def __init__(self, base_config: ExperimentConfig | None = None,
                 output_dir: str | Path | None = None, n_parallel_jobs: int | None = None,
                 random_seed: int | None = None):
        cfg = base_config if base_config is not None else ExperimentConfig.profile("quick")
        self.output_dir = Path(output_dir if output_dir is not None else cfg.output_dir).absolute()
        self.base_config = cfg.with_overrides(
            output_dir=str(self.output_dir), parallel_jobs=n_parallel_jobs,
            data_gen_config=None if random_seed is None else {"master_seed": random_seed})
        self.n_parallel_jobs = self.base_config.parallel_jobs
        self.random_seed = self.base_config.data_gen_config.master_seed

    def analysis_config(self, hf_budgets=None, model_types=None, hyperparameter_space=None,
                        n_hyperparameter_trials=None, n_random_seeds=None,
                        **options) -> ExperimentConfig:
        """The base config with an analysis' grid and options (sabr.options.RUN_OPTIONS but
        the folder and the workers, which the orchestrator was made with); None keeps the
        base value. ConfigError for an option that is not one."""
        allowed = [o for o in OVERRIDES if o not in _FIXED]
        for name in options:
            if name not in allowed:
                raise ConfigError(f"{name} is not an argument of run_hf_budget_analysis: allowed "
                                  f"{', '.join(['hyperparameter_space', *allowed])}"
                                  + (f" ({name} is set when the orchestrator is made)"
                                     if name in _FIXED else ""))
        space = hyperparameter_space
        if isinstance(space, HyperparameterSpace):
            space = space.model_dump(mode="json")
        return self.base_config.with_overrides(
            hf_budgets=hf_budgets, model_types=model_types, hyperparameter_space=space,
            n_hyperparameter_trials=n_hyperparameter_trials, n_random_seeds=n_random_seeds,
            **options)

    def write_config(self, cfg: ExperimentConfig) -> Path:
        """Write ``cfg`` as YAML to ``<output_dir>/orchestrator_config.yaml`` (atomically)."""
        text = yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True), sort_keys=False)
        return atomic_write_text(self.output_dir / CONFIG_FILE, text)

    def run_hf_budget_analysis(self, hf_budgets=None, model_types=None,
                               hyperparameter_space: HyperparameterSpace | dict | None = None,
                               n_hyperparameter_trials: int | None = None,
                               n_random_seeds: int | None = None, **options) -> pd.DataFrame:
        """Run the ``hf-budget`` flow on this grid; cells already done are reused (``Cached``).

        Args:
            hf_budgets, model_types: the grid; hyperparameter_space: the tuning choices;
            n_hyperparameter_trials, n_random_seeds: as in the config. Each defaults to the
            base config's, as every option of the command line does.
            options: any other option of a run (sabr.options.RUN_OPTIONS: tuning_method,
                allocations, hf_cpu_budgets, ensemble_size), None meaning the base config's.
        Returns:
            detailed_results.csv as a DataFrame: one row per cell (budget, model_type, seed)
            with status ("ok", "failed", "missing"), reason and the test metrics (bp);
            ``allocation`` and ``unit`` say how its HF data were bought (``spread`` in
            ``points`` for the seed's budgets; a CPU-budget cell has an empty ``budget``
            and its ``hf_cpu_budget``).
        Warns:
            RuntimeWarning when some cells did not finish (their rows say why).
        """
        cfg = self.analysis_config(hf_budgets, model_types, hyperparameter_space,
                                   n_hyperparameter_trials, n_random_seeds, **options)
        self.write_config(cfg)
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")   # as the CLI does
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from flows.experiment import ExperimentFailed, hf_budget   # Prefect only when a run starts
        try:
            hf_budget(config=cfg)
        except ExperimentFailed as err:
            warnings.warn(str(err), RuntimeWarning, stacklevel=2)
        from sabr.analysis.results import read_results
        return read_results(self.output_dir)


def create_experiment_orchestrator(base_config: ExperimentConfig | None = None,
                                   output_dir: str | Path | None = None,
                                   n_parallel_jobs: int | None = None,
                                   random_seed: int | None = None) -> ExperimentOrchestrator:
    """The seed's factory: ``ExperimentOrchestrator(...)`` with the same arguments."""
    return ExperimentOrchestrator(base_config, output_dir, n_parallel_jobs, random_seed)
