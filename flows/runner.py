"""The Dask task runner: a local cluster of single-threaded workers, or an existing scheduler."""
from __future__ import annotations

import re

from prefect_dask import DaskTaskRunner

from sabr.errors import ConfigError

__all__ = ["make_task_runner", "validate_dask_address", "check_reachable"]

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def validate_dask_address(address: str | None) -> str | None:
    """``tcp://host:port`` (or tls/ucx); ConfigError (one line) otherwise."""
    if address is None or address == "":
        return None
    if not _ADDRESS.match(address):
        raise ConfigError(f"dask_address={address!r} is invalid: allowed a scheduler address "
                          f"like tcp://127.0.0.1:8786")
    return address


def make_task_runner(parallel_jobs: int, address: str | None, env: dict[str, str]) -> DaskTaskRunner:
    """A DaskTaskRunner.

    Args:
        parallel_jobs: worker processes of the local cluster (one thread each).
        address: an existing scheduler's address; its workers must already have the
            environment (API URL, thread limits) they need.
        env: environment of the local workers (Prefect API URL, TF/OMP threads, results path).
    """
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": int(parallel_jobs), "threads_per_worker": 1, "processes": True,
        "dashboard_address": ":0", "env": dict(env)})


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line, within ``timeout`` s) if no scheduler listens at ``address``."""
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as err:
        raise ConfigError(f"dask_address={address!r} is invalid: no scheduler reachable there "
                          f"within {timeout:.0f} s ({err.strerror or err})") from None
