"""The ``cluster`` section (sabr.cluster) and what flows/slurm.py makes of it: one-line errors
naming the field, nothing unapplied accepted, and the Slurm job script of the workers."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sabr.cluster import SlurmConfig, memory_bytes, walltime_seconds
from sabr.config import ConfigError, ExperimentConfig, load_config

SLURM = {"kind": "slurm"}


def _slurm(**fields) -> dict:
    return {"kind": "slurm", "slurm": fields}


def test_local_by_default_and_slurm_defaults_when_asked_for():
    assert ExperimentConfig.profile("quick").cluster.kind == "local"
    assert ExperimentConfig.profile("quick").cluster.slurm is None
    s = ExperimentConfig.profile("quick", cluster=SLURM).cluster.slurm
    assert (s.cores, s.memory, s.walltime, s.adapt.min_jobs, s.adapt.max_jobs) == (
        1, "4GiB", "04:00:00", 1, 4)


def test_a_slurm_config_round_trips_through_json_and_overrides():
    c = ExperimentConfig.profile("quick", cluster=_slurm(cores=2, memory="8GB", queue="cpu",
                                                          adapt={"min_jobs": 0, "max_jobs": 3}))
    assert ExperimentConfig.model_validate_json(c.model_dump_json(by_alias=True)) == c
    assert c.with_overrides(n_random_seeds=3).cluster == c.cluster    # tasks and the Python API


@pytest.mark.parametrize("cluster, message", [
    ({"kind": "pbs"}, "cluster.kind='pbs' is invalid: allowed one of 'local' or 'slurm'"),
    ({"kind": "slurm", "nodes": 2}, "cluster.nodes: unknown key (misspelt?); allowed keys: kind, slurm"),
    (_slurm(cores=0), "cluster.slurm.cores=0 is invalid: allowed >= 1"),
    (_slurm(walltime="4h"), "cluster.slurm.walltime='4h' is invalid: allowed Slurm's time format: "
                            "minutes ('90'), hours:minutes:seconds ('04:00:00') or "
                            "days-hours[:minutes[:seconds]] ('1-00:00:00'), above 0"),
    (_slurm(walltime="1:75:00"), "cluster.slurm.walltime='1:75:00' is invalid: allowed Slurm's"),
    (_slurm(walltime="0"), "cluster.slurm.walltime='0' is invalid: allowed Slurm's"),
    (_slurm(walltime=14400), "cluster.slurm.walltime=14400 is invalid: allowed a quoted string "
                             "such as \"04:00:00\" (YAML reads an unquoted 4:00:00 as the number "
                             "14400, and 90 as a number)"),
    (_slurm(memory="lots"), "cluster.slurm.memory='lots' is invalid: allowed a size such as "
                            "'4GiB', '4GB' or '4000MiB'"),
    (_slurm(cores=4, memory="2GiB"), "cluster.slurm.memory='2GiB' is invalid: less than 1GiB per "
                                     "core for cores=4; allowed >= 4GiB"),
    (_slurm(adapt={"min_jobs": 3, "max_jobs": 2}),
     "cluster.slurm.adapt.max_jobs=2 is invalid: less than min_jobs=3; allowed max_jobs >= min_jobs"),
    (_slurm(adapt={"max_jobs": 0}), "cluster.slurm.adapt.max_jobs=0 is invalid: allowed >= 1"),
    (_slurm(adapt={"maximum": 2}), "cluster.slurm.adapt.maximum: unknown key (misspelt?); "
                                   "allowed keys: max_jobs, min_jobs"),
    (_slurm(queue="a b"), "cluster.slurm.queue='a b' is invalid: allowed a name of letters, "
                          "digits and '_', '.', '-' (or unset)"),
    (_slurm(job_script_prologue=["module load x\nrm -rf /"]),
     "cluster.slurm.job_script_prologue=['module load x\\nrm -rf /'] is invalid: allowed a list "
     "of single-line shell commands"),
    ({"kind": "local", "slurm": {"cores": 2}},
     "cluster.slurm is not applied with cluster.kind='local'; allowed cluster.kind: slurm with "
     "it, or no slurm section"),
    ({"slurm": {}}, "cluster.slurm is not applied with cluster.kind='local'"),
])
def test_bad_cluster_fields_give_one_line(cluster, message):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.profile("quick", cluster=cluster)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


def test_parallel_jobs_is_refused_on_slurm_from_a_file_or_an_override(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("profile: quick\nparallel_jobs: 4\ncluster:\n  kind: slurm\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: parallel_jobs=4 is not applied "
                                          r"with cluster.kind='slurm' .*; allowed unset$"):
        load_config(p)
    p.write_text("profile: quick\ncluster:\n  kind: slurm\n")
    with pytest.raises(ConfigError, match=r"^parallel_jobs=3 is not applied"):
        load_config(p, parallel_jobs=3)
    assert load_config(p, parallel_jobs=None).cluster.kind == "slurm"     # unset: fine
    assert load_config(p).parallel_jobs == 2                              # the unused default


def test_sizes_and_times_read_as_dask_and_slurm_read_them():
    from dask.utils import parse_bytes
    for text in ("4GiB", "4GB", "4G", "1.5GiB", "4000MB", "512 MiB", "2tb"):
        assert memory_bytes(text) == parse_bytes(text), text
    assert [walltime_seconds(t) for t in ("90", "90:30", "04:00:00", "1-12", "1-12:30",
                                          "2-00:00:01")] == [
        5400, 5430, 14400, 129600, 131400, 172801]


def test_sabr_imports_no_dask_jobqueue():
    code = ("import sys, sabr.config, sabr.cluster; "
            "print(sorted(m for m in ('dask_jobqueue', 'dask', 'prefect') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_the_job_script_runs_single_threaded_workers_with_the_worker_environment(tmp_path):
    from dask_jobqueue import SLURMCluster

    from flows.runner import make_task_runner
    from flows.slurm import slurm_adapt_kwargs, slurm_cluster_kwargs
    slurm = SlurmConfig(cores=2, memory="4GiB", queue="cpu", interface="lo",
                        job_script_prologue=["module load python/3.11"],
                        adapt={"min_jobs": 0, "max_jobs": 5})
    env = {"TF_NUM_INTRAOP_THREADS": "1", "PREFECT_API_URL": "http://10.0.0.1:4200/api"}
    kwargs = slurm_cluster_kwargs(slurm, env, workdir=tmp_path / "a folder",
                                  log_dir=tmp_path / "logs")
    with SLURMCluster(**kwargs) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    for directive in ("#SBATCH -J hf-budget", "#SBATCH -p cpu", "#SBATCH -n 1",
                      "#SBATCH --cpus-per-task=2", "#SBATCH --mem=4G", "#SBATCH -t 04:00:00",
                      f"#SBATCH -o {tmp_path}/logs/hf-budget-%J.out"):
        assert directive in lines, (directive, script)
    first = lines.index("module load python/3.11")         # the site's prologue, then ours
    assert lines[first + 1:first + 5] == [
        "export DASK_DISTRIBUTED__WORKER__DAEMON=False",
        "export PREFECT_API_URL=http://10.0.0.1:4200/api", "export TF_NUM_INTRAOP_THREADS=1",
        f"cd '{tmp_path}/a folder'"]
    worker = lines[-1]
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://127.0.0.1:")
    for arg in ("--nthreads 1", "--nworkers 2", "--memory-limit 2.00GiB", "--interface lo",
                "--death-timeout 60"):
        assert arg in worker, (arg, worker)
    assert slurm_adapt_kwargs(slurm) == {"minimum_jobs": 0, "maximum_jobs": 5}
    runner = make_task_runner(2, None, env, slurm=slurm, log_dir=tmp_path / "logs")
    assert runner.cluster_class == "dask_jobqueue.SLURMCluster"
    assert runner.adapt_kwargs == {"minimum_jobs": 0, "maximum_jobs": 5}
