"""Benchmark: building the data set.

Prints the wall time to build the ``quick`` profile's data set (all surfaces in
this process), the HF cost of one surface at the ``full`` settings (100k paths,
21 x 10 grid to 10 y; mean over a few thetas of the full pool), the projected
single-core time for the full pool, and peak resident memory
(``resource.getrusage``; the full data set must never need more than 2 GiB).

    python tests/benchmarks/bench_dataset.py [--full-surfaces 4] [--quick-surfaces N] [--out DIR]

``--quick-surfaces N``: a pool of N thetas with quick's grid and paths instead of quick's
60 (the test suite's smoke run of this script).
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from sabr.config import ExperimentConfig
from sabr.data.dataset import GridSpec, MCSettings, build_dataset, compute_chunk, load_dataset, sample_thetas


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full-surfaces", type=int, default=4)
    ap.add_argument("--quick-surfaces", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-ds-"))

    pool = {} if args.quick_surfaces is None else {"n_parameter_sets": args.quick_surfaces}
    quick = ExperimentConfig.profile("quick", data_gen_config=pool).data_gen_config   # validated
    t0 = time.perf_counter()
    build_dataset(quick, out / "quick")
    quick_s = time.perf_counter() - t0
    ds = load_dataset(out / "quick")

    full = ExperimentConfig.profile("full").data_gen_config
    thetas = sample_thetas(full.n_parameter_sets, full.parameter_box, full.master_seed)
    idx = np.linspace(0, full.n_parameter_sets - 1, args.full_surfaces).astype(int)
    chunk = compute_chunk(thetas[idx], idx, GridSpec.from_config(full), MCSettings.from_config(full),
                          full.master_seed)
    per_surface = float(chunk["seconds"].mean())
    report = {
        "quick": {"surfaces": quick.n_parameter_sets, "mc_paths": quick.mc_paths,
                  "build_seconds": round(quick_s, 2),
                  "noise_floor_bp": round(ds.meta["noise_floor_bp"], 2)},
        "full": {"surfaces_timed": int(idx.size), "mc_paths": full.mc_paths,
                 "seconds_per_surface": round(per_surface, 3),
                 "path_steps_per_surface": int(chunk["path_steps"].mean()),
                 "path_steps_per_s": float(chunk["path_steps"].sum() / chunk["seconds"].sum()),
                 "projected_pool_seconds_one_core": round(per_surface * full.n_parameter_sets, 1),
                 "rms_stderr_bp": float(np.sqrt(np.nanmean(chunk["hf_se"] ** 2)) * 1e4)},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    print(f"quick data set: {quick.n_parameter_sets} surfaces x {quick.mc_paths} paths "
          f"built in {quick_s:.2f} s")
    f = report["full"]
    print(f"full settings: {f['seconds_per_surface']:.3f} s per surface "
          f"({f['path_steps_per_s']:.3g} path-steps/s, RMS s.e. {f['rms_stderr_bp']:.2f} bp); "
          f"{full.n_parameter_sets} surfaces on one core ~ {f['projected_pool_seconds_one_core']:.0f} s")
    print(f"peak RSS: {report['peak_rss_mib']:.0f} MiB")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
