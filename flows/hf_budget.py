"""The seed's entry points: the ``hf-budget`` flow and its Python API, and ``python -m flows.hf_budget``.

A thin re-export: the flow lives in :mod:`flows.experiment`, the Python API
(``ExperimentOrchestrator``) in :mod:`flows.orchestrator`, the command line in
:mod:`flows.cli`. No project module imports it (an import-linter contract); users and
the seed's examples do.
"""
from flows.experiment import (ExperimentFailed, hf_budget, planned_cells, resolve_config,
                              run_experiment)
from flows.orchestrator import (CONFIG_FILE, ExperimentOrchestrator, HyperparameterSpace,
                                create_experiment_orchestrator)

__all__ = ["hf_budget", "run_experiment", "resolve_config", "planned_cells", "ExperimentFailed",
           "ExperimentOrchestrator", "create_experiment_orchestrator", "HyperparameterSpace",
           "CONFIG_FILE"]

if __name__ == "__main__":      # python -m flows.hf_budget: the hf-budget command line
    from flows.cli import main
    raise SystemExit(main())
