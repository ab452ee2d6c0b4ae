"""Tasks that build the data set: one per chunk of parameter sets, then the assembly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import get_run_logger, task

from sabr.config import ExperimentConfig
from sabr.dataset import (DATA_FILE, META_FILE, GridSpec, MCSettings, assemble, compute_chunk,
                          sample_thetas)
from sabr.io import atomic_save_npz

from .common import RETRIES, cache_key, retry_unless_deterministic

__all__ = ["generate_chunk", "assemble_dataset"]

_CHUNK_KEYS = ("indices", "strikes", "lf", "hf", "hf_se", "seconds", "path_steps")


@task(name="generate-surfaces", task_run_name="generate surfaces {first}-{last}",
      cache_key_fn=cache_key("data"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def generate_chunk(config_json: str, first: int, last: int, data_dir: str) -> str:
    """LF + HF surfaces of parameter sets first..last (inclusive); returns the chunk file path."""
    cfg = ExperimentConfig.model_validate_json(config_json).data_gen_config
    thetas = sample_thetas(cfg.n_parameter_sets, cfg.parameter_box, cfg.master_seed)
    idx = np.arange(first, last + 1)
    out = compute_chunk(thetas[idx], idx, GridSpec.from_config(cfg), MCSettings.from_config(cfg),
                        cfg.master_seed)
    path = Path(data_dir) / "chunks" / f"chunk_{first:05d}_{last:05d}.npz"
    atomic_save_npz(path, out)
    get_run_logger().info("surfaces %d-%d: %.1f s of Monte Carlo, %.3g path-steps",
                          first, last, out["seconds"].sum(), float(out["path_steps"].sum()))
    return str(path)


@task(name="assemble-dataset", task_run_name="assemble data set", cache_key_fn=cache_key("data"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def assemble_dataset(config_json: str, chunk_paths: list[str], data_dir: str) -> str:
    """Put the chunks together into ``data_dir`` (surfaces.npz + metadata.json); returns it."""
    cfg = ExperimentConfig.model_validate_json(config_json).data_gen_config
    chunks = []
    for p in chunk_paths:
        with np.load(p, allow_pickle=False) as z:
            chunks.append({k: z[k] for k in _CHUNK_KEYS})
    thetas = sample_thetas(cfg.n_parameter_sets, cfg.parameter_box, cfg.master_seed)
    out = assemble(chunks, thetas, cfg, data_dir)
    get_run_logger().info("data set assembled in %s (%s, %s)", out, DATA_FILE, META_FILE)
    return str(out)
