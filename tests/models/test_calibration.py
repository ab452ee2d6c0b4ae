"""Deep-ensemble calibration (sabr.learning.calibration): coverage, width, NLL, reliability."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sabr.learning.calibration import (CALIBRATION_COLUMNS, RELIABILITY_LEVELS, SD_FLOOR,
                                       ensemble_calibration, reliability_key)

BP = 1e-4


def _ensemble(rng, n: int, m: int, error_scale: float = 1.0, spread_scale: float = 1.0):
    """Heteroscedastic points: spread tau_i (5-40 bp), label se_i (1-10 bp); the truth's error
    around the centre has sd error_scale x sqrt(tau^2 + se^2); members c + spread_scale tau z."""
    c = rng.uniform(0.1, 0.6, n)
    tau = rng.uniform(5, 40, n) * BP
    se = rng.uniform(1, 10, n) * BP
    truth = c + error_scale * np.sqrt(tau ** 2 + se ** 2) * rng.standard_normal(n)
    members = c + spread_scale * tau * rng.standard_normal((m, n))
    return members, truth, se, tau


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(20)
    members, truth, se, tau = _ensemble(rng, n=20_000, m=400)
    return ensemble_calibration(members, truth, se), tau, se


def test_keys_are_the_columns_in_order(calibrated):
    res, _, _ = calibrated
    assert tuple(res) == CALIBRATION_COLUMNS
    assert res["ensemble_size"] == 400 and isinstance(res["ensemble_size"], int)
    assert res["reliability_50"] == res["coverage_50"] and res["reliability_90"] == res["coverage_90"]


def test_well_specified_ensemble_covers_every_level(calibrated):
    res, _, _ = calibrated
    n = 20_000
    for p in RELIABILITY_LEVELS:
        tol = 4 * math.sqrt(p * (1 - p) / n)           # binomial, 4 sigma
        assert abs(res[reliability_key(p)] - p) < tol, (p, res[reliability_key(p)])


def test_well_specified_nll_matches_its_expectation(calibrated):
    res, tau, se = calibrated
    sd_bp = np.sqrt(tau ** 2 + se ** 2) / BP
    expected = float(np.mean(0.5 * np.log(2 * np.pi * sd_bp ** 2))) + 0.5
    # per-point NLL has sd 1/sqrt(2); 20000 points -> s.e. 0.005; the sample sd of 400 members adds less
    assert abs(res["nll"] - expected) < 0.03
    assert abs(res["ens_spread_bp"] - np.sqrt(np.mean(tau ** 2)) / BP) < 0.01 * res["ens_spread_bp"]


def test_label_noise_is_added_to_the_spread():
    rng = np.random.default_rng(1)
    n = 20_000
    mu = rng.uniform(0.1, 0.6, n)
    se = rng.uniform(2, 20, n) * BP
    members = np.stack([mu, mu, mu])               # no spread at all
    truth = mu + se * rng.standard_normal(n)
    res = ensemble_calibration(members, truth, se)
    assert res["ens_spread_bp"] < 1e-9
    assert abs(res["coverage_90"] - 0.9) < 4 * math.sqrt(0.09 / n)
    assert abs(res["coverage_50"] - 0.5) < 4 * math.sqrt(0.25 / n)
    # without the labels' noise the intervals have zero width and cover nothing
    bare = ensemble_calibration(members, truth, np.zeros(n))
    assert bare["coverage_90"] == 0.0 and bare["width_90_bp"] < 1e-6


def test_overconfident_and_underconfident_ensembles():
    rng = np.random.default_rng(2)
    n, m = 5000, 50
    calibrated = ensemble_calibration(*_ensemble(rng, n, m)[:3])
    over = ensemble_calibration(*_ensemble(rng, n, m, error_scale=3.0)[:3])
    under = ensemble_calibration(*_ensemble(rng, n, m, spread_scale=3.0)[:3])
    # error 3x the predictive sd: P(|Z| < 1.645 / 3) = 0.42
    assert abs(over["coverage_90"] - (2 * stats.norm.cdf(1.6449 / 3) - 1)) < 0.05
    assert over["coverage_90"] < 0.8 < 0.85 < calibrated["coverage_90"]
    assert over["nll"] > calibrated["nll"] + 1.0
    assert under["coverage_90"] > 0.95 and under["coverage_50"] > 0.6
    assert under["width_90_bp"] > 2 * calibrated["width_90_bp"]


def test_widths_spread_and_nll_by_hand():
    # two members at c -+ d: sd (ddof 1) = d sqrt 2 = 3 bp; se 4 bp -> predictive sd 5 bp
    d = 3 * BP / math.sqrt(2)
    c = np.array([0.2, 0.25, 0.3, 0.35])
    res = ensemble_calibration(np.stack([c - d, c + d]), c + 5 * BP, np.full(4, 4 * BP))
    assert res["ens_spread_bp"] == pytest.approx(3.0, rel=1e-9)
    assert res["width_90_bp"] == pytest.approx(2 * 1.6448536 * 5.0, rel=1e-6)
    assert res["width_50_bp"] == pytest.approx(2 * 0.6744898 * 5.0, rel=1e-6)
    # every error is exactly one sd: outside the 50 % (0.674 sd), inside the 70 % (1.036 sd)
    assert res["coverage_50"] == 0.0 and res["coverage_90"] == 1.0
    assert res["reliability_60"] == 0.0 and res["reliability_70"] == 1.0
    assert res["nll"] == pytest.approx(0.5 * math.log(2 * math.pi * 25.0) + 0.5, rel=1e-9)


def test_zero_spread_and_zero_se_is_floored_not_nan():
    c = np.array([0.2, 0.3])
    res = ensemble_calibration(np.stack([c, c]), c, np.zeros(2))
    assert all(np.isfinite(v) for v in res.values())
    assert res["coverage_90"] == 1.0                   # error 0 lies inside a zero-width interval
    assert res["width_90_bp"] == pytest.approx(2 * 1.6448536 * SD_FLOOR * 1e4)


@pytest.mark.parametrize("members, truth, se, name", [
    (np.ones((1, 3)), np.ones(3), np.ones(3), "members"),           # one member
    (np.ones(3), np.ones(3), np.ones(3), "members"),                # not 2-d
    (np.ones((2, 3)), np.ones(4), np.ones(3), "truth"),
    (np.ones((2, 3)), np.ones(3), np.ones((3, 1)), "label_se"),
    (np.array([[1.0, np.nan, 1.0]] * 2), np.ones(3), np.ones(3), "members"),
    (np.ones((2, 3)), np.array([1.0, np.inf, 1.0]), np.ones(3), "truth"),
    (np.ones((2, 3)), np.ones(3), np.array([1.0, -1.0, 1.0]), "label_se"),
])
def test_bad_inputs_name_the_argument(members, truth, se, name):
    with pytest.raises(ValueError, match=name) as err:
        ensemble_calibration(members, truth, se)
    assert "\n" not in str(err.value)


def test_the_fitted_spread_scale_makes_an_overconfident_ensemble_cover_its_nominal_share():
    """Members whose spread is a third of the true error: sigma scaling fitted on one
    sample finds c ~ 3, and with it the 90 % interval covers ~90 % of a fresh sample."""
    from sabr.learning.calibration import ensemble_calibration, fit_spread_scale
    rng = np.random.default_rng(11)

    def sample(n):
        centre = rng.uniform(0.1, 0.4, n)
        tau = rng.uniform(5e-4, 3e-3, n)                      # the members' spread
        se = rng.uniform(0, 5e-4, n)
        members = centre + tau * rng.standard_normal((400, n))
        truth = members.mean(0) + np.sqrt((3 * tau) ** 2 + se ** 2) * rng.standard_normal(n)
        return members, truth, se
    fit_members, fit_truth, fit_se = sample(5000)
    c = fit_spread_scale(fit_members, fit_truth, fit_se)
    assert c == pytest.approx(3.0, rel=0.05)
    members, truth, se = sample(20000)
    raw = ensemble_calibration(members, truth, se)
    scaled = ensemble_calibration(members, truth, se, spread_scale=c)
    tol = 4 * np.sqrt(0.9 * 0.1 / 20000)
    assert raw["coverage_90"] < 0.6 and abs(scaled["coverage_90"] - 0.9) < tol + 0.01
    assert scaled["nll"] < raw["nll"]
    # a calibrated ensemble keeps c ~ 1
    m1, t1, s1 = fit_members, fit_members.mean(0) + np.sqrt(
        fit_members.var(0, ddof=1) + fit_se ** 2) * rng.standard_normal(fit_truth.size), fit_se
    assert fit_spread_scale(m1, t1, s1) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match="spread_scale=0 is invalid: allowed a number > 0"):
        ensemble_calibration(members, truth, se, spread_scale=0)
