"""Calibration of a deep ensemble's predictive intervals against noisy Monte Carlo labels.

A deep ensemble (Lakshminarayanan, Pritzel & Blundell 2017, "Simple and scalable
predictive uncertainty estimation using deep ensembles", NeurIPS) of M independently
initialised members predicts, per test point, the members' mean mu and spread s (their
sample standard deviation). The test label is itself a Monte Carlo estimate with standard
error se, so the label the interval must cover is the exact vol plus N(0, se^2) noise:
the predictive sd against the label is sqrt(s^2 + se^2). The nominal-p interval is
Gaussian, mu +- z_{(1+p)/2} sd.

Calibration of regression intervals (Kuleshov, Fenner & Ermon 2018, "Accurate
uncertainties for deep learning using calibrated regression", ICML): an interval of
nominal level p is calibrated when it covers a fraction p of the points; the reliability
diagram plots observed against nominal coverage over a grid of levels (they use one-sided
quantiles; here central intervals). Beside coverage: the mean Gaussian negative
log-likelihood per point (the proper scoring rule Lakshminarayanan et al. 2017 train and
evaluate with) and the mean interval width (sharpness). The members here predict a mean
only, so the ensemble's variance is the members' sample variance (their mixture variance
with ddof 1 and no per-member variance). Vols are decimals in; every output in vol
basis points (1 bp = 1e-4) except coverages (fractions) and NLL (of errors in bp).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .metrics import BP

__all__ = ["RELIABILITY_LEVELS", "REPORTED_LEVELS", "CALIBRATION_COLUMNS", "SD_FLOOR",
           "reliability_key", "ensemble_calibration", "fit_spread_scale", "calibration_split"]

RELIABILITY_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""Nominal levels of the reliability diagram."""
REPORTED_LEVELS = (0.5, 0.9)
"""Nominal levels whose coverage and width the report shows."""
SD_FLOOR = 1e-12
"""Smallest predictive sd (decimal vol) used: all members equal and se = 0 would divide by 0."""


def reliability_key(level: float) -> str:
    """'reliability_10' for 0.1, ..., 'reliability_95' for 0.95 (the level in percent)."""
    return f"reliability_{round(100 * level):d}"


CALIBRATION_COLUMNS = (("ensemble_size", "ens_spread_bp")
                       + tuple(f"coverage_{round(100 * p):d}" for p in REPORTED_LEVELS)
                       + tuple(f"width_{round(100 * p):d}_bp" for p in REPORTED_LEVELS)
                       + ("nll",) + tuple(reliability_key(p) for p in RELIABILITY_LEVELS))
"""The keys of :func:`ensemble_calibration`, in report order."""


def _checked(members, truth, label_se) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = np.asarray(members, dtype=float)
    y = np.asarray(truth, dtype=float)
    se = np.asarray(label_se, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(f"members must be (M, n) with M >= 2 ensemble members, got shape {m.shape}")
    n = m.shape[1]
    for name, a in (("truth", y), ("label_se", se)):
        if a.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) like members' points, got {a.shape}")
    for name, a in (("members", m), ("truth", y), ("label_se", se)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has non-finite values")
    if np.any(se < 0):
        raise ValueError("label_se has negative values")
    if n == 0:
        raise ValueError("members has no points (n = 0)")
    return m, y, se


def calibration_split(point_thetas, seed: int) -> np.ndarray:
    """Which validation points calibrate the spread (True) and which stop the training early
    (False): split by theta, so the scale is fitted on thetas no member's early stopping
    saw (issue 38: fitted on the early-stopping points themselves, of often 1-3 thetas, the
    90 % intervals covered 0.78-0.85 with one theta). The distinct thetas in a seeded random
    order; the first ceil(n/2) stop early, the other floor(n/2) calibrate, so with one
    validation theta nothing calibrates (the caller reports c = 1 and 0 calibration thetas).

    Args:
        point_thetas: (n,) the theta index of each validation point.
        seed: the cell's seed (the same cell splits the same way).
    Returns:
        (n,) bool mask of the calibration points.
    """
    t = np.asarray(point_thetas)
    distinct = np.unique(t)
    order = np.random.default_rng(int(seed) % 2 ** 63).permutation(distinct)
    cal = order[(distinct.size + 1) // 2:]
    return np.isin(t, cal)


def fit_spread_scale(members, truth, label_se) -> float:
    """The factor c by which an ensemble's spread is scaled so that its Gaussian intervals
    fit held-out labels: c minimises the mean Gaussian NLL of ``truth`` under
    N(mu, (c s)^2 + se^2) over c in [0.01, 100] (sigma scaling, Laves et al. 2020,
    "Well-calibrated regression uncertainty in medical imaging with deep learning", MIDL;
    one parameter fitted on the cell's calibration thetas (:func:`calibration_split`),
    never on the test set).
    Arguments as :func:`ensemble_calibration`."""
    from scipy.optimize import minimize_scalar
    m, y, se = _checked(members, truth, label_se)
    mu, s = m.mean(axis=0), m.std(axis=0, ddof=1)
    err2, s2, se2 = (y - mu) ** 2, s * s, se * se

    def nll(log_c: float) -> float:
        var = np.maximum(math.exp(2 * log_c) * s2 + se2, SD_FLOOR ** 2)
        return float(np.mean(np.log(var) + err2 / var))
    best = minimize_scalar(nll, bounds=(math.log(0.01), math.log(100.0)), method="bounded",
                           options={"xatol": 1e-4})
    return float(math.exp(best.x))


def ensemble_calibration(members, truth, label_se, spread_scale: float = 1.0) -> dict:
    """Coverage, width, NLL and reliability of an ensemble's Gaussian predictive intervals.

    mu = mean of the members, s = their sd (ddof 1), sd = sqrt(s^2 + se^2) floored at
    SD_FLOOR (Lakshminarayanan et al. 2017 for mu and s; se added because the labels are
    noisy Monte Carlo estimates). Interval at nominal p: mu +- z_{(1+p)/2} sd, with z the
    standard normal quantile; observed coverage = share of points whose truth lies inside
    (Kuleshov et al. 2018). NLL per point, errors and sd in bp:
    0.5 log(2 pi sd_bp^2) + 0.5 (err_bp / sd_bp)^2.

    Args:
        members: (M, n) predicted vols (decimals) of M >= 2 members at n test points.
        truth: (n,) Monte Carlo vols (decimals) of the same points.
        label_se: (n,) Monte Carlo standard errors of ``truth`` (decimals, >= 0).
        spread_scale: c > 0 multiplying s (:func:`fit_spread_scale`; 1: the raw ensemble).
    Returns:
        flat dict with the keys CALIBRATION_COLUMNS: ensemble_size (int M), ens_spread_bp
        (RMS of c s, bp), coverage_50 / coverage_90 (fractions), width_50_bp / width_90_bp
        (mean full interval width, bp), nll (mean per point), reliability_10 ...
        reliability_95 (observed coverage at each RELIABILITY_LEVELS level).
    Raises:
        ValueError (one line, naming the argument): M < 2, shapes that differ, non-finite
        values, negative standard errors, no points.
    """
    m, y, se = _checked(members, truth, label_se)
    mu = m.mean(axis=0)
    if not (math.isfinite(spread_scale) and spread_scale > 0):
        raise ValueError(f"spread_scale={spread_scale!r} is invalid: allowed a number > 0")
    s = m.std(axis=0, ddof=1) * float(spread_scale)
    sd = np.maximum(np.sqrt(s * s + se * se), SD_FLOOR)
    z_err = np.abs(y - mu) / sd                       # |error| in units of the predictive sd
    sd_bp = sd * BP

    def covered(p: float) -> float:
        return float(np.mean(z_err <= stats.norm.ppf(0.5 + p / 2)))

    out: dict = {"ensemble_size": int(m.shape[0]),
                 "ens_spread_bp": float(np.sqrt(np.mean(s * s)) * BP)}
    for p in REPORTED_LEVELS:
        out[f"coverage_{round(100 * p):d}"] = covered(p)
    for p in REPORTED_LEVELS:
        out[f"width_{round(100 * p):d}_bp"] = float(2 * stats.norm.ppf(0.5 + p / 2) * sd_bp.mean())
    out["nll"] = float(np.mean(0.5 * np.log(2 * math.pi * sd_bp * sd_bp) + 0.5 * z_err * z_err))
    for p in RELIABILITY_LEVELS:
        out[reliability_key(p)] = covered(p)
    return {k: out[k] for k in CALIBRATION_COLUMNS}
