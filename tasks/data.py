"""Tasks that build the data set: one per chunk of parameter sets, then the assembly."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task

from sabr.data.dataset import (DATA_FILE, META_FILE, GridSpec, MCSettings, assemble, chunk_indices,
                               compute_chunk, sample_thetas, usable_dataset)
from sabr.io import atomic_save_npz, hash_arrays
from sabr.settings import DataGenConfig

from .common import RETRIES, Clock, content_policy, retry_unless_deterministic

__all__ = ["generate_chunk", "assemble_dataset", "chunk_file", "generation_plan"]

_CHUNK_KEYS = ("indices", "strikes", "lf", "hf", "hf_se", "seconds", "path_steps", "hf_cpu_seconds",
               "prefix_paths", "hf_prefix", "hf_se_prefix", "hf_cpu_seconds_prefix")
_MACHINE = "machine"
"""Whose CPU-seconds a chunk's timings are (absent in chunk files from before it was kept)."""


@task(name="generate-surfaces", task_run_name="generate surfaces {first}-{last}",
      cache_policy=content_policy("generate"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def generate_chunk(data_json: str, first: int, last: int, data_dir: str) -> dict:
    """LF + HF surfaces of parameter sets first..last (inclusive) into a chunk file under
    ``data_dir``; ``data_json``: the ``data_gen_config`` section as JSON. Returns
    ``{"first", "last", "hash", "path_steps", "timing"}`` (the hash of the arrays written,
    timings included); no path, so the record holds wherever the folder moves."""
    clock = Clock()
    cfg = DataGenConfig.model_validate_json(data_json)
    out = _compute(cfg, first, last)
    path = chunk_file(data_dir, first, last)
    atomic_save_npz(path, out)
    get_run_logger().info("surfaces %d-%d: %.1f s of Monte Carlo (%.1f CPU-s), %.3g path-steps",
                          first, last, out["seconds"].sum(), out["hf_cpu_seconds"][:, -1].sum(),
                          float(out["path_steps"].sum()))
    return {"first": first, "last": last, "hash": hash_arrays(out),
            "path_steps": float(out["path_steps"].sum()), "timing": clock.read()}


def chunk_file(data_dir: str | Path, first: int, last: int) -> Path:
    """Where the chunk of parameter sets first..last is written."""
    return Path(data_dir) / "chunks" / f"chunk_{first:05d}_{last:05d}.npz"


def generation_plan(cfg, data_dir: str | Path) -> tuple[str | None, list[tuple[int, int, bool]],
                                                       dict | None]:
    """What building the data set of ``cfg`` (a DataGenConfig) in ``data_dir`` takes.

    Returns ``(problem, chunks, on_disk)``: ``problem`` is None for a usable data set, else
    why it is not ("absent", corrupt, edited, another configuration:
    sabr.data.dataset.dataset_problem); ``chunks`` is ``(first, last, rebuild)`` per chunk
    of parameter sets, where ``rebuild`` means its cache record must be ignored (the data
    set is not usable and the chunk's file is gone); ``on_disk`` the usable data set's
    ``{"content_hash", "cost_hash"}``, what a cached assembly's result must agree with
    (None when not usable). An unusable data set is assembled again whatever its cache
    record says. The data set is loaded and verified once.
    """
    problem, ds = usable_dataset(data_dir, cfg)
    chunks = []
    for c in chunk_indices(cfg.n_parameter_sets, cfg.chunk_size):
        first, last = int(c[0]), int(c[-1])
        chunks.append((first, last, problem is not None and not chunk_file(data_dir, first, last).is_file()))
    on_disk = None if ds is None else {"content_hash": ds.content_hash, "cost_hash": ds.cost_hash}
    return problem, chunks, on_disk


def _compute(cfg, first: int, last: int) -> dict:
    thetas = sample_thetas(cfg.n_parameter_sets, cfg.parameter_box, cfg.master_seed)
    idx = np.arange(first, last + 1)
    return compute_chunk(thetas[idx], idx, GridSpec.from_config(cfg), MCSettings.from_config(cfg),
                         cfg.master_seed)


def _load_chunk(record: dict, cfg, data_dir: str) -> dict:
    """The chunk's arrays, verified against the hash its task returned; a missing, corrupt or
    edited chunk file is computed again (the same seeds give the same numbers)."""
    path = chunk_file(data_dir, record["first"], record["last"])
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if hash_arrays(arrays) == record["hash"]:
            return {k: arrays[k] for k in (*_CHUNK_KEYS, _MACHINE) if k in arrays or k != _MACHINE}
        why = "does not match its hash"
    except Exception as err:      # missing, truncated, not a zip, a key missing
        why = f"cannot be read ({type(err).__name__})"
    get_run_logger().warning("chunk %s %s: computing surfaces %d-%d again", path, why,
                             record["first"], record["last"])
    arrays = _compute(cfg, record["first"], record["last"])
    atomic_save_npz(path, arrays)
    return {k: arrays[k] for k in (*_CHUNK_KEYS, _MACHINE)}


@task(name="assemble-dataset", task_run_name="assemble data set",
      cache_policy=content_policy("assemble"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def assemble_dataset(data_json: str, chunks: list[dict], data_dir: str) -> dict:
    """Put the chunks (records of :func:`generate_chunk`) together into ``data_dir``
    (surfaces.npz + metadata.json); returns ``{"content_hash", "cost_hash", "timing"}``:
    tuning and training are keyed on the content hash, CPU-budget cells also on the cost
    hash (tasks.common)."""
    clock = Clock()
    cfg = DataGenConfig.model_validate_json(data_json)
    chunks = [_load_chunk(record, cfg, data_dir) for record in chunks]
    thetas = sample_thetas(cfg.n_parameter_sets, cfg.parameter_box, cfg.master_seed)
    out = assemble(chunks, thetas, cfg, data_dir)
    get_run_logger().info("data set assembled in %s (%s, %s)", out, DATA_FILE, META_FILE)
    meta = json.loads((out / META_FILE).read_text())
    return {"content_hash": meta["content_hash"], "cost_hash": meta["cost_hash"],
            "timing": clock.read()}

