"""The ensemble calibration report (sabr.analysis.studies.calibration) on a synthetic results frame:
table rows and means, the seed interval, the 85-95 % verdict, the files written."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from figure_checks import legend_gaps, legend_texts
from sabr.analysis.studies.calibration import (TABLE_COLUMNS, calibration_markdown, calibration_table,
                                       plot_reliability, reliability_figure, write_calibration)
from sabr.analysis.statistics.compare import FLOOR_WORDS
from sabr.learning.calibration import CALIBRATION_COLUMNS, RELIABILITY_LEVELS, reliability_key

SCALE = {"mda_cnn": 1.0, "direct_mlp": 2.0}     # true error / predictive sd (2: overconfident)


def _row(model, budget, seed, rng, status="ok", ensemble=True) -> dict:
    """One cell; its observed coverage at level p is P(|Z| < z_p / scale) plus seed noise."""
    row = {"model_type": model, "budget": budget, "seed": seed, "status": status,
           "rmse_bp": 40.0 * SCALE.get(model, 1.0) + rng.normal(0, 2), "mse_bp2": 1600.0,
           "hagan_rmse_bp": 300.0 + seed, "noise_floor_bp": 5.0 + 0.1 * seed}
    if not ensemble:
        return row
    scale = SCALE[model]
    noise = rng.normal(0, 0.01)
    for p in RELIABILITY_LEVELS:
        row[reliability_key(p)] = float(np.clip(
            2 * stats.norm.cdf(stats.norm.ppf(0.5 + p / 2) / scale) - 1 + noise, 0, 1))
    row.update(ensemble_size=5, ens_spread_bp=30.0 / scale + rng.normal(0, 1),
               coverage_50=row["reliability_50"], coverage_90=row["reliability_90"],
               width_50_bp=40.0 / scale, width_90_bp=98.0 / scale + rng.normal(0, 1),
               nll=4.0 + scale + rng.normal(0, 0.05))
    return row


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = [_row(m, b, s, rng) for m in SCALE for b in (200, 1000) for s in range(3)]
    rows += [_row("residual_mlp", b, s, rng, ensemble=False) for b in (200, 1000) for s in range(3)]
    failed = _row("mda_cnn", 200, 3, rng, status="failed")
    failed.update(coverage_90=0.0, coverage_50=0.0, nll=99.0, rmse_bp=1e4)
    rows.append(failed)
    return pd.DataFrame(rows)


def _ok_ensembles(frame):
    return frame[(frame.status == "ok") & frame.ensemble_size.notna()]


def test_table_has_one_row_per_ensemble_model_and_budget(frame):
    t = calibration_table(frame)
    assert list(t.columns) == TABLE_COLUMNS
    assert list(zip(t.model_type, t.budget)) == [("direct_mlp", 200), ("direct_mlp", 1000),
                                                 ("mda_cnn", 200), ("mda_cnn", 1000)]
    assert "residual_mlp" not in set(t.model_type)            # no ensemble_size: not an ensemble
    assert (t.n_seeds == 3).all() and (t.ensemble_size == 5).all()   # the failed seed 3 left out


def test_table_means_are_the_ok_cells_means(frame):
    t = calibration_table(frame).set_index(["model_type", "budget"])
    want = _ok_ensembles(frame).groupby(["model_type", "budget"])[
        ["rmse_bp", "coverage_50", "coverage_90", "width_90_bp", "nll", "hagan_rmse_bp",
         "noise_floor_bp"]].mean()
    for col in want.columns:
        np.testing.assert_allclose(t.loc[want.index, col].to_numpy(float), want[col].to_numpy(),
                                   rtol=1e-12, err_msg=col)


def test_coverage_interval_is_the_t_interval_over_seeds(frame):
    t = calibration_table(frame)
    ok = _ok_ensembles(frame)
    for r in t.itertuples():
        v = ok[(ok.model_type == r.model_type) & (ok.budget == r.budget)].coverage_90.to_numpy()
        half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
        assert r.coverage_90_lo < r.coverage_90 < r.coverage_90_hi
        assert r.coverage_90_lo == pytest.approx(max(v.mean() - half, 0.0), abs=1e-9)
        assert r.coverage_90_hi == pytest.approx(min(v.mean() + half, 1.0), abs=1e-9)


def test_one_seed_has_no_interval_and_labels_sort_after_points(frame):
    rng = np.random.default_rng(3)
    rows = [_row("mda_cnn", b, 0, rng) for b in ("surfaces@5%", "1000", 200.0)]
    t = calibration_table(pd.DataFrame(rows))
    assert list(t.budget) == [200, 1000, "surfaces@5%"]       # '1000' and 200.0 read as points
    assert t.coverage_90_lo.isna().all() and t.coverage_90_hi.isna().all()
    assert t.coverage_90.notna().all()


def test_no_ensemble_cells_give_empty_outputs(frame, tmp_path):
    plain = frame[frame.model_type == "residual_mlp"]           # ensemble_size NaN
    assert "ensemble_size" in plain
    for df in (plain, plain.drop(columns=list(CALIBRATION_COLUMNS)), frame.assign(status="failed"),
               pd.DataFrame()):
        t = calibration_table(df)
        assert t.empty and list(t.columns) == TABLE_COLUMNS
        assert calibration_markdown(t) == ""
        assert write_calibration(df, tmp_path) == {}
        assert plot_reliability(df, tmp_path / "r.png") is None
        assert reliability_figure(df) is None
    assert list(tmp_path.iterdir()) == []


def test_markdown_table_and_verdict(frame):
    t = calibration_table(frame)
    md = calibration_markdown(t)
    assert md.startswith("## Ensemble calibration")
    for r in t.itertuples():                                  # coverage shown as percentages
        assert f"| {r.model_type} | {r.budget} | 3 | 5 |" in md
        assert f"{100 * r.coverage_90:.1f} %" in md and f"{100 * r.coverage_50:.1f} %" in md
    assert 0.85 <= t[t.model_type == "mda_cnn"].coverage_90.min()
    assert t[t.model_type == "direct_mlp"].coverage_90.max() < 0.85
    verdict = md.strip().splitlines()[-1]
    assert "cover 85-95 % of test points" in verdict
    assert "mda_cnn: yes" in verdict and "every budget" in verdict
    assert "direct_mlp: no" in verdict and verdict.count("too narrow") == 2
    assert "too wide" not in verdict and "residual_mlp" not in md
    assert "| 301.0 |" in md                                 # Hagan beside the errors (mean of 300-302)
    assert f"MC noise floor ({FLOOR_WORDS}): 5.1 bp." in md


def test_verdict_names_only_the_budget_outside(frame):
    df = frame.copy()
    hit = (df.model_type == "mda_cnn") & (df.budget == 1000) & (df.status == "ok")
    df.loc[hit, "coverage_90"] = [0.97, 0.98, 0.99]
    verdict = calibration_markdown(calibration_table(df)).strip().splitlines()[-1]
    assert "mda_cnn: no (1000: 98 % [96 %, 100 %] too wide)" in verdict


def test_the_verdict_judges_the_seed_interval_not_the_mean(frame):
    """A mean inside 85-95 % whose interval reaches outside is not 'yes' (issue 38): nor is
    a budget with one seed; the same mean with a tight interval is."""
    df = frame[frame.model_type == "mda_cnn"].copy()
    top = (df.budget == 1000) & (df.status == "ok")
    df.loc[top, "coverage_90"] = [0.80, 0.90, 0.99]            # mean 0.90, interval wide
    verdict = calibration_markdown(calibration_table(df)).strip().splitlines()[-1]
    assert "mda_cnn: undetermined (1000: 90 % [" in verdict and "yes" not in verdict
    df.loc[top, "coverage_90"] = [0.89, 0.90, 0.91]
    verdict = calibration_markdown(calibration_table(df)).strip().splitlines()[-1]
    assert "mda_cnn: yes (" in verdict and "every seed interval inside" in verdict
    one = df[(df.seed == 0) | (df.budget == 200)]
    verdict = calibration_markdown(calibration_table(one)).strip().splitlines()[-1]
    assert "mda_cnn: undetermined (1000: " in verdict and "one seed: no interval" in verdict


def test_write_calibration_writes_the_table_and_a_png(frame, tmp_path):
    files = write_calibration(frame, tmp_path / "out")
    assert set(files) == {"calibration", "reliability"}
    csv = tmp_path / "out" / "analysis" / "calibration.csv"
    png = tmp_path / "out" / "plots" / "reliability.png"
    assert files == {"calibration": str(csv), "reliability": str(png)}
    back = pd.read_csv(csv)
    pd.testing.assert_frame_equal(back, calibration_table(frame), check_dtype=False)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # the table read back from the CSV gives the same report
    assert calibration_markdown(back) == calibration_markdown(calibration_table(frame))


def test_reliability_figure_names_every_line(frame):
    """Every line of the diagram (diagonal, target bar, one per model) is in the legend with
    what it is: the budget in HF points and the number of cells averaged."""
    import matplotlib.pyplot as plt
    fig = reliability_figure(frame)
    try:
        assert legend_gaps(fig) == []
        shown = legend_texts(fig)
        assert "calibrated (observed = nominal)" in shown and "target at 90 %: 85-95 %" in shown
        assert {"mda_cnn at 1000 HF points (3 cells)",
                "direct_mlp at 1000 HF points (3 cells)"} <= shown, shown
        ax = fig.axes[0]
        assert "nominal coverage" in ax.get_xlabel() and "observed coverage" in ax.get_ylabel()
    finally:
        plt.close(fig)
