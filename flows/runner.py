"""The Dask task runner: a local cluster of single-threaded workers, Slurm jobs through
dask-jobqueue (flows/slurm.py), or an existing scheduler; the workers' environment, and the
check of a scheduler address."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sabr.errors import ConfigError

if TYPE_CHECKING:                      # imported when used: the CLI checks input without Prefect
    from prefect_dask import DaskTaskRunner

    from sabr.cluster import SlurmConfig
    from sabr.config import ExperimentConfig

__all__ = ["make_task_runner", "worker_env", "worker_count", "planned_workers",
           "validate_dask_address", "check_reachable", "stop_tensorflow_processes_on_close"]

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def validate_dask_address(address: str | None) -> str | None:
    """``tcp://host:port`` (or tls/ucx); ConfigError (one line) otherwise."""
    if address is None or address == "":
        return None
    try:
        parts = urlsplit(address)
        ok = bool(_ADDRESS.match(address) and parts.hostname and 1 <= (parts.port or 0) <= 65535)
    except ValueError:          # e.g. an unclosed IPv6 bracket, or port > 65535
        ok = False
    if not ok:
        raise ConfigError(f"dask_address={address!r} is invalid: allowed a scheduler address "
                          f"like tcp://127.0.0.1:8786 (port 1-65535)")
    return address


def make_task_runner(parallel_jobs: int, address: str | None, env: dict[str, str], *,
                     slurm: SlurmConfig | None = None, log_dir: Path | None = None
                     ) -> DaskTaskRunner:
    """A DaskTaskRunner.

    Args:
        parallel_jobs: worker processes of the local cluster (one thread each).
        address: an existing scheduler's address; its workers must already have the
            environment (API URL, thread limits) they need.
        env: environment of the workers this runner starts (:func:`worker_env`).
        slurm: the workers are Slurm jobs instead (``cluster.slurm``; flows/slurm.py):
            dask-jobqueue's SLURMCluster, scaled by Dask's adaptive scaling between
            ``adapt.min_jobs`` and ``adapt.max_jobs`` jobs; their logs go to ``log_dir``.

    Local workers are started by multiprocessing spawn (a LocalCluster: fast, and they
    die with the run), except when the calling program is a plain script, which spawn
    would run again in every worker (a script without ``if __name__ == "__main__":``
    would then start the experiment in each): its workers are started as subprocesses
    of their own (Dask's SubprocessCluster), which never import the caller.
    """
    import os

    import dask
    from prefect_dask import DaskTaskRunner
    if address:
        return DaskTaskRunner(address=address)
    if slurm is not None:
        from flows.slurm import SLURM_CLUSTER, slurm_adapt_kwargs, slurm_cluster_kwargs
        return DaskTaskRunner(cluster_class=SLURM_CLUSTER,
                              cluster_kwargs=slurm_cluster_kwargs(slurm, env, workdir=Path.cwd(),
                                                                  log_dir=log_dir or Path.cwd()),
                              adapt_kwargs=slurm_adapt_kwargs(slurm))
    # Workers may start processes of their own: tasks/isolation.py runs TensorFlow in one
    # (Dask's documented switch; a nanny reads it when it starts its worker: here for a
    # LocalCluster's nannies, from the environment in a SubprocessCluster's).
    dask.config.set({"distributed.worker.daemon": False})
    common = {"n_workers": int(parallel_jobs), "threads_per_worker": 1, "dashboard_address": ":0"}
    if spawn_reruns_main():
        os.environ["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
        return DaskTaskRunner(cluster_class="distributed.deploy.subprocess.SubprocessCluster",
                              cluster_kwargs={**common, "host": "127.0.0.1",
                                              "worker_kwargs": {"env": dict(env)}})
    return DaskTaskRunner(cluster_kwargs={**common, "processes": True, "env": dict(env)})


GUARDED_MAIN = False
"""Set by a caller whose main module is guarded (the hf-budget command line)."""


def spawn_reruns_main() -> bool:
    """Whether multiprocessing spawn would run the calling program again in each worker: a
    plain script (``python script.py``; not ``python -m``, ``python -c``, a notebook or the
    hf-budget command line)."""
    main = sys.modules.get("__main__")
    return (not GUARDED_MAIN and getattr(main, "__spec__", None) is None
            and bool(getattr(main, "__file__", None)))


def worker_env(training_config, results_dir: Path) -> dict[str, str]:
    """Environment of local workers: TensorFlow and OpenMP on the configured threads (one
    core per worker), task results under ``results_dir``, the API URL of the Prefect
    server this flow runs on (so the workers' task runs land there, ephemeral server too),
    and task-run logs below WARNING sent to the UI only, not the terminal."""
    from prefect.settings import PREFECT_API_URL
    env = {
        "TF_NUM_INTRAOP_THREADS": str(training_config.tf_intra_op_threads),
        "TF_NUM_INTEROP_THREADS": str(training_config.tf_inter_op_threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "1",      # TensorFlow's default, set so it is not announced
        "OMP_NUM_THREADS": "1",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(results_dir),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # task runs log to the UI in full; the terminal gets their warnings and errors
        # (each finished cell has its own line from the flow)
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    }
    url = PREFECT_API_URL.value()
    if not url:
        from prefect.client.orchestration import get_client
        with get_client(sync_client=True) as client:
            url = str(client.api_url)
    if url and not url.startswith("ephemeral"):
        env["PREFECT_API_URL"] = url.rstrip("/")
    return env


def stop_tensorflow_processes_on_close() -> None:
    """Register flows.plugins.StopTensorFlowProcess on the running flow's Dask cluster."""
    from prefect.context import get_run_context

    from flows.plugins import StopTensorFlowProcess
    get_run_context().task_runner.client.register_plugin(StopTensorFlowProcess())


def planned_workers(cfg: ExperimentConfig) -> int:
    """Workers the configuration asks for: ``parallel_jobs`` locally, at most ``max_jobs`` x
    ``cores`` on Slurm."""
    slurm = cfg.cluster.slurm
    return slurm.adapt.max_jobs * slurm.cores if slurm is not None else cfg.parallel_jobs


def worker_count(default: int) -> int:
    """Workers of the running flow's Dask task runner (``default`` if there is none at hand)."""
    from prefect.context import get_run_context
    try:
        client = get_run_context().task_runner.client
        return len(client.scheduler_info(n_workers=-1)["workers"]) or default
    except Exception:          # no Dask client at hand: the configured number
        return default


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line, within about ``timeout`` s) unless a Dask scheduler answers at ``address``.

    A TCP connect alone is not proof: a proxy or firewall may accept any connection and
    the flow would then die deep inside Dask. For ``tcp://`` the Dask handshake is done
    too, under the same deadline (tls/ucx need credentials or transports: TCP check only).
    """
    import socket
    import time
    parts = urlsplit(address)
    allowed = "allowed the address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786"
    start = time.monotonic()
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as err:
        raise ConfigError(f"dask_address={address!r} is invalid: no scheduler reachable there "
                          f"within {timeout:g} s ({err.strerror or err}); {allowed}") from None
    if parts.scheme == "tcp" and not _dask_answers(address, max(0.5, timeout - (time.monotonic() - start))):
        raise ConfigError(f"dask_address={address!r} is invalid: a connection opened but no Dask "
                          f"scheduler answered the handshake within {timeout:g} s; {allowed}")


def _dask_answers(address: str, timeout: float) -> bool:
    """True if a Dask comm handshake with ``address`` completes within ``timeout`` s."""
    import asyncio
    from distributed.comm import connect

    async def probe() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout))
    except Exception:      # timeout, closed comm, or garbage read as a frame (MemoryError)
        return False
    return True
