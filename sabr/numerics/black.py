"""Black (1976) prices on the forward, vega, and vectorised implied volatility.

All prices are undiscounted (forward premium). Black, F. (1976), "The pricing of
commodity contracts", J. Financial Economics 3, 167-179:

    call = F N(d1) - K N(d2),  put = K N(-d2) - F N(-d1),
    d1,2 = ln(F/K)/s +- s/2,  s = sigma sqrt(T).

Implied volatility inverts the out-of-the-money price in Jaeckel's normalised
form (Jaeckel 2015, "Let's be rational", Wilmott, eq. 2.4)

    b(theta, s) = e^(theta/2) N(theta/s + s/2) - e^(-theta/2) N(theta/s - s/2),
    theta = -|ln(F/K)| <= 0,  b = OTM price / sqrt(F K),

on its logarithm (accurate for tiny wing prices), with scipy's vectorised
bracketing root finder (Chandrupatla's method) in s.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import elementwise
from scipy.special import log_ndtr, ndtr

from .params import check_positive

__all__ = ["black_price", "black_vega", "implied_vol"]

_S_LOW, _S_HIGH = 1e-9, 60.0   # bracket for total volatility s = sigma sqrt(T)


def black_price(fwd, strike, texp, vol, is_call):
    """Black (1976) undiscounted call or put price.

    Args:
        fwd, strike, texp, vol: arrays broadcasting together; vol >= 0.
        is_call: bool array broadcasting with the others (True = call, False = put).
    Returns:
        prices, array of the broadcast shape.
    """
    fwd = check_positive("fwd", fwd)
    strike = check_positive("strike", strike)
    texp = check_positive("texp", texp)
    vol = np.asarray(vol, dtype=float)
    if np.any(vol < 0):
        raise ValueError("vol is invalid: allowed vol >= 0")
    s = vol * np.sqrt(texp)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(fwd / strike) / s + 0.5 * s
    d2 = d1 - s
    sign = np.where(is_call, 1.0, -1.0)
    price = sign * (fwd * ndtr(sign * d1) - strike * ndtr(sign * d2))
    intrinsic = np.maximum(sign * (fwd - strike), 0.0)
    return np.where(s > 0, price, intrinsic)


def black_vega(fwd, strike, texp, vol):
    """dPrice/dvol of a Black (1976) option (calls and puts alike).

    Returns:
        F phi(d1) sqrt(T), array of the broadcast shape.
    """
    fwd, strike, texp, vol = (np.asarray(a, dtype=float) for a in (fwd, strike, texp, vol))
    s = vol * np.sqrt(texp)
    d1 = np.log(fwd / strike) / s + 0.5 * s
    return fwd * np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi) * np.sqrt(texp)


def _log_b(s, theta):
    """ln b(theta, s) for theta <= 0, Jaeckel's normalised OTM price (see module doc)."""
    d1 = theta / s + 0.5 * s
    d2 = d1 - s
    ln_n1, ln_n2 = log_ndtr(d1), log_ndtr(d2)
    # b = e^(theta/2) N(d1) [1 - e^(-theta) N(d2)/N(d1)], the bracket in (0, 1].
    return 0.5 * theta + ln_n1 + np.log1p(-np.exp(-theta + ln_n2 - ln_n1))


def implied_vol(price, fwd, strike, texp, is_call):
    """Black (1976) implied volatility, vectorised.

    In-the-money prices are turned into out-of-the-money ones by put-call parity
    and the OTM price is inverted. A price on or outside the no-arbitrage bounds
    (intrinsic < price < F for calls, intrinsic < price < K for puts) gives NaN,
    never an exception.

    Args:
        price: undiscounted option prices.
        fwd, strike, texp: forwards, strikes, expiries (> 0).
        is_call: bool array, True where ``price`` is a call.
    Returns:
        implied vols (decimals), array of the broadcast shape; NaN where none exists.
    """
    fwd = check_positive("fwd", fwd)
    strike = check_positive("strike", strike)
    texp = check_positive("texp", texp)
    price = np.asarray(price, dtype=float)
    price, fwd, strike, texp, is_call = np.broadcast_arrays(
        price, fwd, strike, texp, np.asarray(is_call, dtype=bool))
    # OTM price: call if K >= F, put otherwise (put-call parity: C - P = F - K).
    otm_is_call = strike >= fwd
    otm_price = price + np.where(is_call == otm_is_call, 0.0,
                                 np.where(is_call, strike - fwd, fwd - strike))
    intrinsic = np.maximum(np.where(is_call, fwd - strike, strike - fwd), 0.0)
    upper = np.where(is_call, fwd, strike)
    theta = -np.abs(np.log(fwd / strike))
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.log(otm_price / np.sqrt(fwd * strike))
    # an ITM time value below the rounding of F and K carries no information
    floor = np.where(intrinsic > 0, 8 * np.finfo(float).eps * np.maximum(fwd, strike), 0.0)
    valid = (price - intrinsic > floor) & (price < upper) & (otm_price > 0) & np.isfinite(target)
    out = np.full(price.shape, np.nan)
    if np.any(valid):
        th, tg = theta[valid], target[valid]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = elementwise.find_root(lambda s, th, tg: _log_b(s, th) - tg,
                                        (np.full(th.shape, _S_LOW), np.full(th.shape, _S_HIGH)),
                                        args=(th, tg))
        s = np.where(res.success, res.x, np.nan)
        out[valid] = s / np.sqrt(texp[valid])
    return out if out.ndim else float(out)
