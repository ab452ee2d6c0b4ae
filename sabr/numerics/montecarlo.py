"""High fidelity: Monte Carlo SABR implied vols with standard errors.

Scheme (one simulation serves a whole surface; every maturity is a stop on the
same paths):

* **Volatility, exactly.** alpha_{n+1} = alpha_n exp(nu dZ_n - nu^2 dt / 2), the
  exact lognormal step.
* **Forward in Lamperti coordinates.** With Y = F^(1-b) / (1-b) (log F for
  b = 1), Ito gives dY = alpha dW - c alpha^2 / Y dt with c = b / (2 (1-b)),
  so the diffusion coefficient no longer depends on F (Kloeden & Platen 1992,
  section 4.4, on reducible SDEs). Writing dW = rho dZ + sqrt(1-rho^2) dW',
  the correlated part of the stochastic integral is exact along the simulated
  volatility, int alpha dZ = (alpha_{n+1} - alpha_n) / nu, because
  d alpha = nu alpha dZ; given the volatility path the rest is Gaussian with
  variance (1-rho^2) v_n, v_n = int alpha^2 dt (trapezoid rule). Only the
  drift - c v_n / Y_n is an Euler step. This is the conditional structure of
  Chen, Oosterlee & van der Weide (2012), "A low-bias simulation scheme for
  the SABR stochastic volatility model", IJTAF 15(2), section 3, applied
  step by step instead of through the CEV transition law.
* **Absorption at F = 0**, including crossings between time steps: a path
  that stays positive at both ends of a step has crossed zero inside it with
  the Brownian-bridge probability p = exp(-2 Y_n Y_{n+1} / v_n) (Glasserman
  2004, "Monte Carlo Methods in Financial Engineering", section 6.4). Instead
  of sampling the crossing, each path carries its survival probability
  w = prod(1 - p) (a conditional expectation: unbiased, lower variance), and
  an absorbed fraction 1 - w of the path pays the option's value at F = 0.
* **Variance reduction.** Antithetic pairs (Z, W') and (-Z, -W'), and the
  martingale control variate E[F_T] = F0 with a per-strike regression
  coefficient (Glasserman 2004, sections 4.1-4.2). Standard errors come from
  the regression residuals over independent antithetic pairs.
* **OTM options**: puts for K < F0, calls for K >= F0; prices are inverted to
  Black vols and price errors become vol errors by dividing by Black vega
  (delta method).

Work is done in chunks of at most CHUNK_PATHS paths, each with its own random
stream from ``SeedSequence([seed, chunk])``, so memory is bounded by the chunk
size (not by paths x steps) and the same arguments give bit-identical results.
Chunks also end at n/2, n/4, ... paths, where the run records its estimates so far
(:func:`prefix_paths`): labels at a fraction of the paths, and what they cost.

Discretisation bias at the default step (:func:`default_steps_per_year`) was
measured against runs with a 4x finer step and, for nu = 0, against the exact
CEV price (README, "Monte Carlo accuracy"); it is below the standard error at
100k paths.

Cost: every call records the CPU-seconds of its thread (``time.thread_time``: the
engine runs single-threaded, also inside a multi-threaded Dask worker) for the
whole surface and for a run to each maturity (definition in :mod:`sabr.numerics.mc_result`),
the data behind docs/DESIGN.md, "What HF data costs". The garbage collector is off while
a run is timed, as ``timeit`` does: with Prefect, Dask and TensorFlow loaded (about
500k objects) one full collection takes 0.18 s of the thread's CPU (measured
2026-12-07), ten times a small surface's cost, charged to whichever surface it fell in
(one maturity of one surface cost 0.11 s instead of 0.01 s in a CI run, and a CPU-budget
cell of the allocation test could not be paid).
"""
from __future__ import annotations

import gc
import math
import time
from contextlib import contextmanager

import numpy as np

from . import mc_kernels as kernels
from .black import black_vega, implied_vol
from .mc_result import (MIN_PATHS, MCResult, Moments, SegmentClock, check_inputs,
                        cost_to_maturity)
from .time_grid import DEFAULT_STEPS_PER_YEAR, MIN_STEPS, default_steps_per_year, step_counts

__all__ = [
    "DEFAULT_STEPS_PER_YEAR",
    "default_steps_per_year",
    "MIN_STEPS",
    "CHUNK_PATHS",
    "PATH_HALVINGS",
    "prefix_paths",
    "MCResult",
    "MIN_PATHS",
    "mc_prices",
    "mc_surface",
    "mc_smile",
]

CHUNK_PATHS = 16_384
"""Paths simulated together (antithetic partners included); keeps the working set in cache."""

PATH_HALVINGS = 4
"""A run reports the estimates of its first n/2, n/4, ..., n/2^PATH_HALVINGS paths too
(:func:`prefix_paths`)."""

_NEAR_ZERO_LAMBDA = 10.0
"""Paths with Y^2 / (2 v) below this take the exact Bessel step (absorption odds e^-30 above)."""

ENGINES = ("numba", "numpy")


def mc_prices(fwd, strikes, maturities, alpha, beta, nu, rho, *, n_paths=100_000,
              steps_per_year=None, seed=0, engine="numba") -> MCResult:
    """Simulate SABR once and price OTM options on a whole surface (scheme: module doc).

    Args:
        fwd: F0 > 0.
        strikes: shape (n_maturities, n_strikes), > 0.
        maturities: shape (n_maturities,), strictly increasing, years.
        alpha, beta, nu, rho: SABR parameters (scalars).
        n_paths: paths including antithetic partners (even, >= 100).
        steps_per_year: time steps per year; None = :func:`default_steps_per_year`.
        seed: integer seed; same inputs and seed give bit-identical outputs.
        engine: "numba" (fused compiled loops, :mod:`sabr.numerics.mc_kernels`) or "numpy" (one
            ufunc per operation); the same scheme and random numbers, equal to rounding.
    Returns:
        MCResult with prices, vols and their standard errors, and the CPU-seconds of this
        thread for the call and for a run to each maturity (sabr.numerics.mc_result, module doc;
        the timing never changes a number).
    """
    _warm_up(engine)
    with _collector_off():
        return _mc_prices(fwd, strikes, maturities, alpha, beta, nu, rho, n_paths=n_paths,
                          steps_per_year=steps_per_year, seed=seed, engine=engine)


@contextmanager
def _collector_off():
    """The garbage collector off for a timed run (back on after it, if it was on)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _mc_prices(fwd, strikes, maturities, alpha, beta, nu, rho, *, n_paths, steps_per_year,
               seed, engine) -> MCResult:
    cpu0 = time.thread_time()
    fwd, strikes, maturities = check_inputs(fwd, strikes, maturities, alpha, beta, nu, rho,
                                             n_paths, steps_per_year)
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is invalid: allowed one of {ENGINES}")
    alpha, beta, nu, rho = float(alpha), float(beta), float(nu), float(rho)
    spy = (default_steps_per_year(fwd, alpha, beta) if steps_per_year is None
           else float(steps_per_year))
    counts = step_counts(maturities, spy)
    gaps = np.diff(np.concatenate([[0.0], maturities]))
    is_call = strikes >= fwd
    moments = Moments(strikes.shape)
    segments = np.zeros(maturities.size)       # simulation CPU-seconds per maturity stop
    prefixes = prefix_paths(n_paths)
    snapshots = []                             # (moments, CPU-seconds, segments) at each prefix
    chunk = done = 0
    for stop in (*prefixes, n_paths):
        while done < stop:
            size = min(CHUNK_PATHS, stop - done)
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), chunk]))
            _simulate_chunk(rng, size // 2, fwd, strikes, is_call, counts, gaps,
                            alpha, beta, nu, rho, moments, engine, segments)
            moments.n += size // 2
            done += size
            chunk += 1
        if stop < n_paths:
            snapshots.append((moments.copy(), time.thread_time() - cpu0, segments.copy()))
    t_end = time.thread_time()
    prices, price_se, vols, vol_se = _invert(moments, fwd, strikes, maturities, is_call)
    finish = time.thread_time() - t_end        # estimation and inversion: in every run's cost
    cpu = time.thread_time() - cpu0
    prefix = [_invert(m, fwd, strikes, maturities, is_call)[2:] + (
        cost_to_maturity(spent + finish, seg),) for m, spent, seg in snapshots]
    return MCResult(strikes, maturities, is_call, prices, price_se, vols, vol_se,
                    int(n_paths), int(counts.sum()), cpu, cost_to_maturity(cpu, segments),
                    prefix_paths=prefixes,
                    prefix_vols=_stack([p[0] for p in prefix], strikes.shape),
                    prefix_vol_stderr=_stack([p[1] for p in prefix], strikes.shape),
                    prefix_cpu_seconds_to_maturity=_stack([p[2] for p in prefix],
                                                          maturities.shape))


def prefix_paths(n_paths: int) -> tuple[int, ...]:
    """Path counts of the nested prefixes a run reports: n/2^j for j = PATH_HALVINGS..1,
    rounded to even, those of at least MIN_PATHS (ascending; empty for small runs).

    A run simulates its paths in chunks that end at every prefix, so the estimate from
    the first n/2^j paths is a Monte Carlo estimate with n/2^j paths of its own (the same
    scheme and estimator on independent antithetic pairs) at no extra simulation: the
    ``paths`` allocation (sabr.data.allocations) trains on these noisier labels."""
    out = sorted({2 * round(n_paths / 2 ** (j + 1)) for j in range(1, PATH_HALVINGS + 1)})
    return tuple(int(p) for p in out if MIN_PATHS <= p < n_paths)


def _invert(moments, fwd, strikes, maturities, is_call):
    """Control-variate prices and their Black vols, each with its standard error."""
    prices, price_se = moments.estimate(fwd)
    texp = maturities[:, None]
    vols = implied_vol(prices, fwd, strikes, np.broadcast_to(texp, strikes.shape), is_call)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol_se = price_se / black_vega(fwd, strikes, texp, vols)
    return prices, price_se, vols, vol_se


def _stack(arrays, shape) -> np.ndarray:
    return np.stack(arrays) if arrays else np.empty((0, *shape))


def _simulate_chunk(rng, pairs, fwd, strikes, is_call, counts, gaps,
                    alpha, beta, nu, rho, moments, engine="numba", segments=None):
    """Advance 2 * pairs paths through every maturity, adding payoffs to ``moments``.

    ``segments`` (n_maturities,), if given, accumulates this thread's CPU-seconds per
    maturity stop: set-up and the steps to the first maturity and its payoffs go to 0,
    the steps from maturity j-1 to j and the payoffs at j to j.
    """
    clock = SegmentClock(segments)
    n = 2 * pairs
    log_space = beta == 1.0
    omb = 1.0 - beta
    c_drift = 0.5 if log_space else beta / (2.0 * omb)
    rhoc = math.sqrt(1.0 - rho * rho)
    y = np.full(n, math.log(fwd) if log_space else fwd ** omb / omb)
    a = np.full(n, alpha)
    w = np.ones(n)
    z1, z2 = np.empty(n), np.empty(n)
    if engine == "numba":
        fused = _Fused(n)
        for j, (n_steps, gap) in enumerate(zip(counts, gaps)):
            fused.advance(rng, pairs, n_steps, gap / n_steps, y, a, w, z1, z2,
                          nu, rho, rhoc, c_drift, log_space)
            sf, sff = kernels.add_payoffs(y, w, pairs, log_space, omb, strikes[j], is_call[j],
                                          moments.sp[j], moments.spp[j], moments.spf[j])
            moments.sf[j] += sf
            moments.sff[j] += sff
            clock.lap(j)
        return
    a_new, v, tmp = np.empty(n), np.empty(n), np.empty(n)
    for j, (n_steps, gap) in enumerate(zip(counts, gaps)):
        a, a_new = _advance(rng, pairs, n_steps, gap / n_steps, y, a, w, z1, z2, a_new, v,
                            tmp, nu, rho, rhoc, c_drift, log_space)
        f = np.exp(y) if log_space else (omb * y) ** (1.0 / omb)
        _add_payoffs(moments, j, f, w, strikes[j], is_call[j], pairs)
        clock.lap(j)


_WARM: set = set()


def _warm_up(engine):
    """Compile (or load from numba's cache) the kernels once per process, before any
    timed run, so the one-off compilation is not charged to the first surface."""
    if engine != "numba" or engine in _WARM:
        return
    strikes = np.array([[0.9, 1.1]])
    _simulate_chunk(np.random.default_rng(0), 2, 1.0, strikes, strikes >= 1.0, np.array([2]),
                    np.array([0.1]), 0.2, 0.5, 0.3, -0.3, Moments(strikes.shape), engine)
    fused = _Fused(2)                  # the near-zero step's kernels: paths rarely need it here
    fused.idx[0] = 0
    for buf, value in zip(fused.state, (0.01, 1.0, 0.0, 0.01)):
        buf[0] = value
    fused._bessel(np.random.default_rng(0), 1, np.ones(2), np.ones(2), -0.3, math.sqrt(0.91),
                  0.5)
    _WARM.add(engine)


class _Fused:
    """Time steps by the compiled kernels (sabr.numerics.mc_kernels), with their buffers.

    A step is: the normals (mc_kernels.draw_normals: NumPy's numbers from ``rng``), the
    volatility factor and the survival's expm1 by NumPy's vectorised exp/expm1, the rest
    in branch-free compiled loops (mc_kernels.forward_step, survive) that LLVM
    vectorises, and the near-zero paths listed (mc_kernels.near_zero) for the exact
    Bessel step (:meth:`_bessel`).
    """

    def __init__(self, n):
        self.idx = np.empty(n, dtype=np.int64)
        self.state = tuple(np.empty(n) for _ in range(4))
        self.e, self.y1, self.v, self.shift, self.x, self.em1 = (np.empty(n) for _ in range(6))
        self.bessel = tuple(np.empty(n) for _ in range(3))

    def advance(self, rng, pairs, n_steps, dt, y, a, w, z1, z2, nu, rho, rhoc, c_drift,
                log_space):
        """n_steps steps of size dt on (y, a, w) in place, drawing as :func:`_advance` does."""
        exact_near_zero = not log_space and rhoc > 0.0
        n = 2 * pairs
        e, y1, v, shift, x, em1 = (b[:n] for b in (self.e, self.y1, self.v, self.shift,
                                                   self.x, self.em1))
        nu_sq, vol_drift = nu * math.sqrt(dt), 0.5 * nu * nu * dt
        for _ in range(n_steps):
            kernels.draw_normals(rng, z1, z2, pairs)
            kernels.vol_exponent(z1, pairs, nu_sq, vol_drift, e)
            np.exp(e, out=e)
            kernels.forward_step(y, a, e, z1, z2, pairs, dt, nu, rho, rhoc, c_drift,
                                 log_space, y1, v, shift, x)
            if log_space:
                y[:] = y1
                continue
            m = (kernels.near_zero(y, w, v, shift, 2.0 * _NEAR_ZERO_LAMBDA, self.idx,
                                   *self.state) if exact_near_zero else 0)
            with np.errstate(over="ignore", invalid="ignore"):
                np.expm1(x, out=em1)
            kernels.survive(y, w, y1, x, em1)
            if m:
                self._bessel(rng, m, w, y, rho, rhoc, c_drift)

    def _bessel(self, rng, m, w, y, rho, rhoc, c_drift):
        """:func:`_bessel_step` for the m listed paths: the same draws from NumPy in the same
        order, its arithmetic in compiled loops (a step lists few paths, so NumPy's per-call
        overhead was most of its cost)."""
        y0, w0, shift, v = self.state
        surv, lam, mean = (b[:m] for b in self.bessel)
        kernels.bessel_prepare(m, y0, shift, v, rho, rhoc, surv, lam)
        g = rng.standard_gamma(0.5 + c_drift / (rhoc * rhoc), m)
        kernels.bessel_mean(m, lam, g, mean)
        gamma_k = rng.standard_gamma(rng.poisson(mean) + 1.0)
        kernels.bessel_finish(m, self.idx, w0, v, rhoc, surv, lam, g, gamma_k, y, w)


def _advance(rng, pairs, n_steps, dt, y, a, w, z1, z2, a_new, v, tmp,
             nu, rho, rhoc, c_drift, log_space):
    """n_steps steps of size dt on the state (y, a, w), in place; the rest are work buffers.

    Returns:
        (a, a_new): the buffers now holding the volatility and the spare one
        (they swap roles every step).
    """
    exact_near_zero = not log_space and rhoc > 0.0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        sq = math.sqrt(dt)
        for _ in range(n_steps):
            rng.standard_normal(out=z1[:pairs])
            np.negative(z1[:pairs], out=z1[pairs:])
            rng.standard_normal(out=z2[:pairs])
            np.negative(z2[:pairs], out=z2[pairs:])
            # exact lognormal volatility step
            np.multiply(z1, nu * sq, out=tmp)
            tmp -= 0.5 * nu * nu * dt
            np.exp(tmp, out=tmp)
            np.multiply(a, tmp, out=a_new)
            # v = int alpha^2 dt over the step (trapezoid)
            np.multiply(a, a, out=v)
            np.multiply(a_new, a_new, out=tmp)
            v += tmp
            v *= 0.5 * dt
            # correlated part: rho int alpha dZ = rho (alpha_{n+1} - alpha_n) / nu
            if nu > 0.0:
                np.subtract(a_new, a, out=tmp)
                tmp *= rho / nu
            else:
                np.multiply(a, z1, out=tmp)
                tmp *= rho * sq
            if exact_near_zero:
                # live paths within sqrt(2 L v) of the boundary take the exact Bessel step
                # below (a dead path's state is never used: its weight stays 0)
                np.multiply(y, y, out=a)
                near = np.flatnonzero((a < (2.0 * _NEAR_ZERO_LAMBDA) * v) & (w > 0.0))
                if near.size:
                    near_state = (y[near], w[near], tmp[near], v[near])
            np.sqrt(v, out=a)                  # a is free until swapped with a_new
            a *= z2
            a *= rhoc
            tmp += a                           # tmp = martingale part of Y_{n+1} - Y_n
            if log_space:
                tmp -= 0.5 * v                 # the Ito drift is exact in log space
                y += tmp
            else:
                # drift -c v / Y by the trapezoid rule on an Euler predictor (Heun);
                # a predictor at or below 0 keeps the start-of-step drift.
                np.divide(v, y, out=a)
                a *= -c_drift                  # a = drift at Y_n
                np.add(y, tmp, out=z1)
                z1 += a                        # z1 = predictor
                np.divide(v, z1, out=z2)
                z2 *= -c_drift                 # z2 = drift at the predictor
                np.copyto(z2, a, where=z1 <= 0.0)
                a += z2
                a *= 0.5
                tmp += a                       # tmp = Y_{n+1} - Y_n
                # survival over the step: w *= 1 - exp(-2 Y_n Y_{n+1} / v_n)
                np.multiply(y, -2.0, out=a)
                y += tmp
                a *= y
                a /= v
                np.expm1(a, out=a)
                np.negative(a, out=a)
                np.maximum(a, 0.0, out=a)      # Y_{n+1} <= 0: absorbed (survival 0)
                w *= a
                if exact_near_zero and near.size:
                    _bessel_step(rng, near, near_state, y, w, rho, rhoc, c_drift)
                y[y <= 0.0] = 1.0              # dead paths: any positive state, weight 0
            a, a_new = a_new, a
    return a, a_new


def _bessel_step(rng, near, state, y, w, rho, rhoc, c_drift):
    """Exact step for paths near F = 0, in place on y[near] and w[near].

    Splitting of the step given the volatility path: (A) the correlated shift
    rho int alpha dZ, exact, with the Brownian-bridge survival over it; then (B)
    the rest, dY = rhoc alpha dW' - c alpha^2 / Y dt, which in the clock
    tau = rhoc^2 v is a Bessel process of dimension d = 1 - 2 c / rhoc^2 killed at
    0 (Revuz & Yor 1999, ch. XI). Its squared value X = Y^2 from x has the law
    (Poisson-Gamma mixture of the killed BESQ density): with a = 1 - d/2 and
    lam = x / (2 tau), X survives with probability P(a, lam) (regularised lower
    incomplete gamma); given survival, G ~ Gamma(a) conditioned on G < lam,
    k ~ Poisson(lam - G) and X = 2 tau Gamma(k + 1). The survival probability
    multiplies the path's weight (as the bridge does elsewhere) instead of
    being sampled.
    """
    y0, w0, shift, v = state
    ya = y0 + shift
    if rho != 0.0:
        with np.errstate(over="ignore"):
            surv = -np.expm1(-2.0 * y0 * ya / (rho * rho * v))
    else:
        surv = np.ones_like(ya)
    alive = ya > 0.0
    surv = np.where(alive, np.maximum(surv, 0.0), 0.0)
    tau = rhoc * rhoc * v
    shape = 0.5 + c_drift / (rhoc * rhoc)
    lam = np.where(alive, ya * ya / (2.0 * tau), 0.0)
    g = rng.standard_gamma(shape, ya.size)
    alive &= g < lam
    k = rng.poisson(np.where(alive, lam - g, 0.0))
    x = 2.0 * tau * rng.standard_gamma(k + 1.0)
    y[near] = np.sqrt(x)
    w[near] = np.where(alive, w0 * surv, 0.0)


def _add_payoffs(moments, j, f, w, strikes, is_call, pairs):
    """OTM payoffs at maturity j, absorbed mass included, averaged over antithetic pairs."""
    k = strikes[:, None]
    intrinsic = np.where(is_call[:, None], f[None, :] - k, k - f[None, :])
    np.maximum(intrinsic, 0.0, out=intrinsic)
    intrinsic *= w[None, :]
    # an absorbed path (F = 0) pays K on a put and nothing on a call
    intrinsic += np.where(is_call[:, None], 0.0, k * (1.0 - w)[None, :])
    wf = w * f
    pay = 0.5 * (intrinsic[:, :pairs] + intrinsic[:, pairs:])
    moments.add(j, pay, 0.5 * (wf[:pairs] + wf[pairs:]))


def mc_surface(fwd, strikes, maturities, alpha, beta, nu, rho, *, n_paths=100_000,
               steps_per_year=None, seed=0):
    """Monte Carlo Black implied vols for a surface from one simulation.

    Args:
        strikes: shape (n_maturities, n_strikes); maturities: shape (n_maturities,).
        (others as in :func:`mc_prices`)
    Returns:
        (vols, stderrs), each of shape (n_maturities, n_strikes), in vol units.
    """
    res = mc_prices(fwd, strikes, maturities, alpha, beta, nu, rho, n_paths=n_paths,
                    steps_per_year=steps_per_year, seed=seed)
    return res.vols, res.vol_stderr


def mc_smile(fwd, strikes, texp, alpha, beta, nu, rho, *, n_paths=100_000,
             steps_per_year=None, seed=0):
    """Monte Carlo Black implied vols for one maturity.

    Args:
        strikes: shape (n_strikes,); texp: expiry in years.
    Returns:
        (vols, stderrs), each of shape (n_strikes,), in vol units.
    """
    strikes = np.atleast_1d(np.asarray(strikes, dtype=float))
    if strikes.ndim != 1:
        raise ValueError(f"strikes of shape {strikes.shape} is invalid: allowed a 1-d array")
    vols, ses = mc_surface(fwd, strikes[None, :], [float(texp)], alpha, beta, nu, rho,
                           n_paths=n_paths, steps_per_year=steps_per_year, seed=seed)
    return vols[0], ses[0]
