"""Hagan et al. (2002) against Antonov & Spector (2012)'s printed Hagan column, limits and continuity."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sabr.numerics.hagan import hagan_vol, z_over_x


def test_reproduces_antonov_spector_hagan_column_to_4dp(antonov_spector):
    df = antonov_spector
    vols = hagan_vol(df.K.values, df.F0.values, df["T"].values, df.alpha.values,
                     df.beta.values, df.nu.values, df.rho.values)
    assert len(df) == 180
    # the tables print 4 decimals: ours must round to the printed value
    np.testing.assert_array_equal(np.round(vols, 4), df.hagan_vol.values)
    assert np.max(np.abs(vols - df.hagan_vol.values)) <= 0.5e-4 + 1e-12


def test_lognormal_limit_is_flat_at_alpha():
    strikes = np.linspace(0.2, 3.0, 41)
    for alpha in (0.05, 0.3, 1.2):
        vols = hagan_vol(strikes, 1.0, 7.0, alpha, 1.0, 0.0, 0.4)
        np.testing.assert_allclose(vols, alpha, rtol=0, atol=1e-14)


def test_normal_limit_backbone_at_the_money():
    # beta = 0, nu = 0: Hagan's ATM vol is alpha/F (1 + alpha^2 T / (24 F^2)), eq. (2.18)
    vol = hagan_vol(2.0, 2.0, 3.0, 0.4, 0.0, 0.0, 0.0)
    assert vol == pytest.approx(0.2 * (1 + 0.16 * 3.0 / 96.0), rel=1e-14)


def test_continuous_through_the_money():
    eps = np.array([-1e-3, -1e-4, -1e-6, -1e-9, 0.0, 1e-9, 1e-6, 1e-4, 1e-3])
    vols = hagan_vol(1.0 + eps, 1.0, 5.0, 0.3, 0.5, 0.6, -0.5)
    assert np.all(np.isfinite(vols))
    # smooth: second differences of a smooth function on this grid are tiny
    atm = vols[4]
    np.testing.assert_allclose(vols[3:6], atm, rtol=0, atol=1e-9)
    slope = (vols[-1] - vols[0]) / 2e-3
    np.testing.assert_allclose(vols[[2, 6]], atm + slope * eps[[2, 6]], rtol=0, atol=1e-10)


@given(z=st.floats(-2e-3, 2e-3), rho=st.floats(-0.99, 0.99))
def test_series_matches_closed_form_near_zero(z, rho):
    if abs(z) < 1e-5:
        return
    root = np.sqrt(1 - 2 * rho * z + z * z)
    exact = z / np.log((root + z - rho) / (1 - rho))
    assert z_over_x(z, rho) == pytest.approx(exact, rel=1e-9)


def test_z_over_x_stable_for_large_negative_z():
    z = np.array([-50.0, -10.0, 10.0, 50.0])
    out = z_over_x(z, 0.9)
    root = np.sqrt(1 - 1.8 * z + z * z)
    direct = z / np.log((root + z - 0.9) / 0.1)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, direct, rtol=1e-9)


def test_broadcasts_over_every_argument():
    k = np.linspace(0.5, 1.5, 5)[:, None, None]
    t = np.array([1.0, 2.0])[None, :, None]
    rho = np.array([-0.5, 0.0, 0.5])[None, None, :]
    out = hagan_vol(k, 1.0, t, 0.3, 0.7, 0.4, rho)
    assert out.shape == (5, 2, 3)
    assert out[2, 1, 0] == pytest.approx(hagan_vol(1.0, 1.0, 2.0, 0.3, 0.7, 0.4, -0.5))


@pytest.mark.parametrize("kwargs, field", [
    (dict(strike=0.0), "strike"), (dict(fwd=-1.0), "fwd"), (dict(texp=0.0), "texp"),
    (dict(alpha=0.0), "alpha"), (dict(beta=1.5), "beta"), (dict(nu=-0.2), "nu"),
    (dict(rho=1.0), "rho"),
])
def test_invalid_inputs_name_the_field(kwargs, field):
    args = dict(strike=1.0, fwd=1.0, texp=1.0, alpha=0.3, beta=0.5, nu=0.4, rho=0.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{field}="):
        hagan_vol(**args)
