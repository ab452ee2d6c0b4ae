"""analyse() end to end: keys, JSON, edge cases (never raises), Pareto front, rankings, Friedman."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sabr.io import atomic_write_json
from sabr.stats import analyse, cost_benefit, friedman_test, pareto_front, rank_models

from stats_frames import cell, frame_from_logs, power_law_frame

KEYS = {"summary", "comparisons", "scaling", "exponent_differences", "efficiency", "data_efficiency",
        "cost_benefit", "rankings", "rank_summary", "friedman", "notes", "settings"}


def run(df, **kw):
    """analyse() that also checks no table was left empty by an internal error."""
    out = analyse(df, **kw)
    assert not [n for n in out["notes"] if " failed: " in n], out["notes"]
    return out


def _rows(out, key, **match):
    return [r for r in out[key] if all(r[k] == v for k, v in match.items())]


@pytest.fixture(scope="module")
def three_models():
    return power_law_frame({"a_mlp": (5000.0, 0.6, 0.1), "b_cnn": (3000.0, 0.7, 0.1),
                            "c_mf": (4000.0, 0.5, 0.1)}, [50, 100, 200, 400, 1000], 3,
                           np.random.default_rng(0))


def test_analyse_keys_json_and_defaults(three_models, tmp_path):
    # each cell records its HF Monte Carlo CPU-seconds: here 0.5 s per budget point
    three_models = three_models.assign(hf_cpu_seconds=0.5 * three_models.budget,
                                       n_hf_thetas=three_models.budget)
    out = run(three_models, n_boot=300)
    assert set(out) == KEYS
    json.dumps(out)                                           # plain Python values throughout
    atomic_write_json(tmp_path / "stats.json", out)
    assert json.loads((tmp_path / "stats.json").read_text())["settings"]["target_rmse_bp"] == 4.0
    assert out["settings"]["target_rmse_bp"] == 4.0           # 2 x median noise floor (2 bp)
    assert len(out["comparisons"]) == 3 * 5 and out["comparisons"][0]["family_size"] == 15
    hagan = _rows(out, "summary", model_type="hagan")
    assert len(hagan) == 5 and all(r["rmse_bp_mean"] == 30.0 for r in hagan)
    cb = _rows(out, "cost_benefit", model_type="b_cnn", budget=100)[0]
    assert cb["cost_seconds"] == pytest.approx(100 * 0.5 + 10.0)
    assert cb["hf_cpu_seconds"] == 50.0 and cb["n_hf_thetas_mean"] == 100.0
    eff = _rows(out, "efficiency", model_type="b_cnn")[0]
    assert eff["interp_flag"] == "not reached" and "extrapolated above" in eff["fit_flag"]
    assert eff["budget_fit_lo"] < eff["budget_fit"] < eff["budget_fit_hi"]
    # the default rng is seeded: same numbers on a rerun
    again = run(three_models, n_boot=300)
    assert json.dumps(again["scaling"]) == json.dumps(out["scaling"])         # NaN != NaN in ==
    assert json.dumps(again["rankings"]) == json.dumps(out["rankings"])


def test_one_seed_gives_nan_and_notes_not_errors():
    df = pd.DataFrame([cell(m, b, 0, mse) for m, mse in (("A", 100.0), ("B", 80.0))
                       for b in (100, 200)])
    out = run(df, n_boot=50)
    s = _rows(out, "summary", model_type="A", budget=100)[0]
    assert s["n"] == 1 and math.isnan(s["mse_bp2_lo"]) and "one seed" in s["note"]
    c = out["comparisons"][0]
    assert c["verdict"] == "too few pairs" and math.isnan(c["p"]) and math.isnan(c["p_holm"])
    assert out["comparisons"][0]["family_size"] == 0
    assert math.isnan(out["friedman"]["pvalue"]) and ">= 3 models" in out["friedman"]["note"]


def test_identical_models_are_reported_identical():
    logs = {("A", 100): [4.0, 4.2, 4.1], ("A", 200): [3.0, 3.1, 3.3]}
    logs.update({("B", b): v for (_, b), v in logs.items()})
    out = run(frame_from_logs(logs), n_boot=50)
    for r in out["comparisons"]:
        assert r["verdict"] == "identical" and math.isnan(r["t"]) and math.isnan(r["p_holm"])
        assert r["mse_ratio"] == 1.0 and r["wins"] == "0/3"
    # 3 seeds: too few clusters for P(rank 1) (test_stats_report.py checks ties with 5 seeds)
    assert all(math.isnan(r["p_rank1"]) and "not computed" in r["note"] for r in out["rankings"])


def test_nan_metric_missing_and_failed_cells():
    logs = {("A", 100): [4.0, 4.2, 4.1], ("B", 100): [4.5, 4.4, 4.9],
            ("A", 200): [3.0, 3.1, 3.3], ("B", 200): [3.9, 4.0, 4.05]}
    df = frame_from_logs(logs)
    nan_row = (df.model_type == "A") & (df.budget == 100) & (df.seed == 1)
    df.loc[nan_row, ["rmse_bp", "mse_bp2", "mae_bp"]] = np.nan           # 'ok' but NaN metrics
    gone = (df.model_type == "B") & (df.budget == 200) & (df.seed == 2)
    df.loc[gone, ["status", "reason"]] = ["missing", "task failed or did not run"]
    df.loc[gone, ["rmse_bp", "mse_bp2"]] = np.nan
    failed = (df.model_type == "B") & (df.budget == 100) & (df.seed == 0)
    df.loc[failed, ["status", "reason", "rmse_bp", "mse_bp2"]] = ["failed", "diverged", np.nan, np.nan]
    out = run(df, n_boot=50)
    assert any("non-finite" in n and "A b=100 s=1" in n for n in out["notes"])
    assert any("not finished" in n for n in out["notes"])
    c100 = _rows(out, "comparisons", budget=100)[0]
    assert c100["n_pairs"] == 1 and c100["verdict"] == "too few pairs"    # seeds 0 and 1 lost
    c200 = _rows(out, "comparisons", budget=200)[0]
    assert c200["n_pairs"] == 2 and "B only []" in c200["note"] and "A only [2]" in c200["note"]
    assert c200["mean_log_diff"] == pytest.approx(-0.9) and c200["mse_ratio"] == pytest.approx(math.exp(-0.9))
    s = _rows(out, "summary", model_type="B", budget=200)[0]
    assert s["n"] == 2 and s["n_missing"] == 1 and "1 missing" in s["note"]
    s = _rows(out, "summary", model_type="B", budget=100)[0]
    assert s["n"] == 2 and s["n_failed"] == 1
    s = _rows(out, "summary", model_type="A", budget=100)[0]
    assert s["n"] == 2 and "dropped" in s["note"]
    assert out["friedman"]["n_models"] == 2


def test_unequal_train_hash_is_unpaired_in_analyse():
    df = frame_from_logs({("A", 100): [4.0, 4.2, 4.1], ("B", 100): [4.5, 4.4, 4.9]})
    df.loc[df.model_type == "B", "train_hash"] = "different subset"
    out = run(df, n_boot=50)
    c = out["comparisons"][0]
    assert c["status"] == "unpaired" and c["verdict"] == "unpaired" and math.isnan(c["p"])
    assert "refused" in c["note"]


def test_empty_and_hagan_rows_do_not_raise():
    out = run(pd.DataFrame(), n_boot=10)
    assert set(out) == KEYS and out["summary"] == [] and out["comparisons"] == []
    df = frame_from_logs({("A", 100): [4.0, 4.2, 4.1], ("A", 200): [3.0, 3.1, 3.3]})
    df = pd.concat([df, pd.DataFrame([cell("hagan", 100, 0, 900.0)])], ignore_index=True)
    out = run(df, n_boot=10)
    assert {r["model_type"] for r in out["scaling"]} == {"A"}
    all_missing = df.assign(status="missing")
    out = run(all_missing, n_boot=10)
    assert all(r["n"] == 0 for r in out["summary"] if r["model_type"] == "A")
    assert out["scaling"] == [] and out["efficiency"][0]["interp_flag"] == "no target"
    assert any("no default target" in n for n in out["notes"])
    out = run(all_missing, n_boot=10, target_rmse_bp=5.0)
    assert out["efficiency"][0]["interp_flag"] == "no data"


def test_constant_offset_verdict():
    df = frame_from_logs({("A", 100): [1.0, 2.0, 3.0], ("B", 100): [1.5, 2.5, 3.5]})
    c = run(df, n_boot=10)["comparisons"][0]
    assert c["t"] == -math.inf and c["p"] == 0.0 and c["p_holm"] == 0.0
    assert c["verdict"] == "degenerate" and "constant" in c["note"]        # not "A better"


def test_pareto_front_on_hand_built_set():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.0, np.nan, 5.0])
    err = np.array([5.0, 3.0, 4.0, 1.0, 3.0, 0.5, 1.0])
    # (3, 4) is dominated by (2, 3); (5, 1) by (4, 1); the two (2, 3) do not dominate each other
    assert pareto_front(cost, err).tolist() == [True, True, False, True, True, False, False]


def test_cost_benefit_marks_front_and_notes_missing_hf_cost():
    s = pd.DataFrame({"model_type": ["A", "A", "B", "hagan"], "budget": [100, 400, 100, 100],
                      "n": [3, 3, 3, 0], "rmse_bp_mean": [10.0, 5.0, 12.0, 30.0],
                      "train_seconds_mean": [20.0, 40.0, 10.0, 0.0], "is_reference": [False] * 3 + [True],
                      "hagan_rmse_bp": 30.0, "noise_floor_bp": 2.0,
                      "hf_cpu_seconds_mean": [10.0, 40.0, 10.0, np.nan],
                      "n_hf_thetas_mean": [100.0, 350.0, 100.0, np.nan]})
    cb = cost_benefit(s).set_index(["model_type", "budget"])
    assert cb.loc[("A", 400), "cost_seconds"] == pytest.approx(80.0)     # 40 CPU-s + 40 s
    assert cb.pareto.to_dict() == {("B", 100): True, ("A", 100): True, ("A", 400): True}
    # the HF runs dominate: B's cheaper training no longer buys it a place on the front
    s["hf_cpu_seconds_mean"] = [100.0, 400.0, 125.0, np.nan]
    cb2 = cost_benefit(s).set_index(["model_type", "budget"])
    assert cb2.loc[("A", 400), "cost_seconds"] == 440.0 and cb2.loc[("B", 100), "cost_seconds"] == 135.0
    assert cb2.pareto.to_dict() == {("A", 100): True, ("B", 100): False, ("A", 400): True}
    # a cell without recorded HF CPU-seconds has no cost: off the front, noted
    s.loc[0, "hf_cpu_seconds_mean"] = np.nan
    cb3 = cost_benefit(s).set_index(["model_type", "budget"])
    assert np.isnan(cb3.loc[("A", 100), "cost_seconds"]) and not cb3.loc[("A", 100), "pareto"]
    assert "not recorded" in cb3.loc[("A", 100), "note"] and cb3.loc[("A", 400), "note"] == ""


def test_rankings_when_one_model_always_wins():
    logs = {}
    for b, base in ((100, 5.0), (200, 4.0)):
        for m, off in (("a", 0.0), ("b", 0.5), ("c", 1.0)):
            logs[(m, b)] = [base + off + 0.1 * s for s in range(5)]
    df = frame_from_logs(logs)
    per, overall = rank_models(df, n_boot=200, rng=np.random.default_rng(0))
    a = per[per.model_type == "a"]
    assert (a["rank"] == 1).all() and (a.p_rank1 == 1.0).all()
    assert (per[per.model_type != "a"].p_rank1 == 0.0).all()
    assert overall.set_index("model_type").mean_rank.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    f = friedman_test(df)
    # blocks are budgets: ranks (1, 2, 3) in both n = 2 blocks: chi2 = 12/(n k (k+1)) sum R^2
    # - 3 n (k+1) = 2n = 4, and a chi-square with 2 df has survival exp(-x/2)
    assert f["n_blocks"] == 2 and f["blocks"] == "budget" and f["statistic"] == pytest.approx(4.0)
    assert f["pvalue"] == pytest.approx(math.exp(-2.0))
    assert f["mean_rank_in_blocks"] == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_friedman_uses_only_complete_blocks():
    # budget 100: a's failed-partner seed 2 would make a worst; only seeds 0, 1 are complete
    logs = {("a", 100): [5.0, 5.0, 9.0], ("b", 100): [5.5, 5.5, 5.5], ("c", 100): [6.0, 6.0, 6.0]}
    logs.update({(m, 200): [4.0 + off] * 3 for m, off in (("a", 0), ("b", 1), ("c", 2))})
    df = frame_from_logs(logs)
    df.loc[(df.model_type == "c") & (df.seed == 2) & (df.budget == 100), "status"] = "failed"
    f = friedman_test(df)
    assert f["n_blocks"] == 2 and f["statistic"] == pytest.approx(4.0)   # 2n with n = 2 budgets
    assert f["mean_rank_in_blocks"] == {"a": 1.0, "b": 2.0, "c": 3.0}
    one = friedman_test(df[df.budget == 100])
    assert math.isnan(one["statistic"]) and ">= 2 budgets" in one["note"]


def test_sabr_stats_imports_no_prefect_or_tensorflow():
    code = ("import sys, sabr.analysis.statistics, sabr.analysis.studies.budget; bad = [m for m in ('prefect', 'tensorflow', 'keras') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_failing_table_becomes_a_note(monkeypatch):
    import sabr.analysis.studies.budget as st

    def boom(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(st, "scaling_table", boom)
    out = analyse(frame_from_logs({("A", 100): [4.0, 4.2], ("A", 200): [3.0, 3.1]}), n_boot=10)
    assert out["scaling"] == [] and "scaling failed: RuntimeError: boom" in out["notes"]
    assert out["summary"] and "no fit" in out["efficiency"][0]["fit_flag"]
