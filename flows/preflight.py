"""The checks a run passes before anything starts, in one place for the command line, the
flow (deployment runs) and the Python API.

``preflight`` resolves the configuration (profile or YAML file, then explicit
parameters; or a whole configuration already resolved, which is not validated again: a
run validates its configuration once, docs/DESIGN.md), checks the Dask scheduler address (format, and that a scheduler answers)
or, with ``cluster.kind: slurm``, that Slurm answers and would take the worker jobs
(flows/slurm.py),
that ``--skip-experiments`` has finished cells to aggregate, that the run's estimated wall
time is within ``max_hours`` when that is set (sabr.estimate), that the output folder can
be written and that no other run holds it. Every failure is a ConfigError whose message
is one line naming the field and what is allowed (every bad field of a config file in one
error naming the file, a line each). Imports no Prefect, so the command line rejects bad
input in about a second.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sabr.config import ExperimentConfig, config_from_dict, resolve_config
from sabr.errors import ConfigError, unknown_key
from sabr.lock import check_free
from sabr.options import OVERRIDES, RUN_OPTIONS

from flows.runner import check_reachable, planned_workers, validate_dask_address
from flows.slurm import check_slurm

__all__ = ["RunPlan", "preflight", "require_finished_cells", "check_writable", "OVERRIDES"]



@dataclass(frozen=True)
class RunPlan:
    """What a run will do: the resolved configuration and where."""

    config: ExperimentConfig
    output_dir: Path
    dask_address: str | None
    skip_experiments: bool


def preflight(profile: str | None = None, config_path: str | None = None, *,
              config: ExperimentConfig | dict | None = None, dask_address: str | None = None,
              skip_experiments: bool = False, **overrides) -> RunPlan:
    """Resolve and check a run (see the module doc). ``overrides``: the names in OVERRIDES,
    None meaning "as configured". ``config``: a whole configuration instead (an
    ExperimentConfig, used as it is, or a mapping, validated here), with none of profile,
    config_path and the overrides. ``dask_address`` defaults to $DASK_SCHEDULER_ADDRESS.

    Raises:
        ConfigError: bad input, an unreachable scheduler, nothing to aggregate, an output
            folder that cannot be written, or one another run holds (OutputBusy).
    """
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        flags = {o.flag: o.name for o in RUN_OPTIONS}
        raise ConfigError(*[unknown_key(k, k, OVERRIDES, flags=flags, what="run parameter")
                            for k in unknown])
    if config is None:
        cfg = resolve_config(profile, config_path, **overrides)
    else:
        given = {"profile": profile, "config_path": config_path, **overrides}
        name = next((k for k, v in given.items() if v is not None), None)
        if name is not None:
            raise ConfigError(f"{name}={given[name]!r} is not applied with config (a whole "
                              f"configuration): allowed config alone, or profile / config_path "
                              f"with the options")
        cfg = config if isinstance(config, ExperimentConfig) else config_from_dict(config)
    address = validate_dask_address(dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS"))
    if address and cfg.cluster.kind != "local":
        raise ConfigError(f"dask_address={address!r} is not applied with cluster.kind="
                          f"{cfg.cluster.kind!r} (the run starts its own scheduler and Slurm "
                          f"jobs); allowed one of them: no dask_address (nor "
                          f"DASK_SCHEDULER_ADDRESS), or cluster.kind: local")
    if address:
        check_reachable(address)
    elif cfg.cluster.slurm is not None and not skip_experiments:
        check_slurm(cfg.cluster.slurm)
    out = Path(cfg.output_dir).resolve()
    if skip_experiments:
        require_finished_cells(out)
    elif cfg.max_hours is not None:          # before anything is created or computed
        from sabr.estimate import over_limit
        if refusal := over_limit(cfg, out, planned_workers(cfg)):
            raise ConfigError(refusal)
    check_writable(out)          # the only check that may create something (the folder)
    check_free(out)
    return RunPlan(cfg, out, address, bool(skip_experiments))


def require_finished_cells(output_dir: Path) -> None:
    """ConfigError unless ``output_dir`` holds finished cells (<cell folder>/metrics.json)."""
    from sabr.cells import cell_folders
    if not any((f / "metrics.json").is_file() for f in cell_folders(output_dir)):
        raise ConfigError(f"output_dir={str(output_dir)!r} is invalid for --skip-experiments / "
                          f"analyze: allowed a folder holding finished cells (exp_*/metrics.json)")


def check_writable(path: Path) -> None:
    """ConfigError unless the output folder exists or can be made, and a file can be written in it."""
    from sabr.io import atomic_write_text
    try:
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / ".write-test", "").unlink()
    except OSError as err:
        raise ConfigError(f"output_dir={str(path)!r} is invalid: allowed a folder this user can "
                          f"create and write ({err.strerror or err})") from None
