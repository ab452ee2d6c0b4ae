"""Where a run's Dask workers come from: the ``cluster`` section of the experiment config.

``kind: local`` (the default): a LocalCluster of ``parallel_jobs`` single-threaded
worker processes on this machine. ``kind: slurm``: Slurm jobs started by dask-jobqueue's
``SLURMCluster``, each job ``cores`` single-threaded workers, the number of jobs adapted
to the work between ``adapt.min_jobs`` and ``adapt.max_jobs``.

    cluster:
      kind: slurm
      slurm:
        queue: compute            # partition (sbatch -p); unset: the cluster's default
        cores: 1                  # per job: one single-threaded Dask worker per core
        memory: 4GiB              # per job
        walltime: "04:00:00"      # per job, quoted; a worker's job ends with it
        interface: ib0            # the network the scheduler and workers talk over
        job_script_prologue: ["source /shared/hf-budget/.venv/bin/activate"]
        adapt: {min_jobs: 1, max_jobs: 16}

Validated here, applied by flows/runner.py and flows/slurm.py: sabr imports neither
Dask nor dask-jobqueue. A field that would not be applied is refused (a ``slurm``
section with ``kind: local``), never ignored.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ConfigError

__all__ = ["ClusterConfig", "SlurmConfig", "AdaptConfig", "CLUSTER_KINDS", "memory_bytes",
           "walltime_seconds"]

CLUSTER_KINDS = ("local", "slurm")
MIN_MEMORY_PER_CORE = 2 ** 30
"""A worker and its TensorFlow process need about 1 GiB (worker_recycle_mib is 900 MiB)."""

_UNITS = {"b": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12,
          "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_WALLTIME = re.compile(r"^(?:(\d+)-(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?"
                       r"|(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?)$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_ALLOWED_MEMORY = "allowed a size such as '4GiB', '4GB' or '4000MiB'"
_ALLOWED_WALLTIME = ("allowed Slurm's time format: minutes ('90'), hours:minutes:seconds "
                     "('04:00:00') or days-hours[:minutes[:seconds]] ('1-00:00:00'), above 0")


def memory_bytes(text: str) -> int:
    """Bytes of a size as Dask reads it ('4GiB' = 4 2^30, '4GB' = '4G' = 4e9)."""
    m = _MEMORY.match(text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(_ALLOWED_MEMORY)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def walltime_seconds(text: str) -> int:
    """Seconds of a Slurm time limit (sbatch --time): 'M', 'M:S', 'H:M:S', 'D-H', 'D-H:M',
    'D-H:M:S'."""
    m = _WALLTIME.match(text.strip())
    if not m:
        raise ValueError(_ALLOWED_WALLTIME)
    days, hours, minutes, seconds, plain, p2, p3 = m.groups()
    if days is not None:
        parts = [int(hours), int(minutes or 0), int(seconds or 0)]
        total = int(days) * 86_400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
        bounded = parts[0] < 24 and parts[1] < 60 and parts[2] < 60
    elif p3 is not None:                        # H:M:S
        total = int(plain) * 3600 + int(p2) * 60 + int(p3)
        bounded = int(p2) < 60 and int(p3) < 60
    else:                                       # M or M:S
        total = int(plain) * 60 + int(p2 or 0)
        bounded = int(p2 or 0) < 60
    if not bounded or total <= 0:
        raise ValueError(_ALLOWED_WALLTIME)
    return total


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class AdaptConfig(_Strict):
    """How many Slurm jobs the run keeps: Dask's adaptive scaling between these bounds
    (more while tasks wait, fewer once workers idle)."""

    min_jobs: int = Field(1, ge=0, le=10_000)
    max_jobs: int = Field(4, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> "AdaptConfig":
        if self.max_jobs < self.min_jobs:
            raise ConfigError(f"cluster.slurm.adapt.max_jobs={self.max_jobs} is invalid: less "
                              f"than min_jobs={self.min_jobs}; allowed max_jobs >= min_jobs")
        return self


class SlurmConfig(_Strict):
    """One Slurm job: ``cores`` single-threaded Dask workers (TensorFlow on one thread
    each, as the local cluster's), ``memory`` and ``walltime`` for the whole job."""

    queue: str | None = None
    account: str | None = None
    cores: int = Field(1, ge=1, le=256)
    memory: str = "4GiB"
    walltime: str = "04:00:00"
    interface: str | None = None
    job_script_prologue: tuple[str, ...] = ()
    adapt: AdaptConfig = AdaptConfig()

    @field_validator("queue", "account", "interface")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError("allowed a name of letters, digits and '_', '.', '-' (or unset)")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        memory_bytes(v)
        return v

    @field_validator("walltime", mode="before")
    @classmethod
    def _walltime(cls, v):
        if not isinstance(v, str):      # YAML reads an unquoted 4:00:00 as the number 14400
            raise ValueError("allowed a quoted string such as \"04:00:00\" (YAML reads an "
                             "unquoted 4:00:00 as the number 14400, and 90 as a number)")
        walltime_seconds(v)
        return v

    @field_validator("job_script_prologue")
    @classmethod
    def _lines(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any("\n" in line or "\r" in line for line in v):
            raise ValueError("allowed a list of single-line shell commands")
        return v

    @model_validator(mode="after")
    def _enough_memory(self) -> "SlurmConfig":
        if memory_bytes(self.memory) < self.cores * MIN_MEMORY_PER_CORE:
            raise ConfigError(f"cluster.slurm.memory={self.memory!r} is invalid: less than 1GiB "
                              f"per core for cores={self.cores}; allowed >= {self.cores}GiB")
        return self


class ClusterConfig(_Strict):
    """Where the workers run: ``local`` (``parallel_jobs`` processes here) or ``slurm``."""

    kind: Literal[CLUSTER_KINDS] = "local"
    slurm: SlurmConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _slurm_defaults(cls, data):
        if isinstance(data, dict) and data.get("kind") == "slurm" and data.get("slurm") is None:
            data = {**data, "slurm": {}}           # every field has a default
        return data

    @model_validator(mode="after")
    def _applied(self) -> "ClusterConfig":
        if self.kind != "slurm" and self.slurm is not None:
            raise ConfigError(f"cluster.slurm is not applied with cluster.kind={self.kind!r}; "
                              f"allowed cluster.kind: slurm with it, or no slurm section")
        return self
