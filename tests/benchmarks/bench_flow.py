"""Benchmark: the quick profile through the hf-budget flow, then its fully cached rerun.

Prints the wall time of the quick profile on 2 local Dask workers (Prefect's
ephemeral server, as ``hf-budget run --profile quick`` does), the sum of the task
runs' compute times (read back through the Prefect client), the orchestration
overhead ratio wall x workers / compute (1.0 = both cores busy all the time), and
the wall time of a rerun in which every task is Cached. It also splits the idle
core-seconds of the first run into startup, between tasks, the single-task
aggregation and shutdown (from the task runs' Running spans).
Targets: quick <= 3 min on 2 cores, cached rerun <= 30 s. The overhead ratio is
printed for information only; it is not a target.

    python tests/benchmarks/bench_flow.py [--output-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path


def idle_breakdown(spans, t0: float, t1: float, workers: int) -> dict:
    """Idle core-seconds of a run from its task runs' (start, end, stage) spans.

    With ``workers`` cores from t0 to t1, a core is idle when fewer tasks run. The idle
    time is split into: ``startup`` (before the first task runs), ``shutdown`` (after
    the last ends), ``aggregate`` (while the single aggregation task runs) and
    ``between_tasks`` (everything else: scheduling gaps, the data barrier, the tail).
    """
    spans = sorted((max(a, t0), min(b, t1), stage) for a, b, stage in spans if b > a)
    out = {"startup": 0.0, "between_tasks": 0.0, "aggregate": 0.0, "shutdown": 0.0}
    if not spans:
        out["startup"] = (t1 - t0) * workers
        return out
    first, last = spans[0][0], max(b for _, b, _ in spans)
    out["startup"] = (first - t0) * workers
    out["shutdown"] = (t1 - last) * workers
    points = sorted({p for a, b, _ in spans for p in (a, b)})
    for lo, hi in zip(points, points[1:]):
        running = [stage for a, b, stage in spans if a <= lo and b >= hi]
        idle = max(workers - len(running), 0) * (hi - lo)
        out["aggregate" if "aggregate" in running else "between_tasks"] += idle
    return {k: round(v, 1) for k, v in out.items()}


def _task_spans() -> list[tuple[float, float, str]]:
    """(start, end, stage) of the newest experiment's task runs (their Running spans)."""
    return [(tr.start_time.timestamp(), tr.end_time.timestamp(), tr.name.split()[0])
            for tr in _task_runs() if tr.start_time and tr.end_time]


def _task_runs():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter,
                                                FlowRunFilterId)
    from prefect.client.schemas.sorting import FlowRunSort
    with get_client(sync_client=True) as client:
        run = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["hf-budget-experiment"])),
            sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))


def _task_times() -> tuple[float, Counter]:
    """Sum of total_run_time of the newest experiment's task runs, and their states."""
    trs = _task_runs()
    return (sum(tr.total_run_time.total_seconds() for tr in trs),
            Counter(tr.state.name for tr in trs))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.output_dir or Path(tempfile.mkdtemp(prefix="bench-flow-")) / "quick"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.experiment import hf_budget
    server = SubprocessASGIServer()           # one server for both runs and the read-back
    server.start()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            t0, e0 = time.perf_counter(), time.time()
            hf_budget(profile="quick", output_dir=str(out))
            wall = time.perf_counter() - t0
            compute, states = _task_times()
            idle = idle_breakdown(_task_spans(), e0, e0 + wall, 2)
            t0 = time.perf_counter()
            hf_budget(profile="quick", output_dir=str(out))
            cached_wall = time.perf_counter() - t0
            _, cached_states = _task_times()
    finally:
        server.stop()
    workers = 2
    report = {"quick_wall_s": round(wall, 1), "task_compute_s": round(compute, 1),
              "workers": workers, "overhead_ratio": round(wall * workers / compute, 3),
              "cached_rerun_wall_s": round(cached_wall, 1), "idle_core_s": idle, "first_states": dict(states),
              "rerun_states": dict(cached_states)}
    print(f"quick profile: {wall:.1f} s wall on {workers} workers; task compute {compute:.1f} s; "
          f"overhead ratio (wall x workers / compute, for information) {report['overhead_ratio']:.2f}")
    print("idle core-seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in idle.items())
          + f" (total {sum(idle.values()):.1f}; wall x workers - compute = "
          f"{wall * workers - compute:.1f})")
    print(f"cached rerun: {cached_wall:.1f} s wall; states {dict(cached_states)}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
