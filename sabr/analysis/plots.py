"""Figures of the budget analysis (matplotlib, Agg backend; PNG files).

Every figure that shows an error also shows the Hagan baseline and the Monte
Carlo noise floor. Inputs are the tables of sabr.analysis.studies.budget.analyse (lists of row
dicts) and, for the smile and heatmap, the data set and cells' predictions.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..io import atomic_path  # noqa: E402
from ..numerics.grid import REGIONS  # noqa: E402

__all__ = ["plot_rmse_vs_budget", "plot_region_errors", "plot_cost_benefit", "plot_cost_curves",
           "plot_example_smiles", "plot_error_heatmap", "make_all_plots"]


def _save(fig, path: Path) -> Path:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)   # layout="constrained": one draw, not two
    finally:
        plt.close(fig)
    return path


def _budget_ticks(ax, budgets) -> None:
    """Label a log budget axis at the budgets themselves (50, 200, 500), not at powers of ten."""
    ticks = sorted({int(b) for b in budgets})
    if ticks:
        ax.set_xticks(ticks, labels=[str(b) for b in ticks])
        ax.minorticks_off()


def plot_rmse_vs_budget(summary: pd.DataFrame, scaling: pd.DataFrame, path: Path) -> Path:
    """Test RMSE (geometric mean over seeds, 95 % t-band) vs budget, log-log, with power-law fits."""
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    models = summary[~summary.is_reference]
    for model, g in models.groupby("model_type"):
        g = g[g.n > 0].sort_values("budget")
        if g.empty:
            continue
        line, = ax.plot(g.budget, g.rmse_bp_gmean, "o-", label=model)
        ax.fill_between(g.budget, g.rmse_bp_lo, g.rmse_bp_hi, color=line.get_color(), alpha=0.15)
        fit = scaling[scaling.model_type == model]
        if len(fit) and np.isfinite(fit.b.iloc[0]):
            n = np.geomspace(g.budget.min(), g.budget.max(), 50)
            ax.plot(n, np.sqrt(np.exp(fit.log_a.iloc[0]) * n ** (-fit.b.iloc[0])), "--",
                    color=line.get_color(), lw=1,
                    label=f"{model} fit: RMSE ~ n^-{fit.b.iloc[0] / 2:.2f}")
    ref = summary[summary.is_reference].sort_values("budget")
    if len(ref):
        ax.axhline(ref.hagan_rmse_bp.mean(), color="k", ls=":", label="Hagan (LF)")
    floor = summary.noise_floor_bp.dropna()
    if len(floor):
        ax.axhline(floor.mean(), color="grey", ls="-.", label="MC noise floor")
    ax.set(xscale="log", yscale="log", xlabel="HF budget (points, validation included)",
           ylabel="test RMSE (bp)", title="Accuracy vs high-fidelity budget")
    _budget_ticks(ax, summary.budget)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_region_errors(df: pd.DataFrame, path: Path) -> Path:
    """Mean test RMSE per moneyness region (ITM / ATM / OTM) by budget, one panel per region."""
    ok = df[df.status == "ok"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True, layout="constrained")
    for ax, region in zip(axes, REGIONS):
        col = f"rmse_bp_{region}"
        if col in ok:
            for model, g in ok.groupby("model_type"):
                m = g.groupby("budget")[col].mean()
                ax.plot(m.index, m.values, "o-", label=model)
            hag = f"hagan_rmse_bp_{region}"
            if hag in ok:
                ax.axhline(ok[hag].mean(), color="k", ls=":", label="Hagan")
        floor = f"noise_floor_bp_{region}" if f"noise_floor_bp_{region}" in ok else "noise_floor_bp"
        if floor in ok:
            ax.axhline(ok[floor].mean(), color="grey", ls="-.", label="noise floor")
        ax.set(xscale="log", yscale="log", title=region, xlabel="HF budget")
        _budget_ticks(ax, ok.budget)
    axes[0].set_ylabel("test RMSE (bp)")
    axes[-1].legend(fontsize=7)
    return _save(fig, path)


def plot_cost_benefit(cost: pd.DataFrame, path: Path) -> Path:
    """Test RMSE against cost, the Pareto front marked.

    Args:
        cost: sabr.analysis.statistics.ranking.cost_benefit output; x is cost_seconds = the cell's HF Monte Carlo
            CPU-seconds (distinct thetas' runs, sabr.data.costs) + training seconds; y in bp.
        path: the PNG to write.
    """
    cost = cost[np.isfinite(pd.to_numeric(cost.cost_seconds, errors="coerce"))]
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    for model, g in cost.groupby("model_type"):
        ax.scatter(g.cost_seconds, g.rmse_bp_mean, label=model)
        for r in g.itertuples():
            ax.annotate(str(r.budget), (r.cost_seconds, r.rmse_bp_mean), fontsize=6)
    front = cost[cost.pareto].sort_values("cost_seconds")
    if len(front):
        ax.plot(front.cost_seconds, front.rmse_bp_mean, "k--", lw=1, label="Pareto front")
    if "hagan_rmse_bp" in cost and cost.hagan_rmse_bp.notna().any():
        ax.axhline(cost.hagan_rmse_bp.mean(), color="k", ls=":", label="Hagan (no cost)")
    ax.set(xscale="log", yscale="log", xlabel="cost (HF Monte Carlo CPU-s + training s)",
           ylabel="test RMSE (bp)", title="Cost-benefit")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_cost_curves(curves: pd.DataFrame, path: Path, point_design: str = "spread (points)") -> Path:
    """Test RMSE against HF Monte Carlo CPU-seconds, one panel per model of the study, one
    line per allocation (seed t interval as bars), the seed design's point budgets as
    labelled markers on the same axes; the Hagan baseline and the noise floor as lines.

    Args:
        curves: sabr.analysis.studies.allocation.cost_curves output. path: the PNG to write.
    """
    from matplotlib.ticker import NullFormatter
    studied = curves[curves.allocation != point_design].model_type.unique()
    models = sorted(studied) if len(studied) else sorted(curves.model_type.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.2), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, model in zip(axes[0], models):
        g = curves[curves.model_type == model]
        for allocation, h in g.groupby("allocation", sort=True):
            h = h.sort_values("hf_cpu_seconds")
            err = np.vstack([h.rmse_bp - h.rmse_bp_lo, h.rmse_bp_hi - h.rmse_bp]).clip(0)
            err = np.where(np.isfinite(err), err, 0.0)
            if allocation == point_design:
                ax.errorbar(h.hf_cpu_seconds, h.rmse_bp, yerr=err, fmt="ks", ms=5, capsize=2,
                            label="seed design (points)")
                for r in h.itertuples():
                    ax.annotate(r.budget, (r.hf_cpu_seconds, r.rmse_bp), fontsize=7,
                                xytext=(4, 4), textcoords="offset points")
            else:
                ax.errorbar(h.hf_cpu_seconds, h.rmse_bp, yerr=err, marker="o", ms=4, capsize=2,
                            label=allocation)
        if g.hagan_rmse_bp.notna().any():
            ax.axhline(g.hagan_rmse_bp.mean(), color="k", ls=":", lw=1, label="Hagan")
        if g.noise_floor_bp.notna().any():
            ax.axhline(g.noise_floor_bp.mean(), color="grey", ls="--", lw=1, label="MC noise floor")
        ax.set(xscale="log", yscale="log", xlabel="HF Monte Carlo CPU-seconds", title=model)
        ax.xaxis.set_minor_formatter(NullFormatter())     # decades only: no crowded labels
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test RMSE (bp), geometric mean over seeds")
    return _save(fig, path)


def _predictions(output_dir: Path, exp_dir: str):
    f = output_dir / exp_dir / "predictions.npz"
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        return dict(zip(z["points"].tolist(), z["sigma"]))


def plot_example_smiles(dataset, df: pd.DataFrame, output_dir: Path, path: Path) -> Path:
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
    fig, axes = plt.subplots(1, max(len(picks), 1), figsize=(6 * max(len(picks), 1), 4.5), squeeze=False, layout="constrained")
    for ax, b in zip(axes[0], picks):
        ax.errorbar(k, dataset.hf[theta, m], yerr=2 * dataset.hf_se[theta, m], fmt="ko", ms=3,
                    label="Monte Carlo (2 s.e.)")
        ax.plot(k, dataset.lf[theta, m], "k:", label="Hagan")
        for r in ok[ok.budget == b].itertuples():
            pred = _predictions(output_dir, r.exp_dir) if isinstance(r.exp_dir, str) else None
            if pred:
                ax.plot(k, [pred.get(int(p), np.nan) for p in pts], "-", label=r.model_type)
        a, be, nu, rho = dataset.thetas[theta]
        ax.set(xlabel="strike", ylabel="implied vol", title=(
            f"budget {b}: T={dataset.maturities[m]:g}, alpha={a:.2f} beta={be:.2f} "
            f"nu={nu:.2f} rho={rho:.2f}"))
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_error_heatmap(dataset, df: pd.DataFrame, model: str, budget: int, output_dir: Path,
                       path: Path) -> Path:
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
    fig.colorbar(im, ax=ax, label="mean |error| (bp)")
    ax.set(xlabel="strike index (low to high)", ylabel="maturity index (short to long)",
           yticks=range(n_m), yticklabels=[f"{t:g}" for t in dataset.maturities],
           title=f"{model}, budget {budget}: test error over the grid")
    return _save(fig, path)


def make_all_plots(analysis: dict, df: pd.DataFrame, output_dir: Path, dataset=None) -> list[Path]:
    """Every figure into ``output_dir/plots``; returns their paths (figures needing data skipped)."""
    plots = Path(output_dir) / "plots"
    summary = pd.DataFrame(analysis["summary"])
    scaling = pd.DataFrame(analysis["scaling"])
    out = []
    if not summary.empty:
        out.append(plot_rmse_vs_budget(summary, scaling, plots / "rmse_vs_budget.png"))
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
