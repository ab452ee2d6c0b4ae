"""The figures of sabr.analysis.plots inspected before saving (issue 39, item 5): every line,
band, marker set and bar set has a legend entry saying what it is, seed intervals from
fewer than 3 seeds say they are uninformative, log axes carry plain numbers, and the
cost-benefit figure puts one quantity on each axis (HF CPU-seconds and training seconds
apart, never their sum)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from figure_checks import PLAIN, legend_gaps, legend_texts, plain_log_axis_problems, tick_labels
from stats_frames import cell

from sabr.analysis import plots
from sabr.analysis.studies.budget import analyse

MODELS = {"mda_cnn": 300.0, "residual_mlp": 400.0, "direct_mlp": 900.0}
BUDGETS = (50, 100, 200, 500)


def _frame(seeds: int) -> pd.DataFrame:
    """Cells with MSE ~ a n^-0.8 and seed noise, region errors, HF CPU-seconds and training time."""
    rng = np.random.default_rng(3)
    rows = []
    for b in BUDGETS:
        for m, scale in MODELS.items():
            for s in range(seeds):
                rmse = scale * (b / 50) ** -0.4 * math.exp(rng.normal(0, 0.3))
                rows.append(cell(m, b, s, rmse ** 2, hagan_rmse_bp=1000.0, noise_floor_bp=15.0,
                                 rmse_bp_ATM=0.7 * rmse, rmse_bp_ITM=1.2 * rmse, rmse_bp_OTM=rmse,
                                 hagan_rmse_bp_ATM=800.0, hagan_rmse_bp_ITM=1200.0,
                                 hagan_rmse_bp_OTM=1000.0, n_hf_thetas=min(b, 85),
                                 hf_cpu_seconds=0.9 * min(b, 85) + s,
                                 train_seconds=3.0 + len(m) / 10 + b / 400))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module", params=[2, 4], ids=["2 seeds", "4 seeds"])
def run(request):
    df = _frame(request.param)
    return request.param, df, analyse(df, n_boot=50, rng=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _model_lines(ax):
    """The drawn lines of ax with data, markers on (the models' points)."""
    return [ln for ln in ax.lines if ln.get_marker() not in ("None", None, "") and
            not ln.get_label().startswith("_")]


# ------------------------------------------------------------------ helpers

@pytest.mark.parametrize("lo, hi, expect", [
    (17.0, 3300.0, [20, 50, 100, 200, 500, 1000, 2000]),
    (1.6, 5.1, [2, 3, 5]),                         # 1-2-5 gives two: 1-2-3-5
    (5.3, 11.1, [6, 7, 8, 9, 10]),                 # under a factor of 2.1: 1..9
    (0.01, 2e4, [0.01, 0.1, 1, 10, 100, 1000, 10000]),   # over 3.5 decades: powers of ten
])
def test_log_ticks_give_at_least_three_plain_values(lo, hi, expect):
    ticks = plots.log_ticks(lo, hi)
    assert ticks == pytest.approx(expect)
    assert all(PLAIN.match(plots.plain_number(t)) for t in ticks)


def test_a_narrow_log_range_still_gets_labelled_ticks():
    ticks = plots.log_ticks(101.0, 131.0)          # no 1..9 x 10^k inside but 130? none of 1-2-5
    assert len(ticks) >= 2 and all(101 <= t <= 131 for t in ticks)
    assert [plots.plain_number(t) for t in ticks] == [str(int(t)) for t in ticks]
    assert plots.log_ticks(5.0, 5.0) == [] and plots.log_ticks(-1.0, 5.0) == []


def test_seed_interval_label_flags_few_seeds():
    assert plots.seed_interval_label(2) == "95 % seed interval (2 seeds: uninformative)"
    assert plots.seed_interval_label(1, 0.9) == "90 % seed interval (1 seed: uninformative)"
    assert plots.seed_interval_label(3) == "95 % seed interval (3 seeds)"


# ------------------------------------------------------------------ the figures

def test_rmse_vs_budget_names_every_band_and_line(run):
    seeds, _, a = run
    fig = plots.rmse_vs_budget_figure(pd.DataFrame(a["summary"]), pd.DataFrame(a["scaling"]))
    ax = fig.axes[0]
    assert legend_gaps(fig) == []
    bands = [c for c in ax.collections if not c.get_label().startswith("_")]
    assert len(bands) == len(MODELS)                 # one shaded seed interval per model
    shown = legend_texts(fig)
    for m in MODELS:
        band = f"{m}: 95 % seed interval ({seeds} seeds" + (": uninformative" if seeds < 3 else ")")
        assert any(t.startswith(band) for t in shown), shown
        assert any(t.startswith(f"{m}: power-law fit") for t in shown)
    assert {plots.HAGAN, plots.NOISE_FLOOR} <= shown
    assert ("uninformative" in " ".join(shown)) == (seeds < 3)
    if seeds < 3:              # huge bands do not set the scale: means and references do
        means = pd.DataFrame(a["summary"]).rmse_bp_gmean.dropna()
        lo, hi = ax.get_ylim()
        assert lo >= 15.0 / 1.6 - 1e-9 and hi <= max(means.max(), 1000.0) * 1.6 + 1e-9
        assert any(t.endswith("cut at the edge)") for t in shown)
    assert tick_labels(ax, "x")[0] == [str(b) for b in BUDGETS]      # the budgets run, plain
    assert plain_log_axis_problems(ax, "x") == [] and plain_log_axis_problems(ax, "y") == []
    assert "bp" in ax.get_ylabel() and "HF points" in ax.get_xlabel()


def test_region_errors_legend_and_plain_ticks(run):
    _, df, _ = run
    fig = plots.region_errors_figure(df)
    assert legend_gaps(fig) == []
    assert {plots.HAGAN, plots.NOISE_FLOOR} <= legend_texts(fig)
    for ax in fig.axes:
        assert tick_labels(ax, "x")[0] == [str(b) for b in BUDGETS]
        assert plain_log_axis_problems(ax, "y") == []


def test_cost_benefit_puts_one_quantity_on_each_axis(run):
    """Left: HF Monte Carlo CPU-seconds; right: training seconds; the points are those
    columns themselves, not cost_seconds (their sum)."""
    _, _, a = run
    cost = pd.DataFrame(a["cost_benefit"])
    fig = plots.cost_benefit_figure(cost)
    hf_ax, train_ax = fig.axes[:2]
    assert "CPU-seconds" in hf_ax.get_xlabel() and "training" not in hf_ax.get_xlabel()
    assert "training" in train_ax.get_xlabel() and "CPU" not in train_ax.get_xlabel()
    for ax in (hf_ax, train_ax):
        assert "+" not in ax.get_xlabel() and " and " not in ax.get_xlabel()
        assert plain_log_axis_problems(ax, "x") == [] and plain_log_axis_problems(ax, "y") == []
    assert hf_ax.get_ylabel() == "test RMSE (bp)"
    for ax, col in ((hf_ax, "hf_cpu_seconds"), (train_ax, "train_seconds_mean")):
        for line in _model_lines(ax):
            model = line.get_label().split(" ")[0]
            want = cost[cost.model_type == model].sort_values("budget")
            assert line.get_xdata() == pytest.approx(want[col].to_numpy())
            assert line.get_ydata() == pytest.approx(want.rmse_bp_mean.to_numpy())
        assert len(_model_lines(ax)) == len(MODELS)
    assert legend_gaps(fig) == []
    assert {plots.HAGAN, plots.NOISE_FLOOR} <= legend_texts(fig)


def _curves(n: int) -> pd.DataFrame:
    rows = []
    for alloc, budgets in (("surfaces", ("5%", "10%")), ("spread (points)", ("b=200", "b=1000"))):
        for i, b in enumerate(budgets):
            cpu = (80.0, 160.0)[i] * (1 if alloc == "surfaces" else 10)
            rmse = 100.0 / math.sqrt(cpu / 80)
            rows.append({"model_type": "mda_cnn", "allocation": alloc, "budget": b, "n": n,
                         "hf_cpu_seconds": cpu, "rmse_bp": rmse, "rmse_bp_lo": rmse / 3,
                         "rmse_bp_hi": rmse * 3, "hagan_rmse_bp": 300.0, "noise_floor_bp": 5.0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n", [2, 5])
def test_cost_curves_name_the_bars_and_the_budgets(n):
    fig = plots.cost_curves_figure(_curves(n), "spread (points)")
    ax = fig.axes[0]
    assert legend_gaps(fig) == []
    shown = legend_texts(fig)
    assert any(t.startswith("surfaces; bars: 95 % seed interval") for t in shown)
    assert any("uninformative" in t for t in shown) == (n < 3)
    assert {plots.HAGAN, plots.NOISE_FLOOR} <= shown
    assert {t.get_text() for t in ax.texts} == {"200 pts", "1000 pts"}
    assert plain_log_axis_problems(ax, "x") == [] and plain_log_axis_problems(ax, "y") == []


def _dataset_and_cells(tmp_path):
    """A 3-theta, 2-maturity, 5-strike data set and one cell per (model, budget) with its
    predictions.npz (test theta 2)."""
    shape = (3, 2, 5)
    hf = np.full(shape, 0.2) + np.linspace(0, 0.05, 5)
    ds = SimpleNamespace(shape=shape, test_thetas=np.array([2]), maturities=np.array([1.0, 2.0]),
                         strikes=np.tile(np.linspace(0.5, 1.5, 5), (3, 2, 1)), hf=hf,
                         hf_se=np.full(shape, 1e-3), lf=hf + 0.01,
                         thetas=np.array([[0.2, 0.5, 0.4, -0.3]] * 3))
    pts = np.arange(2 * 10, 3 * 10)                   # theta 2's points
    rows = []
    for i, (m, b) in enumerate([(m, b) for m in ("mda_cnn", "direct_mlp") for b in (50, 200)]):
        d = tmp_path / f"exp_{i}"
        d.mkdir()
        np.savez(d / "predictions.npz", points=pts, sigma=hf.ravel()[pts] + 0.001 * (i + 1))
        rows.append({"model_type": m, "budget": b, "seed": 0, "status": "ok", "exp_dir": d.name})
    return ds, pd.DataFrame(rows)


def test_smiles_and_heatmap_are_labelled(tmp_path):
    ds, df = _dataset_and_cells(tmp_path)
    fig = plots.example_smiles_figure(ds, df, tmp_path)
    assert legend_gaps(fig) == []
    assert {plots.HAGAN, "mda_cnn (seed 0)"} <= legend_texts(fig)
    heat = plots.error_heatmap_figure(ds, df, "mda_cnn", 200, tmp_path)
    ax = heat.axes[0]
    assert all(t.isdigit() for t in tick_labels(ax, "x")[0])        # strike indices: integers
    assert tick_labels(ax, "y")[0] == ["1", "2"] and "years" in ax.get_ylabel()


def test_make_all_plots_writes_pngs(run, tmp_path):
    _, df, a = run
    paths = plots.make_all_plots(a, df, tmp_path)
    assert [p.name for p in paths] == ["rmse_vs_budget.png", "region_errors.png",
                                       "cost_benefit.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []                   # the wrappers close what they draw


def test_one_budget_one_seed_draws_labelled_figures():
    """A one-budget, one-seed run: no interval to shade, the single budget labelled, every
    log axis still with plain labelled ticks."""
    df = _frame(1)
    df = df[df.budget == 200]
    a = analyse(df, n_boot=20, rng=0)
    fig = plots.rmse_vs_budget_figure(pd.DataFrame(a["summary"]), pd.DataFrame(a["scaling"]))
    ax = fig.axes[0]
    assert legend_gaps(fig) == [] and not [c for c in ax.collections if c.get_label()[0] != "_"]
    assert tick_labels(ax, "x")[0] == ["200"]
    assert plain_log_axis_problems(ax, "y") == []
    assert any(t.endswith("geometric mean over 1 seed") for t in legend_texts(fig))
    cost = plots.cost_benefit_figure(pd.DataFrame(a["cost_benefit"]))
    assert legend_gaps(cost) == []
    for ax in cost.axes[:2]:
        assert plain_log_axis_problems(ax, "x") == [] and plain_log_axis_problems(ax, "y") == []
