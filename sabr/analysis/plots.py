"""Figures of the budget analysis (matplotlib, Agg backend; PNG files).

Every figure that shows an error also shows the Hagan baseline and the Monte
Carlo noise floor. Inputs are the tables of sabr.analysis.studies.budget.analyse (lists of row
dicts) and, for the smile and heatmap, the data set and cells' predictions.

A figure is read without the code (issue 39): every line, marker set, bar set and shaded
band has a legend entry saying what it is; a seed interval from fewer than FEW_SEEDS seeds
says in its label that it is uninformative; log axes carry plain numbers (50, 200, 500;
20, 50, 100 bp) from fixed tick lists, never 10^k; every axis shows one quantity with its
unit. Each ``*_figure`` function returns the matplotlib Figure (for tests to inspect);
its ``plot_*`` wrapper saves it as a PNG and closes it.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import (FixedLocator, FuncFormatter, MaxNLocator,  # noqa: E402
                               NullFormatter, NullLocator)

from ..io import atomic_path  # noqa: E402
from ..numerics.grid import REGIONS  # noqa: E402
from .statistics.ranking import pareto_front  # noqa: E402

__all__ = ["FEW_SEEDS", "HAGAN", "NOISE_FLOOR", "plain_number", "log_ticks", "plain_log_axis",
           "seed_interval_label", "save_figure",
           "rmse_vs_budget_figure", "region_errors_figure", "cost_benefit_figure",
           "cost_curves_figure", "example_smiles_figure", "error_heatmap_figure",
           "plot_rmse_vs_budget", "plot_region_errors", "plot_cost_benefit", "plot_cost_curves",
           "plot_example_smiles", "plot_error_heatmap", "make_all_plots"]

FEW_SEEDS = 3
"""A seed interval from fewer seeds is drawn but labelled uninformative (with 2 seeds the t
quantile is 12.7: the band spans decades)."""
HAGAN = "Hagan (low fidelity)"
NOISE_FLOOR = "MC noise floor (test labels)"


# ---------------------------------------------------------------- shared pieces

def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (atomically) and close it; returns the path."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)   # layout="constrained": one draw, not two
    finally:
        plt.close(fig)
    return path


def plain_number(value: float, _pos=None) -> str:
    """A tick value as a plain number: 50, 200, 1000, 0.5 (no 10^k, no trailing zeros)."""
    if not np.isfinite(value):
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _decade_ticks(lo: float, hi: float, subs) -> list[float]:
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    ticks = (float(f"{s * 10.0 ** d:.12g}") for d in decades for s in subs)
    return [t for t in ticks if lo <= t <= hi]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Plain tick values inside [lo, hi] for a log axis.

    Powers of ten over more than 3.5 decades; else 1-2-5 per decade, or 1-2-3-5, or 1..9,
    the first that gives at least three ticks; a range narrower than that gets 'nice'
    linear values (MaxNLocator), so that a narrow range still has labelled ticks.
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return []
    if hi / lo > 10 ** 3.5:
        return _decade_ticks(lo, hi, (1,))
    for subs in ((1, 2, 5), (1, 2, 3, 5), range(1, 10)):
        ticks = _decade_ticks(lo, hi, subs)
        if len(ticks) >= 3:
            return ticks
    nice = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    return [float(f"{t:.12g}") for t in nice if lo <= t <= hi]


def plain_log_axis(ax, which: str, ticks=None, *, minor: bool = True) -> None:
    """Label the log ``which`` ('x' or 'y') axis of ``ax`` with plain numbers at ``ticks``
    (default: log_ticks of its current limits, so call it after the data are drawn);
    minor ticks unlabelled, or none with ``minor=False``."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    values = log_ticks(lo, hi) if ticks is None else sorted({float(t) for t in ticks})
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_formatter(NullFormatter())
    if not minor:
        axis.set_minor_locator(NullLocator())


def _budget_ticks(ax, budgets) -> None:
    """Label a log budget axis at the budgets themselves (50, 200, 500), not at powers of ten."""
    ticks = sorted({int(b) for b in budgets if np.isfinite(b)})
    if ticks:
        plain_log_axis(ax, "x", ticks, minor=False)


def _seeds(n) -> str:
    """'2 seeds', '1 seed', '3-5 seeds' for the seed counts ``n`` of a line's points."""
    n = [int(v) for v in n if np.isfinite(v)]
    lo, hi = (min(n), max(n)) if n else (0, 0)
    count = str(lo) if lo == hi else f"{lo}-{hi}"
    return f"{count} seed{'' if hi == 1 else 's'}"


def seed_interval_label(n_seeds: int, confidence: float = 0.95, *, cut: bool = False) -> str:
    """'95 % seed interval (4 seeds)', or '... (2 seeds: uninformative)' under FEW_SEEDS;
    ``cut``: it reaches past the plot's edge (see _fit_view)."""
    base = f"{100 * confidence:g} % seed interval"
    if n_seeds < FEW_SEEDS:
        return f"{base} ({_seeds([n_seeds])}: uninformative{', cut at the edge' if cut else ''})"
    return f"{base} ({_seeds([n_seeds])})"


def _interval_label(prefix: str, n_seeds: int, confidence: float, *, cut: bool = False) -> str:
    """``prefix`` + seed_interval_label: 'mda_cnn: 95 % seed interval (4 seeds)'."""
    return prefix + seed_interval_label(n_seeds, confidence, cut=cut)


def _fit_view(axes, levels, few: list[tuple]) -> None:
    """Keep uninformative seed intervals from setting the log y range.

    Where some interval from fewer than FEW_SEEDS seeds (``few``: (artist, lo values, hi
    values, label function of ``cut``)) reaches beyond ``levels`` (the drawn means and
    reference lines) by more than a factor 1.6, the y view of the shared ``axes`` is
    limited to the levels' range x/÷ 1.6, and each interval cut by it says so in its label.
    """
    v = np.asarray([x for x in levels if np.isfinite(x) and x > 0], float)
    if not few or not v.size:
        return
    lo, hi = axes[0].get_ylim()
    view = (max(lo, v.min() / 1.6), min(hi, v.max() * 1.6))
    if view == (lo, hi):
        return
    axes[0].set_ylim(*view)
    for artist, lows, highs, label in few:
        lows, highs = np.asarray(lows, float), np.asarray(highs, float)
        if not (np.isfinite(lows).any() or np.isfinite(highs).any()):
            continue                                  # one seed: no band to cut
        if np.nanmin(lows) < view[0] or np.nanmax(highs) > view[1]:
            artist.set_label(label(cut=True))


def _reference_lines(ax, hagan: pd.Series | None, floor: pd.Series | None) -> None:
    """The Hagan baseline and the MC noise floor as labelled horizontal lines (means)."""
    if hagan is not None and pd.to_numeric(hagan, errors="coerce").notna().any():
        ax.axhline(pd.to_numeric(hagan, errors="coerce").mean(), color="k", ls=":", lw=1.2,
                   label=HAGAN)
    if floor is not None and pd.to_numeric(floor, errors="coerce").notna().any():
        ax.axhline(pd.to_numeric(floor, errors="coerce").mean(), color="grey", ls="-.", lw=1.2,
                   label=NOISE_FLOOR)


def _is_reference(line) -> bool:
    """Whether ``line`` is one of _reference_lines' (Hagan, noise floor)."""
    return line.get_label() in (HAGAN, NOISE_FLOOR)


def _figure_legend(fig, axes, **kw) -> None:
    """One legend for the figure, right of the panels: every labelled artist of ``axes``,
    each label once."""
    handles, labels = {}, []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if labels:
        fig.legend([handles[lab] for lab in labels], labels, loc="outside right upper",
                   fontsize=7, **kw)


def _points_label(budget) -> str:
    """A point budget as the text beside its marker: 'b=50' or 50 -> '50 pts'."""
    text = str(budget)
    text = text[2:] if text.startswith("b=") else text
    try:
        return f"{plain_number(float(text))} pts"
    except ValueError:
        return text


# ---------------------------------------------------------------- the figures

def rmse_vs_budget_figure(summary: pd.DataFrame, scaling: pd.DataFrame, *,
                          confidence: float = 0.95) -> Figure:
    """Test RMSE (geometric mean over seeds with its seed t interval shaded) vs HF budget,
    log-log, with each model's power-law fit, the Hagan baseline and the MC noise floor."""
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    ax.set(xscale="log", yscale="log")
    models = summary[~summary.is_reference]
    levels, few = [], []
    for model, g in models.groupby("model_type"):
        g = g[g.n > 0].sort_values("budget")
        if g.empty:
            continue
        line, = ax.plot(g.budget, g.rmse_bp_gmean, "o-",
                        label=f"{model}: geometric mean over {_seeds(g.n)}")
        levels += list(g.rmse_bp_gmean)
        band = g[np.isfinite(g.rmse_bp_lo) & np.isfinite(g.rmse_bp_hi)]
        if len(band):
            n_min = int(band.n.min())
            label = partial(_interval_label, f"{model}: ", n_min, confidence)
            poly = ax.fill_between(band.budget, band.rmse_bp_lo, band.rmse_bp_hi,
                                   color=line.get_color(), alpha=0.07 if n_min < FEW_SEEDS else 0.15,
                                   lw=0, label=label())
            if n_min < FEW_SEEDS:
                few.append((poly, band.rmse_bp_lo, band.rmse_bp_hi, label))
        fit = scaling[scaling.model_type == model] if "model_type" in scaling else scaling
        if len(fit) and np.isfinite(fit.b.iloc[0]):
            n = np.geomspace(g.budget.min(), g.budget.max(), 50)
            ax.plot(n, np.sqrt(np.exp(fit.log_a.iloc[0]) * n ** (-fit.b.iloc[0])), "--",
                    color=line.get_color(), lw=1,
                    label=f"{model}: power-law fit, MSE ∝ b^-γ, γ = {fit.b.iloc[0]:.2f}")
    ref = summary[summary.is_reference]
    _reference_lines(ax, ref.hagan_rmse_bp if len(ref) else None, summary.noise_floor_bp)
    _fit_view([ax], levels + [ln.get_ydata()[0] for ln in ax.lines if _is_reference(ln)], few)
    ax.set(xlabel="HF budget N (HF points, validation included)",
           ylabel="test RMSE (bp)", title="Accuracy vs high-fidelity budget")
    _budget_ticks(ax, summary.budget)
    plain_log_axis(ax, "y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def region_errors_figure(df: pd.DataFrame) -> Figure:
    """Mean test RMSE per moneyness region (ITM / ATM / OTM) by budget, one panel per region,
    with the region's Hagan baseline and noise floor; one legend for the panels."""
    ok = df[df.status == "ok"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True, layout="constrained")
    for ax, region in zip(axes, REGIONS):
        col = f"rmse_bp_{region}"
        if col in ok:
            for model, g in ok.groupby("model_type"):
                m = g.groupby("budget")[col].mean()
                ax.plot(m.index, m.values, "o-", label=f"{model} (mean over seeds)")
        hag = f"hagan_rmse_bp_{region}"
        floor = f"noise_floor_bp_{region}" if f"noise_floor_bp_{region}" in ok else "noise_floor_bp"
        _reference_lines(ax, ok[hag] if hag in ok else None, ok[floor] if floor in ok else None)
        ax.set(xscale="log", yscale="log", title=f"{region} strikes",
               xlabel="HF budget (HF points)")
        _budget_ticks(ax, ok.budget)
    plain_log_axis(axes[0], "y")
    axes[0].set_ylabel("test RMSE (bp)")
    _figure_legend(fig, axes)
    return fig


def cost_benefit_figure(cost: pd.DataFrame) -> Figure:
    """Test RMSE against each cost on its own axis: the HF Monte Carlo CPU-seconds of the
    cell's data (left) and its training time (right), never their sum; per panel the
    Pareto front in that cost, the Hagan baseline and the noise floor.

    Args:
        cost: sabr.analysis.statistics.ranking.cost_benefit output (hf_cpu_seconds:
            CPU-seconds of the distinct thetas' HF runs, sabr.data.costs; train_seconds_mean:
            wall-clock seconds of the fits; rmse_bp_mean in bp; means over seeds).
    """
    panels = (("hf_cpu_seconds", "HF Monte Carlo data (CPU-seconds per cell)", "HF data cost", "o-"),
              ("train_seconds_mean", "training time (wall-clock seconds per cell)",
               "training time", "o"))          # training time is not monotone in the budget: no lines
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True, layout="constrained")
    colours = {m: f"C{i}" for i, m in enumerate(sorted(cost.model_type.unique()))}
    rmse = pd.to_numeric(cost.rmse_bp_mean, errors="coerce")
    for ax, (col, xlabel, short, style) in zip(axes, panels):
        x = pd.to_numeric(cost[col], errors="coerce") if col in cost else rmse * np.nan
        data = cost.assign(x_cost=x, y_rmse=rmse)[np.isfinite(x) & np.isfinite(rmse)]
        for model, g in data.groupby("model_type"):
            g = g.sort_values("budget")
            ax.plot(g.x_cost, g.y_rmse, style, lw=0.8, color=colours[model],
                    label=f"{model} (mean over {_seeds(g.n)})")
            for r in g.itertuples():
                ax.annotate(plain_number(float(r.budget)), (r.x_cost, r.y_rmse), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        front = data[pareto_front(data.x_cost.to_numpy(float), data.y_rmse.to_numpy(float))]
        if len(front):
            front = front.sort_values("x_cost")
            ax.plot(front.x_cost, front.y_rmse, color="k", lw=4, alpha=0.18, zorder=0,
                    label=f"Pareto front in {short} (lowest RMSE at that cost)")
        _reference_lines(ax, cost.get("hagan_rmse_bp"), cost.get("noise_floor_bp"))
        ax.set(xscale="log", yscale="log", xlabel=xlabel, title=f"Accuracy vs {short}")
        if len(data):
            plain_log_axis(ax, "x")
    plain_log_axis(axes[0], "y")
    axes[0].set_ylabel("test RMSE (bp)")
    _figure_legend(fig, axes, title="numbers at markers:\nHF budget (HF points)", title_fontsize=7)
    return fig


def cost_curves_figure(curves: pd.DataFrame, point_design: str = "spread (points)", *,
                       confidence: float = 0.95) -> Figure:
    """Test RMSE against HF Monte Carlo CPU-seconds, one panel per model of the study, one
    line per allocation (seed t interval as bars), the seed design's point budgets as
    labelled markers on the same axes; the Hagan baseline and the noise floor as lines.

    Args:
        curves: sabr.analysis.studies.allocation.cost_curves output.
        point_design: the allocation name of the point budgets (allocation.POINT_DESIGN).
        confidence: the level of the curves' seed intervals.
    """
    studied = curves[curves.allocation != point_design].model_type.unique()
    models = sorted(studied) if len(studied) else sorted(curves.model_type.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 5.2), squeeze=False,
                             layout="constrained", sharey=True)
    levels, few = [], []
    for ax, model in zip(axes[0], models):
        ax.set(xscale="log", yscale="log", xlabel="HF Monte Carlo CPU-seconds", title=model)
        g = curves[curves.model_type == model]
        for allocation, h in g.groupby("allocation", sort=True):
            h = h.sort_values("hf_cpu_seconds")
            err = np.vstack([h.rmse_bp - h.rmse_bp_lo, h.rmse_bp_hi - h.rmse_bp]).clip(0)
            err = np.where(np.isfinite(err), err, 0.0)
            name = ("spread: HF point budgets (labelled)" if allocation == point_design
                    else str(allocation))
            n_min = int(h.n.min())
            label = partial(_interval_label, f"{name}; bars: ", n_min, confidence)
            style = (dict(fmt="ks", ms=5) if allocation == point_design
                     else dict(marker="o", ms=4))
            bars = ax.errorbar(h.hf_cpu_seconds, h.rmse_bp, yerr=err, capsize=2, label=label(),
                               **style)
            levels += list(h.rmse_bp)
            if n_min < FEW_SEEDS:
                few.append((bars, h.rmse_bp_lo, h.rmse_bp_hi, label))
            if allocation == point_design:
                for i, r in enumerate(h.itertuples()):   # alternate sides: close budgets
                    ax.annotate(_points_label(r.budget), (r.hf_cpu_seconds, r.rmse_bp),
                                fontsize=7, xytext=(6 if i % 2 == 0 else -6, 3),
                                ha="left" if i % 2 == 0 else "right", textcoords="offset points")
        _reference_lines(ax, g.hagan_rmse_bp, g.noise_floor_bp)
        levels += [ln.get_ydata()[0] for ln in ax.lines if _is_reference(ln)]
    _fit_view(axes[0], levels, few)
    for ax in axes[0]:
        plain_log_axis(ax, "x")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=1)
    plain_log_axis(axes[0][0], "y")
    axes[0][0].set_ylabel("test RMSE (bp), geometric mean over seeds")
    return fig


def _predictions(output_dir: Path, exp_dir: str):
    f = output_dir / exp_dir / "predictions.npz"
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        return dict(zip(z["points"].tolist(), z["sigma"]))


def example_smiles_figure(dataset, df: pd.DataFrame, output_dir: Path) -> Figure:
    """One test smile at the longest maturity: MC with 2 s.e. bars, Hagan, each model at the
    lowest and the highest budget (seed 0)."""
    ok = df[(df.status == "ok") & (df.seed == df.seed.min())]
    budgets = sorted(ok.budget.unique())
    picks = [budgets[0], budgets[-1]] if budgets else []
    theta = int(dataset.test_thetas[0])
    m = dataset.maturities.size - 1
    n_k = dataset.shape[2]
    pts = np.ravel_multi_index((np.full(n_k, theta), np.full(n_k, m), np.arange(n_k)), dataset.shape)
    k = dataset.strikes[theta, m]
    fig, axes = plt.subplots(1, max(len(picks), 1), figsize=(6 * max(len(picks), 1), 4.5),
                             squeeze=False, layout="constrained")
    for ax, b in zip(axes[0], picks):
        ax.errorbar(k, dataset.hf[theta, m], yerr=2 * dataset.hf_se[theta, m], fmt="ko", ms=3,
                    label="Monte Carlo (high fidelity), 2 s.e. bars")
        ax.plot(k, dataset.lf[theta, m], "k:", label=HAGAN)
        for r in ok[ok.budget == b].itertuples():
            pred = _predictions(output_dir, r.exp_dir) if isinstance(r.exp_dir, str) else None
            if pred:
                ax.plot(k, [pred.get(int(p), np.nan) for p in pts], "-",
                        label=f"{r.model_type} (seed {r.seed})")
        ax.set(xlabel="strike K", ylabel="implied volatility (decimal)",
               title=f"models trained on {b} HF points")
        ax.legend(fontsize=7)
    a, be, nu, rho = dataset.thetas[theta]
    fig.suptitle(f"A test smile at T = {dataset.maturities[m]:g} years: alpha={a:.2f} "
                 f"beta={be:.2f} nu={nu:.2f} rho={rho:.2f}")
    return fig


def error_heatmap_figure(dataset, df: pd.DataFrame, model: str, budget: int,
                         output_dir: Path) -> Figure:
    """Mean |error| (bp) over test thetas on the (T, K) index grid for one model and budget."""
    rows = df[(df.status == "ok") & (df.model_type == model) & (df.budget == budget)]
    n, n_m, n_k = dataset.shape
    total, count = np.zeros((n_m, n_k)), np.zeros((n_m, n_k))
    for r in rows.itertuples():
        pred = _predictions(output_dir, r.exp_dir) if isinstance(r.exp_dir, str) else None
        if not pred:
            continue
        pts = np.array(list(pred))
        _, mi, ki = np.unravel_index(pts, dataset.shape)
        err = np.abs(np.array(list(pred.values())) - dataset.hf.ravel()[pts]) * 1e4
        np.add.at(total, (mi, ki), err)
        np.add.at(count, (mi, ki), 1)
    with np.errstate(invalid="ignore"):
        grid = total / count
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    im = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis")
    fig.colorbar(im, ax=ax, label="mean |error| over test surfaces and seeds (bp)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set(xlabel="strike index (0 = lowest strike of the maturity)", ylabel="maturity T (years)",
           yticks=range(n_m), yticklabels=[f"{t:g}" for t in dataset.maturities],
           title=f"{model}, budget {budget} HF points: test error over the grid")
    return fig


# ---------------------------------------------------------------- the PNG files

def plot_rmse_vs_budget(summary: pd.DataFrame, scaling: pd.DataFrame, path: Path, *,
                        confidence: float = 0.95) -> Path:
    """rmse_vs_budget_figure as a PNG at ``path``."""
    return save_figure(rmse_vs_budget_figure(summary, scaling, confidence=confidence), path)


def plot_region_errors(df: pd.DataFrame, path: Path) -> Path:
    """region_errors_figure as a PNG at ``path``."""
    return save_figure(region_errors_figure(df), path)


def plot_cost_benefit(cost: pd.DataFrame, path: Path) -> Path:
    """cost_benefit_figure as a PNG at ``path``."""
    return save_figure(cost_benefit_figure(cost), path)


def plot_cost_curves(curves: pd.DataFrame, path: Path, point_design: str = "spread (points)", *,
                     confidence: float = 0.95) -> Path:
    """cost_curves_figure as a PNG at ``path``."""
    return save_figure(cost_curves_figure(curves, point_design, confidence=confidence), path)


def plot_example_smiles(dataset, df: pd.DataFrame, output_dir: Path, path: Path) -> Path:
    """example_smiles_figure as a PNG at ``path``."""
    return save_figure(example_smiles_figure(dataset, df, output_dir), path)


def plot_error_heatmap(dataset, df: pd.DataFrame, model: str, budget: int, output_dir: Path,
                       path: Path) -> Path:
    """error_heatmap_figure as a PNG at ``path``."""
    return save_figure(error_heatmap_figure(dataset, df, model, budget, output_dir), path)


def make_all_plots(analysis: dict, df: pd.DataFrame, output_dir: Path, dataset=None) -> list[Path]:
    """Every figure into ``output_dir/plots``; returns their paths (figures needing data skipped)."""
    plots = Path(output_dir) / "plots"
    summary = pd.DataFrame(analysis["summary"])
    scaling = pd.DataFrame(analysis["scaling"])
    confidence = float((analysis.get("settings") or {}).get("confidence") or 0.95)
    out = []
    if not summary.empty:
        out.append(plot_rmse_vs_budget(summary, scaling, plots / "rmse_vs_budget.png",
                                       confidence=confidence))
    if (df.status == "ok").any():
        out.append(plot_region_errors(df, plots / "region_errors.png"))
    cost = pd.DataFrame(analysis["cost_benefit"])
    if not cost.empty and np.isfinite(pd.to_numeric(cost.cost_seconds, errors="coerce")).any():
        out.append(plot_cost_benefit(cost, plots / "cost_benefit.png"))   # else: no HF cost recorded
    if dataset is not None and (df.status == "ok").any() and "exp_dir" in df:
        out.append(plot_example_smiles(dataset, df, Path(output_dir), plots / "example_smiles.png"))
        ranks = pd.DataFrame(analysis["rankings"])
        if not ranks.empty:
            top = ranks[ranks.budget == ranks.budget.max()].sort_values("rank").iloc[0]
            out.append(plot_error_heatmap(dataset, df, top.model_type, int(top.budget),
                                          Path(output_dir), plots / "error_heatmap.png"))
    return out
