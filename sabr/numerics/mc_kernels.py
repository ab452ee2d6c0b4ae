"""Fused per-path loops of the Monte Carlo engine, compiled with numba.

The scheme is :mod:`sabr.numerics.montecarlo`'s (Chen, Oosterlee & van der Weide 2012,
IJTAF 15(2), section 3: exact lognormal volatility, Lamperti forward with a Heun
drift, Brownian-bridge survival weights, Glasserman 2004 sections 4.1-4.2 and
6.4). The NumPy version of one time step makes about 30 passes over the paths'
arrays, each a separate ufunc call; here one loop does the whole step per path
with the same operations in the same order, so both engines agree to rounding
(exp/expm1 may differ in the last bit) and draw the same random numbers: the
normals are still drawn by NumPy's ``Generator`` before each step.

``error_model="numpy"``: a division by zero gives inf/NaN as in NumPy instead
of raising, which the scheme relies on for dead paths.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["step_paths", "add_payoffs"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def step_paths(y, a, w, z1, z2, pairs, dt, nu, rho, rhoc, c_drift, log_space,
               exact_near_zero, near_limit, near_idx, near_y0, near_w0, near_shift, near_v):
    """One time step of size dt for 2 * pairs paths, in place on (y, a, w).

    z1, z2: the step's volatility and orthogonal normals for the first ``pairs``
    paths; path ``pairs + i`` is the antithetic partner of path i (-z1, -z2).
    Live paths (w > 0) with Y_n^2 < near_limit * v_n (when ``exact_near_zero``) are listed in
    near_idx with their start state, for the exact Bessel step of the caller.
    Returns the number of such paths.
    """
    n = 2 * pairs
    sq = math.sqrt(dt)
    vol_drift = 0.5 * nu * nu * dt
    nu_sq = nu * sq
    half_dt = 0.5 * dt
    rho_nu = rho / nu if nu > 0.0 else 0.0
    rho_sq = rho * sq
    m = 0
    for i in range(n):
        if i < pairs:
            g1 = z1[i]
            g2 = z2[i]
        else:
            g1 = -z1[i - pairs]
            g2 = -z2[i - pairs]
        a0 = a[i]
        a1 = a0 * math.exp(g1 * nu_sq - vol_drift)       # exact lognormal volatility step
        v = (a0 * a0 + a1 * a1) * half_dt                # int alpha^2 dt (trapezoid)
        if nu > 0.0:
            shift = (a1 - a0) * rho_nu                   # rho int alpha dZ, exact
        else:
            shift = (a0 * g1) * rho_sq
        y0 = y[i]
        if exact_near_zero and y0 * y0 < near_limit * v and w[i] > 0.0:
            near_idx[m] = i
            near_y0[m] = y0
            near_w0[m] = w[i]
            near_shift[m] = shift
            near_v[m] = v
            m += 1
        dy = shift + math.sqrt(v) * g2 * rhoc            # martingale part of Y_{n+1} - Y_n
        if log_space:
            y[i] = y0 + (dy - 0.5 * v)                   # Ito drift exact in log space
        else:
            d0 = (v / y0) * -c_drift                     # drift at Y_n
            pred = y0 + dy + d0                          # Euler predictor
            d1 = d0 if pred <= 0.0 else (v / pred) * -c_drift
            y1 = y0 + (dy + (d0 + d1) * 0.5)             # Heun
            # bridge survival 1 - exp(-2 Y_n Y_{n+1} / v); exactly 1.0 in double precision
            # once the exponent is below -40 (exp(-40) < half an ulp of 1), so skip the call
            x = (y0 * -2.0) * y1 / v
            if not x < -40.0:
                surv = -math.expm1(x)
                if surv < 0.0:
                    surv = 0.0                           # Y_{n+1} <= 0: absorbed
                w[i] *= surv
            y[i] = y1 if y1 > 0.0 else 1.0               # dead paths: any positive state, weight 0
        a[i] = a1
    return m


@njit(**_JIT)
def add_payoffs(y, w, pairs, log_space, omb, strikes, is_call, sp, spp, spf):
    """Add one maturity's OTM payoffs, averaged over antithetic pairs, to running sums.

    Payoff of a path with weight w at forward F: w max(+-(F - K), 0), plus K (1 - w)
    on a put (an absorbed path, F = 0, pays K). Returns (sum f, sum f^2) of the
    pair-averaged control w F; sp, spp, spf (per strike) are updated in place.
    """
    n = 2 * pairs
    inv = 1.0 / omb if omb != 0.0 else 0.0
    f = np.empty(n)
    for i in range(n):
        f[i] = math.exp(y[i]) if log_space else (omb * y[i]) ** inv
    f_pair = np.empty(pairs)
    sf = 0.0
    sff = 0.0
    for p in range(pairs):
        fc = 0.5 * (w[p] * f[p] + w[p + pairs] * f[p + pairs])
        f_pair[p] = fc
        sf += fc
        sff += fc * fc
    for k in range(strikes.size):
        strike = strikes[k]
        call = is_call[k]
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for p in range(pairs):
            q = p + pairs
            if call:
                pay = w[p] * max(f[p] - strike, 0.0) + w[q] * max(f[q] - strike, 0.0)
            else:
                pay = (w[p] * max(strike - f[p], 0.0) + strike * (1.0 - w[p])
                       + w[q] * max(strike - f[q], 0.0) + strike * (1.0 - w[q]))
            pay *= 0.5
            s1 += pay
            s2 += pay * pay
            s3 += pay * f_pair[p]
        sp[k] += s1
        spp[k] += s2
        spf[k] += s3
    return sf, sff
