"""A run's workers as Slurm jobs (``cluster.kind: slurm``, sabr.cluster): the arguments of
dask-jobqueue's ``SLURMCluster`` and of its adaptive scaling, and the checks, before any
work starts, that Slurm is there and would take the jobs.

Each Slurm job runs ``cores`` single-threaded Dask workers (one process per core, as the
local cluster's), with the environment a local worker gets (flows/runner.py's
``worker_env``: TensorFlow on one thread, the results store, the Prefect API URL) as
``export`` lines in the job script, after the configured prologue; the job then ``cd``s
to the submitting process's folder and starts the worker with this Python. Dask's
adaptive scaling keeps between ``adapt.min_jobs`` and ``adapt.max_jobs`` jobs; closing
the cluster (end of the run, a failure or a stop by signal) cancels them (``scancel``),
and a worker whose scheduler is gone (the submitting process killed) exits after
:data:`DEATH_TIMEOUT_S`, ending its job.
"""
from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from sabr.cluster import SlurmConfig
from sabr.errors import ConfigError

__all__ = ["SLURM_CLUSTER", "check_slurm", "slurm_cluster_kwargs", "slurm_adapt_kwargs",
           "job_options", "DEATH_TIMEOUT_S", "CHECK_TIMEOUT_S", "JOB_NAME"]

SLURM_CLUSTER = "dask_jobqueue.SLURMCluster"
DEATH_TIMEOUT_S = 60
"""A worker that cannot reach its scheduler this long exits (and its Slurm job ends)."""
CHECK_TIMEOUT_S = 10.0
"""How long ``sinfo`` and ``sbatch --test-only`` may take to answer (a Slurm without
controller answers ``sinfo`` in about 9 s; one without a configuration never)."""
JOB_NAME = "hf-budget"
_LOCAL = "or cluster.kind: local"


def check_slurm(slurm: SlurmConfig, timeout: float = CHECK_TIMEOUT_S) -> None:
    """Fail fast (one line) unless a run could start its Slurm workers: dask-jobqueue is
    installed, a Slurm controller answers ``sinfo``, and ``sbatch --test-only`` accepts
    one worker job as configured (partition, account, cores, memory, walltime).

    Raises:
        ConfigError: naming the field or the reason, within about 2 ``timeout`` s.
    """
    if importlib.util.find_spec("dask_jobqueue") is None:
        raise ConfigError("cluster.kind='slurm' needs the package dask-jobqueue, which is not "
                          "installed: allowed after pip install -e '.[slurm]' (pinned: -c "
                          f"constraints.txt), {_LOCAL}")
    _ask(["sinfo", "--noheader", "--format=%P"], "no Slurm controller answers", timeout)
    options = job_options(slurm)
    _ask(["sbatch", "--test-only", *options, "--wrap", "true"],
         f"Slurm refuses a worker job ({' '.join(options)})", timeout,
         field="cluster.slurm", allowed="allowed a queue, account, cores, memory and walltime "
                                        "that a partition grants (sinfo -o '%P %c %m %l')")


def _ask(args: list[str], what: str, timeout: float, *, field: str = "cluster.kind='slurm'",
         allowed: str = f"allowed on a machine that submits Slurm jobs (a login node), {_LOCAL}"
         ) -> None:
    exe = shutil.which(args[0])
    if exe is None:
        raise ConfigError(f"cluster.kind='slurm' is invalid here: {args[0]} is not on PATH, so no "
                          f"Slurm answers; allowed on a machine that submits Slurm jobs (a login "
                          f"node), {_LOCAL}")
    try:
        r = subprocess.run([exe, *args[1:]], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{field} is invalid here: {what}: {args[0]} did not answer within "
                          f"{timeout:g} s; {allowed}") from None
    except OSError as err:
        raise ConfigError(f"{field} is invalid here: {what}: {args[0]} cannot run "
                          f"({err.strerror or err}); {allowed}") from None
    if r.returncode != 0:
        said = " ".join((r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").split())
        said = said if said.startswith(args[0]) else f"{args[0]}: {said}"
        raise ConfigError(f"{field} is invalid here: {what}: {said[-300:]}; {allowed}")


def job_options(slurm: SlurmConfig) -> list[str]:
    """The sbatch options of one worker job, as dask-jobqueue writes them in its script."""
    from dask.utils import parse_bytes
    from dask_jobqueue.slurm import slurm_format_bytes_ceil
    options = ["-n", "1", f"--cpus-per-task={slurm.cores}",
               f"--mem={slurm_format_bytes_ceil(parse_bytes(slurm.memory))}",
               f"--time={slurm.walltime}"]
    if slurm.queue:
        options.append(f"--partition={slurm.queue}")
    if slurm.account:
        options.append(f"--account={slurm.account}")
    return options


def slurm_cluster_kwargs(slurm: SlurmConfig, env: dict[str, str], *, workdir: Path,
                         log_dir: Path) -> dict:
    """``SLURMCluster(**kwargs)``: one job = ``cores`` single-threaded workers.

    Args:
        env: every worker's environment (flows/runner.py's ``worker_env``), exported in
            the job script after the configured prologue.
        workdir: the folder the workers start in (the submitting process's).
        log_dir: where each job's stdout and stderr go (``hf-budget-<job id>.out/.err``).
    """
    exports = {**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}    # see make_task_runner
    prologue = [*slurm.job_script_prologue,
                *(f"export {k}={shlex.quote(v)}" for k, v in sorted(exports.items())),
                f"cd {shlex.quote(str(workdir))}"]
    return {"cores": slurm.cores, "processes": slurm.cores, "memory": slurm.memory,
            "walltime": slurm.walltime, "queue": slurm.queue, "account": slurm.account,
            "interface": slurm.interface, "job_script_prologue": prologue,
            "python": sys.executable, "job_name": JOB_NAME, "log_directory": str(log_dir),
            "death_timeout": DEATH_TIMEOUT_S, "scheduler_options": {"dashboard_address": ":0"}}


def slurm_adapt_kwargs(slurm: SlurmConfig) -> dict:
    """``cluster.adapt(**kwargs)``: between min_jobs and max_jobs Slurm jobs."""
    return {"minimum_jobs": slurm.adapt.min_jobs, "maximum_jobs": slurm.adapt.max_jobs}
