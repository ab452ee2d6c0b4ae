"""Test-set error metrics in volatility basis points, overall and per moneyness region.

1 bp = 0.0001 in vol. Regions are ITM / ATM / OTM by standardised moneyness
(cut-offs in sabr.numerics.grid; z is scaled by each surface's own Hagan ATM vol). The MC
noise floor is the root mean square error of the HF labels on the same points, overall
and per region: no model can be measured below it. It is estimated from each run's own
independent half (``Dataset.label_noise_sq``: per-point squared differences), not from
the labels' standard errors, which understate the error of heavy-tailed runs (docs/
METHODS.md, "Noise floor": 18.0 bp against 8.6 on the seed's test set); the standard
errors' RMS is kept beside it as ``noise_floor_se_bp``, and is the floor of a data set
without the half-path estimates.

Noise correction (docs/DESIGN.md, "Noise floor"): the MSE measured against
noisy MC labels is, in expectation, the true MSE plus the labels' mean squared error on
the scored points, so ``mse_corrected_bp2 = mse_bp2 - noise_floor_bp^2`` (bp^2)
estimates the error against the exact surface. It can
be negative for a model within the noise (the value is kept: clipping would bias
averages over seeds); ``rmse_corrected_bp = sqrt(max(mse_corrected_bp2, 0))``. The
same per region is rmse_bp_R^2 - noise_floor_bp_R^2.
"""
from __future__ import annotations

import numpy as np

from ..io import hash_bytes
from ..numerics.grid import REGIONS

__all__ = ["BP", "error_metrics", "cell_metrics", "noise_floor_bp", "replicate_floor_bp", "noise_corrected",
           "test_set_hash"]

BP = 1e4


def error_metrics(pred: np.ndarray, truth: np.ndarray, regions: np.ndarray, prefix: str = "") -> dict:
    """RMSE, MAE, max |error| (bp), MSE (bp^2) and mean relative error, overall and per region.

    Args:
        pred, truth: (n,) vols (decimals); regions: (n,) 'ITM' / 'ATM' / 'OTM'.
        prefix: prepended to every key (e.g. 'hagan_').
    Returns:
        flat dict: rmse_bp, mae_bp, max_abs_bp, mse_bp2, mean_rel_err, n_points and the
        same per region with suffix _ITM / _ATM / _OTM (NaN for an empty region).
    """
    err = (np.asarray(pred, float) - np.asarray(truth, float)) * BP
    rel = np.abs(err) / (np.abs(np.asarray(truth, float)) * BP)
    out = {}
    groups = [("", np.ones(err.shape, bool))] + [(f"_{r}", regions == r) for r in REGIONS]
    for suffix, mask in groups:
        e = err[mask]
        n = int(e.size)
        out[f"{prefix}n_points{suffix}"] = n
        if n == 0:
            for k in ("rmse_bp", "mae_bp", "max_abs_bp", "mse_bp2", "mean_rel_err"):
                out[f"{prefix}{k}{suffix}"] = float("nan")
            continue
        mse = float(np.mean(e * e))
        out[f"{prefix}mse_bp2{suffix}"] = mse
        out[f"{prefix}rmse_bp{suffix}"] = float(np.sqrt(mse))
        out[f"{prefix}mae_bp{suffix}"] = float(np.mean(np.abs(e)))
        out[f"{prefix}max_abs_bp{suffix}"] = float(np.max(np.abs(e)))
        out[f"{prefix}mean_rel_err{suffix}"] = float(np.mean(rel[mask]))
    return out


def noise_floor_bp(hf_se: np.ndarray) -> float:
    """RMS of the HF standard errors (decimals) in bp."""
    return float(np.sqrt(np.mean(np.asarray(hf_se, float) ** 2)) * BP)


def replicate_floor_bp(noise_sq: np.ndarray) -> float:
    """Root of the mean of per-point squared label errors (decimals^2) in bp, the points
    whose estimate is missing left out (NaN if none has one)."""
    v = np.asarray(noise_sq, float)
    v = v[np.isfinite(v)]
    return float(np.sqrt(v.mean()) * BP) if v.size else float("nan")


def noise_corrected(mse_bp2: float, floor_bp: float, prefix: str = "") -> dict:
    """Noise-corrected MSE and RMSE (module doc).

    Args:
        mse_bp2: measured MSE against the MC labels (bp^2); floor_bp: RMS of the labels'
            standard errors on the same points (bp).
        prefix: prepended to every key.
    Returns:
        {prefix}mse_corrected_bp2 (bp^2, may be negative) and {prefix}rmse_corrected_bp
        (bp, root of the positive part).
    """
    corrected = float(mse_bp2) - float(floor_bp) ** 2
    return {f"{prefix}mse_corrected_bp2": corrected,
            f"{prefix}rmse_corrected_bp": float(np.sqrt(max(corrected, 0.0)))
            if np.isfinite(corrected) else float("nan")}


def test_set_hash(dataset, points: np.ndarray) -> str:
    """Identifies the test set: the data set's content and the test points."""
    return hash_bytes(dataset.content_hash.encode(), np.asarray(points, "<i8").tobytes())[:16]


def cell_metrics(dataset, points: np.ndarray, sigma_pred: np.ndarray) -> dict:
    """A model's metrics on ``points`` plus the Hagan baseline's and the noise floor.

    Args:
        dataset: a sabr.data.dataset.Dataset; points: (n,) flat test point indices.
        sigma_pred: (n,) predicted vols (decimals).
    Returns:
        flat dict: error_metrics of the model and (prefix hagan_) of Hagan, point counts
        per region (n_points_ITM/ATM/OTM), noise_floor_bp overall and per region
        (noise_floor_bp_ITM/ATM/OTM, NaN for an empty region; from the labels' half-path
        replicates where the data set has them), noise_floor_se_bp, the noise-corrected
        mse_corrected_bp2 / rmse_corrected_bp (and hagan_ ones), test_hash.
    """
    truth = dataset.hf.ravel()[points]
    regions = dataset.regions(points)
    out = error_metrics(sigma_pred, truth, regions)
    out.update(error_metrics(dataset.lf.ravel()[points], truth, regions, prefix="hagan_"))
    se = dataset.hf_se.ravel()[points]
    noise = dataset.label_noise_sq()
    noise_sq = noise.ravel()[points] if noise is not None else se ** 2
    out["noise_floor_bp"] = replicate_floor_bp(noise_sq)
    out["noise_floor_se_bp"] = noise_floor_bp(se)
    for r in REGIONS:
        mask = regions == r
        out[f"noise_floor_bp_{r}"] = replicate_floor_bp(noise_sq[mask]) if mask.any() \
            else float("nan")
    out.update(noise_corrected(out["mse_bp2"], out["noise_floor_bp"]))
    out.update(noise_corrected(out["hagan_mse_bp2"], out["noise_floor_bp"], prefix="hagan_"))
    out["test_hash"] = test_set_hash(dataset, points)
    return out
