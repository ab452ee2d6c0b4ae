"""Discretisation bias of the Monte Carlo engine at its default step, measured by halving it.

For a few hard parameter sets (low beta, strong negative rho, T up to 10 y, the
corners of the Funahashi box, the benchmark surface) it runs ``mc_surface`` with
many paths at the default step s (``default_steps_per_year``), at 2 s and at 4 s (same seed: common random numbers do not
carry over between step sizes, so each run's noise is independent), and prints
per case:

* bias_bp: max over the surface of |vol(s) - vol(4 s)|, the default step's bias
  estimated against the finest step (whose own bias is about a quarter of it);
* halving_bp: max |vol(s) - vol(2 s)|, the usual halve-the-step check;
* se100k_bp: the smallest vol standard error at the default 100k paths on
  that surface, the figure the bias must stay below;
* noise_bp: the standard error of the differences themselves at the paths used;
* max_abs_z, rms_z: the differences in units of their own standard error (pure
  noise gives rms_z ~ 1 and max_abs_z ~ 2.5 over 210 points).

    python tests/benchmarks/bias_mc.py [--paths 1000000]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from sabr.numerics.grid import make_grid
from sabr.numerics.montecarlo import default_steps_per_year, mc_surface

CASES = {
    # name: (alpha, beta, nu, rho)
    "antonov_spector_T1": (0.25, 0.3, 0.3, -0.8),
    "antonov_spector_T7": (0.25, 0.3, 0.3, -0.2),
    "cev_beta03": (0.25, 0.3, 0.0, 0.0),
    "benchmark_surface": (0.3, 0.6, 0.5, -0.4),
    "box_corner": (0.6, 0.3, 0.9, -0.75),
    "corner_low_nu": (0.6, 0.3, 0.3, -0.75),
    "corner_high_beta": (0.25, 0.9, 0.9, -0.75),
    "corner_rho0": (0.6, 0.3, 0.9, 0.0),
    "corner_alpha_beta_high": (0.6, 0.9, 0.9, -0.75),
    "mid_box": (0.325, 0.6, 0.475, 0.0),
}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--steps-per-year", type=float, default=None,
                    help="the step to test (default: the engine's default)")
    ap.add_argument("--no-halving", dest="halving", action="store_false",
                    help="skip the 2x run (only default vs 4x)")
    args = ap.parse_args(argv)
    out = {}
    for name in args.cases.split(","):
        alpha, beta, nu, rho = CASES[name]
        grid = make_grid(1.0, alpha, beta, nu, rho)
        s = args.steps_per_year or default_steps_per_year(1.0, alpha, beta)
        runs = {}
        for mult in (1, 2, 4) if args.halving else (1, 4):
            runs[mult] = mc_surface(1.0, grid.strikes, grid.maturities, alpha, beta, nu, rho,
                                    n_paths=args.paths, steps_per_year=s * mult, seed=11 + mult)
        (v1, e1), (v4, e4) = runs[1], runs[4]
        v2, e2 = runs.get(2, (np.full_like(v1, np.nan), None))
        se100k = e1 * np.sqrt(args.paths / 100_000)
        row = {
            "bias_bp": float(np.nanmax(np.abs(v1 - v4)) * 1e4),
            "halving_bp": float(np.nanmax(np.abs(v1 - v2)) * 1e4) if args.halving else None,
            "mean_bias_bp": float(np.nanmean(v1 - v4) * 1e4),
            "se100k_min_bp": float(np.nanmin(se100k) * 1e4),
            "bias_over_se100k_max": float(np.nanmax(np.abs(v1 - v4) / se100k)),
            "noise_bp": float(np.nanmax(np.sqrt(e1 ** 2 + e4 ** 2)) * 1e4),
            # is the difference more than noise? z-scores of vol(s) - vol(4 s)
            "max_abs_z": float(np.nanmax(np.abs(v1 - v4) / np.sqrt(e1 ** 2 + e4 ** 2))),
            "rms_z": float(np.sqrt(np.nanmean((v1 - v4) ** 2 / (e1 ** 2 + e4 ** 2)))),
        }
        row["steps_per_year"] = s
        out[name] = row
        print(name, " ".join(f"{k}={v:.2f}" for k, v in row.items() if v is not None), flush=True)
    print(json.dumps({"paths": args.paths, "cases": out}))
    return out


if __name__ == "__main__":
    main()
