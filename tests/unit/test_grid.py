import numpy as np
import pytest

from sabr.config import DataGenConfig
from sabr.data.dataset import GridSpec, sample_thetas
from sabr.numerics.grid import (atm_vol, funahashi_strikes, make_grid, moneyness, region_labels,
                                sigma_atm)
from sabr.numerics.hagan import hagan_vol


def test_default_grid_shape_and_maturities():
    g = make_grid(1.0, 0.3, 0.6, 0.4, -0.3)
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
    # beta = 1, nu = 0: Hagan's ATM vol is alpha exactly
    z = moneyness(np.array([[np.exp(-0.1), 1.0, np.exp(0.06)]]), 1.0, [1.0], 0.1, 1.0, 0.0, 0.0)
    np.testing.assert_allclose(z, [[-1.0, 0.0, 0.6]])
    # otherwise z is scaled by the surface's own ATM vol at each maturity, not the backbone
    k = np.array([[0.8, 1.25], [0.8, 1.25]])
    own = hagan_vol(1.0, 1.0, np.array([1.0, 9.0]), 0.3, 0.5, 0.8, 0.6)
    assert own[1] / 0.3 > 1.35                  # the maturity correction is large here
    np.testing.assert_allclose(moneyness(k, 1.0, [1.0, 9.0], 0.3, 0.5, 0.8, 0.6),
                               np.log(k) / (own * np.array([1.0, 3.0]))[:, None], rtol=1e-14)
    assert region_labels(z).tolist() == [["ITM", "ATM", "OTM"]]
    assert region_labels([-0.5, 0.5]).tolist() == ["ATM", "ATM"]


def test_every_region_present_on_default_grid():
    g = make_grid(1.0, 0.3, 0.6, 0.4, -0.3)
    for row in g.regions:
        assert set(row) == {"ITM", "ATM", "OTM"}
        assert 5 <= (row == "ATM").sum() <= 13


def test_floor_removes_itm_points_at_high_vol_long_maturity():
    g = make_grid(1.0, 0.6, 0.3, 0.4, -0.3)   # s_ATM(10) = 0.68: sd at T = 10 is 2.15 > 1.83
    assert "ITM" not in set(g.regions[-1]) and "ITM" in set(g.regions[0])


@pytest.mark.parametrize("kwargs, field", [
    (dict(fwd=0.0), "fwd"), (dict(maturities=[1.0, 1.0]), "maturities"),
    (dict(maturities=[-1.0, 2.0]), "maturities"), (dict(n_strikes=1), "n_strikes"),
])
def test_bad_grid_inputs(kwargs, field):
    args = dict(fwd=1.0, alpha=0.3, beta=0.6, nu=0.4, rho=-0.3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{field}"):
        make_grid(**args)


def test_region_counts_on_the_default_pool():
    """Rows of the full-profile pool (1000 thetas, 21 x 10) without OTM / ITM points.

    Numbers measured with both scales (sabr.numerics.grid module doc): the surface's own ATM vol
    leaves 1498 rows without OTM and 480 all-ATM rows (backbone: 945 and 37). Every such
    row is explained by the strike rule's caps: with K2 = 2F the top strike's z is
    ln 2 / (s_ATM sqrt T), and with K1 = 0.4F the bottom one's ln 0.4 / (s_ATM sqrt T).
    """
    cfg = DataGenConfig()
    th = sample_thetas(1000, cfg.parameter_box, cfg.master_seed)
    grid = GridSpec.from_config(cfg)
    t = np.array(grid.maturities)
    k = np.stack([grid.strikes(a, b) for a, b, *_ in th])                  # (1000, 10, 21)
    own = atm_vol(1.0, t[None, :], *(th[:, j:j + 1] for j in range(4)))     # (1000, 10)
    counts = {}
    for name, s in (("own", own), ("backbone", np.broadcast_to(th[:, :1], own.shape))):
        reg = region_labels(np.log(k) / (s * np.sqrt(t))[..., None])
        no_otm, no_itm = ~(reg == "OTM").any(-1), ~(reg == "ITM").any(-1)
        all_atm = (reg == "ATM").all(-1)
        counts[name] = (int(no_otm.sum()), int(no_itm.sum()), int(all_atm.sum()))
        sd = s * np.sqrt(t)
        # every row without an OTM point has its top strike capped at 2F and
        # s_ATM sqrt T >= ln 2 / 0.5; every row without ITM is all ATM, both caps binding
        assert np.allclose(k[no_otm][:, -1], 2.0) and np.all(sd[no_otm] >= np.log(2) / 0.5)
        assert np.array_equal(no_itm, all_atm) and np.allclose(k[all_atm][:, 0], 0.4)
        assert np.all(sd[all_atm] >= -np.log(0.4) / 0.5)
        if name == "own":
            np.testing.assert_array_equal(moneyness(k[7], 1.0, t, *th[7]),
                                          np.log(k[7]) / (own[7] * np.sqrt(t))[:, None])
    assert counts == {"own": (1498, 480, 480), "backbone": (945, 37, 37)}
