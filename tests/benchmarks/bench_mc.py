"""Benchmark: our Monte Carlo engine against the plain NumPy peer, on the same surface, same run.

Times ``sabr.numerics.montecarlo.mc_surface`` and the project's plain Euler peer
(``tests/benchmarks/euler_peer.py``: Euler with absorption for F, exact log-normal
volatility, antithetic pairs, 100 steps/year) on a representative Funahashi-box
surface (alpha 0.3, beta 0.6, nu 0.5, rho -0.4, F0 = 1, 21 strikes x 10 maturities
1..10 y, the peer's own grid) and prints,
for each: seconds, path-steps per second, RMS vol standard error; last, the
efficiency ratio

    (peer_seconds x peer_rms_se^2) / (our_seconds x our_rms_se^2),

the speed-up at equal accuracy (variance reduction and speed both count). It also
times our engine with ``engine="numpy"`` (one ufunc per operation instead of the
compiled per-path loop) and prints the compiled engine's speed-up over it.
Each engine runs ``--repeats`` times and its fastest time is used.

    python tests/benchmarks/bench_mc.py [--paths 100000] [--repeats 3] [--peer FILE]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from sabr.numerics.montecarlo import mc_prices, mc_surface
from sabr.numerics.time_grid import default_steps_per_year, step_counts

PEER_DEFAULT = Path(__file__).resolve().parent / "euler_peer.py"


def load_peer(path: Path):
    """A peer module: a file defining funahashi_surface() and peer_surface(...) (euler_peer.py)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(repeats: int, fn):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def rms(x) -> float:
    return float(np.sqrt(np.nanmean(np.asarray(x) ** 2)))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-steps-per-year", type=int, default=100)
    ap.add_argument("--steps-per-year", type=float, default=None)
    ap.add_argument("--peer", type=Path, default=PEER_DEFAULT,
                    help="peer file with funahashi_surface() and peer_surface() "
                         "(default: tests/benchmarks/euler_peer.py)")
    args = ap.parse_args(argv)
    peer = load_peer(args.peer)
    case = peer.funahashi_surface()
    mats = case["maturities"]
    surface_args = (case["fwd"], case["strikes"], mats, case["alpha"], case["beta"],
                    case["nu"], case["rho"])

    peer_s, (peer_vols, peer_se) = best_of(args.repeats, lambda: peer.peer_surface(
        **case, n_paths=args.paths, steps_per_year=args.peer_steps_per_year, seed=1))
    our_s, (our_vols, our_se) = best_of(args.repeats, lambda: mc_surface(
        *surface_args, n_paths=args.paths, steps_per_year=args.steps_per_year, seed=1))
    np_s, np_res = best_of(args.repeats, lambda: mc_prices(
        *surface_args, n_paths=args.paths, steps_per_year=args.steps_per_year, seed=1,
        engine="numpy"))

    spy = (default_steps_per_year(case["fwd"], case["alpha"], case["beta"])
           if args.steps_per_year is None else args.steps_per_year)
    our_steps = int(step_counts(mats, spy).sum())
    peer_steps = int(round(mats[-1] * args.peer_steps_per_year))
    report = {
        "paths": args.paths,
        "peer": {"seconds": round(peer_s, 3), "steps": peer_steps,
                 "path_steps_per_s": args.paths * peer_steps / peer_s,
                 "rms_stderr_bp": round(rms(peer_se) * 1e4, 3),
                 "nan_points": int(np.isnan(peer_vols).sum())},
        "ours": {"seconds": round(our_s, 3), "steps": our_steps,
                 "path_steps_per_s": args.paths * our_steps / our_s,
                 "rms_stderr_bp": round(rms(our_se) * 1e4, 3),
                 "nan_points": int(np.isnan(our_vols).sum())},
        "ours_numpy_engine": {"seconds": round(np_s, 3), "steps": our_steps,
                              "path_steps_per_s": args.paths * our_steps / np_s,
                              "rms_stderr_bp": round(rms(np_res.vol_stderr) * 1e4, 3),
                              "nan_points": int(np.isnan(np_res.vols).sum())},
        "rms_vol_gap_bp": round(rms(our_vols - peer_vols) * 1e4, 3),
        "engine_max_gap_bp": float(np.nanmax(np.abs(our_vols - np_res.vols)) * 1e4),
        "compiled_speedup": round(np_s / our_s, 2),
    }
    report["efficiency_ratio"] = round(
        (peer_s * rms(peer_se) ** 2) / (our_s * rms(our_se) ** 2), 2)
    for name in ("peer", "ours", "ours_numpy_engine"):
        r = report[name]
        print(f"{name:17s} seconds={r['seconds']:.3f} steps={r['steps']} "
              f"path_steps_per_s={r['path_steps_per_s']:.3g} rms_stderr_bp={r['rms_stderr_bp']:.2f} "
              f"nan_points={r['nan_points']}")
    print(f"rms_vol_gap_bp={report['rms_vol_gap_bp']:.2f} "
          f"compiled_speedup={report['compiled_speedup']:.2f} (numba over numpy engine, "
          f"max vol gap {report['engine_max_gap_bp']:.1e} bp)")
    print(json.dumps(report))
    print(f"efficiency_ratio={report['efficiency_ratio']:.2f}")
    return report


if __name__ == "__main__":
    main()
