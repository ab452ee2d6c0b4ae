"""The primary scaling fit on per-budget means, its lack-of-fit test, exponent differences,
budget for target and data efficiency (Fieller), against hand computations and a coverage check."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sabr.stats import (budget_for_target_fit, data_efficiency, data_efficiency_ratio,
                        efficiency_table, cell_summary, exponent_difference, power_law_fit,
                        scaling_exponent)
from sabr.analysis.statistics.efficiency import BEYOND

from stats_frames import cell

L4 = math.log(4.0)
T975_DF1 = math.tan(0.475 * math.pi)                  # Student t, 1 df: Cauchy quantile


def _three_budgets():
    budget = np.repeat([100.0, 400.0, 1600.0], 2)
    seed = np.tile([0, 1], 3)
    y = np.array([5.0, 5.2, 4.1, 4.5, 3.6, 3.8])      # budget means 5.1, 4.3, 3.7
    return budget, seed, y


def test_scaling_exponent_three_budgets_by_hand():
    budget, seed, y = _three_budgets()
    f = scaling_exponent(budget, seed, np.exp(y))
    # log budgets -L, 0, L about their mean (L = log 4): slope = (3.7 - 5.1) / (2 L)
    b = 0.7 / L4
    resid = np.array([5.1, 4.3, 3.7]) - (13.1 / 3 + np.array([0.7, 0.0, -0.7]))
    s2 = float(resid @ resid) / 1                     # k - 2 = 1 df
    se = math.sqrt(s2 / (2 * L4 ** 2))
    assert f["b"] == pytest.approx(b, rel=1e-12) and f["b_se"] == pytest.approx(se, rel=1e-12)
    assert f["b_lo"] == pytest.approx(b - T975_DF1 * se, rel=1e-9)
    assert f["b_hi"] == pytest.approx(b + T975_DF1 * se, rel=1e-9)
    assert f["log_a"] == pytest.approx(13.1 / 3 + b * math.log(400.0), rel=1e-12)
    assert (f["n_budgets"], f["n_points"], f["n_seeds"], f["df"]) == (3, 6, 2, 1)
    # lack of fit: SS_lof = 2 * SS_res (2 seeds a budget) on 1 df, SS_pe = 0.12 on 6 - 3 df
    F = (2 * s2 / 1) / (0.12 / 3)
    assert f["lof_F"] == pytest.approx(F, rel=1e-9) and (f["lof_df1"], f["lof_df2"]) == (1, 3)
    assert f["lof_p"] == pytest.approx(2 * stats.t.sf(math.sqrt(F), 3), rel=1e-9)   # F(1, v) = t_v^2
    # the pooled OLS over the 6 points has the same slope but a 4-df interval that ignores
    # the budgets' shared effects
    pooled = power_law_fit(budget, np.exp(y))
    assert pooled["b"] == pytest.approx(b) and pooled["b_hi"] - pooled["b_lo"] < f["b_hi"] - f["b_lo"]


def test_lack_of_fit_flags_curvature_and_shared_budget_effects():
    budget = np.repeat([50.0, 100.0, 200.0, 500.0, 1000.0], 4)
    seed = np.tile(np.arange(4), 5)
    wiggle = np.tile([-0.01, 0.01, -0.005, 0.005], 5)           # tiny seed spread
    x = np.log(budget)
    curved = 9.0 - 0.6 * x + 0.3 * (x - x.mean()) ** 2 + wiggle
    f = scaling_exponent(budget, seed, np.exp(curved))
    assert f["lof_p"] < 1e-6 and f["lof_F"] > 100
    straight = scaling_exponent(budget, seed, np.exp(9.0 - 0.6 * x + wiggle))
    assert straight["b"] == pytest.approx(0.6, abs=1e-9) and straight["lof_F"] == pytest.approx(0, abs=1e-9)


def test_scaling_exponent_input_checks_and_small_cases():
    with pytest.raises(ValueError, match="^seed: length 2 differs"):
        scaling_exponent([100, 200, 400], [0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="^mse: every MSE must be finite and > 0"):
        scaling_exponent([100, 200, 400], [0, 0, 0], [1.0, 0.0, 3.0])
    with pytest.raises(ValueError, match="^budget: "):
        scaling_exponent([100, -200, 400], [0, 0, 0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="^seed: duplicate"):
        scaling_exponent([100, 100, 400], [0, 0, 0], [1.0, 2.0, 3.0])
    two = scaling_exponent([100, 400], [0, 0], [4.0, 1.0])
    assert two["b"] == pytest.approx(1.0) and math.isnan(two["b_lo"]) and "no interval" in two["note"]
    one_seed = scaling_exponent([100, 200, 400], [0, 0, 0], [4.0, 2.1, 1.0])
    assert np.isfinite(one_seed["b_lo"]) and math.isnan(one_seed["lof_p"]) and "pure error" in one_seed["note"]
    unequal = scaling_exponent([100, 100, 100, 200, 400, 400], [0, 1, 2, 0, 0, 1],
                               [4.0, 4.4, 3.9, 2.1, 1.0, 1.1])
    assert "approximate" in unequal["note"] and np.isfinite(unequal["lof_p"])


def test_exponent_difference_by_hand():
    budget, seed, y = _three_budgets()
    ya = y
    yb = y + np.array([0.0, 0.2, 0.3, 0.3, 0.5, 0.7])      # paired differences: means -0.1, -0.3, -0.6
    d = exponent_difference(budget, seed, np.exp(ya), np.exp(yb))
    slope = (-0.6 - -0.1) / (2 * L4)
    resid = np.array([-0.1, -0.3, -0.6]) - (-1.0 / 3 + slope * np.array([-L4, 0.0, L4]))
    se = math.sqrt(float(resid @ resid) / (2 * L4 ** 2))
    assert d["b_diff"] == pytest.approx(-slope, rel=1e-12) and d["b_diff_se"] == pytest.approx(se)
    assert d["b_diff_lo"] == pytest.approx(-slope - T975_DF1 * se, rel=1e-9)
    assert d["p"] == pytest.approx(1 - 2 * math.atan(abs(-slope / se)) / math.pi, rel=1e-9)  # t, 1 df
    assert d["df"] == 1 and d["n_budgets"] == 3


def _simulate_coverage(reps, sd_u, n_seeds, rng):
    budgets = np.array([50.0, 100.0, 200.0, 500.0, 1000.0])
    bud, sd = np.repeat(budgets, n_seeds), np.tile(np.arange(n_seeds), budgets.size)
    hit_means = hit_pooled = 0
    for _ in range(reps):
        y = (math.log(5000.0) - 0.6 * np.log(budgets) + rng.normal(0, sd_u, budgets.size))[:, None] \
            + rng.normal(0, 0.15, n_seeds)[None, :] + rng.normal(0, 0.2, (budgets.size, n_seeds))
        f = scaling_exponent(bud, sd, np.exp(y.ravel()))
        p = power_law_fit(bud, np.exp(y.ravel()))
        hit_means += f["b_lo"] <= 0.6 <= f["b_hi"]
        hit_pooled += p["b_lo"] <= 0.6 <= p["b_hi"]
    return hit_means / reps, hit_pooled / reps


def test_exponent_interval_covers_with_shared_budget_effects():
    # 5 budgets, 3 seeds, shared budget effects sd 0.25 (tests/benchmarks/coverage.py has the table)
    means, pooled = _simulate_coverage(400, 0.25, 3, np.random.default_rng(123))
    assert means >= 0.9
    assert pooled < means - 0.08 and pooled < 0.87      # the old pooled OLS interval: visibly short


def test_budget_for_target_fieller_by_hand():
    budget = np.array([100.0, 200.0, 400.0, 800.0])
    y = np.array([6.0, 5.45, 5.05, 4.4])                 # one seed: no seed term
    f = budget_for_target_fit(budget, np.zeros(4), np.exp(y), math.exp(4.0))
    x = np.log(budget)
    u = x - x.mean()
    beta = float(u @ y / (u @ u))
    alpha = y.mean()
    s2 = float(((y - alpha - beta * u) ** 2).sum()) / 2
    t = stats.t.ppf(0.975, 2)
    c0 = alpha - 4.0
    # (c0 + beta v)^2 <= t^2 s^2 (1/k + v^2 / Sxx): a quadratic in v = log n - mean log n
    qa, qb, qc = beta ** 2 - t * t * s2 / (u @ u), 2 * c0 * beta, c0 ** 2 - t * t * s2 / 4
    roots = np.sort(np.roots([qa, qb, qc]))
    assert f["budget"] == pytest.approx(math.exp(x.mean() - c0 / beta), rel=1e-12)
    assert f["lo"] == pytest.approx(math.exp(x.mean() + roots[0]), rel=1e-9)
    assert f["hi"] == pytest.approx(math.exp(x.mean() + roots[1]), rel=1e-9)
    assert f["flag"] == "extrapolated above the largest budget" and f["df"] == 2
    assert "one seed" in f["note"]


def test_beyond_the_tested_range_and_unbounded():
    budget = np.repeat([50.0, 100.0, 200.0], 2)
    seed = np.tile([0, 1], 3)
    mse = 5000.0 * budget ** -0.5 * np.exp(np.array([0.01, -0.01, 0.02, -0.02, 0.0, 0.01]))
    far = budget_for_target_fit(budget, seed, mse, 5000.0 * 5000.0 ** -0.5)   # n* ~ 5000 > 10 x 200
    assert far["flag"] == BEYOND and far["budget"] > 2000
    near = budget_for_target_fit(budget, seed, mse, 5000.0 * 120.0 ** -0.5)
    assert near["flag"] == "ok" and near["lo"] < 120 < near["hi"]
    flat = budget_for_target_fit(budget, seed, 100.0 * np.exp([0.3, -0.3, 0.0, 0.2, -0.2, 0.1]), 50.0)
    assert (flat["flag"] == "b <= 0: error does not fall with budget" and flat["budget"] == math.inf) or \
        math.isinf(flat["hi"])


def test_data_efficiency_ratio_exact_and_with_noise():
    budgets = np.array([50.0, 100.0, 200.0, 500.0, 1000.0])
    bud, seed = np.repeat(budgets, 3), np.tile(np.arange(3), 5)
    mse_a, mse_b = 5000.0 * bud ** -0.6, 6000.0 * bud ** -0.55
    r = data_efficiency_ratio(bud, seed, mse_a, mse_b, 200.0)
    true_nb = math.exp((math.log(6000.0) - math.log(5000.0 * 200.0 ** -0.6)) / 0.55)
    assert r["ratio"] == pytest.approx(true_nb / 200.0, rel=1e-9) and r["flag"] == "ok"
    assert r["lo"] == pytest.approx(r["ratio"], rel=1e-6) and r["hi"] == pytest.approx(r["ratio"], rel=1e-6)
    noise = np.exp(np.random.default_rng(3).normal(0, 0.1, (2, bud.size)))
    rn = data_efficiency_ratio(bud, seed, mse_a * noise[0], mse_b * noise[1], 200.0)
    assert rn["lo"] < rn["ratio"] < rn["hi"] and rn["budget_b"] == pytest.approx(200 * rn["ratio"])


def test_efficiency_table_uses_the_noise_corrected_mse():
    """The target is on the corrected RMSE (gmean MSE - floor^2): reached where the measured
    curve meets target^2 + floor^2, here where the error against the exact surface meets
    the target (n = 300)."""
    floor = 3.0
    rows = [cell("A", n, s, 5000.0 * n ** -0.6 * math.exp(0.01 * (s - 1)) + floor ** 2, noise_floor_bp=floor)
            for n in (50, 100, 200, 500, 1000) for s in range(3)]
    df = pd.DataFrame(rows)
    target = math.sqrt(5000.0 * 300.0 ** -0.6)            # the corrected curve meets it at n = 300
    e = efficiency_table(cell_summary(df), df, target).iloc[0]
    assert e.budget_fit == pytest.approx(300.0, rel=0.05) and e.fit_flag == "ok"
    assert e.budget_fit_lo < 300 < e.budget_fit_hi and not e.beyond_range
    assert e.budget_interp == pytest.approx(300.0, rel=0.02)
    # against the raw MSE (floor included) the target would be reached later
    raw = budget_for_target_fit(df.budget.to_numpy(), df.seed.to_numpy(), df.mse_bp2.to_numpy(), target ** 2)
    assert raw["budget"] > 330
    low = efficiency_table(cell_summary(df), df, 2.0).iloc[0]
    assert "target below the MC noise floor" in low.fit_flag


def test_efficiency_table_keeps_every_seed_also_within_the_noise():
    """At 1000 every seed's measured MSE is below floor^2 (its own corrected MSE < 0): the
    budget still counts, so the target is found between 500 and 1000, where the measured
    geometric mean crosses target^2 + floor^2 = 125, not beyond the tested budgets."""
    floor = 10.0
    rows = [cell("A", n, s, 5000.0 * n ** -0.6 * math.exp(0.05 * (s - 1)) + floor ** 2 if n < 1000
                 else 95.0 + s, noise_floor_bp=floor) for n in (50, 100, 200, 500, 1000) for s in range(3)]
    df = pd.DataFrame(rows)                               # at 1000 the raw MSE is below floor^2
    e = efficiency_table(cell_summary(df), df, 5.0).iloc[0]
    assert e.n_budgets_fit == 5 and "left out" not in e.note
    assert 500 < e.budget_interp < 1000 and e.interp_flag == "ok", e
    s = cell_summary(df).set_index(["model_type", "budget"]).loc[("A", 1000)]
    assert s.mse_corrected_bp2 < 0 and s.rmse_corrected_bp == 0.0


def test_data_efficiency_frame_has_fit_and_interval():
    rng = np.random.default_rng(9)
    rows = [cell(m, n, s, a * n ** -b * math.exp(rng.normal(0, 0.1)))
            for m, a, b in (("A", 5000.0, 0.6), ("B", 6000.0, 0.55))
            for n in (50, 100, 200, 500, 1000) for s in range(3)]
    df = pd.DataFrame(rows)
    e = data_efficiency(cell_summary(df), df).set_index(["model_a", "model_b", "budget"])
    r = e.loc[("A", "B", 200)]
    assert r.ratio_lo < r.ratio < r.ratio_hi and 1.5 < r.ratio < 4 and r.fit_flag == "ok"
    assert r.ratio_interp == pytest.approx(r.ratio, rel=0.3)
