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

Regions use another scale than the strike rule. Standardised moneyness is

    z = ln(K/F) / (s_ATM(T) sqrt(T)),   s_ATM(T) = sigma_Hagan(K = F, F, T; theta),

each surface's OWN at-the-money implied vol at that maturity (Hagan et al.
2002, eq. 2.18: the backbone alpha F^(beta-1) times the maturity correction
1 + [(1-b)^2 alpha^2 / (24 F^(2-2b)) + rho b nu alpha / (4 F^(1-b))
+ (2 - 3 rho^2) nu^2 / 24] T), from the LF model: deterministic, available for
every theta and maturity, and not the noisy MC label. The correction matters:
on the default pool (1000 thetas of the Funahashi box, 21 x 10 grid) s_ATM is
0.54x to 1.92x the backbone. Where the Hagan ATM vol is not a positive number
(far outside the default box) the backbone is used. The regions are
named from the call's point of view (the HF surface prices OTM puts below F
and OTM calls above, so "ITM" points are exactly those priced as puts):

    ITM: z < -0.5,   ATM: -0.5 <= z <= 0.5,   OTM: z > 0.5.

Half a standard deviation either side is the usual "near the money" band; on
the default 21-strike grid it holds 5 (T = 1) to 13 (T = 10) of the 21 strikes of
a maturity for the benchmark surface (alpha 0.3, beta 0.6, nu 0.4, rho -0.3).
The strikes span z from about -1.8 s/s_ATM to 2 s/s_ATM (s the backbone) until
a cap binds: where the 2 F cap binds (backbone sd > 0.5) the top strike has
z = ln 2 / (s_ATM sqrt T), so a row has OTM points only while s_ATM sqrt T < 1.39;
where the 0.4 F floor binds, ITM needs s_ATM sqrt T < 1.83. So high-vol rows at
long maturities are mostly or wholly ATM whichever vol scales z: on the default
pool (10000 maturity rows) the backbone scale leaves 945 rows without an OTM
point, 37 without an ITM point (all ATM); the surface's own ATM vol, which is
higher than the backbone for most high-vol thetas, 1498 without OTM and 480
without ITM (those 480 all ATM). Points ITM / ATM / OTM: 46022 / 101259 / 62719
(backbone), 42896 / 109132 / 57972 (own ATM vol). The empty regions come from
the strike rule's caps, not from the scale (tests/unit/test_grid.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hagan import hagan_vol
from .params import check_alpha, check_beta, check_positive

__all__ = [
    "ATM_HALF_WIDTH",
    "REGIONS",
    "SurfaceGrid",
    "default_maturities",
    "sigma_atm",
    "atm_vol",
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


def atm_vol(fwd, maturities, alpha, beta, nu, rho) -> np.ndarray:
    """The surface's own ATM vol s_ATM(T): Hagan's implied vol at K = F (module doc).

    Args:
        fwd: F > 0; maturities: years > 0; alpha, beta, nu, rho: SABR parameters.
            All broadcast against each other (numpy rules).
    Returns:
        ATM lognormal vols (decimals), array of the broadcast shape; the backbone
        alpha F^(beta-1) where Hagan's value is not a positive number.
    """
    hagan = np.asarray(hagan_vol(fwd, fwd, maturities, alpha, beta, nu, rho), dtype=float)
    backbone = np.asarray(alpha, float) * np.asarray(fwd, float) ** (np.asarray(beta, float) - 1.0)
    backbone = np.broadcast_to(backbone, hagan.shape)
    return np.where(np.isfinite(hagan) & (hagan > 0), hagan, backbone)


def moneyness(strikes, fwd, maturities, alpha, beta, nu, rho) -> np.ndarray:
    """Standardised moneyness z = ln(K/F) / (s_ATM(T) sqrt T), s_ATM from :func:`atm_vol`.

    Args:
        strikes: shape (n_maturities, n_strikes); maturities: shape (n_maturities,).
        alpha, beta, nu, rho: the surface's SABR parameters (scalars).
    Returns:
        z, shape of ``strikes``.
    """
    strikes = check_positive("strikes", strikes)
    maturities = check_positive("maturities", np.atleast_1d(maturities))
    scale = atm_vol(fwd, maturities, alpha, beta, nu, rho) * np.sqrt(maturities)
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


def make_grid(fwd: float, alpha: float, beta: float, nu: float, rho: float, *,
              n_strikes: int = 21, maturities=None) -> SurfaceGrid:
    """The default surface grid for one parameter set (21 strikes x 10 maturities, 1-10 y).

    Strikes depend on (alpha, beta) only (the rule's backbone vol); z and the regions
    on every parameter (the surface's own ATM vol; module doc).
    """
    check_positive("fwd", fwd)
    mats = default_maturities() if maturities is None else check_positive(
        "maturities", np.atleast_1d(np.asarray(maturities, dtype=float)))
    if np.any(np.diff(mats) <= 0):
        raise ValueError("maturities is invalid: allowed strictly increasing values")
    strikes = funahashi_strikes(fwd, mats, alpha, beta, n_strikes)
    z = moneyness(strikes, fwd, mats, alpha, beta, nu, rho)
    return SurfaceGrid(float(fwd), mats, strikes, z, region_labels(z))
