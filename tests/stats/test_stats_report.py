"""What the report may print: inf in JSON, degenerate verdicts, P(rank 1) from too few seeds,
'beyond the tested range', and the test-theta bootstrap (hand-checked, timed, wired in)."""
from __future__ import annotations

import json
import math
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sabr.analysis.aggregator import ResultsAggregator
from sabr.analysis.markdown import headline_markdown
from sabr.io import atomic_write_json
from sabr.learning.metrics import BP
from sabr.stats import analyse, rank_models
from sabr.stats import test_theta_bootstrap as theta_bootstrap

from stats_frames import cell, frame_from_logs


def test_inf_is_written_as_a_string_and_nan_as_null(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": math.inf, "b": [-math.inf, math.nan, 1.5],
                                            "c": np.float64(np.inf), "d": np.array([np.nan, -np.inf])})
    back = json.loads((tmp_path / "x.json").read_text())
    assert back == {"a": "inf", "b": ["-inf", None, 1.5], "c": "inf", "d": [None, "-inf"]}


def test_constant_offset_is_degenerate_and_its_inf_survives_json(tmp_path):
    df = frame_from_logs({("A", 100): [1.0, 2.0, 3.0], ("B", 100): [1.5, 2.5, 3.5],
                          ("A", 200): [1.0, 1.4, 3.0], ("B", 200): [1.6, 2.5, 3.1]})
    out = analyse(df, n_boot=20)
    c = {r["budget"]: r for r in out["comparisons"]}
    assert c[100]["verdict"] == "degenerate" and c[100]["t"] == -math.inf
    assert c[200]["verdict"] != "degenerate"
    atomic_write_json(tmp_path / "s.json", out)
    back = json.loads((tmp_path / "s.json").read_text())
    assert [r["t"] for r in back["comparisons"] if r["budget"] == 100] == ["-inf"]
    md = headline_markdown(out, df, [])
    assert "Degenerate" in md and "A vs B at 100" in md


def test_p_rank1_needs_five_complete_seeds():
    two = frame_from_logs({("a", 100): [4.0, 4.1], ("b", 100): [4.5, 4.6], ("c", 100): [5.0, 5.1]})
    per, _ = rank_models(two, n_boot=100, rng=np.random.default_rng(0))
    assert per.p_rank1.isna().all() and (per.n_complete_seeds == 2).all()
    assert per.note.str.contains("2 complete seed").all()
    out = analyse(two, n_boot=50)
    # the summary says what 2 seeds can say: a won both against b, p = 0.5
    assert "| b=100 | a | b | 2/2 | 0.5 |" in headline_markdown(out, two, [])
    five = frame_from_logs({("a", 100): [4.0, 4.2, 4.1, 4.3, 4.0], ("b", 100): [4.0, 4.2, 4.1, 4.3, 4.0]})
    per5, _ = rank_models(five, n_boot=200, rng=np.random.default_rng(0))
    assert per5.p_rank1.tolist() == [0.5, 0.5]                # identical models share rank 1


def test_markdown_says_beyond_the_tested_range():
    rows = [cell("A", n, s, 4000.0 * n ** -0.3 * math.exp(0.02 * (s - 1)), noise_floor_bp=0.5)
            for n in (50, 100, 200) for s in range(3)]
    df = pd.DataFrame(rows)
    out = analyse(df, n_boot=50, target_rmse_bp=5.0)       # needs n ~ 1e7 at b = 0.3
    eff = out["efficiency"][0]
    assert eff["beyond_range"] and "beyond the tested range" in eff["fit_flag"]
    md = headline_markdown(out, df, [])
    line = next(x for x in md.splitlines() if x.startswith("| A |") and "beyond" in x)
    assert "e+" not in line and f"{eff['budget_fit']:.3g}" not in line


def _loop_bootstrap(sse, n, groups, n_boot, seed):
    """The same resampling written as loops, for the hand check."""
    rng = np.random.default_rng(seed)
    T = sse.shape[1]
    w = rng.multinomial(T, np.full(T, 1.0 / T), size=n_boot)
    out = {}
    for g in dict.fromkeys(groups):
        rows = [i for i, x in enumerate(groups) if x == g]
        vals = []
        for k in range(n_boot):
            logs = [0.5 * math.log(sum(w[k, t] * sse[i, t] for t in range(T)) /
                                   sum(w[k, t] * n[t] for t in range(T))) for i in rows]
            vals.append(sum(logs) / len(logs))
        out[g] = np.exp(np.percentile(vals, [2.5, 97.5]))
    return out


def test_test_theta_bootstrap_by_hand():
    rng = np.random.default_rng(4)
    sse = rng.lognormal(3.0, 1.0, (4, 7))
    n = np.arange(5, 12).astype(float)
    groups = ["A", "A", "B", "B"]
    res = theta_bootstrap(sse, n, groups=groups, n_boot=300, rng=11, method="percentile")
    ref = _loop_bootstrap(sse, n, groups, 300, 11)
    assert res["groups"] == ["A", "B"] and res["n_thetas"] == 7
    for i, g in enumerate(res["groups"]):
        assert [res["lo"][i], res["hi"][i]] == pytest.approx(list(ref[g]), rel=1e-12)
        point = np.exp(np.mean([0.5 * math.log(sse[j].sum() / n.sum()) for j in range(4)
                                if groups[j] == g]))
        assert res["rmse"][i] == pytest.approx(point, rel=1e-12)
    # the same draws for every cell: two identical cells in different groups, identical intervals
    twin = theta_bootstrap(np.vstack([sse[0], sse[0]]), n, groups=["x", "y"], n_boot=200, rng=1)
    assert twin["lo"][0] == twin["lo"][1] and twin["hi"][0] == twin["hi"][1]
    bad = sse.copy()
    bad[1, 2] = np.nan                                         # a cell without a usable theta
    r = theta_bootstrap(bad, n, groups=groups, n_boot=50, rng=0)
    assert r["n_cells"].tolist() == [1, 2] and r["rmse"][0] == pytest.approx(math.sqrt(sse[0].sum() / n.sum()))
    with pytest.raises(ValueError, match="^groups: length"):
        theta_bootstrap(sse, n, groups=["A"], n_boot=10, rng=0)


def test_test_theta_bootstrap_bca_by_hand():
    from scipy.stats import norm
    rng = np.random.default_rng(8)
    sse = rng.lognormal(2.0, 1.2, (1, 9))
    n = np.full(9, 10.0)
    res = theta_bootstrap(sse, n, n_boot=400, rng=3)                    # method 'bca'
    w = np.random.default_rng(3).multinomial(9, np.full(9, 1 / 9), size=400)
    draws = 0.5 * np.log((w @ sse[0]) / (w @ n))
    est = 0.5 * math.log(sse.sum() / n.sum())
    z0 = norm.ppf(np.mean(draws < est) + 0.5 * np.mean(draws == est))
    jack = np.array([0.5 * math.log((sse.sum() - sse[0, t]) / (n.sum() - n[t])) for t in range(9)])
    d = jack.mean() - jack
    acc = (d ** 3).sum() / (6 * (d ** 2).sum() ** 1.5)
    lv = [norm.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z))) for z in norm.ppf([0.025, 0.975])]
    lo, hi = np.exp(np.percentile(draws, [100 * lv[0], 100 * lv[1]]))
    assert res["lo"][0] == pytest.approx(lo, rel=1e-12) and res["hi"][0] == pytest.approx(hi, rel=1e-12)
    assert acc != 0 and res["rmse"][0] == pytest.approx(math.exp(est))


def test_test_theta_bootstrap_is_fast():
    rng = np.random.default_rng(0)
    sse = rng.lognormal(0, 1, (100, 150))
    t0 = time.perf_counter()
    res = theta_bootstrap(sse, np.full(150, 200.0), groups=[i // 5 for i in range(100)],
                               n_boot=2000, rng=1)
    assert time.perf_counter() - t0 < 2.0 and len(res["groups"]) == 20
    assert np.all(res["lo"] < res["rmse"]) and np.all(res["rmse"] < res["hi"])


def _fake_run(tmp_path, *, without_predictions=()):
    """A results folder with predictions.npz against a small synthetic data set (N=20, M=2, K=3)."""
    rng = np.random.default_rng(5)
    shape = (20, 2, 3)
    hf = 0.2 + 0.01 * rng.standard_normal(shape)
    test = np.arange(10, 20)
    pts = (test[:, None] * 6 + np.arange(6)[None, :]).ravel()
    i = 0
    for b in (50, 100, 200):
        for m, scale in (("A", 30.0), ("B", 60.0)):
            for s in range(3):
                i += 1
                sigma = hf.ravel()[pts] + scale / BP * (b / 50) ** -0.5 * rng.standard_normal(pts.size)
                err = (sigma - hf.ravel()[pts]) * BP
                mse = float(np.mean(err ** 2))
                d = tmp_path / f"exp_{i:04d}"
                d.mkdir()
                metrics = cell(m, b, s, mse, noise_floor_bp=1.0, hagan_mae_bp=25.0)
                (d / "metrics.json").write_text(json.dumps(metrics))
                if (m, b, s) not in without_predictions:
                    np.savez(d / "predictions.npz", points=pts, sigma=sigma)
    ds = SimpleNamespace(hf=hf, test_thetas=test, unravel=lambda p: np.unravel_index(p, shape))
    return ds


def test_aggregator_adds_test_theta_intervals(tmp_path, monkeypatch):
    ds = _fake_run(tmp_path, without_predictions={("B", 200, 1)})
    monkeypatch.setattr(ResultsAggregator, "dataset", lambda self: ds)
    agg = ResultsAggregator(tmp_path, n_boot=500)
    perf = agg.get_performance_summary()
    rows = perf[~perf.is_reference].set_index(["model_type", "budget"])
    a = rows.loc[("A", 100)]
    assert a.rmse_bp_test_lo < a.rmse_bp_gmean < a.rmse_bp_test_hi
    b = rows.loc[("B", 200)]                                    # two of its three seeds scored
    assert np.isfinite(b.rmse_bp_test_lo) and b.rmse_bp_test_lo < b.rmse_bp_test_hi
    assert any("without predictions.npz" in n and "B b=200 s=1" in n for n in agg.analysis()["notes"])
    md = agg.write_all(plots=False)["markdown"]
    assert f"[{a.rmse_bp_test_lo:.1f}, {a.rmse_bp_test_hi:.1f}]" in md
    csv = pd.read_csv(tmp_path / "analysis" / "performance_summary.csv")
    assert {"rmse_bp_test_lo", "rmse_bp_test_hi", "rmse_bp_all_lo", "rmse_bp_all_hi"} <= set(csv.columns)
    # the combined interval carries both draws: it holds the seed interval, and is as wide
    # on the log scale as the test-theta interval at least
    for r in (a, b):
        assert r.rmse_bp_all_lo <= r.rmse_bp_lo < r.rmse_bp_hi <= r.rmse_bp_all_hi, r
        assert math.log(r.rmse_bp_all_hi / r.rmse_bp_all_lo) >= 0.999 * math.log(
            r.rmse_bp_test_hi / r.rmse_bp_test_lo)
    assert f"[{a.rmse_bp_all_lo:.1f}, {a.rmse_bp_all_hi:.1f}]" in md


def test_the_combined_interval_adds_the_two_variances():
    from scipy import stats
    from sabr.analysis.statistics.testset import combined_interval
    y = np.log([40.0, 44.0, 50.0, 46.0, 42.0])                  # five seeds' RMSE
    centre, sd = y.mean(), y.std(ddof=1)
    v_seed, t4 = sd ** 2 / 5, stats.t.ppf(0.975, 4)
    # a test interval of no width: the seed interval itself
    lo, hi = combined_interval(centre, sd, 5, 45.0, 45.0 * (1 + 1e-12))
    assert (lo, hi) == pytest.approx((math.exp(centre - t4 * math.sqrt(v_seed)),
                                      math.exp(centre + t4 * math.sqrt(v_seed))), rel=1e-6)
    # a test half-width of 0.2 on log RMSE: the variances add, Satterthwaite's df
    z = stats.norm.ppf(0.975)
    lo, hi = combined_interval(centre, sd, 5, 30.0, 30.0 * math.exp(0.4))
    v = v_seed + (0.2 / z) ** 2
    df = v ** 2 / (v_seed ** 2 / 4)
    assert math.log(hi / lo) / 2 == pytest.approx(max(stats.t.ppf(0.975, df) * math.sqrt(v),
                                                      t4 * math.sqrt(v_seed), 0.2))
    assert math.sqrt(lo * hi) == pytest.approx(math.exp(centre))
    assert all(map(math.isnan, combined_interval(centre, sd, 1, 30.0, 40.0)))   # one seed
    assert all(map(math.isnan, combined_interval(centre, sd, 5, math.nan, 40.0)))


def test_aggregator_without_data_set_gives_nan_and_a_note(tmp_path, monkeypatch):
    _fake_run(tmp_path)
    monkeypatch.setattr(ResultsAggregator, "dataset", lambda self: None)
    agg = ResultsAggregator(tmp_path, n_boot=50)
    perf = agg.get_performance_summary()
    assert perf.rmse_bp_test_lo.isna().all() and perf.rmse_bp_test_hi.isna().all()
    assert any("no data set" in n for n in agg.analysis()["notes"])


def test_the_best_model_is_reported_by_its_wins_with_an_exact_sign_test():
    """Issue 38, item 6: P(rank 1) reached 0.95 for tied models in 21 % of null experiments.
    The summary now reports the best model's wins against the runner-up with the exact
    two-sided sign test: under the null its false alarms stay at or below 5 %."""
    from sabr.analysis.statistics.ranking import sign_test
    best = frame_from_logs({("a", 100): [4.0, 4.1, 4.0, 4.2, 4.1], ("b", 100): [4.5, 4.6, 4.4, 4.7, 4.5]})
    per, _ = rank_models(best, n_boot=100, rng=np.random.default_rng(0))
    top = per.set_index("model_type").loc["a"]
    assert (top.next_model, top.wins_vs_next, top.n_vs_next) == ("b", 5, 5)
    assert top.sign_p_vs_next == pytest.approx(2 / 32)          # 5 of 5: the smallest p with 5 seeds
    assert np.isnan(per.set_index("model_type").loc["b", "sign_p_vs_next"])   # nothing after b
    rng = np.random.default_rng(6)
    alarms = boot95 = 0
    reps = 150
    for _ in range(reps):          # two tied models, 10 seeds
        z = rng.normal(4.0, 0.2, (2, 10))
        df = frame_from_logs({("a", 100): list(z[0]), ("b", 100): list(z[1])})
        cells = df.assign(log_mse=np.log(df.mse_bp2))
        first = "a" if z[0].mean() <= z[1].mean() else "b"
        alarms += sign_test(cells, first, "b" if first == "a" else "a")["sign_p_vs_next"] < 0.05
        per, _ = rank_models(df, n_boot=200, rng=rng)
        boot95 += per.p_rank1.max() >= 0.95
    print(f"tied models, 10 seeds, {reps} experiments: sign test p < 0.05 in {alarms / reps:.3f}, "
          f"P(rank 1) >= 0.95 in {boot95 / reps:.3f}")
    assert alarms / reps <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / reps)
    assert boot95 / reps > alarms / reps        # what the descriptive figure would have claimed


def test_the_summary_says_how_many_notes_it_leaves_out():
    """Issue 38, item 10: notes were cut to 10 without a word (a failed cell's note could vanish)."""
    df = frame_from_logs({("a", 100): [4.0, 4.1], ("b", 100): [4.5, 4.6]})
    out = analyse(df, n_boot=20)
    out["notes"] = [f"note {i}" for i in range(13)]
    md = headline_markdown(out, df, [])
    assert "Notes (13): note 0; " in md and "note 9; and 3 more notes in statistical_analysis.json" in md
    out["notes"] = out["notes"][:2]
    assert "Notes (2): note 0; note 1\n" in headline_markdown(out, df, []) + "\n"
