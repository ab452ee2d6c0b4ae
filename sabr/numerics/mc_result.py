"""Monte Carlo result type, input checks and running moments (used by sabr.numerics.montecarlo).

Split out of :mod:`sabr.numerics.montecarlo` to keep that module about the scheme. The
estimator is the control-variate regression of Glasserman (2004), "Monte Carlo
Methods in Financial Engineering", sections 4.1-4.2, over antithetic pairs.

Cost of a run (docs/DESIGN.md, "What HF data costs"): ``cpu_seconds`` is the
CPU time of the calling thread (``time.thread_time``) over the whole call,
input checks, simulation, pricing and inversion included. The simulation of
each chunk of paths is timed per maturity stop (the steps from the previous
maturity plus the payoffs at this one). A run that stopped at maturity m would
have done exactly the first m + 1 segments of every chunk (the step rule does
not depend on later maturities), so its cost is defined as

    cpu_seconds_to_maturity[m] = cpu_seconds x S(m) / S(M - 1),

S(m) the simulation CPU time summed over chunks up to and including stop m:
the call's overhead is shared in proportion, and the last entry equals
``cpu_seconds``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .params import check_alpha, check_beta, check_nu, check_positive, check_rho

__all__ = ["MCResult", "MIN_PATHS", "check_inputs", "Moments", "SegmentClock",
           "cost_to_maturity", "timing_machine"]

MIN_PATHS = 100


@dataclass(frozen=True)
class MCResult:
    """Monte Carlo prices and implied vols of OTM options on a surface.

    All arrays have the shape of ``strikes``: (n_maturities, n_strikes).

    Attributes:
        strikes, maturities: the grid (maturities shape (n_maturities,)).
        is_call: True where the OTM option is a call (K >= F0).
        prices, price_stderr: undiscounted OTM option prices and their standard errors.
        vols, vol_stderr: Black implied vols and their standard errors (NaN where the
            price has no implied vol, e.g. a far wing with no paths reaching it).
        n_paths, n_steps: paths simulated; time steps to the last maturity.
        cpu_seconds: CPU-seconds of this thread for the whole call (module doc).
        cpu_seconds_to_maturity: (n_maturities,) CPU-seconds of a run to each maturity,
            cumulative and non-decreasing; the last entry equals ``cpu_seconds``.
        prefix_paths: (L,) ascending path counts n/2^j of the nested prefixes the run
            reports (sabr.numerics.montecarlo.prefix_paths); prefix_vols,
            prefix_vol_stderr (L, n_maturities, n_strikes): the estimates from those first
            paths; prefix_cpu_seconds_to_maturity (L, n_maturities): what a run with only
            those paths costs (its simulation so far, plus the estimation and inversion).
    """

    strikes: np.ndarray
    maturities: np.ndarray
    is_call: np.ndarray
    prices: np.ndarray
    price_stderr: np.ndarray
    vols: np.ndarray
    vol_stderr: np.ndarray
    n_paths: int
    n_steps: int
    cpu_seconds: float = float("nan")
    cpu_seconds_to_maturity: np.ndarray = field(default_factory=lambda: np.empty(0))
    prefix_paths: tuple = ()
    prefix_vols: np.ndarray = field(default_factory=lambda: np.empty(0))
    prefix_vol_stderr: np.ndarray = field(default_factory=lambda: np.empty(0))
    prefix_cpu_seconds_to_maturity: np.ndarray = field(default_factory=lambda: np.empty(0))


def cost_to_maturity(total: float, segments: np.ndarray) -> np.ndarray:
    """CPU-seconds of a run to each maturity: ``total`` shared by cumulative segment time.

    Args:
        total: CPU-seconds of the whole call.
        segments: (n_maturities,) simulation CPU-seconds spent per maturity stop
            (summed over chunks).
    Returns:
        (n_maturities,) total x cumsum(segments) / sum(segments); with no measurable
        segment time (clock resolution) the share is by stop count instead.
    """
    seg = np.asarray(segments, float)
    cum = np.cumsum(seg)
    if not cum.size:
        return cum
    if not cum[-1] > 0:
        cum = np.arange(1.0, seg.size + 1.0)
    return float(total) * cum / cum[-1]


def timing_machine() -> str:
    """Whose CPU-seconds a run's timings are: this machine's CPU model and logical CPUs
    ('AMD EPYC 7763 64-Core Processor, 2 CPUs'; the model from /proc/cpuinfo, else
    ``platform.processor()``). The same run costs other CPU-seconds on another machine;
    its path-steps (sabr.numerics.time_grid) are the same everywhere."""
    import os
    import platform
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.partition(":")[2].strip() for line in f
                          if line.lower().startswith("model name")), "")
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return f"{model}, {os.cpu_count()} CPUs"


class SegmentClock:
    """Adds this thread's CPU-seconds since the last lap to ``segments[j]`` (no-op if None)."""

    def __init__(self, segments):
        self.segments = segments
        self.last = time.thread_time()

    def lap(self, j):
        """Charge the CPU time since the previous lap (or creation) to maturity stop j."""
        if self.segments is not None:
            now = time.thread_time()
            self.segments[j] += now - self.last
            self.last = now


def check_inputs(fwd, strikes, maturities, alpha, beta, nu, rho, n_paths, steps_per_year):
    """Validated (fwd, strikes, maturities) for :func:`sabr.numerics.montecarlo.mc_prices`.

    Raises:
        ValueError naming the first invalid argument and what is allowed.
    """
    fwd = float(check_positive("fwd", fwd))
    maturities = check_positive("maturities", np.atleast_1d(np.asarray(maturities, dtype=float)))
    if maturities.ndim != 1 or np.any(np.diff(maturities) <= 0):
        raise ValueError("maturities is invalid: allowed a 1-d strictly increasing array")
    strikes = check_positive("strikes", np.asarray(strikes, dtype=float))
    if strikes.ndim != 2 or strikes.shape[0] != maturities.size:
        raise ValueError(f"strikes of shape {strikes.shape} is invalid: allowed shape "
                         f"(n_maturities={maturities.size}, n_strikes)")
    for name, check, value in (("alpha", check_alpha, alpha), ("beta", check_beta, beta),
                               ("nu", check_nu, nu), ("rho", check_rho, rho)):
        if np.ndim(value) != 0:
            raise ValueError(f"{name} is invalid: allowed a scalar number")
        check(value)
    if not isinstance(n_paths, (int, np.integer)) or n_paths < MIN_PATHS or n_paths % 2:
        raise ValueError(f"n_paths={n_paths!r} is invalid: allowed an even integer >= {MIN_PATHS}")
    if steps_per_year is not None and not (np.isfinite(steps_per_year) and steps_per_year > 0):
        raise ValueError(f"steps_per_year={steps_per_year!r} is invalid: allowed > 0 or None")
    return fwd, strikes, maturities


class Moments:
    """Running sums over antithetic pairs for the control-variate estimator (per strike)."""

    def __init__(self, shape):
        self.n = 0
        self.sp = np.zeros(shape)
        self.spp = np.zeros(shape)
        self.spf = np.zeros(shape)
        self.sf = np.zeros(shape[:-1])
        self.sff = np.zeros(shape[:-1])

    def copy(self) -> "Moments":
        out = Moments(self.sp.shape)
        out.n = self.n
        for name in ("sp", "spp", "spf", "sf", "sff"):
            setattr(out, name, getattr(self, name).copy())
        return out

    def add(self, j, pay, f):
        """pay: (n_strikes, n_pairs) pair-averaged payoffs; f: (n_pairs,) pair-averaged w F_T."""
        self.sp[j] += pay.sum(axis=1)
        self.spp[j] += np.einsum("kp,kp->k", pay, pay)
        self.spf[j] += pay @ f
        self.sf[j] += f.sum()
        self.sff[j] += f @ f

    def estimate(self, fwd):
        """Control-variate price and standard error, each (n_maturities, n_strikes)."""
        n = self.n
        mp, mf = self.sp / n, (self.sf / n)[:, None]
        cpp = self.spp / n - mp * mp
        cff = self.sff[:, None] / n - mf * mf
        cpf = self.spf / n - mp * mf
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(cff > 0, cpf / cff, 0.0)
        price = mp - b * (mf - fwd)
        resid_var = np.maximum(cpp - b * cpf, 0.0) * n / max(n - 2, 1)
        return price, np.sqrt(resid_var / n)
