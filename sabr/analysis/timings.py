"""Where a run's time went: per-stage wall and CPU seconds from the task runs' own clocks.

Input per stage: one ``(state, timing)`` per task run, where ``state`` is the
Prefect state name (``Completed``, ``Cached``, ``Failed``, ...) and ``timing`` the
dict a task returned (``start``, ``end``, ``wall_s``, ``cpu_s``, ``peak_rss_mib``,
``slurm_job_id`` where a Slurm job's worker ran it, ``tf_process_started`` and
``tf_process_s`` where it used the worker's TensorFlow process; None when there is no
result). A cached task's timing is that of the run that computed it: it counts as time
saved, not time spent.
"""
from __future__ import annotations

import math
import statistics
from collections import Counter

from ..budget_labels import budget_name, cell_name

__all__ = ["stage_timings", "timings_markdown", "throughput", "progress_line", "data_line",
           "tuning_line", "CellEta", "STAGES"]

STAGES = ("generate", "assemble", "tune", "train", "aggregate")


def _stage(runs: list[tuple[str, dict | None]]) -> dict:
    done = [t for s, t in runs if s != "Cached" and t]
    saved = [t for s, t in runs if s == "Cached" and t]
    starts, ends = [t["start"] for t in done], [t["end"] for t in done]
    return {
        "tasks": len(runs),
        "computed": len(done),
        "cached": sum(s == "Cached" for s, _ in runs),
        "failed": sum(s not in ("Completed", "Cached") for s, _ in runs),
        "task_wall_s": sum(t["wall_s"] for t in done),
        "cpu_s": sum(t["cpu_s"] for t in done),
        "span_s": (max(ends) - min(starts)) if done else 0.0,
        "first_start": min(starts) if done else None,
        "peak_rss_mib": max((t.get("peak_rss_mib") or 0.0 for t in done), default=0.0),
        "cached_compute_s": sum(t["wall_s"] for t in saved),
        # TensorFlow's process per worker (tasks/isolation.py): how often one was started,
        # and the task wall spent starting, replacing and talking to it
        "tf_process_starts": sum(bool(t.get("tf_process_started")) for t in done),
        "tf_process_s": sum(t.get("tf_process_s", 0.0) for t in done),
    }


def stage_timings(stages: dict[str, list[tuple[str, dict | None]]], *, flow_started: float,
                  flow_ended: float, workers: int, extra: dict | None = None) -> dict:
    """The run's timings: per stage, and for the whole run the wall time, the task time, the
    overhead ratio wall x workers / task time (1.0 = every worker busy all the time) and
    ``slurm_jobs``, the tasks computed in each Slurm job (``{job id: tasks}``; empty off
    Slurm)."""
    out = {name: _stage(runs) for name, runs in stages.items()}
    for st in out.values():
        if st["first_start"] is not None:
            st["starts_after_s"] = st["first_start"] - flow_started
        st.pop("first_start")
    wall = flow_ended - flow_started
    busy = sum(st["task_wall_s"] for st in out.values())
    jobs = Counter(t["slurm_job_id"] for runs in stages.values() for s, t in runs
                   if s != "Cached" and t and t.get("slurm_job_id"))
    return {"wall_s": wall, "workers": int(workers), "task_wall_s": busy,
            "cpu_s": sum(st["cpu_s"] for st in out.values()),
            "overhead_ratio": (wall * workers / busy) if busy > 0 else math.nan,
            "slurm_jobs": dict(sorted(jobs.items())), "stages": out, **(extra or {})}


def throughput(chunks: list[tuple[str, dict | None]], cells: list[tuple[str, dict | None]]) -> dict:
    """HF path-steps per CPU second over the generation tasks computed in this run, and the
    median cell's training samples per second; ``(state, result)`` per task run."""
    steps = cpu = 0.0
    for state, r in chunks:
        if state != "Cached" and r and r.get("timing"):
            steps, cpu = steps + r["path_steps"], cpu + r["timing"]["cpu_s"]
    rates = [r["n_train"] * r["epochs_run"] / r["train_seconds"] for state, r in cells
                   if state != "Cached" and r and r.get("status") == "ok" and r.get("train_seconds")]
    return {"hf_path_steps_per_s": steps / cpu if cpu else None,
            "train_samples_per_s": statistics.median(rates) if rates else None}


def progress_line(k: int, n: int, cell: tuple, state: str, result: dict | None,
                  elapsed_s: float, eta_s: float = math.nan) -> str:
    """One line per finished cell, e.g. ``cell 7/24 mda_cnn b=200 s=1: 181.3 bp (Hagan 1002.7)
    [Completed] 1:02 elapsed, ETA 2:41`` (``ETA ?`` while ``eta_s`` is unknown, NaN; see
    :class:`CellEta`)."""
    b, m, s = cell
    what = state
    if result and result.get("status") == "ok":
        what = f"{result['rmse_bp']:.1f} bp (Hagan {result['hagan_rmse_bp']:.1f}) [{state}]"
    elif result:
        what = f"{result.get('status')}: {result.get('reason')} [{state}]"
    return (f"cell {k}/{n} {cell_name(m, b, s)}: {what} {_clock(elapsed_s)} elapsed, "
            f"ETA {_clock(eta_s) if n > k else 'done'}")


def data_line(k: int, n: int, first: int, last: int, state: str, elapsed_s: float,
              eta_s: float = math.nan) -> str:
    """One line per finished data chunk, e.g. ``data 3/40: surfaces 50-74 [Completed] 2:41
    elapsed, ETA 14:05``."""
    return (f"data {k}/{n}: surfaces {first}-{last} [{state}] {_clock(elapsed_s)} elapsed, "
            f"ETA {_clock(eta_s) if n > k else 'done'}")


def acquire_line(k: int, n: int, label: str, model_type: str, seed: int, state: str,
                 result: dict | None) -> str:
    """One line per finished ``adaptive`` round's acquisition, e.g. ``acquire 2/4 mda_cnn
    s=0 round 2 (adaptive@10%): 9 thetas (+4), 15.2 of 15.9 CPU-s [Completed]``; for
    ``adaptive/spread`` the points (+ bought, of which already simulated) and thetas; a
    budget in path-steps is shown in path-steps (``... 1.9e+09 of 2e+09 path-steps``)."""
    what = state
    spent = ""
    if result and result.get("unit") == "path_steps":
        spent = f"{result['hf_path_steps']:.3g} of {result['budget']:.3g} path-steps [{state}]"
    elif result and "hf_cpu_seconds" in result:
        spent = f"{result['hf_cpu_seconds']:.1f} of {result['budget_seconds']:.1f} CPU-s [{state}]"
    if result and "n_points" in result:
        free = (f", {result['n_free_points']} already simulated"
                if "n_free_points" in result else "")
        what = (f"{result['n_points']} points (+{result['n_bought']}{free}) on "
                f"{result['n_thetas']} thetas, {spent}")
    elif result and "order" in result:
        what = f"{result['n_thetas']} thetas (+{result['n_bought']}), {spent}"
    r = f" round {result['round']}" if result and "round" in result else ""
    return f"acquire {k}/{n} {model_type} s={seed}{r} ({label}): {what}"


def tuning_line(k: int, n: int, budget, model_type: str, state: str,
                result: dict | None) -> str:
    """One line per finished tuning, e.g. ``tuning 2/20 mda_cnn b=1000: best validation RMSE
    71.3 bp; 11 trials completed, 4 pruned, 0 failed [Completed]``."""
    what = state
    if result and result.get("best_value") is not None:
        what = (f"best validation RMSE {math.sqrt(result['best_value']):.1f} bp; "
                f"{result['n_complete']} trials completed, {result['n_pruned']} pruned, "
                f"{result['n_failed']} failed [{state}]")
    elif result:
        what = f"{result.get('message')} [{state}]"
    return f"tuning {k}/{n} {model_type} {budget_name(budget)}: {what}"


class CellEta:
    """Time left for the cells (or data chunks) not finished yet, from those computed in
    this run.

    The cells' throughput is (now - start of the first cell trained in this run) / cells
    trained since, so workers running side by side count, and the data and tuning stages
    before the first cell do not. Cells from the cache (an earlier run) took no time
    now and are left out. Cells run longest first, so the estimate errs long.
    """

    def __init__(self, n_cells: int):
        self.n, self.k, self.trained, self.first_start = int(n_cells), 0, 0, math.inf

    def cell_done(self, state: str, result: dict | None, now: float) -> float:
        """Record a finished cell; returns the ETA in seconds (NaN until one was trained)."""
        self.k += 1
        start = ((result or {}).get("timing") or {}).get("start")
        if state != "Cached" and start is not None:
            self.trained += 1
            self.first_start = min(self.first_start, float(start))
        if not self.trained:
            return math.nan
        return max(now - self.first_start, 0.0) / self.trained * (self.n - self.k)


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}" if minutes >= 60 else f"{minutes}:{sec:02d}"


def _f(v: float | None, spec: str = ".1f") -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def timings_markdown(t: dict) -> str:
    """A markdown table of the stages and one line for the run."""
    rows = ["| stage | tasks | computed | cached | failed | span (s) | task wall (s) | CPU (s) "
            "| peak RSS (MiB) |", "|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(STAGES)}      # timings.json sorts its keys
    for name, st in sorted(t["stages"].items(), key=lambda kv: order.get(kv[0], len(order))):
        rows.append(f"| {name} | {st['tasks']} | {st['computed']} | {st['cached']} | "
                    f"{st['failed']} | {_f(st['span_s'])} | {_f(st['task_wall_s'])} | "
                    f"{_f(st['cpu_s'])} | {_f(st['peak_rss_mib'], '.0f')} |")
    rows.append("")
    rows.append(f"Run: {_f(t['wall_s'])} s wall on {t['workers']} workers, "
                f"{_f(t['task_wall_s'])} s of task time, {_f(t['cpu_s'])} s CPU; overhead ratio "
                f"(wall x workers / task time) {_f(t['overhead_ratio'], '.2f')}.")
    for key, label in (("hf_path_steps_per_s", "HF Monte Carlo path-steps/s per worker"),
                       ("train_samples_per_s", "training samples/s per worker (median cell)")):
        if t.get(key):
            rows.append(f"{label}: {t[key]:.3g}.")
    tf = [(n, st) for n, st in t["stages"].items() if st.get("tf_process_starts")]
    if tf:
        rows.append("TensorFlow processes started (tasks/isolation.py), and the task wall spent "
                    "starting, replacing and talking to them: " + ", ".join(
                        f"{n} {st['tf_process_starts']} ({_f(st['tf_process_s'])} s)"
                        for n, st in tf)
                    + ".")
    if t.get("slurm_jobs"):
        rows.append(f"Slurm jobs that computed tasks: {len(t['slurm_jobs'])} ("
                    + ", ".join(f"job {j}: {n}" for j, n in t["slurm_jobs"].items()) + ").")
    return "\n".join(rows)
