"""A real single-node Slurm for the tests of ``cluster.kind: slurm``, started by
tests/cluster/slurm_single_node.sh (which installs Debian's slurm-wlm and munge if they are
absent) for the test module that asks for it, and stopped afterwards. Where Slurm cannot
be started the tests fail with the reason: they never skip."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("slurm_single_node.sh")


@dataclass(frozen=True)
class Slurm:
    """A running single-node Slurm: ``env`` points Slurm's commands at it (SLURM_CONF)."""

    env: dict[str, str]
    state_dir: Path
    start_s: float

    def squeue(self) -> list[str]:
        """Every job in the queue, as 'job id state' lines."""
        r = subprocess.run(["squeue", "--noheader", "--format=%i %T"], capture_output=True,
                           text=True, timeout=30, env=self._env())
        assert r.returncode == 0, r.stderr
        return r.stdout.split("\n")[:-1]

    def _env(self) -> dict[str, str]:
        return dict(os.environ, **self.env)


def _free_ports(n: int) -> list[str]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [str(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(text: str, n: int = 1500) -> str:
    return " ".join(text.split())[-n:]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> Slurm:
    """slurmctld and slurmd on 127.0.0.1 (free ports), one node with this machine's CPUs and
    memory, for one test module; then every job is cancelled and the daemons are stopped."""
    state = tmp_path_factory.mktemp("slurm")
    started = time.monotonic()
    try:
        r = subprocess.run(["bash", str(SCRIPT), "start", str(state), *_free_ports(2)],
                           capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"Slurm could not be started here: {SCRIPT.name} start took over "
                    f"{err.timeout:g} s: {_tail(str(err.stderr or ''))}", pytrace=False)
    if r.returncode != 0:
        pytest.fail(f"Slurm could not be started here ({SCRIPT.name} start, exit "
                    f"{r.returncode}): {_tail(r.stderr)}", pytrace=False)
    conf = r.stdout.strip().splitlines()[-1]
    try:
        yield Slurm({"SLURM_CONF": conf}, state, time.monotonic() - started)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], capture_output=True,
                       text=True, timeout=120)
