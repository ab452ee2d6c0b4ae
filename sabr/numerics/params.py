"""SABR parameters and their validation.

The SABR model (Hagan, Kumar, Lesniewski & Woodward 2002, eq. 2.1):

    dF = alpha_t F^beta dW,   d alpha_t = nu alpha_t dZ,   dW dZ = rho dt,

with alpha_0 = ``alpha``. Every public function of ``sabr`` that takes model
inputs validates them here, so a bad value fails once, early, with a
``ValueError`` that names the field and its allowed range.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "SabrParams",
    "check_alpha",
    "check_beta",
    "check_nu",
    "check_rho",
    "check_positive",
]


def _fail(name: str, value, allowed: str) -> None:
    raise ValueError(f"{name}={_show(value)} is invalid: allowed {allowed}")


def _show(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item())
    return f"array(shape={arr.shape}, min={np.nanmin(arr)!r}, max={np.nanmax(arr)!r})"


def _finite(name: str, value, allowed: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        _fail(name, value, allowed + " (finite)")
    return arr


def check_positive(name: str, value) -> np.ndarray:
    """Require every element of ``value`` to be finite and > 0 (forwards, strikes, maturities)."""
    arr = _finite(name, value, "> 0")
    if np.any(arr <= 0):
        _fail(name, value, "> 0")
    return arr


def check_alpha(value) -> np.ndarray:
    """Initial volatility: alpha > 0."""
    return check_positive("alpha", value)


def check_beta(value) -> np.ndarray:
    """CEV exponent: 0 <= beta <= 1."""
    arr = _finite("beta", value, "0 <= beta <= 1")
    if np.any((arr < 0) | (arr > 1)):
        _fail("beta", value, "0 <= beta <= 1")
    return arr


def check_nu(value) -> np.ndarray:
    """Volatility of volatility: nu >= 0."""
    arr = _finite("nu", value, "nu >= 0")
    if np.any(arr < 0):
        _fail("nu", value, "nu >= 0")
    return arr


def check_rho(value) -> np.ndarray:
    """Correlation: -1 < rho < 1."""
    arr = _finite("rho", value, "-1 < rho < 1")
    if np.any(np.abs(arr) >= 1):
        _fail("rho", value, "-1 < rho < 1")
    return arr


@dataclass(frozen=True)
class SabrParams:
    """One SABR parameter set theta = (alpha, beta, nu, rho), validated on construction.

    Args:
        alpha: initial volatility alpha_0 > 0 (in F^(1-beta) units).
        beta: CEV exponent in [0, 1].
        nu: volatility of volatility >= 0.
        rho: correlation of the two Brownian motions, in (-1, 1).
    """

    alpha: float
    beta: float
    nu: float
    rho: float

    def __post_init__(self) -> None:
        for name, check in (("alpha", check_alpha), ("beta", check_beta),
                            ("nu", check_nu), ("rho", check_rho)):
            value = getattr(self, name)
            if np.ndim(value) != 0:
                raise ValueError(f"{name}={value!r} is invalid: allowed a scalar number")
            check(value)
            object.__setattr__(self, name, float(value))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_array(self) -> np.ndarray:
        """Shape (4,): (alpha, beta, nu, rho)."""
        return np.array([self.alpha, self.beta, self.nu, self.rho])
