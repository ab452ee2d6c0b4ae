"""Low fidelity: the Hagan et al. (2002) lognormal implied-volatility expansion.

Hagan, Kumar, Lesniewski & Woodward (2002), "Managing smile risk",
Wilmott Magazine, pp. 84-108, eq. (2.17a) with (2.17b, 2.17c):

    sigma_B(K, F) = alpha / [(F K)^((1-b)/2) (1 + (1-b)^2/24 l^2 + (1-b)^4/1920 l^4)]
                    * z / x(z)
                    * [1 + ((1-b)^2/24 alpha^2/(F K)^(1-b)
                            + rho b nu alpha / (4 (F K)^((1-b)/2))
                            + (2 - 3 rho^2)/24 nu^2) T],
    l = ln(F/K),  z = nu/alpha (F K)^((1-b)/2) l,
    x(z) = ln[(sqrt(1 - 2 rho z + z^2) + z - rho) / (1 - rho)].

At the money z -> 0 and z/x(z) -> 1; near there we use its Taylor series
(computed symbolically, five terms), so there is neither a 0/0 nor a jump at K = F.
"""
from __future__ import annotations

import numpy as np

from .params import check_alpha, check_beta, check_nu, check_positive, check_rho

__all__ = ["hagan_vol", "z_over_x"]

# Below this |z| the series of z/x(z) is used; its truncation error is O(z^5) < 1e-15.
_SERIES_BELOW = 1e-3


def z_over_x(z, rho):
    """z / x(z) of Hagan et al. (2002) eq. (2.17b), stable for all z and |rho| < 1.

    Args:
        z, rho: arrays broadcasting together.
    Returns:
        array of the broadcast shape, equal to 1 at z = 0.
    """
    z, rho = np.broadcast_arrays(np.asarray(z, dtype=float), np.asarray(rho, dtype=float))
    out = np.empty(z.shape)
    small = np.abs(z) < _SERIES_BELOW
    # Taylor series of z/x(z) about z = 0.
    zs, rs = z[small], rho[small]
    r2 = rs * rs
    out[small] = (1.0 - rs / 2.0 * zs
                  + (2.0 - 3.0 * r2) / 12.0 * zs ** 2
                  - rs * (6.0 * r2 - 5.0) / 24.0 * zs ** 3
                  - (225.0 * r2 * r2 - 240.0 * r2 + 34.0) / 720.0 * zs ** 4)
    big = ~small
    zb, rb = z[big], rho[big]
    root = np.sqrt(1.0 - 2.0 * rb * zb + zb * zb)
    # (root + z - rho) cancels when z - rho < 0; there use the conjugate form
    # (root + z - rho) = (1 - rho^2) / (root - z + rho).
    x = np.where(zb - rb >= 0.0,
                 np.log((root + zb - rb) / (1.0 - rb)),
                 np.log((1.0 + rb) / (root - zb + rb)))
    out[big] = zb / x
    return out


def hagan_vol(strike, fwd, texp, alpha, beta, nu, rho):
    """Hagan et al. (2002) lognormal (Black) implied volatility, eq. (2.17).

    Every argument broadcasts against every other (numpy rules).

    Args:
        strike: strikes K > 0.
        fwd: forwards F > 0.
        texp: times to expiry T > 0, in years.
        alpha: initial volatility > 0; beta in [0, 1]; nu >= 0; rho in (-1, 1).
    Returns:
        Black implied volatilities (decimals), array of the broadcast shape.
    Raises:
        ValueError naming the first invalid field and its allowed range.
    """
    strike = check_positive("strike", strike)
    fwd = check_positive("fwd", fwd)
    texp = check_positive("texp", texp)
    alpha, beta = check_alpha(alpha), check_beta(beta)
    nu, rho = check_nu(nu), check_rho(rho)

    omb = 1.0 - beta
    log_fk = np.log(fwd / strike)
    fk_half = np.exp(0.5 * omb * (np.log(fwd) + np.log(strike)))   # (F K)^((1-b)/2)
    l2 = log_fk * log_fk
    denom = fk_half * (1.0 + omb ** 2 / 24.0 * l2 + omb ** 4 / 1920.0 * l2 * l2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(nu > 0, nu / alpha * fk_half * log_fk, 0.0)
    correction = 1.0 + (omb ** 2 / 24.0 * alpha ** 2 / fk_half ** 2
                        + 0.25 * rho * beta * nu * alpha / fk_half
                        + (2.0 - 3.0 * rho ** 2) / 24.0 * nu ** 2) * texp
    vol = alpha / denom * z_over_x(z, rho) * correction
    return vol if vol.ndim else float(vol)
