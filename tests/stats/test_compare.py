"""Paired tests, Holm and cell summaries against hand computations (t with 2 df has a closed form).

Student t with 2 degrees of freedom: CDF F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so the two-sided
p-value is 1 - |t| / sqrt(2 + t^2) and the 0.975 quantile is 0.95 / sqrt(2 * 0.975 * 0.025).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from sabr.analysis.statistics.compare import MIN_PAIRS
from sabr.stats import (cell_summary, compare_models, geometric_mean_interval, hedges_j, holm,
                        pair_cells, pair_cells_strict, paired_test)

from stats_frames import frame_from_logs

T975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)        # 4.302652729...

LOGS = {("A", 100): [4.0, 4.2, 4.1], ("B", 100): [4.5, 4.4, 4.9],
        ("A", 200): [3.0, 3.1, 3.3], ("B", 200): [3.9, 4.0, 4.05]}


def _hand(d: list[float]) -> dict:
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    p = 1 - abs(t) / math.sqrt(2 + t * t)                     # df = 2 only
    half = T975_DF2 * sd / math.sqrt(n)
    return dict(mean=mean, sd=sd, t=t, p=p, lo=mean - half, hi=mean + half,
                dz_raw=mean / sd, dz=(1 - 3 / (4 * (n - 1) - 1)) * mean / sd)


def test_t_quantile_closed_form_is_right():
    from scipy import stats
    assert T975_DF2 == pytest.approx(stats.t.ppf(0.975, 2), rel=1e-12)


def test_two_models_two_budgets_three_seeds_by_hand():
    out = compare_models(frame_from_logs(LOGS)).set_index("budget")
    h100 = _hand([-0.5, -0.2, -0.8])            # mean -0.5, sd 0.3, t = -2.8868
    h200 = _hand([-0.9, -0.9, -0.75])           # mean -0.85, sd 0.0866, t = -17.0
    assert h100["t"] == pytest.approx(-5 / math.sqrt(3))
    assert h200["t"] == pytest.approx(-17.0)
    for b, h in ((100, h100), (200, h200)):
        r = out.loc[b]
        assert (r.model_a, r.model_b, r.n_pairs, r.wins) == ("A", "B", 3, "3/3")
        assert r.t == pytest.approx(h["t"], rel=1e-9)
        assert r.p == pytest.approx(h["p"], rel=1e-9)
        assert r.mse_ratio == pytest.approx(math.exp(h["mean"]), rel=1e-9)
        assert r.rmse_ratio == pytest.approx(math.exp(h["mean"] / 2), rel=1e-9)
        assert r.mse_ratio_lo == pytest.approx(math.exp(h["lo"]), rel=1e-9)
        assert r.mse_ratio_hi == pytest.approx(math.exp(h["hi"]), rel=1e-9)
        assert r.rmse_ratio_hi == pytest.approx(math.exp(h["hi"] / 2), rel=1e-9)
        assert r.d_z_uncorrected == pytest.approx(h["dz_raw"], rel=1e-9)
        assert r.d_z == pytest.approx(h["dz"], rel=1e-9)
        assert r.hedges_j == pytest.approx(4 / 7)
    # Holm over the family of 2: smaller p x 2, larger p x 1 (kept >= the previous one)
    p_small, p_big = h200["p"], h100["p"]
    assert p_small < p_big
    assert out.loc[200, "p_holm"] == pytest.approx(2 * p_small, rel=1e-9)
    assert out.loc[100, "p_holm"] == pytest.approx(max(p_big, 2 * p_small), rel=1e-9)
    assert out.loc[100, "p_holm"] == pytest.approx(0.10197, abs=1e-5)
    assert out.loc[200, "p_holm"] == pytest.approx(0.00688, abs=1e-5)
    assert (out.family_size == 2).all()
    assert out.loc[200, "verdict"] == "A better"
    assert out.loc[100, "verdict"] == "no significant difference"


def test_b_better_when_roles_swap():
    out = compare_models(frame_from_logs(LOGS), pairs=[("B", "A")]).set_index("budget")
    assert out.loc[200, "verdict"] == "B better"
    assert out.loc[200, "mse_ratio"] == pytest.approx(math.exp(0.85))
    assert out.loc[200, "wins"] == "0/3"


def test_holm_matches_statsmodels_and_hand_values():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    adj = holm(p)
    # sorted 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> max(0.06, .) = 0.06
    np.testing.assert_allclose(adj[:4], [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    assert np.isnan(adj[4])
    np.testing.assert_allclose(adj[:4], multipletests(p[:4], method="holm")[1], rtol=1e-12)
    # statsmodels' default method is not Holm: the difference is visible on this vector
    assert not np.allclose(multipletests(p[:4])[1], adj[:4])


def test_family_is_every_pair_and_budget_in_a_fixed_order():
    logs = dict(LOGS)
    logs.update({("C", 100): [4.3, 4.0, 4.6], ("C", 200): [3.2, 3.6, 3.5]})
    df = frame_from_logs(logs)
    out = compare_models(df)
    assert list(zip(out.model_a, out.model_b, out.budget)) == [
        ("A", "B", 100), ("A", "B", 200), ("A", "C", 100), ("A", "C", 200),
        ("B", "C", 100), ("B", "C", 200)]
    assert (out.family_size == 6).all()
    np.testing.assert_allclose(out.p_holm, multipletests(out.p, method="holm")[1], rtol=1e-12)
    # the smallest raw p is multiplied by the family size
    i = int(np.argmin(out.p))
    assert out.p_holm[i] == pytest.approx(6 * out.p[i])
    # shuffled input rows give the same table
    again = compare_models(df.sample(frac=1, random_state=3))
    np.testing.assert_allclose(again.p_holm, out.p_holm)


def test_identical_models_keep_nan_and_say_identical():
    r = paired_test(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert r["kind"] == "identical" and np.isnan(r["t"]) and np.isnan(r["p"])
    assert r["mse_ratio"] == 1.0 and r["wins_a"] == 0 and r["ties"] == 3


def test_constant_offset_gives_infinite_t_and_zero_p():
    r = paired_test(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5]))
    assert r["kind"] == "constant offset"
    assert r["t"] == -np.inf and r["p"] == 0.0
    assert r["mse_ratio"] == pytest.approx(math.exp(-0.5))
    assert r["d_z_uncorrected"] == -np.inf


def test_fewer_than_two_pairs_is_nan_with_a_note():
    r = paired_test(np.array([1.0]), np.array([2.0]))
    assert r["kind"] == "too few pairs" and np.isnan(r["p"]) and np.isnan(r["mse_ratio_lo"])
    assert "no test" in r["note"]
    # two pairs that differ by the same large amount: a t on 1 df would give p = 0.008; with
    # fewer than MIN_PAIRS pairs there is no test and no verdict, only the (wide) ratio interval
    r2 = paired_test(np.array([1.0, 2.0]), np.array([5.0, 6.1]))
    assert r2["kind"] == "too few pairs" and np.isnan(r2["p"]) and np.isnan(r2["d_z"])
    assert "3 or more" in r2["note"] and "Hedges J = 0" in r2["note"]
    assert r2["mse_ratio_lo"] < r2["mse_ratio"] < r2["mse_ratio_hi"]
    r3 = paired_test(np.array([1.0, 2.0, 3.0]), np.array([5.0, 6.1, 7.05]))
    assert r3["kind"] == "ok" and r3["p"] < 0.05 and MIN_PAIRS == 3


def test_a_comparison_on_two_seeds_is_never_significant():
    # B far worse on both seeds, by nearly the same amount (a t on 1 df: p = 0.03)
    out = compare_models(frame_from_logs({("A", 100): [4.0, 4.2], ("B", 100): [7.0, 7.3]}))
    assert (out.verdict == "too few pairs").all() and out.p_holm.isna().all()
    assert out.family_size.iloc[0] == 0 and out.wins.iloc[0] == "2/2"


def test_hedges_j_formula():
    assert hedges_j(3) == pytest.approx(1 - 3 / 7)
    assert hedges_j(5) == pytest.approx(0.8)
    assert hedges_j(11) == pytest.approx(1 - 3 / 39)
    assert np.isnan(hedges_j(2))


def test_unequal_train_hash_is_refused():
    df = frame_from_logs(LOGS)
    df.loc[(df.model_type == "B") & (df.budget == 100), "train_hash"] = "other"
    with pytest.raises(ValueError, match="cannot be paired"):
        pair_cells_strict(df, "A", "B", 100)
    pairs, notes, n_bad = pair_cells(df, "A", "B", 100)
    assert len(pairs) == 0 and n_bad == 3 and "refused" in notes[0]
    out = compare_models(df).set_index("budget")
    assert out.loc[100, "status"] == "unpaired" and out.loc[100, "verdict"] == "unpaired"
    assert np.isnan(out.loc[100, "p"]) and out.loc[100, "n_unpaired"] == 3
    # the other budget is still tested, alone in the family now
    assert out.loc[200, "family_size"] == 1
    assert out.loc[200, "p_holm"] == pytest.approx(out.loc[200, "p"])
    assert len(pair_cells_strict(df, "A", "B", 200)) == 3


def test_one_unequal_test_hash_drops_that_seed_only():
    df = frame_from_logs(LOGS)
    df.loc[(df.model_type == "B") & (df.budget == 200) & (df.seed == 0), "test_hash"] = "x"
    out = compare_models(df).set_index("budget")
    r = out.loc[200]
    # seeds 1 and 2 are paired; two pairs are below MIN_PAIRS: a ratio, no test
    assert r.n_pairs == 2 and r.n_unpaired == 1 and r.status == "too few pairs"
    d = np.array([-0.9, -0.75])                     # seeds 1 and 2
    assert r.mse_ratio == pytest.approx(math.exp(d.mean()), rel=1e-9)
    assert np.isnan(r.p) and np.isnan(r.d_z) and "refused to pair seeds [0]" in r.note


def test_geometric_mean_t_interval_by_hand():
    y = [2.0, 2.5, 3.5]
    mean = sum(y) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in y) / 2)
    half = T975_DF2 * sd / math.sqrt(3)
    gm, lo, hi = geometric_mean_interval(np.exp(y))
    assert gm == pytest.approx(math.exp(mean), rel=1e-12)
    assert lo == pytest.approx(math.exp(mean - half), rel=1e-12)
    assert hi == pytest.approx(math.exp(mean + half), rel=1e-12)
    gm1, lo1, hi1 = geometric_mean_interval(np.array([7.0]))
    assert gm1 == pytest.approx(7.0) and np.isnan(lo1) and np.isnan(hi1)


def test_cell_summary_rows_and_hagan_reference():
    s = cell_summary(frame_from_logs(LOGS)).set_index(["model_type", "budget"])
    r = s.loc[("A", 100)]
    assert r.n == 3 and r.log_mse_mean == pytest.approx(4.1)
    rmse = np.exp(np.array([4.0, 4.2, 4.1]) / 2)
    assert r.rmse_bp_mean == pytest.approx(rmse.mean()) and r.rmse_bp_sd == pytest.approx(rmse.std(ddof=1))
    assert r.rmse_bp_gmean == pytest.approx(math.exp(4.1 / 2))
    assert r.rmse_bp_lo ** 2 == pytest.approx(r.mse_bp2_lo) and r.rmse_bp_lo < r.rmse_bp_gmean < r.rmse_bp_hi
    h = s.loc[("hagan", 100)]
    assert h.is_reference and h.rmse_bp_mean == 30.0 and np.isnan(h.mse_bp2_lo)
    assert (s.noise_floor_bp == 2.0).all() and (s.hagan_rmse_bp == 30.0).all()


def test_cell_summary_means_cost_and_noise_corrected_mse():
    df = frame_from_logs({("A", 100): [4.0, 4.2, 4.1]})
    df["mse_corrected_bp2"] = df["mse_bp2"] - 4.0                 # noise floor 2 bp
    df["hf_cpu_seconds"] = [80.0, 90.0, 100.0]
    df["n_hf_thetas"] = [100, 100, 100]
    r = cell_summary(df).set_index(["model_type", "budget"]).loc[("A", 100)]
    mse_c = math.exp(4.1) - 4.0              # the geometric-mean MSE minus the floor^2
    assert r.mse_corrected_bp2 == pytest.approx(mse_c)
    assert r.rmse_corrected_bp == pytest.approx(math.sqrt(mse_c))
    assert r.hf_cpu_seconds_mean == pytest.approx(90.0) and r.n_hf_thetas_mean == 100.0
    # cells from before the cost was recorded: NaN, not an error
    old = cell_summary(frame_from_logs(LOGS)).set_index(["model_type", "budget"]).loc[("A", 100)]
    assert np.isnan(old.hf_cpu_seconds_mean)
    # a seed inside the noise (its own corrected MSE negative) is not left out: the cell's
    # corrected MSE comes from all its seeds' measured MSE
    inside = df.assign(mse_bp2=[3.0, math.exp(4.2), math.exp(4.1)])
    r = cell_summary(inside).set_index(["model_type", "budget"]).loc[("A", 100)]
    assert r.mse_corrected_bp2 == pytest.approx(math.exp((math.log(3.0) + 8.3) / 3) - 4.0)


def test_failed_seeds_are_counted_and_kept_beside_the_median():
    """Issue 38, item 1: a seed more than FAILURE_FACTOR x the cell's median RMSE is a
    training failure: counted, its cell's median shown, and kept in the geometric mean."""
    from sabr.analysis.statistics.compare import FAILURE_FACTOR, training_failures
    rmse = [168.0, 200.0, 244.0, 250.0, 322.0, 650.0, 624.0]
    assert FAILURE_FACTOR == 2.0 and training_failures(rmse) == 2
    assert training_failures([100.0, 150.0, 199.0]) == 0 and training_failures([100.0, 500.0]) == 0
    df = frame_from_logs({("A", 100): [2 * math.log(r) for r in rmse]})
    r = cell_summary(df).set_index(["model_type", "budget"]).loc[("A", 100)]
    assert r.n_training_failures == 2 and r.rmse_bp_median == pytest.approx(250.0)
    assert r.rmse_bp_gmean == pytest.approx(math.exp(np.log(rmse).mean()))   # failures kept
    from sabr.analysis.markdown import _md_headline
    md = "\n".join(_md_headline(cell_summary(df)))
    assert f"| A | b=100 | 7 | {r.rmse_bp_gmean:.1f} | 250.0 | 2 of 7 |" in md
