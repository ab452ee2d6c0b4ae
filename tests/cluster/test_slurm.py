"""The quick profile (two of its models) through a real single-node Slurm (conftest.py): its
workers are Slurm jobs started and scaled by dask-jobqueue, its results are those of the
same cells in the local run, and no job outlives it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import yaml

QUICK_ON_SLURM = {
    "profile": "quick",
    # two of the four models and no allocation study: 12 cells, enough for two jobs to
    # share the work (CI time); their results are compared with the same cells run locally
    "model_types": ["mda_cnn", "residual_mlp"], "allocations": ["spread"], "hf_cpu_budgets": [],
    "cluster": {"kind": "slurm", "slurm": {
        "cores": 1, "memory": "2GiB", "walltime": "00:30:00", "interface": "lo",
        "adapt": {"min_jobs": 1, "max_jobs": 2}}},     # the local run's two workers
}
MEASURED = {"train_seconds", "hf_cpu_seconds", "exp_dir"}
"""Columns that are clock readings of the run, not results: they differ run to run; and the
cell's folder, numbered in the order a run first met its cells (the Slurm run has fewer)."""
KEY = ["budget", "model_type", "seed"]


class QueueWatcher(threading.Thread):
    """Polls squeue every second while a run goes: each job's id, submit and start time."""

    def __init__(self, env: dict):
        super().__init__(daemon=True)
        self.env, self.jobs, self.halt = env, {}, threading.Event()

    def run(self):
        while not self.halt.is_set():
            r = subprocess.run(["squeue", "--noheader", "--format=%i %T %V %S"],
                               capture_output=True, text=True, env=self.env, timeout=30)
            for line in r.stdout.splitlines():
                job, state, submit, start = line.split()
                seen = self.jobs.setdefault(job, {"submit": submit})
                if state == "RUNNING":
                    seen["start"] = start
            self.halt.wait(1.0)

    def stop(self) -> dict:
        self.halt.set()
        self.join(timeout=60)
        return self.jobs


def _registered(log_dir, job: str) -> datetime | None:
    """When job ``job``'s Dask worker registered with the scheduler (its log, INFO level)."""
    for path in log_dir.glob(f"*-{job}.err"):
        m = re.search(r"^(\S+ \S+),\d+ - distributed\.worker - INFO - +Registered to:",
                      path.read_text(errors="replace"), re.M)
        if m:
            return datetime.fromisoformat(m.group(1))
    return None


def _frame(path) -> pd.DataFrame:
    """The point-budget rows of the Slurm run's models (the CPU-budget cells' splits follow
    each run's timings)."""
    df = pd.read_csv(path)
    df = df[(df.unit == "points") & df.model_type.isin(QUICK_ON_SLURM["model_types"])]
    return df.sort_values(KEY).reset_index(drop=True)


@pytest.mark.slow
def test_the_quick_profile_through_slurm_equals_the_local_run(slurm, quick_local_run, tmp_path,
                                                              hf_budget_cli):
    local = quick_local_run
    assert local.result.returncode == 0, local.result.stderr[-3000:]
    config, out = tmp_path / "quick-slurm.yaml", tmp_path / "quick"
    config.write_text(yaml.safe_dump(QUICK_ON_SLURM))
    watcher = QueueWatcher(dict(os.environ, **slurm.env))
    watcher.start()
    started = time.monotonic()
    r = hf_budget_cli(["run", "--config", str(config), "--output-dir", str(out)], tmp_path,
                      env={**slurm.env, "DASK_LOGGING__DISTRIBUTED": "info"})  # workers' start logged
    wall = time.monotonic() - started
    jobs = watcher.stop()
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    assert "12 of 12 cells finished" in r.stdout, r.stdout[-2000:]
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]

    # every Slurm job gone once the run is over (a cancelled job completes within KillWait)
    deadline, queue = time.monotonic() + 60, slurm.squeue()
    while queue and time.monotonic() < deadline:
        time.sleep(1)
        queue = slurm.squeue()
    gone_s = time.monotonic() - started - wall
    assert queue == [], queue

    # at least two Slurm jobs of this run computed tasks (each task records its job's id)
    worked = json.loads((out / "analysis" / "timings.json").read_text())["slurm_jobs"]
    assert len(worked) >= 2 and set(worked) <= set(jobs), (worked, jobs)

    # the same results as on the local cluster: the cells' seeds derive from what they are,
    # not from where they ran
    ours, theirs = _frame(out / "detailed_results.csv"), _frame(local.out / "detailed_results.csv")
    assert list(ours.columns) == list(theirs.columns) and len(ours) == len(theirs) == 12
    assert set(ours.status) == {"ok"}
    for col in ours.columns.difference(sorted(MEASURED)):
        # (a column empty in one run, e.g. hf_cpu_budget without the study, reads as float)
        if ours[col].dtype.kind in "fiu" and theirs[col].dtype.kind in "fiu":
            np.testing.assert_allclose(ours[col], theirs[col], rtol=0, atol=1e-9, err_msg=col)
        else:
            assert ours[col].fillna("").astype(str).equals(theirs[col].fillna("").astype(str)), col

    # the figures of README / deployments/README.md
    def at(stamp):
        return datetime.fromisoformat(stamp)
    startup = {j: ((at(t["start"]) - at(t["submit"])).total_seconds() if "start" in t else None,
                   (_registered(out / "logs" / "slurm", j) - at(t["submit"])).total_seconds()
                   if _registered(out / "logs" / "slurm", j) else None)
               for j, t in jobs.items()}
    print(f"\nSlurm: daemons up in {slurm.start_s:.1f} s; 12 cells of the quick run through "
          f"Slurm {wall:.0f} s (all 32 locally {local.wall_s:.0f} s); jobs {sorted(jobs)}, tasks per job {worked}; "
          f"submit -> running, submit -> worker registered (s): {startup}; "
          f"queue empty {gone_s:.1f} s after the run")


@pytest.mark.slow
def test_a_worker_job_slurm_refuses_is_one_line_before_any_work(slurm, tmp_path, hf_budget_cli):
    """sbatch --test-only, against the real Slurm: a partition it does not have."""
    config, out = tmp_path / "nope.yaml", tmp_path / "out"
    config.write_text(yaml.safe_dump({**QUICK_ON_SLURM, "cluster": {
        "kind": "slurm", "slurm": {**QUICK_ON_SLURM["cluster"]["slurm"], "queue": "nope"}}}))
    r = hf_budget_cli(["run", "--config", str(config), "--output-dir", str(out)], tmp_path,
                      env=slurm.env, timeout=120)
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith("hf-budget: error: cluster.slurm is invalid here: Slurm refuses a "
                           "worker job (-n 1 --cpus-per-task=1 --mem=2G --time=00:30:00 "
                           "--partition=nope)"), line
    assert "invalid partition" in line.lower() and not out.exists()
    assert slurm.squeue() == []
