"""prefect.yaml parses, its entrypoints import, its parameters validate as the flow's parameters."""
from __future__ import annotations

from pathlib import Path

import yaml

from sabr.config import load_config

REPO = Path(__file__).resolve().parents[2]


def test_deployments_are_well_formed():
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deps = {d["name"]: d for d in spec["deployments"]}
    assert set(deps) >= {"prod", "smoke", "cost", "slurm", "cost-full"}
    prod = deps["prod"]
    assert prod["work_pool"]["name"] == "hf-budget" and prod["concurrency_limit"] == 1
    (sched,) = prod["schedules"]
    assert sched["cron"] == "0 2 * * *" and "/" in sched["timezone"]
    from zoneinfo import ZoneInfo
    ZoneInfo(sched["timezone"])                       # an IANA name
    step = spec["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert step["directory"] == "{{ $PWD }}"


def test_entrypoints_import_and_parameters_validate():
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for dep in spec["deployments"]:
        path, name = dep["entrypoint"].split(":")
        flow = load_flow_from_entrypoint(str(REPO / path) + ":" + name)
        assert flow.name == "hf-budget"
        params = dep.get("parameters", {})
        schema = parameter_schema(flow.fn)
        assert set(params) <= set(schema.properties), dep["name"]
        flow.validate_parameters(params)              # types as the flow declares them
        cfg = load_config(REPO / params["config_path"])
        assert cfg.output_dir.startswith("results/")
    assert load_config(REPO / "deployments/prod.yaml").hf_budgets == (50, 100, 200, 500, 1000)


def test_the_cost_deployment_answers_on_one_machine_in_90_minutes(tmp_path):
    """hf-budget/cost (issue 40): the allocation study on prod's pool, every strategy the
    answer needs, 5 seeds, ensembles only for adaptive, within 90 minutes on 2 workers by
    its own plan (the measured run: docs/results/, README "What accuracy costs")."""
    from sabr.config import load_config
    from sabr.plan import planned_cost_cells
    cost = load_config(REPO / "deployments/cost.yaml")
    assert cost.data_gen_config == load_config(REPO / "deployments/prod.yaml").data_gen_config
    assert {"spread", "surfaces", "random", "paths/2", "paths/4", "adaptive"} <= set(cost.allocations)
    assert "mda_cnn" in cost.model_types and 1000 in cost.hf_budgets and cost.n_random_seeds >= 5
    from sabr.cells import CellLedger
    from sabr.estimate import estimate_run
    from sabr.cost_model import DEFAULT_COST_MODEL
    from sabr.plan import make_plan
    plan = make_plan(cost, CellLedger(tmp_path))
    # ensembles only where a strategy needs one: adaptive's rounds
    assert {(p.cell.allocation == "adaptive", p.cell.members > 1) for p in plan.all_cells()} == {
        (True, True), (False, False)}
    assert len(planned_cost_cells(cost)) == len(cost.allocations) * len(cost.hf_cpu_budgets) * cost.n_random_seeds
    # it fits 90 minutes on 2 workers by its plan, and max_hours keeps a change from growing it
    est = estimate_run(cost, tmp_path, 2, DEFAULT_COST_MODEL, from_scratch=True)
    assert est.wall_h <= 1.5 and cost.max_hours == 1.5
    # also when every tuning picks its costliest network (the 2026-12-07 run did not fit:
    # surfaces' tuning chose the widest CNN, which the mean price did not foresee)
    worst = estimate_run(cost, tmp_path, 2, DEFAULT_COST_MODEL, from_scratch=True, price="max")
    assert est.wall_h < worst.wall_h <= 1.5
    # three CPU budgets: every allocation gets a power-law fit with its interval
    assert len(cost.hf_cpu_budgets) >= 3


def test_the_readmes_adaptive_study_config_is_valid():
    """docs/adaptive_study.yaml: the configuration behind README's adaptive figures."""
    from sabr.config import load_config
    from sabr.plan import adaptive_rounds, ensemble_members, planned_cost_cells
    cfg = load_config(REPO / "docs" / "adaptive_study.yaml")
    assert set(cfg.allocations) == {"surfaces", "adaptive"} and ensemble_members(cfg) == 5
    assert adaptive_rounds(cfg) == ["adaptive@2%", "adaptive@4%", "adaptive@8%", "adaptive@16%"]
    assert len(planned_cost_cells(cfg)) == 24 and cfg.adaptive_warm_start


def test_the_slurm_deployment_is_prods_experiment_on_slurm_jobs():
    """hf-budget/slurm: deployments/slurm.yaml is prod.yaml's experiment, its workers Slurm
    jobs adapted to the work (its run through a real Slurm: tests/cluster/test_slurm.py)."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    dep = {d["name"]: d for d in spec["deployments"]}["slurm"]
    assert dep["parameters"] == {"config_path": "deployments/slurm.yaml"}
    assert dep["concurrency_limit"] == 1 and "parallel_jobs" not in dep["parameters"]
    slurm, prod = load_config(REPO / "deployments/slurm.yaml"), load_config(REPO / "deployments/prod.yaml")
    cluster = slurm.cluster
    assert cluster.kind == "slurm" and cluster.slurm.cores == 1
    assert 1 <= cluster.slurm.adapt.min_jobs < cluster.slurm.adapt.max_jobs
    from flows.runner import make_task_runner
    runner = make_task_runner(slurm.parallel_jobs, None, {}, slurm=cluster.slurm)
    assert runner.cluster_class == "dask_jobqueue.SLURMCluster"
    assert runner.adapt_kwargs == {"minimum_jobs": 1, "maximum_jobs": cluster.slurm.adapt.max_jobs}
    same = ("data_gen_config", "training_config", "models", "hf_budgets", "model_types",
            "n_random_seeds", "n_hyperparameter_trials", "tuning_method", "hyperparameter_space")
    assert {k: getattr(slurm, k) for k in same} == {k: getattr(prod, k) for k in same}


def test_the_cost_full_deployment_is_the_whole_study_on_slurm_jobs():
    """hf-budget/cost-full (issue 40): every model, adaptive against surfaces and random,
    ensembles everywhere, on the seed-scale pool, its workers Slurm jobs."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    dep = {d["name"]: d for d in spec["deployments"]}["cost-full"]
    assert dep["parameters"] == {"config_path": "deployments/cost-full.yaml"}
    assert dep["concurrency_limit"] == 1
    from sabr.plan import ensemble_members, planned_cells, planned_cost_cells, study_models
    full, prod = load_config(REPO / "deployments/cost-full.yaml"), load_config(REPO / "deployments/prod.yaml")
    assert full.cluster.kind == "slurm" and full.data_gen_config == prod.data_gen_config
    assert {"surfaces", "random", "adaptive"} <= set(full.allocations)
    assert study_models(full) == list(prod.model_types) and ensemble_members(full) == 5
    assert len(planned_cells(full)) == 100
    assert len(planned_cost_cells(full)) == (len(full.allocations) * len(full.hf_cpu_budgets)
                                            * len(prod.model_types) * full.n_random_seeds)
