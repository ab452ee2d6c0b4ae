"""Black (1976): put-call parity, implied-vol round trips, no-arbitrage bounds."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sabr.numerics.black import black_price, black_vega, implied_vol

vols = st.floats(0.01, 3.0)
texps = st.floats(0.05, 10.0)
fwds = st.floats(0.01, 100.0)
sds = st.floats(-3.0, 3.0)


@given(fwd=fwds, sd=sds, texp=texps, vol=vols)
def test_put_call_parity(fwd, sd, texp, vol):
    strike = fwd * np.exp(sd * vol * np.sqrt(texp))
    call = black_price(fwd, strike, texp, vol, True)
    put = black_price(fwd, strike, texp, vol, False)
    assert call - put == pytest.approx(fwd - strike, abs=1e-12 * max(fwd, strike))


@given(fwd=fwds, sd=sds, texp=texps, vol=vols)
def test_round_trip_out_of_the_money(fwd, sd, texp, vol):
    strike = fwd * np.exp(sd * vol * np.sqrt(texp))
    is_call = strike >= fwd
    price = black_price(fwd, strike, texp, vol, is_call)
    assert abs(implied_vol(price, fwd, strike, texp, is_call) - vol) <= 1e-10


@given(fwd=fwds, sd=sds, texp=texps, vol=vols)
def test_round_trip_in_the_money_is_backward_stable(fwd, sd, texp, vol):
    # An ITM price carries the OTM price only to its own rounding: the recovered vol must
    # reprice to within a few ulps of the price (or be NaN when the time value is lost).
    strike = fwd * np.exp(sd * vol * np.sqrt(texp))
    is_call = strike < fwd
    price = black_price(fwd, strike, texp, vol, is_call)
    iv = implied_vol(price, fwd, strike, texp, is_call)
    if np.isnan(iv):
        time_value = price - max((fwd - strike) if is_call else (strike - fwd), 0.0)
        assert time_value <= 1e-12 * price
    else:
        assert abs(black_price(fwd, strike, texp, iv, is_call) - price) <= (
            1e-13 * price + 4e-16 * max(fwd, strike))


def test_round_trip_vectorised_grid():
    rng = np.random.default_rng(0)
    n = 50_000
    vol = rng.uniform(0.01, 3.0, n)
    texp = rng.uniform(0.05, 10.0, n)
    fwd = rng.uniform(0.01, 100.0, n)
    strike = fwd * np.exp(rng.uniform(-3, 3, n) * vol * np.sqrt(texp))
    is_call = strike >= fwd
    iv = implied_vol(black_price(fwd, strike, texp, vol, is_call), fwd, strike, texp, is_call)
    assert np.max(np.abs(iv - vol)) <= 1e-10


def test_prices_outside_no_arbitrage_bounds_give_nan():
    f, k, t = 1.0, 0.8, 2.0
    bad = np.array([-0.1, 0.0, 0.19, 0.2, 1.0, 1.5])   # call intrinsic 0.2, upper bound F = 1
    out = implied_vol(bad, f, k, t, True)
    assert np.all(np.isnan(out))
    puts = implied_vol(np.array([0.0, 0.8, 0.9]), f, k, t, False)   # put upper bound K = 0.8
    assert np.all(np.isnan(puts))
    assert np.isfinite(implied_vol(0.25, f, k, t, True))


def test_vega_matches_finite_difference():
    f, k, t, v = 1.3, 1.1, 4.0, 0.35
    h = 1e-6
    fd = (black_price(f, k, t, v + h, True) - black_price(f, k, t, v - h, True)) / (2 * h)
    assert black_vega(f, k, t, v) == pytest.approx(fd, rel=1e-7)


def test_zero_vol_is_intrinsic():
    assert black_price(1.0, 0.7, 1.0, 0.0, True) == pytest.approx(0.3)
    assert black_price(1.0, 0.7, 1.0, 0.0, False) == 0.0
