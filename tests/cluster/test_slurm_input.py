"""``cluster.kind: slurm`` where the run could not start its workers: one line naming the
field or the reason, exit 2, no traceback, nothing written, within seconds. No Slurm is
needed: its commands are absent or stand-ins on PATH."""
from __future__ import annotations

import os
import time

import pytest
import yaml

from flows.slurm import check_slurm
from sabr.cluster import SlurmConfig
from sabr.errors import ConfigError

SLURM_QUICK = {"profile": "quick", "cluster": {"kind": "slurm", "slurm": {"interface": "lo"}}}


@pytest.fixture()
def slurm_config(tmp_path):
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(SLURM_QUICK))
    return path


def _stand_in(folder, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    exe = folder / name
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)


def _one_line_error(r, out) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and not out.exists(), r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith("hf-budget: error: "), line
    return line.removeprefix("hf-budget: error: ")


def test_without_dask_jobqueue(slurm_config, tmp_path, hf_budget_cli):
    site = tmp_path / "site"
    site.mkdir()          # dask_jobqueue made unimportable in both processes of the run
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['dask_jobqueue'] = None\n")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    out = tmp_path / "out"
    r = hf_budget_cli(["run", "--config", str(slurm_config), "--output-dir", str(out)], tmp_path,
                      env={"PYTHONPATH": path}, timeout=120)
    assert _one_line_error(r, out) == (
        "cluster.kind='slurm' needs the package dask-jobqueue, which is not installed: allowed "
        "after pip install -e '.[slurm]' (pinned: -c constraints.txt), or cluster.kind: local")


def test_without_slurm_commands(slurm_config, tmp_path, hf_budget_cli):
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    r = hf_budget_cli(["run", "--config", str(slurm_config), "--output-dir", str(out)], tmp_path,
                      env={"PATH": str(tmp_path / "empty")}, timeout=120)
    assert _one_line_error(r, out) == (
        "cluster.kind='slurm' is invalid here: sinfo is not on PATH, so no Slurm answers; "
        "allowed on a machine that submits Slurm jobs (a login node), or cluster.kind: local")


def test_with_a_slurm_that_does_not_answer(slurm_config, tmp_path, hf_budget_cli):
    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    _stand_in(bin_dir, "sinfo", "echo 'slurm_load_partitions: Unable to contact slurm controller "
                                "(connect failure)' >&2; exit 1")
    r = hf_budget_cli(["run", "--config", str(slurm_config), "--output-dir", str(out)], tmp_path,
                      env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, timeout=120)
    assert _one_line_error(r, out) == (
        "cluster.kind='slurm' is invalid here: no Slurm controller answers: sinfo: "
        "slurm_load_partitions: Unable to contact slurm controller (connect failure); allowed "
        "on a machine that submits Slurm jobs (a login node), or cluster.kind: local")


def test_a_slurm_that_hangs_is_given_up_within_the_timeout(tmp_path, monkeypatch):
    _stand_in(tmp_path / "bin", "sinfo", "sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^cluster.kind='slurm' is invalid here: no Slurm "
                                          r"controller answers: sinfo did not answer within 0.5 s;"):
        check_slurm(SlurmConfig(), timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_job_slurm_refuses(tmp_path, monkeypatch):
    """sbatch --test-only's refusal, named with the job's options (the real one: test_slurm.py)."""
    _stand_in(tmp_path / "bin", "sinfo", "echo debug")
    _stand_in(tmp_path / "bin", "sbatch", "echo \"$*\" > \"$(dirname \"$0\")/args\"; echo 'sbatch: "
                                          "error: Batch job submission failed: Requested node "
                                          "configuration is not available' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ConfigError) as err:
        check_slurm(SlurmConfig(cores=2, memory="8GiB", walltime="1-00:00:00", queue="big",
                                account="lab"))
    assert str(err.value) == (
        "cluster.slurm is invalid here: Slurm refuses a worker job (-n 1 --cpus-per-task=2 "
        "--mem=8G --time=1-00:00:00 --partition=big --account=lab): sbatch: error: Batch job "
        "submission failed: Requested node configuration is not available; allowed a queue, "
        "account, cores, memory and walltime that a partition grants (sinfo -o '%P %c %m %l')")
    assert (tmp_path / "bin" / "args").read_text().split() == [
        "--test-only", "-n", "1", "--cpus-per-task=2", "--mem=8G", "--time=1-00:00:00",
        "--partition=big", "--account=lab", "--wrap", "true"]


@pytest.mark.parametrize("args, message", [
    (["--parallel-jobs", "4"], "parallel_jobs=4 is not applied with cluster.kind='slurm' (the "
                               "workers are Slurm jobs of cluster.slurm.cores each, between "
                               "cluster.slurm.adapt.min_jobs and max_jobs); allowed unset"),
    (["--dask-address", "tcp://127.0.0.1:8786"],
     "dask_address='tcp://127.0.0.1:8786' is not applied with cluster.kind='slurm' (the run "
     "starts its own scheduler and Slurm jobs); allowed one of them: no dask_address (nor "
     "DASK_SCHEDULER_ADDRESS), or cluster.kind: local"),
])
def test_a_parameter_slurm_would_not_apply_is_refused(slurm_config, tmp_path, hf_budget_cli,
                                                      args, message):
    out = tmp_path / "out"
    r = hf_budget_cli(["run", "--config", str(slurm_config), "--output-dir", str(out), *args],
                      tmp_path, timeout=120)
    assert _one_line_error(r, out) == message
