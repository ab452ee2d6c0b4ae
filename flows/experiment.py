"""The ``hf-budget`` Prefect flow: data -> tuning -> training -> aggregation, on Dask.

``hf_budget`` (flow ``hf-budget``) takes flat parameters (so a deployment's
``--param`` override of one field works), passes the checks every run passes
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
from prefect.utilities.annotations import allow_failure

from sabr.config import (ExperimentConfig, adaptive_rounds, ensemble_members, planned_cells,
                         planned_cost_cells, resolve_config, study_models)
from sabr.budget_labels import (adaptive_start, budget_name, is_adaptive, is_cell_label,
                                parse_cell_label, parse_cpu_budget)
from sabr.cells import Cell, CellLedger, folder_holds
from sabr.errors import ConfigError
from sabr.lock import output_lock
from sabr.model_types import MODEL_TYPES
from sabr.settings import CellSettings, TuningSettings
from tasks.acquisition import acquire_round
from tasks.data import assemble_dataset, dataset_identity, generate_chunk, generation_plan
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


SLOWEST_MODELS_FIRST = tuple(sorted(MODEL_TYPES, key=lambda m: MODEL_TYPES[m].cost_rank))
"""Models by measured cost per cell (the registry's cost_rank, sabr.model_types)."""
TUNE_PRIORITY, TRAIN_PRIORITY = 2_000_000, 1_000_000


def longest_first(cells):
    """(budget, model[, seed]) tuples ordered by expected cost: largest budget, then the
    slower model, then seed. CPU-budget cells ('surfaces@5%', 'spread@120s') come after
    the point budgets, percentages before seconds, each largest first."""
    rank = {m: i for i, m in enumerate(SLOWEST_MODELS_FIRST)}
    return sorted(cells, key=lambda c: (*_budget_rank(c[0]), rank.get(c[1], len(rank)),
                                        *c[2:]))


def _budget_rank(budget) -> tuple:
    if isinstance(budget, str) and "@" in budget:
        allocation, value = parse_cell_label(budget)
        amount, fraction = parse_cpu_budget(value)
        return (1 if fraction else 2, -amount, allocation)
    return (0, -int(budget), "")


def _tunings(cfg: ExperimentConfig) -> list:
    """(budget, model) of every tuning: each point budget and each CPU-budget label; an
    ``adaptive`` cell uses the ``surfaces`` tuning of its budget (:func:`_tuning_of`)."""
    study = dict.fromkeys((_tuning_of(b), m) for b, m, _ in planned_cost_cells(cfg))
    return [(b, m) for b in cfg.hf_budgets for m in cfg.model_types] + list(study)


def _tuning_of(budget):
    """Which tuning a cell's hyperparameters come from: its own (budget, model)'s, except
    that an adaptive round takes the tuning of the allocation it starts from at its budget
    (``surfaces``' for ``adaptive``, ``spread``'s for ``adaptive/spread``): its points are
    chosen by models trained on the earlier rounds, so no replicate of them exists to tune
    on before the run, and its first round's points are that allocation's."""
    if is_cell_label(budget) and is_adaptive(budget):
        return f"{adaptive_start(budget)}@{budget.partition('@')[2]}"
    return budget


def _tuning_folder(model_type: str, budget) -> str:
    """'mda_cnn_b200' (the seed's cells), 'mda_cnn_surfaces@120s', 'mda_cnn_paths-4@5%'."""
    name = budget_name(budget)
    return f"{model_type}_{name.replace('=', '').replace('/', '-')}"


@flow(name="hf-budget-experiment", log_prints=True)
def run_experiment(config_json: str, output_dir: str, run_name: str = "run") -> dict:
    """The experiment proper (see the module doc); returns the aggregation summary."""
    started = time.time()
    log = get_run_logger()
    cfg = ExperimentConfig.model_validate_json(config_json)
    out = Path(output_dir)
    data_dir = str(out / "data")
    stop_tensorflow_processes_on_close()
    # Each task gets the configuration sections its stage reads (its key's configuration).
    data_json = cfg.data_gen_config.model_dump_json()
    tuning_json = TuningSettings.of(cfg).model_dump_json(by_alias=True)
    cell_json = CellSettings.of(cfg).model_dump_json(by_alias=True)
    recycle = {"recycle_mib": cfg.worker_recycle_mib}

    # A data set that is absent, corrupt, edited or of another configuration is built again.
    problem, chunks = generation_plan(cfg.data_gen_config, data_dir)
    if problem not in (None, "absent"):
        log.warning("data set not usable (%s): building it again", problem)
    chunk_futs = [generate_chunk.with_options(refresh_cache=rebuild).submit(
        data_json, first, last, data_dir) for first, last, rebuild in chunks]
    dataset = assemble_dataset.with_options(refresh_cache=problem is not None).submit(
        data_json, chunk_futs, data_dir)
    if problem is None:
        # The disk and the cache agree: a cached assembly must describe the data set on disk
        # (the same content and the same measured timings), or it is assembled again.
        on_disk = dataset_identity(data_dir)
        if {k: dataset.result().get(k) for k in on_disk} != on_disk:
            log.warning("the cached data set record differs from %s: assembling it again",
                        data_dir)
            dataset = assemble_dataset.with_options(refresh_cache=True).submit(
                data_json, chunk_futs, data_dir)

    # Every cell's folder, from the output folder's ledger: a folder depends on the cell
    # alone (sabr.cells), so a grown or reordered grid keeps every folder it had.
    members = ensemble_members(cfg)
    planned = planned_cells(cfg)
    cost_planned = planned_cost_cells(cfg)
    ledger = CellLedger(out)
    cells = {c: Cell(c[1], c[0], c[2], members) for c in [*planned, *cost_planned]}
    exp_dirs = {c: str(out / ledger.folder(cell)) for c, cell in cells.items()}
    ledger.save()
    stale = {c for c, cell in cells.items() if not folder_holds(exp_dirs[c], cell)}

    # Dask priorities: a worker runs the tunings queued on it before its trainings (a
    # tuning gates its cells), each longest first, so the run ends on short cells and no
    # core idles long at the end. Without them, tasks submitted within Dask's 100 ms fifo
    # window ran in no set order: in one quick run a b=50 tuning ran last and its two
    # cells after it, one core idle for 4.8 s. (Dask hands a ready task to a worker at
    # once, so the order is per worker, not global; work stealing rebalances.)
    tuned = {}
    for rank, (b, m) in enumerate(longest_first(_tunings(cfg))):
        with dask.annotate(priority=TUNE_PRIORITY - rank):
            tuned[(b, m)] = tune_cell.with_options(
                task_run_name=f"tune {m} {budget_name(b)}").submit(
                tuning_json, dataset, m, b, data_dir, str(out / "tuning" / _tuning_folder(m, b)),
                **recycle)
    rounds = adaptive_rounds(cfg)
    train_futs = {}
    independent = [c for c in [*planned, *cost_planned] if c[0] not in rounds]
    for rank, (b, m, s) in enumerate(longest_first(independent)):
        with dask.annotate(priority=TRAIN_PRIORITY - rank):
            train_futs[(b, m, s)] = train_cell.with_options(
                task_run_name=f"train {m} {budget_name(b)} s={s}",
                refresh_cache=(b, m, s) in stale).submit(
                cell_json, dataset, m, b, s, allow_failure(tuned[(b, m)]), data_dir,
                exp_dirs[(b, m, s)], members, **recycle)
    acquire_futs = _submit_rounds(cfg, cell_json, dataset, tuned, exp_dirs, stale, members, out,
                                  train_futs)
    log.info("submitted %d chunks, %d tunings, %d trainings%s", len(chunk_futs), len(tuned),
             len(train_futs), f", {len(acquire_futs)} acquisitions ({len(rounds)} rounds)"
             if acquire_futs else "")
    redo = [c for c in stale if Path(exp_dirs[c]).exists()]
    if redo:
        log.info("%d cells whose folder does not hold their result are computed again",
                 len(redo))

    kind_of = {id(f): ("data", (first, last)) for f, (first, last, _) in zip(chunk_futs, chunks)}
    kind_of.update({id(f): ("tuning", cell) for cell, f in tuned.items()})
    kind_of.update({id(f): ("cell", cell) for cell, f in train_futs.items()})
    kind_of.update({id(f): ("acquire", cell) for cell, f in acquire_futs.items()})
    with RunProgress(len(chunk_futs), len(tuned), len(train_futs), log,
                     n_acquisitions=len(acquire_futs), rounds=rounds,
                     rounds_per_seed=len(rounds) * len(study_models(cfg))) as progress:
        for fut in as_completed([*chunk_futs, *tuned.values(), *train_futs.values(),
                                 *acquire_futs.values()]):
            fut.wait()                  # first: the state is final after it, not lagging
            result = fut.result() if fut.state.is_completed() else None
            progress.done(*kind_of[id(fut)], fut.state.name,
                          result if isinstance(result, dict) else None)
    wait(list(train_futs.values()))

    failures = []
    for (b, m, s), fut in train_futs.items():
        if not fut.state.is_completed():
            log.warning("cell %s %s s=%d did not finish: %s", m, budget_name(b), s,
                        fut.state.message)
            failures.append([b, m, s, f"{fut.state.name}: {fut.state.message or 'no message'}"])
    outcomes = {"generate": _outcomes(chunk_futs), "assemble": _outcomes([dataset]),
                "tune": _outcomes(tuned.values()), "train": _outcomes(train_futs.values())}
    clock = {"flow_started": started, "workers": worker_count(planned_workers(cfg))}
    summary = aggregate_results.submit(planned, str(out), len(planned), run_name, failures,
                                       outcomes, clock, cost_planned).result()
    summary["dataset"] = data_dir
    return summary


def _submit_rounds(cfg, cell_json, dataset, tuned, exp_dirs, stale, members, out,
                   train_futs) -> dict:
    """Submit the ``adaptive`` rounds, chained per (model, seed): round r's acquisition
    takes round r-1's acquisition and trained ensemble, its training that acquisition (and,
    warm-started, round r-1's folder). Adds the trainings to ``train_futs``; returns the
    acquisitions by (label, model, seed)."""
    acquire_futs = {}
    data_dir = str(out / "data")
    for allocation in dict.fromkeys(label.partition("@")[0] for label in adaptive_rounds(cfg)):
        rounds = adaptive_rounds(cfg, allocation)
        what = "points" if adaptive_start(allocation) == "spread" else "surfaces"
        folder = out / allocation.replace("/", "-")
        for m in study_models(cfg):
            for s in range(cfg.n_random_seeds):
                previous = scored = None
                for r, label in enumerate(rounds, start=1):
                    warm = (exp_dirs[(rounds[r - 2], m, s)]
                            if r > 1 and cfg.adaptive_warm_start else None)
                    with dask.annotate(priority=TRAIN_PRIORITY + 1):   # a round gates the next
                        acq = acquire_round.with_options(
                            task_run_name=f"acquire {what} r={r} s={s} ({m})").submit(
                            cell_json, dataset, m, label, s, r, previous, scored, data_dir,
                            str(folder / f"{m}_s{s}"))
                        fut = train_cell.with_options(
                            task_run_name=f"train {m} ensemble r={r} s={s} ({label})",
                            refresh_cache=(label, m, s) in stale).submit(
                            cell_json, dataset, m, label, s,
                            allow_failure(tuned[(_tuning_of(label), m)]), data_dir,
                            exp_dirs[(label, m, s)], members, acq, r < len(rounds), warm,
                            recycle_mib=cfg.worker_recycle_mib)
                    acquire_futs[(label, m, s)] = acq
                    train_futs[(label, m, s)] = fut
                    previous, scored = acq, fut
    return acquire_futs


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
              dask_address: str | None = None, skip_experiments: bool = False) -> dict:
    """Run the whole experiment (or, with skip_experiments, only aggregate existing cells).

    ``profile`` (default ``quick``) names the base configuration, or ``config_path`` a YAML
    file (a ``profile`` given with it must be the file's). Explicit parameters override it. Returns the aggregation
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
                             ensemble_size=ensemble_size)
            if plan.skip_experiments:
                from flows.analysis import aggregate_existing   # the analysis stack, when needed
                return aggregate_existing(plan.output_dir)
            held.enter_context(output_lock(plan.output_dir))   # the run's one lock
        except ConfigError as err:       # one line in the UI and the terminal, no traceback
            return Failed(message=str(err), data=err)
        summary = _run(plan.config, plan.output_dir, plan.dask_address)
    not_ok = [*summary["not_ok"], *summary.get("cost", {}).get("not_ok", [])]
    if not_ok:
        n_cells = summary["n_cells"] + summary.get("cost", {}).get("n_cells", 0)
        names = "; ".join(f"{c['model_type']} {budget_name(c['budget'])} s={c['seed']} "
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
    if ensemble_members(cfg) > 1:
        get_run_logger().info("every cell a deep ensemble of %d members%s", ensemble_members(cfg),
                              "; adaptive rounds at " + ", ".join(adaptive_rounds(cfg))
                              if adaptive_rounds(cfg) else "")
    started = time.time()
    run_id = str(flow_run.id or "local")
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + f"-{run_id[:8]}"
    experiment = run_experiment.with_options(task_runner=runner, result_storage=results_dir)
    summary = experiment(cfg.model_dump_json(by_alias=True), str(out), run_name)
    from sabr.analysis.history import write_run_log
    write_run_log(out, run_id, cfg.model_dump(mode="json", by_alias=True), summary, started)
    return summary
