"""The ``hf-budget`` Prefect flow: data -> tuning -> training -> aggregation, on Dask.

``hf_budget`` (flow ``hf-budget``) takes flat parameters (so a deployment's
``--param`` override of one field works) or a whole ``config`` (what the command line
and the Python API validated), passes the checks every run passes
(flows.preflight: configuration, scheduler, output folder), holds the output
folder's lock (sabr.lock) and runs the experiment as a subflow
``hf-budget-experiment`` on a ``DaskTaskRunner``: a ``LocalCluster`` of
``parallel_jobs`` single-threaded worker processes (TensorFlow pinned to one
intra- and one inter-op thread), Slurm jobs of such workers (``cluster.kind: slurm``,
flows/slurm.py), or an existing scheduler given by ``dask_address`` /
``DASK_SCHEDULER_ADDRESS``. Workers are given the API URL of
the server the flow runs on, so their task runs are on the same server (also in
ephemeral mode).

Generation, tuning and training are cached (tasks/common.py) with results in
``<output_dir>/.prefect-results``: a rerun shows them ``Cached``. One failed
cell never stops the others; aggregation runs on what finished, the summary
names what is missing, and the flow then ends Failed with that list. Bad input
or a busy output folder ends the flow Failed with the one-line message (no
traceback); called from Python, the flow then raises ConfigError.

The flow only orders tasks: what each step does lives in tasks/ (and sabr/), the
task runner in flows/runner.py.
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import dask
from prefect import flow, get_run_logger
from prefect.futures import as_completed, wait
from prefect.runtime import flow_run
from prefect.states import Failed

from sabr.budget_labels import cell_name
from sabr.cells import CellLedger, folder_holds
from sabr.config import ExperimentConfig, resolve_config
from sabr.errors import ConfigError
from sabr.lock import output_lock
from sabr.plan import (adaptive_rounds, ensemble_members, make_plan, planned_cells, study_models,
                       submission_order, tuning_sources)
from sabr.settings import CellSettings, TuningSettings
from tasks.acquisition import acquire_round
from tasks.data import assemble_dataset, generate_chunk, generation_plan
from tasks.modeling import train_cell, tune_cell
from tasks.reporting import aggregate_results

from flows.preflight import preflight
from flows.progress import RunProgress
from flows.runner import (make_task_runner, planned_workers, stop_tensorflow_processes_on_close,
                          worker_count, worker_env)

__all__ = ["hf_budget", "run_experiment", "resolve_config", "planned_cells", "ExperimentFailed"]

RESULTS_DIR = ".prefect-results"


class ExperimentFailed(RuntimeError):
    """Some cells did not finish; the results of the others are written."""


@flow(name="hf-budget-experiment", log_prints=True)
def run_experiment(cfg: ExperimentConfig, output_dir: str, run_name: str = "run") -> dict:
    """The experiment proper (see the module doc) on the configuration its parent flow
    validated (an instance is not validated again); returns the aggregation summary."""
    started = time.time()
    log = get_run_logger()
    out = Path(output_dir)
    data_dir = str(out / "data")
    stop_tensorflow_processes_on_close()
    # Each task gets the configuration sections its stage reads (its key's configuration).
    data_json = cfg.data_gen_config.model_dump_json()
    tuning_json = TuningSettings.of(cfg).model_dump_json(by_alias=True)
    cell_json = CellSettings.of(cfg).model_dump_json(by_alias=True)
    recycle = {"recycle_mib": cfg.worker_recycle_mib}

    # The plan: every cell, tuning and round, each cell's folder from the output folder's
    # ledger (a folder depends on the cell alone, sabr.cells), names and priorities.
    ledger = CellLedger(out)
    plan = make_plan(cfg, ledger)
    ledger.save()
    stale = [p for p in plan.all_cells() if not folder_holds(out / p.folder, p.cell)]
    redo = sum((out / p.folder).exists() for p in stale)
    if redo:
        log.info("%d cells whose folder does not hold their result are computed again", redo)
    stale = {p.cell for p in stale}

    # A data set that is absent, corrupt, edited or of another configuration is built again.
    problem, chunks, on_disk = generation_plan(cfg.data_gen_config, data_dir)
    if problem not in (None, "absent"):
        log.warning("data set not usable (%s): building it again", problem)
    chunk_futs = [generate_chunk.with_options(refresh_cache=rebuild).submit(
        data_json, first, last, data_dir) for first, last, rebuild in chunks]
    dataset = assemble_dataset.with_options(refresh_cache=problem is not None).submit(
        data_json, chunk_futs, data_dir)
    kind_of = {id(f): ("data", (first, last)) for f, (first, last, _) in zip(chunk_futs, chunks)}
    stack = ExitStack()         # the progress (log lines, artifact, bar) until the last task
    try:
        cells = plan.all_cells()
        progress = stack.enter_context(RunProgress(
            len(chunk_futs), len({(t.budget, t.model_type) for t in plan.tunings}), len(cells), log,
            n_acquisitions=sum(p.acquisition is not None for p in cells),
            rounds=list(plan.round_labels), rounds_per_seed=plan.rounds_per_seed))
        reported = set()

        def report(fut) -> None:
            fut.wait()                  # first: the state is final after it, not lagging
            result = fut.result() if fut.state.is_completed() else None
            progress.done(*kind_of[id(fut)], fut.state.name,
                          result if isinstance(result, dict) else None)
            reported.add(id(fut))

        if on_disk is not None:
            # The disk and the cache agree: a cached assembly must describe the data set on disk
            # (the same content and the same measured timings), or it is assembled again. The
            # check waits for the data set, so its chunks are reported as they finish: after a
            # change to the code the data depends on, they are built again, for minutes.
            for fut in as_completed(chunk_futs):
                report(fut)
            if {k: dataset.result().get(k) for k in on_disk} != on_disk:
                log.warning("the cached data set record differs from %s: assembling it again",
                            data_dir)
                dataset = assemble_dataset.with_options(refresh_cache=True).submit(
                    data_json, chunk_futs, data_dir)

        tuned = {}
        for t in plan.tunings:
            with dask.annotate(priority=t.priority):
                tuned[(t.budget, t.model_type)] = tune_cell.with_options(
                    task_run_name=t.run_name).submit(
                    tuning_json, dataset, t.model_type, t.budget, data_dir, str(out / t.folder),
                    **recycle)
        train_futs, acquire_futs = {}, {}
        for p in submission_order(plan.all_cells()):     # a warm cell after its source
            c = p.cell
            extra = {}
            if p.acquisition is not None:           # an adaptive round: buy, then train
                a = p.acquisition
                before = p.previous and (p.previous.budget, c.model_type, c.seed)
                with dask.annotate(priority=p.priority):
                    acquire_futs[p.id] = acquire_round.with_options(
                        task_run_name=a.run_name).submit(
                        cell_json, dataset, c.model_type, a.label, c.seed, a.round,
                        acquire_futs.get(before), train_futs.get(before), data_dir,
                        str(out / a.folder))
                extra = {"acquired": acquire_futs[p.id], "score_pool": p.score_pool,
                         "warm_from": p.warm_from and str(out / ledger.folder(p.warm_from))}
            elif p.warm_from is not None:           # warm_start previous_budget: its source's
                extra = {"warm_from": str(out / ledger.folder(p.warm_from)),    # weights, once
                         "warm_source": train_futs[(p.warm_from.budget, c.model_type, c.seed)]}
            # A cell trains with its tuning's result: the best trial's hyperparameters, or the
            # defaults when every trial failed (status "failed"). A tuning task that fails after
            # its retries leaves its cells NotReady, reported failed with that reason. Prefect's
            # allow_failure is not used: on the DaskTaskRunner the value arrived as a one-element
            # tuple, so every cell trained with the defaults, and a failed upstream still blocked
            # (prefect-dask issue 43; tests/flow/test_flow.py checks the hyperparameters).
            with dask.annotate(priority=p.priority):
                train_futs[p.id] = train_cell.with_options(
                    task_run_name=p.run_name, refresh_cache=c in stale).submit(
                    cell_json, dataset, c.model_type, c.budget, c.seed,
                    tuned[p.tuning], data_dir, str(out / p.folder), c.members, **extra, **recycle)
        log.info("submitted %d chunks, %d tunings, %d trainings%s", len(chunk_futs), len(tuned),
                 len(train_futs), f", {len(acquire_futs)} acquisitions "
                 f"({len(plan.round_labels)} rounds)" if acquire_futs else "")

        kind_of.update({id(f): ("tuning", cell) for cell, f in tuned.items()})
        kind_of.update({id(f): ("cell", cell) for cell, f in train_futs.items()})
        kind_of.update({id(f): ("acquire", cell) for cell, f in acquire_futs.items()})
        for fut in as_completed([f for f in (*chunk_futs, *tuned.values(), *train_futs.values(),
                                             *acquire_futs.values()) if id(f) not in reported]):
            report(fut)
    finally:
        stack.close()
    wait(list(train_futs.values()))

    failures = []
    for (b, m, s), fut in train_futs.items():
        if not fut.state.is_completed():
            log.warning("cell %s did not finish: %s", cell_name(m, b, s), fut.state.message)
            failures.append([b, m, s, f"{fut.state.name}: {fut.state.message or 'no message'}"])
    outcomes = {"generate": _outcomes(chunk_futs), "assemble": _outcomes([dataset]),
                "tune": _outcomes(tuned.values()), "train": _outcomes(train_futs.values())}
    clock = {"flow_started": started, "workers": worker_count(planned_workers(cfg))}
    summary = aggregate_results.submit(plan.report_cells, str(out), len(plan.report_cells),
                                       run_name, failures, outcomes, clock,
                                       [p.folder for p in plan.all_cells()],
                                       tuning_sources(plan)).result()
    summary["dataset"] = data_dir
    return summary


def _outcomes(futs) -> list[tuple[str, dict | None]]:
    """(state name, result) of each task run; None for a run that did not complete."""
    return [(f.state.name, f.result() if f.state.is_completed() else None) for f in futs]


@flow(name="hf-budget", log_prints=True)
def hf_budget(profile: str | None = None, config_path: str | None = None,
              hf_budgets: list[int] | None = None, model_types: list[str] | None = None,
              n_hyperparameter_trials: int | None = None, n_random_seeds: int | None = None,
              parallel_jobs: int | None = None, output_dir: str | None = None,
              tuning_method: str | None = None, allocations: list[str] | None = None,
              hf_cpu_budgets: list[str] | None = None, ensemble_size: int | None = None,
              max_hours: float | None = None, tuning_reference_budget: int | None = None,
              tuning_reference_cpu_budget: str | None = None, dask_address: str | None = None,
              skip_experiments: bool = False,
              config: ExperimentConfig | dict | None = None) -> dict:
    """Run the whole experiment (or, with skip_experiments, only aggregate existing cells).

    ``profile`` (default ``quick``) names the base configuration, or ``config_path`` a YAML
    file (a ``profile`` given with it must be the file's). Explicit parameters override it.
    Or ``config``, a whole configuration (the command line and the Python API pass the one
    they validated, used as it is; a mapping is validated here), with none of those. Returns
    the aggregation
    summary. Ends Failed, and raises when called from Python: ConfigError (bad input, a
    busy output folder) before anything runs; ExperimentFailed if some cell did not finish.
    """
    with ExitStack() as held:
        try:
            plan = preflight(profile, config_path, dask_address=dask_address,
                             skip_experiments=skip_experiments, hf_budgets=hf_budgets,
                             model_types=model_types,
                             n_hyperparameter_trials=n_hyperparameter_trials,
                             n_random_seeds=n_random_seeds, parallel_jobs=parallel_jobs,
                             output_dir=output_dir, tuning_method=tuning_method,
                             allocations=allocations, hf_cpu_budgets=hf_cpu_budgets,
                             ensemble_size=ensemble_size, max_hours=max_hours,
                             tuning_reference_budget=tuning_reference_budget,
                             tuning_reference_cpu_budget=tuning_reference_cpu_budget,
                             config=config)
            if plan.skip_experiments:
                from flows.analysis import aggregate_existing   # the analysis stack, when needed
                return aggregate_existing(plan.output_dir)
            held.enter_context(output_lock(plan.output_dir))   # the run's one lock
        except ConfigError as err:       # one line in the UI and the terminal, no traceback
            return Failed(message=str(err), data=err)
        summary = _run(plan.config, plan.output_dir, plan.dask_address)
    not_ok = summary["not_ok"]
    if not_ok:
        n_cells = summary["n_cells"]
        names = "; ".join(f"{cell_name(c['model_type'], c['budget'], c['seed'])} "
                          f"({c['status']})" for c in not_ok)
        err = ExperimentFailed(f"{len(not_ok)} of {n_cells} cells did not "
                               f"finish: {names}; results of the others are in {plan.output_dir}")
        return Failed(message=str(err), data=err)
    return summary


def _run(cfg: ExperimentConfig, out: Path, address: str | None) -> dict:
    results_dir = out / RESULTS_DIR
    slurm = cfg.cluster.slurm
    runner = make_task_runner(cfg.parallel_jobs, address,
                              worker_env(cfg.training_config, results_dir), slurm=slurm,
                              log_dir=out / "logs" / "slurm")
    if address:
        where = f"Dask scheduler {address}"
    elif slurm is not None:
        where = (f"{slurm.adapt.min_jobs}-{slurm.adapt.max_jobs} Slurm jobs of {slurm.cores} "
                 f"worker{'s' if slurm.cores > 1 else ''}, logs in {out / 'logs' / 'slurm'}")
    else:
        where = f"{cfg.parallel_jobs} local workers"
    get_run_logger().info(
        "hf-budget: %d budgets x %d models x %d seeds -> %s (%s)", len(cfg.hf_budgets),
        len(cfg.model_types), cfg.n_random_seeds, out, where)
    if cfg.hf_cpu_budgets:
        get_run_logger().info(
            "allocation study: %s at CPU budgets %s for %s x %d seeds", ", ".join(cfg.allocations),
            ", ".join(cfg.hf_cpu_budgets), ", ".join(study_models(cfg)), cfg.n_random_seeds)
    from sabr.estimate import plan_text          # the plan hf-budget plan prints
    get_run_logger().info("%s", plan_text(cfg, out, planned_workers(cfg)))
    if ensemble_members(cfg) > 1:
        get_run_logger().info("%s a deep ensemble of %d members%s",
                              "every cell" if cfg.ensemble_cells == "all" else
                              "every adaptive round (the other cells single models)",
                              ensemble_members(cfg),
                              "; adaptive rounds at " + ", ".join(adaptive_rounds(cfg))
                              if adaptive_rounds(cfg) else "")
    started = time.time()
    run_id = str(flow_run.id or "local")
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + f"-{run_id[:8]}"
    experiment = run_experiment.with_options(task_runner=runner, result_storage=results_dir)
    summary = experiment(cfg, str(out), run_name)
    from sabr.analysis.studies.history import write_run_log
    write_run_log(out, run_id, cfg.model_dump(mode="json", by_alias=True), summary, started)
    return summary
