"""The surface grid: strikes per maturity (Funahashi's rule) and moneyness regions.

Strike rule of Funahashi (2022), "SABR equipped with AI wings", Quantitative
Finance 23(2), section 4: for each maturity T, ``n_strikes`` equally spaced
strikes between

    K1 = max(F - 1.8 sqrt(V), 0.4 F),   K2 = min(F + 2 sqrt(V), 2 F).

The paper does not pin V down. We take sqrt(V) as the standard deviation of
F_T under the SABR backbone at the money, in price units:

    sqrt(V) = F sigma_ATM sqrt(T),   sigma_ATM = alpha F^(beta - 1),

i.e. the leading term of Hagan's ATM vol (no nu/rho dependence, so the grid
depends only on alpha, beta, F and T). For F = 1 this equals the rule as the
shared peer program applies it.

Standardised moneyness is z = ln(K/F) / (sigma_ATM sqrt(T)), and the regions
are named from the call's point of view (the HF surface prices OTM puts below
F and OTM calls above, so "ITM" points are exactly those priced as puts):

    ITM: z < -0.5,   ATM: -0.5 <= z <= 0.5,   OTM: z > 0.5.

Half a standard deviation either side is the usual "near the money" band; on
the default 21-strike grid it holds 5 (T = 1) to 13 (T = 10) of the 21 strikes of
a maturity for the benchmark surface (alpha 0.3, beta 0.6).
Where the 0.4 F floor binds (sigma_ATM sqrt(T) > 1.83, high vol at long
maturities) no strike reaches z < -0.5 and a maturity has no ITM points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import check_alpha, check_beta, check_positive

__all__ = [
    "ATM_HALF_WIDTH",
    "REGIONS",
    "SurfaceGrid",
    "default_maturities",
    "sigma_atm",
    "funahashi_strikes",
    "moneyness",
    "region_labels",
    "make_grid",
]

ATM_HALF_WIDTH = 0.5
REGIONS = ("ITM", "ATM", "OTM")


def default_maturities(n_maturities: int = 10, t_min: float = 1.0, t_max: float = 10.0) -> np.ndarray:
    """Equally spaced maturities in years, shape (n_maturities,)."""
    if n_maturities < 1:
        raise ValueError(f"n_maturities={n_maturities} is invalid: allowed >= 1")
    check_positive("t_min", t_min)
    if not t_max >= t_min:
        raise ValueError(f"t_max={t_max} is invalid: allowed t_max >= t_min={t_min}")
    return np.linspace(t_min, t_max, n_maturities)


def sigma_atm(fwd, alpha, beta):
    """Backbone ATM lognormal vol alpha F^(beta-1) (Hagan et al. 2002, eq. 2.18 leading term)."""
    return check_alpha(alpha) * check_positive("fwd", fwd) ** (check_beta(beta) - 1.0)


def funahashi_strikes(fwd: float, maturities, alpha: float, beta: float,
                      n_strikes: int = 21) -> np.ndarray:
    """Strikes per maturity by Funahashi's rule (module doc).

    Args:
        fwd: forward F > 0.
        maturities: shape (n_maturities,), years > 0.
        alpha, beta: SABR parameters that set sigma_ATM.
        n_strikes: strikes per maturity, >= 2.
    Returns:
        strikes, shape (n_maturities, n_strikes), increasing along each row.
    """
    if n_strikes < 2:
        raise ValueError(f"n_strikes={n_strikes} is invalid: allowed >= 2")
    maturities = check_positive("maturities", np.atleast_1d(maturities))
    sd = fwd * sigma_atm(fwd, alpha, beta) * np.sqrt(maturities)
    k1 = np.maximum(fwd - 1.8 * sd, 0.4 * fwd)
    k2 = np.minimum(fwd + 2.0 * sd, 2.0 * fwd)
    frac = np.linspace(0.0, 1.0, n_strikes)
    return k1[:, None] + (k2 - k1)[:, None] * frac[None, :]


def moneyness(strikes, fwd, maturities, alpha, beta) -> np.ndarray:
    """Standardised moneyness z = ln(K/F) / (sigma_ATM sqrt T).

    Args:
        strikes: shape (n_maturities, n_strikes); maturities: shape (n_maturities,).
    Returns:
        z, shape of ``strikes``.
    """
    strikes = check_positive("strikes", strikes)
    maturities = check_positive("maturities", np.atleast_1d(maturities))
    scale = sigma_atm(fwd, alpha, beta) * np.sqrt(maturities)
    return np.log(strikes / fwd) / scale[:, None]


def region_labels(z) -> np.ndarray:
    """'ITM' / 'ATM' / 'OTM' for standardised moneyness z (cut-offs in the module doc)."""
    z = np.asarray(z, dtype=float)
    return np.where(z < -ATM_HALF_WIDTH, "ITM", np.where(z > ATM_HALF_WIDTH, "OTM", "ATM"))


@dataclass(frozen=True)
class SurfaceGrid:
    """One parameter set's surface grid: a rectangular image in (maturity, strike) index space.

    Attributes:
        fwd: forward F.
        maturities: shape (n_maturities,), years.
        strikes: shape (n_maturities, n_strikes).
        z: standardised moneyness, shape of ``strikes``.
        regions: 'ITM' / 'ATM' / 'OTM', shape of ``strikes``.
    """

    fwd: float
    maturities: np.ndarray
    strikes: np.ndarray
    z: np.ndarray
    regions: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.strikes.shape


def make_grid(fwd: float, alpha: float, beta: float, *, n_strikes: int = 21,
              maturities=None) -> SurfaceGrid:
    """The default surface grid for one parameter set (21 strikes x 10 maturities, 1-10 y)."""
    check_positive("fwd", fwd)
    mats = default_maturities() if maturities is None else check_positive(
        "maturities", np.atleast_1d(np.asarray(maturities, dtype=float)))
    if np.any(np.diff(mats) <= 0):
        raise ValueError("maturities is invalid: allowed strictly increasing values")
    strikes = funahashi_strikes(fwd, mats, alpha, beta, n_strikes)
    z = moneyness(strikes, fwd, mats, alpha, beta)
    return SurfaceGrid(float(fwd), mats, strikes, z, region_labels(z))
