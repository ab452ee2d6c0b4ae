import numpy as np
import pytest

from sabr.grid import funahashi_strikes, make_grid, moneyness, region_labels, sigma_atm


def test_default_grid_shape_and_maturities():
    g = make_grid(1.0, 0.3, 0.6)
    assert g.shape == (10, 21)
    np.testing.assert_array_equal(g.maturities, np.arange(1.0, 11.0))
    assert np.all(np.diff(g.strikes, axis=1) > 0)


def test_funahashi_rule_by_hand():
    # F = 1, sigma_ATM = 0.2: T = 1 -> sd 0.2: K1 = 1 - 0.36 = 0.64, K2 = 1.4
    k = funahashi_strikes(1.0, [1.0, 25.0], alpha=0.2, beta=1.0, n_strikes=5)
    np.testing.assert_allclose(k[0], [0.64, 0.83, 1.02, 1.21, 1.4])
    # T = 25 -> sd 1.0: both caps bind: K1 = 0.4 F, K2 = 2 F
    np.testing.assert_allclose(k[1], [0.4, 0.8, 1.2, 1.6, 2.0])


def test_rule_scales_with_forward():
    # sigma_ATM = alpha F^(beta-1) makes the rule homogeneous in F
    a, b = 0.3, 0.5
    k1 = funahashi_strikes(1.0, [2.0], a, b)
    k3 = funahashi_strikes(3.0, [2.0], a * 3.0 ** (1 - b), b)
    np.testing.assert_allclose(k3, 3.0 * k1)
    assert sigma_atm(3.0, a * 3.0 ** (1 - b), b) == pytest.approx(a)


def test_moneyness_and_regions():
    z = moneyness(np.array([[np.exp(-0.1), 1.0, np.exp(0.06)]]), 1.0, [1.0], 0.1, 1.0)
    np.testing.assert_allclose(z, [[-1.0, 0.0, 0.6]])
    assert region_labels(z).tolist() == [["ITM", "ATM", "OTM"]]
    assert region_labels([-0.5, 0.5]).tolist() == ["ATM", "ATM"]


def test_every_region_present_on_default_grid():
    g = make_grid(1.0, 0.3, 0.6)
    for row in g.regions:
        assert set(row) == {"ITM", "ATM", "OTM"}
        assert 5 <= (row == "ATM").sum() <= 13


def test_floor_removes_itm_points_at_high_vol_long_maturity():
    g = make_grid(1.0, 0.6, 0.3)      # sigma_ATM = 0.6: sd at T = 10 is 1.9 > 1.83
    assert "ITM" not in set(g.regions[-1]) and "ITM" in set(g.regions[0])


@pytest.mark.parametrize("kwargs, field", [
    (dict(fwd=0.0), "fwd"), (dict(maturities=[1.0, 1.0]), "maturities"),
    (dict(maturities=[-1.0, 2.0]), "maturities"), (dict(n_strikes=1), "n_strikes"),
])
def test_bad_grid_inputs(kwargs, field):
    args = dict(fwd=1.0, alpha=0.3, beta=0.6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{field}"):
        make_grid(**args)
