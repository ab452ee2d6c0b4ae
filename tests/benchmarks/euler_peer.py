#!/usr/bin/env python3
"""The project's plain Euler Monte Carlo for SABR: the peer that ``bench_mc.py`` measures
``sabr.numerics.montecarlo`` against.

Written from the SABR SDE alone (Hagan et al. 2002), with nothing from ``sabr``:

    dF = a F^b dW,   da = nu a dZ,   dW dZ = rho dt,   F(0) = fwd, a(0) = alpha.

Scheme, one uniform grid per interval between maturities (``steps_per_year``, at least
one step per interval), all paths of a surface in one simulation:

    Z = vol driver,  W = rho Z + sqrt(1 - rho^2) Z',  Z, Z' independent N(0, 1)
    F <- max(F + a F^b sqrt(dt) W, 0)                 Euler, absorbed at 0
    a <- a exp(nu sqrt(dt) Z - nu^2 dt / 2)          exact log-normal step

Antithetic pairs: path i + n/2 uses the negated normals of path i. Prices are out-of-
the-money payoffs (puts below the forward, calls at and above it) averaged over pairs,
their standard errors come from the spread of the pair means, and vols are Black (1976)
implied vols (scipy's brentq). Vol standard errors are price standard errors over Black
vega (delta method). No other variance reduction, no adaptive steps, no compiled code:
what a careful user writes in NumPy.

API:
    peer_surface(fwd, strikes, maturities, alpha, beta, nu, rho,
                 n_paths=100_000, steps_per_year=100, seed=0) -> (vols, stderrs)
        strikes (n_maturities, n_strikes); maturities increasing, years; n_paths even.
    funahashi_surface(...) -> dict of the benchmark surface (peer_surface's arguments).
    n_steps(maturities, steps_per_year) -> time steps one path takes.

CLI (one JSON line):
    python tests/benchmarks/euler_peer.py [--paths N] [--steps-per-year S] [--seed K]
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy.optimize import brentq

__all__ = ["funahashi_surface", "n_steps", "peer_surface"]


def _ncdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _black_otm(fwd: float, strike: float, texp: float, vol: float) -> float:
    """Undiscounted Black price of the OTM option: call if strike >= fwd, else put."""
    s = vol * math.sqrt(texp)
    d1 = math.log(fwd / strike) / s + 0.5 * s
    d2 = d1 - s
    if strike >= fwd:
        return fwd * _ncdf(d1) - strike * _ncdf(d2)
    return strike * _ncdf(-d2) - fwd * _ncdf(-d1)


def _black_vega(fwd: float, strike: float, texp: float, vol: float) -> float:
    s = vol * math.sqrt(texp)
    d1 = math.log(fwd / strike) / s + 0.5 * s
    return fwd * math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi) * math.sqrt(texp)


def _implied_vol(price: float, fwd: float, strike: float, texp: float) -> float:
    """Black vol of an OTM price; NaN when the price is outside (0, upper bound)."""
    upper = fwd if strike >= fwd else strike
    if not 0.0 < price < upper:
        return math.nan
    lo, hi = 1e-8, 5.0
    while _black_otm(fwd, strike, texp, hi) < price and hi < 100.0:
        hi *= 2.0
    try:
        return brentq(lambda v: _black_otm(fwd, strike, texp, v) - price, lo, hi, xtol=1e-14)
    except ValueError:          # no sign change: the price is below Black's at vol = lo
        return math.nan


def _intervals(maturities, steps_per_year):
    """(dt, steps) for each interval (t_{j-1}, t_j], t_0 = 0."""
    edges = np.concatenate([[0.0], np.asarray(maturities, dtype=float)])
    out = []
    for t0, t1 in zip(edges[:-1], edges[1:]):
        k = max(1, int(round((t1 - t0) * steps_per_year)))
        out.append(((t1 - t0) / k, k))
    return out


def n_steps(maturities, steps_per_year) -> int:
    """Time steps one path takes to the last maturity."""
    return sum(k for _, k in _intervals(maturities, steps_per_year))


def peer_surface(fwd, strikes, maturities, alpha, beta, nu, rho,
                 n_paths=100_000, steps_per_year=100, seed=0):
    """Black vols and their standard errors on a surface, by Euler Monte Carlo (module doc).

    Returns:
        (vols, stderrs), each shaped like ``strikes``; NaN where a price has no Black vol.
    """
    strikes = np.atleast_2d(np.asarray(strikes, dtype=float))
    maturities = np.atleast_1d(np.asarray(maturities, dtype=float))
    if strikes.shape[0] != maturities.size:
        raise ValueError(f"strikes has {strikes.shape[0]} rows for {maturities.size} maturities")
    if np.any(np.diff(maturities) <= 0) or maturities[0] <= 0:
        raise ValueError("maturities must be positive and increasing")
    if n_paths < 4 or n_paths % 2:
        raise ValueError(f"n_paths={n_paths} is invalid: allowed an even number >= 4")
    fwd, alpha, beta, nu, rho = (float(x) for x in (fwd, alpha, beta, nu, rho))
    half = n_paths // 2
    rng = np.random.default_rng(seed)

    f = np.full(n_paths, fwd)                 # forward
    a = np.full(n_paths, alpha)               # volatility
    z = np.empty(n_paths)                     # vol driver, antithetic halves
    w = np.empty(n_paths)                     # forward driver, antithetic halves
    diff = np.empty(n_paths)                  # scratch: a F^b sqrt(dt) W
    vols = np.full(strikes.shape, np.nan)
    ses = np.full(strikes.shape, np.nan)
    rho_bar = math.sqrt(max(1.0 - rho * rho, 0.0))

    for j, (dt, k) in enumerate(_intervals(maturities, steps_per_year)):
        sq = math.sqrt(dt)
        for _ in range(k):
            rng.standard_normal(out=z[:half])
            rng.standard_normal(out=w[:half])
            w[:half] *= rho_bar
            w[:half] += rho * z[:half]
            np.negative(z[:half], out=z[half:])
            np.negative(w[:half], out=w[half:])
            # forward: Euler with the volatility at the start of the step
            np.power(f, beta, out=diff)
            if beta == 0.0:                   # 0^0 = 1: keep absorbed paths at zero
                diff *= f > 0.0
            diff *= a
            diff *= w
            diff *= sq
            f += diff
            np.maximum(f, 0.0, out=f)
            # volatility: exact geometric Brownian motion step
            z *= nu * sq
            z -= 0.5 * nu * nu * dt
            np.exp(z, out=z)
            a *= z
        texp = maturities[j]
        for i, strike in enumerate(strikes[j]):
            pay = np.maximum(f - strike, 0.0) if strike >= fwd else np.maximum(strike - f, 0.0)
            pair = 0.5 * (pay[:half] + pay[half:])
            price = float(pair.mean())
            se_price = float(pair.std(ddof=1)) / math.sqrt(half)
            vol = _implied_vol(price, fwd, float(strike), float(texp))
            if math.isfinite(vol):
                vols[j, i] = vol
                ses[j, i] = se_price / _black_vega(fwd, float(strike), float(texp), vol)
    return vols, ses


def funahashi_surface(alpha=0.3, beta=0.6, nu=0.5, rho=-0.4, fwd=1.0, n_strikes=21,
                      maturities=tuple(float(m) for m in range(1, 11))):
    """The benchmark surface: a representative point of the Funahashi box, its strike rule

        K_min = max(F - 1.8 F sigma_ATM sqrt(T), 0.4 F),
        K_max = min(F + 2 F sigma_ATM sqrt(T), 2 F),
        sigma_ATM = alpha F^(beta - 1),  n_strikes evenly spaced in [K_min, K_max],

    at maturities 1..10 years. Returns peer_surface's keyword arguments (less the MC settings).
    """
    mats = np.asarray(maturities, dtype=float)
    sd = fwd * alpha * fwd ** (beta - 1.0) * np.sqrt(mats)
    lo = np.maximum(fwd - 1.8 * sd, 0.4 * fwd)
    hi = np.minimum(fwd + 2.0 * sd, 2.0 * fwd)
    strikes = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_strikes)[None, :]
    return {"fwd": fwd, "strikes": strikes, "maturities": mats,
            "alpha": alpha, "beta": beta, "nu": nu, "rho": rho}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--steps-per-year", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    case = funahashi_surface()
    t0 = time.perf_counter()
    vols, ses = peer_surface(**case, n_paths=args.paths, steps_per_year=args.steps_per_year,
                             seed=args.seed)
    seconds = time.perf_counter() - t0
    steps = n_steps(case["maturities"], args.steps_per_year)
    out = {"seconds": round(seconds, 3), "steps": steps,
           "path_steps_per_s": args.paths * steps / seconds,
           "rms_stderr_bp": round(float(np.sqrt(np.nanmean(ses ** 2))) * 1e4, 3),
           "nan_points": int(np.isnan(vols).sum())}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
