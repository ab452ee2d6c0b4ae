"""Model inputs for a set of points: LF patches, point features, targets and their normalisation.

The LF surface of a theta is an image on the (maturity, strike) index grid. The
MDA-CNN and CNN-only models see, for each point, the ``ph x pw`` patch of that
image centred on the point, edge-padded at the borders (the LF context of the
multi-fidelity data-aggregation CNN, docs/DESIGN.md section 1). The MLPs see
point features (alpha, beta, nu, rho, K, T, sigma_LF).

Normalisation statistics come from the training points only; they are applied to
validation and test points unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["FEATURE_NAMES", "lf_patches", "point_features", "targets",
           "Normaliser", "fit_normaliser"]

FEATURE_NAMES = ("alpha", "beta", "nu", "rho", "K", "T", "sigma_lf")


def lf_patches(lf: np.ndarray, points: np.ndarray, patch_size=(9, 9)) -> np.ndarray:
    """Edge-padded LF patches centred on points.

    Args:
        lf: (N, M, K) LF surfaces.
        points: (n,) flat point indices into (N, M, K).
        patch_size: (ph, pw), both odd.
    Returns:
        (n, ph, pw) float32; entry [i, a, b] is lf[theta, clip(m - ph//2 + a), clip(k - pw//2 + b)].
    """
    ph, pw = (int(p) for p in patch_size)
    if ph % 2 == 0 or pw % 2 == 0 or ph < 1 or pw < 1:
        raise ValueError(f"patch_size={[ph, pw]} is invalid: allowed odd sizes >= 1")
    th, m, k = np.unravel_index(np.asarray(points, dtype=np.int64), lf.shape)
    padded = np.pad(lf, ((0, 0), (ph // 2, ph // 2), (pw // 2, pw // 2)), mode="edge")
    windows = sliding_window_view(padded, (ph, pw), axis=(1, 2))    # (N, M, K, ph, pw), a view
    return windows[th, m, k].astype(np.float32)


def point_features(dataset, points: np.ndarray, *, with_lf: bool = True) -> np.ndarray:
    """(n, 7) features alpha, beta, nu, rho, K, T, sigma_LF (or (n, 6) without sigma_LF)."""
    points = np.asarray(points, dtype=np.int64)
    th, m, _ = dataset.unravel(points)
    cols = [dataset.thetas[th], dataset.strikes.ravel()[points][:, None],
            dataset.maturities[m][:, None]]
    if with_lf:
        cols.append(dataset.lf.ravel()[points][:, None])
    return np.concatenate(cols, axis=1).astype(np.float32)


def targets(dataset, points: np.ndarray, *, residual: bool = True) -> np.ndarray:
    """(n,) sigma_HF - sigma_LF (residual) or sigma_HF (direct), decimals."""
    points = np.asarray(points, dtype=np.int64)
    hf = dataset.hf.ravel()[points]
    return (hf - dataset.lf.ravel()[points] if residual else hf).astype(np.float32)


@dataclass(frozen=True)
class Normaliser:
    """Standardisation from training points: features per column, patches and target as scalars."""

    feature_mean: tuple[float, ...]
    feature_std: tuple[float, ...]
    patch_mean: float
    patch_std: float
    target_mean: float
    target_std: float

    def features(self, x: np.ndarray) -> np.ndarray:
        return ((x - np.array(self.feature_mean)) / np.array(self.feature_std)).astype(np.float32)

    def patches(self, p: np.ndarray) -> np.ndarray:
        return ((p - self.patch_mean) / self.patch_std).astype(np.float32)

    def target(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.target_mean) / self.target_std).astype(np.float32)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * self.target_std + self.target_mean

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _safe_std(x: np.ndarray, axis=None):
    s = np.std(x, axis=axis, dtype=np.float64)
    return np.where(s > 1e-12, s, 1.0)


def fit_normaliser(features: np.ndarray, patches: np.ndarray | None, y: np.ndarray) -> Normaliser:
    """Statistics of the training points only.

    Args:
        features: (n, d) training features; patches: (n, ph, pw) or None; y: (n,) targets.
    """
    if len(y) == 0:
        raise ValueError("training points: allowed at least one point to fit a normaliser")
    fm = features.mean(axis=0, dtype=np.float64)
    fs = _safe_std(features, axis=0)
    pm = float(patches.mean(dtype=np.float64)) if patches is not None else 0.0
    ps = float(_safe_std(patches)) if patches is not None else 1.0
    return Normaliser(tuple(float(v) for v in fm), tuple(float(v) for v in np.atleast_1d(fs)),
                      pm, ps, float(np.mean(y, dtype=np.float64)), float(_safe_std(y)))
