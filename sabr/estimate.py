"""A run's plan before it runs: tasks per stage, how many are done already, and what the
rest costs in CPU-hours and wall time (``hf-budget plan``; docs/DESIGN.md section 3).

From the validated configuration and the output folder alone: the plan's tasks
(sabr.plan.make_plan, on a read-only ledger: nothing is written), each costed by
sabr.cost_model (refitted from the folder's own records when it holds a finished run, the
defaults otherwise). A task counts as done as the flow decides it (flows/experiment.py): a
cell whose folder holds its result (sabr.cells.folder_holds), an acquisition whose round's
cell does, a tuning whose journal holds its trials, a data chunk of a data set on disk with
this data configuration (its hashes are checked by the run, not here). A change of code or
configuration that the cache keys see recomputes tasks counted done here.

**Wall time**: list scheduling of the tasks on the workers, as Dask runs them: a worker
takes the ready task of highest priority (sabr.plan: the data chunks gate everything, an
adaptive round's tasks come first, then the tunings, each gating its cells, then the
cells, each longest first; a warm-started cell waits for its source's cell,
training_config.warm_start); done tasks cost nothing. The wall time is that schedule's end
plus the run's fixed ``flow_s``. **CPU-hours**: the tasks' worker-seconds (one core per
worker). No Prefect, no Dask, no TensorFlow.
"""
from __future__ import annotations

import heapq
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .budget_labels import is_cell_label, parse_allocation, parse_cell_label, parse_cpu_budget
from .cells import CellLedger, folder_holds
from .config import ExperimentConfig
from .cost_model import (DEFAULT_COST_MODEL, CostModel, expected_fit_cost, macs_per_sample,
                         refit, seconds_label)
from .plan import make_plan, tuning_reuse_line, warm_start_line

__all__ = ["StageEstimate", "RunEstimate", "estimate_run", "last_run_check", "last_run_line",
           "plan_text", "over_limit", "STAGES"]

STAGES = ("generate", "tune", "train", "acquire")


@dataclass(frozen=True)
class StageEstimate:
    """One stage: tasks planned, done already, and the worker-seconds of the rest."""

    planned: int
    cached: int
    seconds: float


@dataclass(frozen=True)
class RunEstimate:
    """The plan's counts and cost. ``wall_s``: the list schedule's end plus ``flow_s``
    (0 when nothing is left to compute)."""

    stages: dict
    cpu_s: float
    wall_s: float
    workers: int
    model: CostModel
    records: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The plan as printed by ``hf-budget plan`` and logged at a run's start."""
        rows = [f"  {'stage':<9}{'planned':>8}{'cached':>8}{'to run':>8}{'CPU-hours':>11}"]
        for name in STAGES:
            s = self.stages[name]
            rows.append(f"  {name:<9}{s.planned:>8}{s.cached:>8}{s.planned - s.cached:>8}"
                        f"{s.seconds / 3600:>11.2f}")
        used = ", ".join(f"{n} {k}" for k, n in self.records.items() if n)
        rows.append(f"  estimate: {self.cpu_s / 3600:.2f} CPU-hours, wall time about "
                    f"{seconds_label(self.wall_s)} on {self.workers} worker"
                    f"{'s' if self.workers != 1 else ''}")
        rows.append(f"  cost model: {self.model.source}" + (f" ({used})" if used else ""))
        return rows

    @property
    def wall_h(self) -> float:
        return self.wall_s / 3600


# ------------------------------------------------------------------ what the data costs
def _path_steps(cfg: ExperimentConfig) -> np.ndarray:
    """Each theta's Monte Carlo path-steps (paths x time steps to the last maturity), by
    the engine's step rule, without simulating."""
    from .data.dataset import GridSpec, sample_thetas
    from .numerics.time_grid import path_steps_to_maturity
    d = cfg.data_gen_config
    thetas = sample_thetas(d.n_parameter_sets, d.parameter_box, d.master_seed)
    mats = GridSpec.from_config(d).maturities
    return np.array([path_steps_to_maturity(d.fwd, mats, a, b, d.mc_paths, d.steps_per_year)[-1]
                     for a, b, *_ in thetas], float)


def _data_on_disk(cfg: ExperimentConfig, data_dir: Path) -> dict | None:
    """The data set's metadata when one of this data configuration is on disk."""
    try:
        meta = json.loads((data_dir / "metadata.json").read_text())
    except (OSError, ValueError):
        return None
    ok = (data_dir / "surfaces.npz").is_file() and \
        meta.get("config") == cfg.data_gen_config.model_dump(mode="json")
    return meta if ok else None


_CHUNK = re.compile(r"^chunk_(\d+)_(\d+)\.npz$")


def _chunks(cfg, out: Path, cm: CostModel, meta: dict | None) -> tuple[list, np.ndarray | None]:
    """(first, last, seconds, done) per data chunk, and each theta's path-steps when known."""
    d = cfg.data_gen_config
    n, size = d.n_parameter_sets, d.chunk_size
    on_disk = {(int(m[1]), int(m[2])) for p in (out / "data" / "chunks").glob("chunk_*.npz")
               if (m := _CHUNK.match(p.name))}
    steps = None if meta is None else np.asarray(meta.get("path_steps_per_surface", []), float)
    chunks = []
    for first in range(0, n, size):
        last = min(first + size, n) - 1
        done = meta is not None or (first, last) in on_disk
        if not done and steps is None:
            steps = _path_steps(cfg)
        cost = 0.0 if done else cm.chunk_s + float(
            np.sum(steps[first:last + 1]) * cm.path_step_s + (last - first + 1) * cm.surface_s)
        chunks.append((first, last, cost, done))
    return chunks, steps


# ------------------------------------------------------------------ what a cell trains on
def _pool_cost(cfg, meta: dict | None, steps: np.ndarray | None, cm: CostModel) -> tuple[float, float]:
    """(CPU-seconds, path-steps) of the train pool's Monte Carlo runs: measured when the
    data set is on disk, else predicted."""
    d = cfg.data_gen_config
    share = d.n_train_pool / d.n_parameter_sets
    if meta is not None and meta.get("hf_cpu_seconds_total"):
        return float(meta["hf_cpu_seconds_total"]) * share, \
            float(np.sum(meta.get("path_steps_per_surface", [0]))) * share
    steps = _path_steps(cfg) if steps is None else steps
    return float(steps.sum() * cm.path_step_s) * share, float(steps.sum()) * share


def _points(cfg, budget, pool: tuple[float, float]) -> int:
    """HF points a cell of ``budget`` sees (validation included): the budget itself, or,
    for a CPU-budget label, its fraction f of the pool's cost bought as whole surfaces
    (f x pool thetas; paths/D about D times as many, at most the pool), or as spread points
    (their first point on a theta costs about half its run: about 2 f x pool thetas'
    points, one each, while that is less than the pool). An estimate: the run cuts the
    budget from the measured timings."""
    d = cfg.data_gen_config
    if not is_cell_label(budget):
        return int(budget)
    allocation, value = parse_cell_label(budget)
    amount, is_fraction = parse_cpu_budget(value)
    if is_fraction:
        f = amount
    elif str(value).endswith("ps"):
        f = amount / max(pool[1], 1.0)
    else:
        f = amount / max(pool[0], 1e-9)
    base, variant = parse_allocation(allocation)
    if base == "spread" or (base == "adaptive" and variant == "spread"):
        return int(max(2, min(d.n_train_pool * d.points_per_surface,
                              round(2 * f * d.n_train_pool))))
    scale = int(variant) if base == "paths" and variant else 1
    thetas = min(d.n_train_pool, max(1, round(f * scale * d.n_train_pool)))
    return int(thetas * d.points_per_surface)


def _n_train(cfg, budget, pool) -> int:
    return max(1, int(round(_points(cfg, budget, pool) * (1 - cfg.training_config.validation_fraction))))


def _trials_done(folder: Path) -> int:
    """Finished trials in a tuning folder's journal (0 without one)."""
    path = folder / "optuna_journal.log"
    if not path.is_file():
        return 0
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return max((sum(t.state.is_finished() for t in optuna.load_study(study_name=name,
                                                                      storage=storage).trials)
                for name in optuna.get_all_study_names(storage)), default=0)


# ------------------------------------------------------------------ the schedule
def _makespan(tasks: list[dict], workers: int) -> float:
    """List scheduling (see the module doc): each task {"id", "cost", "priority", "deps"}."""
    waiting = {t["id"]: set(t["deps"]) for t in tasks}
    users: dict = {}
    for t in tasks:
        for d in t["deps"]:
            users.setdefault(d, []).append(t["id"])
    by_id = {t["id"]: (i, t) for i, t in enumerate(tasks)}
    ready = [(-t["priority"], i, t["id"]) for i, t in enumerate(tasks) if not t["deps"]]
    heapq.heapify(ready)
    running: list = []
    now, free = 0.0, max(1, int(workers))
    while ready or running:
        while free and ready:
            _, _, tid = heapq.heappop(ready)
            heapq.heappush(running, (now + by_id[tid][1]["cost"], by_id[tid][0], tid))
            free -= 1
        now, _, tid = heapq.heappop(running)
        free += 1
        for u in users.get(tid, ()):
            waiting[u].discard(tid)
            if not waiting[u]:
                i, t = by_id[u]
                heapq.heappush(ready, (-t["priority"], i, u))
    return now


def estimate_run(cfg: ExperimentConfig, output_dir, workers: int,
                 model: CostModel | None = None, *, from_scratch: bool = False,
                 price: str = "mean") -> RunEstimate:
    """The plan of ``cfg``'s run into ``output_dir`` on ``workers`` workers (see the module
    doc). ``model`` None: refitted from the folder's records, else the defaults.
    ``from_scratch``: count nothing as done (what the run costs in an empty folder).
    ``price``: each fit at the mean of the search space's choices (``mean``, the estimate)
    or at its costliest (``max``: what the run costs if every tuning picks its costliest
    network; a tuning that picks the widest CNN makes its cells several times dearer)."""
    if price not in ("mean", "max"):
        raise ValueError(f"price: {price!r} is not allowed; allowed 'mean' or 'max'")
    out = Path(output_dir)
    records: dict = {}
    if model is None:
        model, records = refit(out)
    cm = model
    meta = None if from_scratch else _data_on_disk(cfg, out / "data")
    chunks, steps = _chunks(cfg, out if not from_scratch else out / ".none", cm, meta)
    pool = _pool_cost(cfg, meta, steps, cm)
    plan = make_plan(cfg, CellLedger(out if not from_scratch else out / ".none"))
    tc, space, mc = cfg.training_config, cfg.hyperparameter_space, cfg.models
    fit = {}

    def fit_seconds(model_type, budget, tuning=False):
        key = (model_type, budget, tuning)
        if key not in fit:
            fit[key] = expected_fit_cost(cm, model_type, _n_train(cfg, budget, pool), tc, space,
                                         mc, tuning=tuning,
                                         how="mean" if tuning else price)   # trials: draws
        return fit[key]

    gate = ("data",)
    tasks = [{"id": ("chunk", c[0]), "cost": c[2], "priority": 0, "deps": []} for c in chunks]
    tasks.append({"id": gate, "cost": 0.0, "priority": 0, "deps": [t["id"] for t in tasks]})
    stages = {name: [0, 0, 0.0] for name in STAGES}
    for c in chunks:
        stages["generate"][0] += 1
        stages["generate"][1] += c[3]
    trials = cfg.n_hyperparameter_trials
    for t in plan.tunings:
        done = not from_scratch and _trials_done(out / t.folder) >= trials
        cost = 0.0 if done else cm.tune_task_s + trials * fit_seconds(t.model_type, t.budget, True)
        stages["tune"][0] += 1
        stages["tune"][1] += done
        tasks.append({"id": ("tune", t.budget, t.model_type), "cost": cost,
                      "priority": t.priority, "deps": [gate]})
    for p in plan.all_cells():
        c = p.cell
        done = not from_scratch and folder_holds(out / p.folder, c)
        n_test = cfg.data_gen_config.n_test * cfg.data_gen_config.points_per_surface
        eval_s = c.members * n_test * cm.mac_s / 3 * macs_per_sample(
            c.model_type, mc.patch_size, {"cnn_filters": mc.cnn_filters,
                                          "mlp_hidden_dims": mc.mlp_hidden_dims,
                                          "residual_mlp_hidden_dims": mc.residual_mlp_hidden_dims})
        cost = 0.0 if done else cm.train_task_s + eval_s + c.members * fit_seconds(
            c.model_type, c.budget)
        deps = [("tune", *p.tuning)]
        if p.acquisition is not None:
            a_id = ("acquire", c.budget, c.model_type, c.seed)
            prev = p.previous and [("acquire", p.previous.budget, c.model_type, c.seed),
                                   ("train", p.previous.budget, c.model_type, c.seed)]
            tasks.append({"id": a_id, "cost": 0.0 if done else cm.acquire_task_s,
                          "priority": p.priority, "deps": [gate, *(prev or [])]})
            stages["acquire"][0] += 1
            stages["acquire"][1] += done
            stages["acquire"][2] += 0.0 if done else cm.acquire_task_s
            deps.append(a_id)
        elif p.warm_from is not None:       # warm_start previous_budget: after its source
            deps.append(("train", p.warm_from.budget, c.model_type, c.seed))
        stages["train"][0] += 1
        stages["train"][1] += done
        stages["train"][2] += cost
        tasks.append({"id": ("train", c.budget, c.model_type, c.seed), "cost": cost,
                      "priority": p.priority, "deps": deps})
    stages["generate"][2] = sum(c[2] for c in chunks)
    stages["tune"][2] = sum(t["cost"] for t in tasks if t["id"][0] == "tune")
    cpu = sum(s[2] for s in stages.values())
    span = _makespan(tasks, workers)
    wall = span + cm.flow_s if cpu > 0 else 0.0
    return RunEstimate({k: _stage(*v) for k, v in stages.items()}, cpu, wall, int(workers), cm,
                       records)


def _stage(planned, cached, seconds) -> StageEstimate:
    return StageEstimate(int(planned), int(cached), float(seconds))


def last_run_check(output_dir) -> dict | None:
    """The newest finished run of ``output_dir`` (logs/run-*.json) against the estimate of
    its configuration from scratch on its workers: {"measured_s", "estimated_s" (the
    folder's refitted cost model), "default_s" (the defaults), "ratio", "default_ratio"
    (estimate / measured), "cached_tasks" (tasks it took from the cache: its measured time
    then covers less than a run from scratch)}; None without a finished run."""
    from .config import config_from_dict
    from .cost_model import _last_run
    run = _last_run(Path(output_dir))
    if not run or not run.get("config") or not run.get("wall_seconds"):
        return None
    timings = (run.get("summary") or {}).get("timings") or {}
    workers = int(timings.get("workers") or run["config"].get("parallel_jobs") or 1)
    cfg = config_from_dict(run["config"])
    measured = float(run["wall_seconds"])
    refitted = estimate_run(cfg, output_dir, workers, from_scratch=True)
    default = estimate_run(cfg, output_dir, workers, DEFAULT_COST_MODEL, from_scratch=True)
    cached = sum(int(s.get("cached", 0)) for s in (timings.get("stages") or {}).values())
    return {"measured_s": measured, "estimated_s": refitted.wall_s, "default_s": default.wall_s,
            "ratio": refitted.wall_s / measured, "default_ratio": default.wall_s / measured,
            "cached_tasks": cached, "workers": workers}


def last_run_line(check: dict | None) -> str | None:
    """'last run here: measured 2.4 min on 2 workers; estimated 2.6 min from scratch (x1.08),
    2.2 min with the defaults (x0.92)'."""
    if check is None:
        return None
    note = (f"; it took {check['cached_tasks']} tasks from the cache" if check["cached_tasks"]
            else "")
    return (f"  last run here: measured {seconds_label(check['measured_s'])} on "
            f"{check['workers']} workers; estimated {seconds_label(check['estimated_s'])} from "
            f"scratch (x{check['ratio']:.2f}), {seconds_label(check['default_s'])} with the "
            f"defaults (x{check['default_ratio']:.2f}){note}")


def plan_text(cfg: ExperimentConfig, output_dir, workers: int,
              estimate: RunEstimate | None = None) -> str:
    """The plan as ``hf-budget plan`` prints it and a run logs it at its start."""
    est = estimate or estimate_run(cfg, output_dir, workers)
    lines = [f"plan of {cfg.name} -> {Path(output_dir)}:", *est.lines()]
    worst = estimate_run(cfg, output_dir, workers, est.model, price="max")
    if worst.wall_s > 1.05 * est.wall_s:
        lines.append(f"  if every tuning picks its costliest network: up to "
                     f"{worst.cpu_s / 3600:.2f} CPU-hours, wall time about "
                     f"{seconds_label(worst.wall_s)}")
    if check := last_run_line(last_run_check(output_dir)):
        lines.append(check)
    if reuse := tuning_reuse_line(cfg):
        lines.append(reuse)
    if warm := warm_start_line(cfg):
        lines.append(warm)
    if cfg.max_hours is not None:
        verdict = ("the estimate is within it" if est.wall_h <= cfg.max_hours else
                   f"exceeded by the estimate of {est.wall_h:.2f} h: the run would refuse to start")
        lines.append(f"  max_hours: {cfg.max_hours:g} h, {verdict}")
    return "\n".join(lines)


def over_limit(cfg: ExperimentConfig, output_dir, workers: int) -> str | None:
    """The one line refusing a run whose estimated wall time exceeds ``cfg.max_hours``
    (None when it is unset or the estimate is within it)."""
    if cfg.max_hours is None:
        return None
    est = estimate_run(cfg, output_dir, workers)
    if est.wall_h <= cfg.max_hours:
        return None
    need = math.ceil(est.wall_h * 1.5 * 10) / 10
    return (f"max_hours={cfg.max_hours:g} is exceeded: this run is estimated at "
            f"{est.wall_h:.2f} h wall time on {workers} workers ({est.cpu_s / 3600:.2f} "
            f"CPU-hours; hf-budget plan shows it); allowed a run estimated within it: raise "
            f"the limit (--max-hours {need:g}, or max_hours in the configuration) or unset it")
