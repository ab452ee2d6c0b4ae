"""The ``hf-budget`` Prefect flow: data -> tuning -> training -> aggregation, on Dask.

``hf_budget`` (flow ``hf-budget``) takes flat parameters (so a deployment's
``--param`` override of one field works), resolves the configuration (profile or
YAML file, then explicit parameters), and runs the experiment as a subflow
``hf-budget-experiment`` on a ``DaskTaskRunner``: a ``LocalCluster`` of
``parallel_jobs`` single-threaded worker processes (TensorFlow pinned to one
intra- and one inter-op thread), or an existing scheduler given by
``dask_address`` / ``DASK_SCHEDULER_ADDRESS``. Workers are given the API URL of
the server the flow runs on, so their task runs are on the same server (also in
ephemeral mode).

Generation, tuning and training are cached (tasks/common.py) with results in
``<output_dir>/.prefect-results``: a rerun shows them ``Cached``. One failed
cell never stops the others; aggregation runs on what finished, the summary
names what is missing, and the flow then ends Failed with that list.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import dask
from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed, wait
from prefect.utilities.annotations import allow_failure

from sabr.config import ExperimentConfig, resolve_config
from sabr.errors import ConfigError
from sabr.io import atomic_write_json
from sabr.data.dataset import chunk_indices, dataset_problem
from sabr.lock import output_lock
from sabr.model_types import MODEL_TYPES
from tasks.data import assemble_dataset, chunk_file, generate_chunk
from tasks.modeling import train_cell, tune_cell
from tasks.reporting import aggregate_results

from flows.runner import make_task_runner, validate_dask_address

__all__ = ["hf_budget", "run_experiment", "resolve_config", "planned_cells", "ExperimentFailed"]

RESULTS_DIR = ".prefect-results"


class ExperimentFailed(RuntimeError):
    """Some cells did not finish; the results of the others are written."""


SLOWEST_MODELS_FIRST = tuple(sorted(MODEL_TYPES, key=lambda m: MODEL_TYPES[m].cost_rank))
"""Models by measured cost per cell (the registry's cost_rank, sabr.model_types)."""
TUNE_PRIORITY, TRAIN_PRIORITY = 2_000_000, 1_000_000


def longest_first(cells):
    """(budget, model[, seed]) tuples ordered by expected cost: largest budget, then the
    slower model, then seed."""
    rank = {m: i for i, m in enumerate(SLOWEST_MODELS_FIRST)}
    return sorted(cells, key=lambda c: (-c[0], rank.get(c[1], len(rank)), *c[2:]))


def planned_cells(cfg: ExperimentConfig) -> list[tuple[int, str, int]]:
    """Every (budget, model, seed) of the grid, in the order that numbers the exp_XXXX folders."""
    return [(b, m, s) for b in cfg.hf_budgets for m in cfg.model_types
            for s in range(cfg.n_random_seeds)]


@flow(name="hf-budget-experiment", log_prints=True)
def run_experiment(config_json: str, output_dir: str, run_name: str = "run") -> dict:
    """The experiment proper (see the module doc); returns the aggregation summary."""
    started = time.time()
    log = get_run_logger()
    cfg = ExperimentConfig.model_validate_json(config_json)
    out = Path(output_dir)
    d = cfg.data_gen_config
    data_dir = str(out / "data")

    # A data set that is absent, corrupt, edited or of another configuration is built again:
    # the assembly ignores its cache record, and so does every chunk whose file is gone.
    problem = dataset_problem(data_dir, d)
    if problem not in (None, "absent"):
        log.warning("data set not usable (%s): building it again", problem)
    chunk_futs = []
    for c in chunk_indices(d.n_parameter_sets, d.chunk_size):
        first, last = int(c[0]), int(c[-1])
        gone = problem is not None and not chunk_file(data_dir, first, last).is_file()
        chunk_futs.append(generate_chunk.with_options(refresh_cache=gone).submit(
            config_json, first, last, data_dir))
    dataset = assemble_dataset.with_options(refresh_cache=problem is not None).submit(
        config_json, chunk_futs, data_dir)

    # Dask priorities: a worker runs the tunings queued on it before its trainings (a
    # tuning gates its cells), each longest first, so the run ends on short cells and no
    # core idles long at the end. Without them, tasks submitted within Dask's 100 ms fifo
    # window ran in no set order: in one quick run a b=50 tuning ran last and its two
    # cells after it, one core idle for 4.8 s. (Dask hands a ready task to a worker at
    # once, so the order is per worker, not global; work stealing rebalances.)
    tuned = {}
    for rank, (b, m) in enumerate(longest_first((b, m) for b in cfg.hf_budgets
                                                for m in cfg.model_types)):
        with dask.annotate(priority=TUNE_PRIORITY - rank):
            tuned[(b, m)] = tune_cell.submit(config_json, dataset, m, b,
                                             str(out / "tuning" / f"{m}_b{b}"))
    planned = planned_cells(cfg)
    exp_dirs = {cell: str(out / f"exp_{i:04d}") for i, cell in enumerate(planned, start=1)}
    train_futs = {}
    for rank, (b, m, s) in enumerate(longest_first(planned)):
        with dask.annotate(priority=TRAIN_PRIORITY - rank):
            train_futs[(b, m, s)] = train_cell.submit(
                config_json, dataset, m, b, s, allow_failure(tuned[(b, m)]), exp_dirs[(b, m, s)])
    log.info("submitted %d chunks, %d tunings, %d trainings", len(chunk_futs), len(tuned),
             len(train_futs))

    progress = create_progress_artifact(progress=0.0, key="hf-budget-progress",
                                        description="trained cells (%)")
    done = 0
    for _ in as_completed(list(train_futs.values())):
        done += 1
        update_progress_artifact(progress, progress=100.0 * done / len(train_futs))
    wait(list(train_futs.values()))

    failures = []
    for (b, m, s), fut in train_futs.items():
        if not fut.state.is_completed():
            log.warning("cell %s b=%d s=%d did not finish: %s", m, b, s, fut.state.message)
            failures.append([b, m, s, f"{fut.state.name}: {fut.state.message or 'no message'}"])
    heavy = [*chunk_futs, dataset, *tuned.values(), *train_futs.values()]
    fully_cached = all(f.state.name == "Cached" for f in heavy)
    records = {"generate": _records(chunk_futs), "assemble": _records([dataset]),
               "tune": _records(tuned.values()), "train": _records(train_futs.values())}
    clock = {"flow_started": started, "workers": _n_workers(cfg),
             "extra": _throughput(chunk_futs, train_futs.values())}
    summary = aggregate_results.submit(planned, str(out), len(planned), run_name,
                                       fully_cached, failures, records, clock).result()
    summary["dataset"] = data_dir
    return summary


def _result(fut) -> dict | None:
    if not fut.state.is_completed():
        return None
    value = fut.result()
    return value if isinstance(value, dict) else None


def _records(futs) -> list[tuple[str, dict | None]]:
    """(state name, the task's own timing) of each task run, for sabr.analysis.timings."""
    return [(f.state.name, (_result(f) or {}).get("timing")) for f in futs]


def _throughput(chunk_futs, train_futs) -> dict:
    """HF path-steps per CPU second, and the median cell's training samples per second,
    over the tasks computed in this run."""
    import numpy as np
    steps = cpu = 0.0
    for f in chunk_futs:
        r = _result(f)
        if r and f.state.name != "Cached" and r.get("timing"):
            steps, cpu = steps + r["path_steps"], cpu + r["timing"]["cpu_s"]
    rates = [r["n_train"] * r["epochs_run"] / r["train_seconds"]
             for f in train_futs if f.state.name != "Cached" and (r := _result(f))
             and r.get("status") == "ok" and r.get("train_seconds")]
    return {"hf_path_steps_per_s": steps / cpu if cpu else None,
            "train_samples_per_s": float(np.median(rates)) if rates else None}


def _n_workers(cfg: ExperimentConfig) -> int:
    from prefect.context import get_run_context
    try:
        client = get_run_context().task_runner.client
        return len(client.scheduler_info(n_workers=-1)["workers"]) or cfg.parallel_jobs
    except Exception:          # no Dask client at hand: the configured number
        return cfg.parallel_jobs


def _task_runner_env(cfg: ExperimentConfig, results_dir: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL
    env = {
        "TF_NUM_INTRAOP_THREADS": str(cfg.training_config.tf_intra_op_threads),
        "TF_NUM_INTEROP_THREADS": str(cfg.training_config.tf_inter_op_threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(results_dir),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    url = PREFECT_API_URL.value()
    if not url:
        from prefect.client.orchestration import get_client
        with get_client(sync_client=True) as client:
            url = str(client.api_url)
    if url and not url.startswith("ephemeral"):
        env["PREFECT_API_URL"] = url.rstrip("/")
    return env


def _write_run_log(out: Path, cfg: ExperimentConfig, summary: dict, started: float) -> Path:
    """logs/run-<time>-<flow run id>.json: what ran, how long, what finished (never overwritten)."""
    from prefect.runtime import flow_run
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    run_id = str(flow_run.id or "local")
    return atomic_write_json(out / "logs" / f"run-{stamp}-{run_id[:8]}.json", {
        "flow_run_id": run_id, "started_utc": stamp, "wall_seconds": time.time() - started,
        "config": cfg.model_dump(mode="json", by_alias=True), "summary": summary})


@flow(name="hf-budget", log_prints=True)
def hf_budget(profile: str = "quick", config_path: str | None = None,
              hf_budgets: list[int] | None = None, model_types: list[str] | None = None,
              n_hyperparameter_trials: int | None = None, n_random_seeds: int | None = None,
              parallel_jobs: int | None = None, output_dir: str | None = None,
              tuning_method: str | None = None, dask_address: str | None = None,
              skip_experiments: bool = False) -> dict:
    """Run the whole experiment (or, with skip_experiments, only aggregate existing cells).

    Explicit parameters override the profile / config file. Returns the aggregation
    summary; raises ExperimentFailed (flow state Failed) if any cell did not finish.
    """
    log = get_run_logger()
    cfg = resolve_config(profile, config_path, hf_budgets=hf_budgets, model_types=model_types,
                         n_hyperparameter_trials=n_hyperparameter_trials,
                         n_random_seeds=n_random_seeds, parallel_jobs=parallel_jobs,
                         output_dir=output_dir, tuning_method=tuning_method)
    address = validate_dask_address(dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS"))
    out = Path(cfg.output_dir).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"output_dir={str(out)!r} is invalid: allowed a folder this user can "
                          f"create and write ({err.strerror or err})") from None
    with output_lock(out):          # one run per output folder (OutputBusy otherwise)
        if skip_experiments:
            from flows.analysis import aggregate_existing
            return aggregate_existing(out)
        results_dir = out / RESULTS_DIR
        runner = make_task_runner(cfg.parallel_jobs, address, _task_runner_env(cfg, results_dir))
        log.info("hf-budget: %d budgets x %d models x %d seeds -> %s (%s)", len(cfg.hf_budgets),
                 len(cfg.model_types), cfg.n_random_seeds, out,
                 f"Dask scheduler {address}" if address else f"{cfg.parallel_jobs} local workers")
        experiment = run_experiment.with_options(task_runner=runner, result_storage=results_dir)
        started = time.time()
        from prefect.runtime import flow_run
        run_name = (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
                    + f"-{str(flow_run.id or 'local')[:8]}")
        summary = experiment(cfg.model_dump_json(by_alias=True), str(out), run_name)
        _write_run_log(out, cfg, summary, started)
        if summary["not_ok"]:
            names = "; ".join(f"{c['model_type']} b={c['budget']} s={c['seed']} ({c['status']})"
                              for c in summary["not_ok"])
            raise ExperimentFailed(f"{len(summary['not_ok'])} of {summary['n_cells']} cells did not "
                                   f"finish: {names}; results of the others are in {out}")
        return summary

