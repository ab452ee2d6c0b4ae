"""cell_metrics by hand: noise-corrected MSE, noise floors and point counts per region."""
import numpy as np
import pytest

from sabr.data.dataset import Dataset
from sabr.learning.metrics import cell_metrics, noise_corrected


def _one_smile():
    """One theta, one maturity (T = 1), 5 strikes; beta = 1, nu = 0: s_ATM = alpha = 0.2."""
    k = np.exp(np.array([-0.3, -0.05, 0.0, 0.05, 0.3]))[None, None, :]     # z = -1.5 .. 1.5
    hf = np.full((1, 1, 5), 0.2)
    se = np.array([3.0, 1.0, 1.0, 1.0, 4.0])[None, None, :] * 1e-4         # bp -> decimals
    return Dataset(thetas=np.array([[0.2, 1.0, 0.0, 0.0]]), maturities=np.array([1.0]),
                   strikes=k, lf=hf + 10e-4, hf=hf, hf_se=se, test_thetas=np.array([0]),
                   train_thetas=np.array([0]), fwd=1.0)


def test_noise_corrected_mse_and_floors_by_hand():
    d = _one_smile()
    pts = np.arange(5)
    assert d.regions(pts).tolist() == ["ITM", "ATM", "ATM", "ATM", "OTM"]
    pred = 0.2 + np.array([2.0, 1.0, -1.0, 1.0, 5.0]) * 1e-4                # errors in bp
    m = cell_metrics(d, pts, pred)
    assert m["mse_bp2"] == pytest.approx((4 + 1 + 1 + 1 + 25) / 5)
    floor2 = (9 + 1 + 1 + 1 + 16) / 5                                       # mean se^2, bp^2
    assert m["noise_floor_bp"] == pytest.approx(np.sqrt(floor2))
    assert m["mse_corrected_bp2"] == pytest.approx(32 / 5 - floor2)         # 0.8 bp^2
    assert m["rmse_corrected_bp"] == pytest.approx(np.sqrt(0.8))
    assert m["noise_floor_bp_ITM"] == pytest.approx(3.0)
    assert m["noise_floor_bp_ATM"] == pytest.approx(1.0)
    assert m["noise_floor_bp_OTM"] == pytest.approx(4.0)
    assert (m["n_points_ITM"], m["n_points_ATM"], m["n_points_OTM"]) == (1, 3, 1)
    # Hagan is off by 10 bp everywhere: corrected 100 - 5.6
    assert m["hagan_mse_corrected_bp2"] == pytest.approx(100 - floor2)
    # a model inside the noise: the corrected MSE is negative and kept; its RMSE is 0
    inside = cell_metrics(d, pts, np.full(5, 0.2))
    assert inside["mse_corrected_bp2"] == pytest.approx(-floor2)
    assert inside["rmse_corrected_bp"] == 0.0
    # an empty region has no floor
    assert np.isnan(cell_metrics(d, pts[1:4], pred[1:4])["noise_floor_bp_ITM"])


def test_noise_corrected_keeps_nan():
    out = noise_corrected(float("nan"), 2.0)
    assert np.isnan(out["mse_corrected_bp2"]) and np.isnan(out["rmse_corrected_bp"])


def test_the_floor_comes_from_the_half_path_replicate_where_the_data_set_has_one():
    """Full minus half is the full label's error (E = var_n (n/p - 1), p = n/2); the
    standard errors' floor is kept beside it. With p = n/4 the same difference is scaled."""
    import dataclasses
    d = _one_smile()
    half = d.hf + np.array([6.0, 0.0, 2.0, 0.0, 0.0])[None, None, :] * 1e-4   # bp apart
    prefix = np.stack([d.hf, half], axis=1)                                   # (1, L=2, 1, 5)
    rep = dataclasses.replace(d, prefix_paths=np.array([2_500, 5_000]), hf_prefix=prefix,
                              meta={"mc": {"n_paths": 10_000}})
    pts = np.arange(5)
    pred = 0.2 + np.array([2.0, 1.0, -1.0, 1.0, 5.0]) * 1e-4
    m = cell_metrics(rep, pts, pred)
    assert m["noise_floor_bp"] == pytest.approx(np.sqrt((36 + 4) / 5))        # 2.83, not 2.37
    assert m["noise_floor_se_bp"] == pytest.approx(np.sqrt(28 / 5))
    assert m["mse_corrected_bp2"] == pytest.approx(32 / 5 - 40 / 5)
    assert m["noise_floor_bp_ITM"] == pytest.approx(6.0) and m["noise_floor_bp_OTM"] == 0.0
    assert m["noise_floor_bp_ATM"] == pytest.approx(np.sqrt(4 / 3))
    # the largest prefix a quarter of the paths: (hf - hf_p)^2 / (n/p - 1) = / 3
    quarter = dataclasses.replace(rep, meta={"mc": {"n_paths": 20_000}})
    assert cell_metrics(quarter, pts, pred)["noise_floor_bp"] == pytest.approx(np.sqrt(40 / 15))
    # no prefixes (an old data set): the standard errors' floor
    assert cell_metrics(d, pts, pred)["noise_floor_bp"] == pytest.approx(np.sqrt(28 / 5))
