"""ResultsAggregator over a synthetic output folder: files, valid JSON, plots, markdown, API."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sabr.analysis.aggregator import ResultsAggregator, create_results_aggregator, relative_improvements

MODELS = {"mda_cnn": 300.0, "residual_mlp": 400.0, "direct_mlp": 900.0}


def _write_cells(out, *, seeds=4, budgets=(50, 100, 200, 400), fail=None):
    rng = np.random.default_rng(1)
    i = 0
    for b in budgets:
        for m, scale in MODELS.items():
            for s in range(seeds):
                i += 1
                rmse = scale * (b / 50.0) ** -0.4 * math.exp(rng.normal(0, 0.05))
                cell = {"budget": b, "model_type": m, "seed": s, "status": "ok", "reason": None,
                        "rmse_bp": rmse, "mse_bp2": rmse ** 2, "mae_bp": 0.8 * rmse,
                        "max_abs_bp": 4 * rmse, "mean_rel_err": rmse / 2500,
                        "rmse_bp_ATM": 0.7 * rmse, "rmse_bp_ITM": 1.2 * rmse, "rmse_bp_OTM": rmse,
                        "hagan_rmse_bp": 1000.0, "hagan_mae_bp": 700.0, "hagan_rmse_bp_ATM": 800.0,
                        "hagan_rmse_bp_ITM": 1200.0, "hagan_rmse_bp_OTM": 1000.0,
                        "noise_floor_bp": 15.0, "train_seconds": 1.0 + b / 100,
                        "n_hf_thetas": min(b, 85), "hf_cpu_seconds": 0.9 * min(b, 85) + s,
                        "epochs_run": 10, "n_params": 1000, "train_hash": f"b{b}s{s}",
                        "test_hash": "t", "dataset_hash": "d"}
                if fail == (b, m, s):
                    cell.update(status="failed", reason="diverged", rmse_bp=float("nan"),
                                mse_bp2=float("nan"))
                d = out / f"exp_{i:04d}"
                d.mkdir(parents=True)
                (d / "metrics.json").write_text(json.dumps(cell).replace("NaN", "null"))


def test_write_all_produces_the_seed_files(tmp_path):
    _write_cells(tmp_path, fail=(100, "direct_mlp", 2))
    agg = ResultsAggregator(tmp_path, n_boot=300)
    written = agg.write_all()
    for f in ("detailed_results.csv", "summary_statistics.csv", "statistical_analysis.json",
              "performance_vs_budget.csv", "analysis/performance_summary.csv",
              "analysis/model_rankings.json", "analysis/efficiency_analysis.json",
              "analysis/relative_improvements.csv", "analysis/model_comparisons.csv"):
        assert (tmp_path / f).is_file(), f
    for f in ("statistical_analysis.json", "analysis/model_rankings.json",
              "analysis/efficiency_analysis.json"):
        text = (tmp_path / f).read_text()
        assert "NaN" not in text and "Infinity" not in text
        json.loads(text)
    assert len(written["plots"]) == 3                 # no data set: no smile, no heatmap
    cb = agg.analysis()["cost_benefit"]               # the cells' own HF CPU-seconds
    row = next(r for r in cb if r["model_type"] == "mda_cnn" and r["budget"] == 50)
    assert row["hf_cpu_seconds"] == pytest.approx(0.9 * 50 + 1.5)          # seeds 0..3
    assert row["cost_seconds"] == pytest.approx(0.9 * 50 + 1.5 + 1.5)
    assert "hf_cpu_seconds_mean" in pd.read_csv(tmp_path / "summary_statistics.csv").columns
    for p in written["plots"]:
        data = open(p, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    md = written["markdown"]
    assert "## Best model per budget" in md and "| b=400 | mda_cnn |" in md
    assert "## Scaling: MSE ~ b^-γ" in md and "direct_mlp b=100 s=2 (failed)" in md
    assert "## Test RMSE per model and budget" in md and "| mda_cnn | b=400 | 4 |" in md
    assert "hyperparameters tuned per (model, budget)" in md
    assert "seed bootstrap (descriptive, few clusters)" in md and "lack-of-fit p" in md
    import re                                                 # best, runner-up, wins, sign test
    assert re.search(r"\| b=400 \| mda_cnn \| \w+ \| [0-4]/4 \| [0-9.]+ \|", md), md


def test_api_of_the_seed(tmp_path):
    _write_cells(tmp_path)
    agg = create_results_aggregator(tmp_path, n_boot=300)
    perf = agg.get_performance_summary()
    row = perf[(perf.model_type == "mda_cnn") & (perf.budget == 50)].iloc[0]
    assert row.n == 4 and row.rmse_bp_lo < row.rmse_bp_gmean < row.rmse_bp_hi
    assert 250 < row.rmse_bp_gmean < 350
    ranks = agg.rank_models_by_budget()
    assert (ranks[ranks["rank"] == 1].model_type == "mda_cnn").all()
    ab, ba = agg.compare_models("mda_cnn", "direct_mlp"), agg.compare_models("direct_mlp", "mda_cnn")
    assert len(ab) == len(ba) == 4
    np.testing.assert_allclose(ab.rmse_ratio * ba.rmse_ratio, 1.0)
    np.testing.assert_allclose(ab.p_holm, ba.p_holm)
    np.testing.assert_allclose(ab.t, -ba.t)
    assert set(ab.verdict) == {"A better"} and set(ba.verdict) == {"B better"}
    assert (ab.rmse_ratio < 0.5).all()


def test_relative_improvements_by_hand():
    summary = pd.DataFrame({
        "model_type": ["mda_cnn", "mda_cnn", "direct_mlp", "direct_mlp", "hagan"],
        "budget": [50, 100, 50, 100, 50], "n": [3, 3, 3, 3, 0],
        "rmse_bp_gmean": [200.0, 100.0, 400.0, 250.0, 1000.0],
        "hagan_rmse_bp": [1000.0] * 5, "noise_floor_bp": [15.0] * 5,
        "is_reference": [False, False, False, False, True]})
    r = relative_improvements(summary).set_index(["model_type", "budget"])
    assert r.loc[("mda_cnn", 50), "vs_hagan"] == pytest.approx(0.8)
    assert r.loc[("mda_cnn", 100), "vs_direct_mlp"] == pytest.approx(0.6)
    assert r.loc[("mda_cnn", 100), "vs_previous_budget"] == pytest.approx(0.5)
    assert math.isnan(r.loc[("mda_cnn", 50), "vs_previous_budget"])


def test_missing_cells_from_run_status_stay_listed(tmp_path):
    _write_cells(tmp_path, seeds=2, budgets=(50, 100))
    (tmp_path / "run_status.json").write_text(json.dumps({"not_ok": [
        {"budget": 100, "model_type": "mda_cnn", "seed": 5, "status": "missing", "reason": "x"}]}))
    agg = ResultsAggregator(tmp_path, n_boot=100)
    miss = agg.df[agg.df.status == "missing"]
    assert miss[["budget", "model_type", "seed"]].values.tolist() == [[100, "mda_cnn", 5]]
    agg.write_all(plots=False)
