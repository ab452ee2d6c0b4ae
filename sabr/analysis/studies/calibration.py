"""Ensemble calibration over cells: the table, the reliability diagram and the summary section.

docs/DESIGN.md ("Ensembles and uncertainty"). Each ensemble cell (model, budget, seed)
carries the columns of sabr.learning.calibration.ensemble_calibration (coverage of nominal
50 % and 90 % Gaussian intervals against the MC test labels after adding their standard
error, interval widths, Gaussian NLL, observed coverage at the reliability levels) beside
``rmse_bp``, the RMSE of the members' mean. Cells without ``ensemble_size`` are not
ensembles and are left out. A cell's coverage is a fraction of its test points; the
tables average it over seeds (the unit is the trained cell, docs/DESIGN.md section 7).

The seed interval of the mean 90 % coverage is compare.geometric_mean_interval's Student t
interval over seeds, applied to exp(coverage) so that its log scale is the coverage itself
(exactly the t interval mean +- t_{S-1} sd / sqrt(S) of the per-seed coverages), clipped
to [0, 1]. It is not the interval of the "per-cell geometric mean" row of the coverage
benchmark (that one is on log MSE); its own coverage is measured there, row "mean coverage
over seeds" (docs/METHODS.md): at nominal 0.95 it covers 0.94-0.96 for cells whose
expected coverage is about 0.55, 0.89-0.96 in the 85-95 % range, but 0.78-0.92 near 0.99
(per-seed coverages pile up below 1, skewed; the low end when the seeds' spreads differ
by 30 %), so the report labels it approximate.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ...io import atomic_path, atomic_write_text  # noqa: E402
from ...learning.calibration import RELIABILITY_LEVELS, reliability_key  # noqa: E402
from ..statistics.compare import FLOOR_WORDS, geometric_mean_interval  # noqa: E402

__all__ = ["TARGET_COVERAGE_90", "TABLE_COLUMNS", "ensemble_cells", "mean_interval",
           "calibration_table", "reliability_figure", "plot_reliability", "calibration_markdown",
           "write_calibration"]

TARGET_COVERAGE_90 = (0.85, 0.95)
"""The range of observed coverage that counts as calibrated for the nominal 90 % intervals."""
TABLE_COLUMNS = ["model_type", "budget", "n_seeds", "ensemble_size", "rmse_bp", "coverage_50",
                 "coverage_90", "coverage_90_lo", "coverage_90_hi", "n_calibration_thetas",
                 "width_90_bp", "nll",
                 "hagan_rmse_bp", "noise_floor_bp", "coverage_90_raw", "spread_scale"]
_NAN = math.nan


def _budget(value):
    """A point budget as int (also when read back from CSV as '200' or 200.0), a label as str."""
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return value
        return int(f) if f.is_integer() else value
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    return value


def _order(budget) -> tuple:
    """Point budgets first, ascending, then labels alphabetically."""
    return (0, budget, "") if isinstance(budget, int) else (1, 0, str(budget))


def ensemble_cells(df: pd.DataFrame) -> pd.DataFrame:
    """The finished ensemble cells of a results frame: status 'ok' (when there is a status
    column) and a finite ``ensemble_size``; budgets normalised (int or label)."""
    if df is None or len(df) == 0 or "ensemble_size" not in df:
        return pd.DataFrame(columns=["model_type", "budget", "seed", "ensemble_size"])
    ok = df[df["status"] == "ok"] if "status" in df else df
    size = pd.to_numeric(ok["ensemble_size"], errors="coerce")
    cells = ok[np.isfinite(size.to_numpy(float))].copy()
    cells["budget"] = [_budget(b) for b in cells["budget"]]
    return cells.reset_index(drop=True)


def mean_interval(values, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed values with the Student t interval over seeds, clipped to [0, 1].

    compare.geometric_mean_interval on exp(values), logged back: its t interval on the log
    scale is the t interval of the values themselves, mean +- t_{S-1} sd / sqrt(S).

    Args:
        values: (S,) per-seed fractions (coverages), finite ones used.
    Returns:
        (mean, lo, hi); lo and hi NaN with fewer than 2 values, all NaN with none.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return _NAN, _NAN, _NAN
    _, lo, hi = geometric_mean_interval(np.exp(v), confidence=confidence)
    lo = min(max(math.log(lo), 0.0), 1.0) if np.isfinite(lo) and lo > 0 else _NAN
    hi = min(max(math.log(hi), 0.0), 1.0) if np.isfinite(hi) and hi > 0 else _NAN
    return float(v.mean()), lo, hi


def _mean(g: pd.DataFrame, col: str) -> float:
    return float(pd.to_numeric(g[col], errors="coerce").mean()) if col in g else _NAN


def calibration_table(df: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per (model, budget) over its ensemble cells' seeds: calibration beside RMSE.

    Args:
        df: results frame, one row per cell: model_type, budget (points or a label such as
            'surfaces@5%'), seed, status, rmse_bp and the sabr.learning.calibration columns.
    Returns:
        columns TABLE_COLUMNS: n_seeds, ensemble_size (mean over seeds: the same in a run),
        rmse_bp (mean RMSE of the ensemble mean, bp), coverage_50 and coverage_90 (mean
        over seeds), coverage_90_lo / _hi (t interval over seeds at ``confidence``, NaN
        with one seed), width_90_bp (mean, bp), nll (mean), hagan_rmse_bp and
        noise_floor_bp (means, bp; NaN when the frame lacks them: every table that shows
        an error shows both, docs/DESIGN.md section 7), coverage_90_raw (the unscaled
        ensemble's) and spread_scale (the factor fitted on the calibration thetas; means, NaN
        when absent), n_calibration_thetas (mean over seeds of the thetas the factor was
        fitted on, sabr.learning.calibration.calibration_split; NaN for cells from before
        it was recorded); sorted by model, then point budgets
        ascending, then labels. Empty (same columns) without ensemble cells.
    """
    cells = ensemble_cells(df)
    rows = []
    for (m, b), g in cells.groupby(["model_type", "budget"], sort=False):
        cov90 = pd.to_numeric(g["coverage_90"], errors="coerce") if "coverage_90" in g else []
        cov, lo, hi = mean_interval(cov90, confidence=confidence)
        rows.append({"model_type": m, "budget": b, "n_seeds": int(len(g)),
                     "ensemble_size": _mean(g, "ensemble_size"), "rmse_bp": _mean(g, "rmse_bp"),
                     "coverage_50": _mean(g, "coverage_50"), "coverage_90": cov,
                     "coverage_90_lo": lo, "coverage_90_hi": hi,
                     "n_calibration_thetas": _mean(g, "n_calibration_thetas"),
                     "width_90_bp": _mean(g, "width_90_bp"), "nll": _mean(g, "nll"),
                     "hagan_rmse_bp": _mean(g, "hagan_rmse_bp"),
                     "noise_floor_bp": _mean(g, "noise_floor_bp"),
                     "coverage_90_raw": _mean(g, "coverage_90_raw"),
                     "spread_scale": _mean(g, "spread_scale")})
    if not rows:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    rows.sort(key=lambda r: (str(r["model_type"]), _order(r["budget"])))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _reliability_cells(cells: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per model: its cells at its largest point budget, else (labels only) all its cells."""
    out = []
    for m, g in cells.groupby("model_type"):
        points = [b for b in g.budget if isinstance(b, int)]
        if points:
            top = max(points)
            out.append((f"{m} at {top} HF points", g[g.budget.map(lambda b, t=top: b == t)]))
        else:
            out.append((f"{m} (all cells)", g))
    return out


def reliability_figure(df: pd.DataFrame):
    """Reliability diagram (Kuleshov, Fenner & Ermon 2018): observed against nominal coverage
    of the central Gaussian intervals at RELIABILITY_LEVELS, one line per model, the diagonal
    (calibrated) dashed.

    Each model's line is the mean over its ensemble cells (seeds) at its largest point budget;
    a model with only labelled (CPU-budget) cells is averaged over all of them. The legend
    says which. Returns the matplotlib Figure, or None when there are no ensemble cells.
    """
    cells = ensemble_cells(df)
    if cells.empty:
        return None
    levels = np.array(RELIABILITY_LEVELS)
    keys = [reliability_key(p) for p in RELIABILITY_LEVELS]
    fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated (observed = nominal)")
    ax.vlines(0.9, *TARGET_COVERAGE_90, color="grey", lw=6, alpha=0.4,
              label=f"target at 90 %: {100 * TARGET_COVERAGE_90[0]:.0f}-"
                    f"{100 * TARGET_COVERAGE_90[1]:.0f} %")
    for label, g in _reliability_cells(cells):
        obs = np.array([_mean(g, k) for k in keys])
        ax.plot(levels, obs, "o-", ms=4, label=f"{label} ({len(g)} cells)")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal coverage of the interval (fraction)",
           ylabel="observed coverage of MC test labels (fraction)",
           title="Ensemble reliability (label s.e. added)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def plot_reliability(df: pd.DataFrame, path) -> Path | None:
    """reliability_figure as a PNG at ``path``; None (nothing written) without ensemble cells."""
    fig = reliability_figure(df)
    if fig is None:
        return None
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def _pct(v: float, spec: str = ".1f") -> str:
    return f"{100 * v:{spec}} %" if isinstance(v, (int, float)) and np.isfinite(v) else ""


def _num(v: float, spec: str = ".1f") -> str:
    return format(v, spec) if isinstance(v, (int, float)) and np.isfinite(v) else ""


def _verdict(table: pd.DataFrame) -> str:
    """One sentence: per model, whether its 90 % intervals cover TARGET_COVERAGE_90, judged on
    each budget's seed interval, not its mean (issue 38): "yes" when every budget's interval
    lies inside the range, "no" naming the budgets whose interval lies wholly outside (too
    narrow or too wide), else "undetermined" naming the budgets whose interval reaches
    outside or that have one seed (no interval)."""
    lo_t, hi_t = TARGET_COVERAGE_90
    parts = []
    for m, g in table.groupby("model_type", sort=False):
        g = g[np.isfinite(g.coverage_90.astype(float))]
        if g.empty:
            continue
        lo, hi = g.coverage_90_lo.astype(float), g.coverage_90_hi.astype(float)
        bounded = np.isfinite(lo) & np.isfinite(hi)
        narrow, wide = bounded & (hi < lo_t), bounded & (lo > hi_t)
        inside = bounded & (lo >= lo_t) & (hi <= hi_t)
        if (narrow | wide).any():
            bad = ", ".join(f"{r.budget}: {_pct(r.coverage_90, '.0f')} "
                            f"[{_pct(r.coverage_90_lo, '.0f')}, {_pct(r.coverage_90_hi, '.0f')}] "
                            f"{'too narrow' if r.coverage_90_hi < lo_t else 'too wide'}"
                            for r in g[narrow | wide].itertuples())
            parts.append(f"{m}: no ({bad})")
        elif inside.all():
            span = (_pct(g.coverage_90.min(), ".0f") if len(g) == 1 else
                    f"{100 * g.coverage_90.min():.0f}-{_pct(g.coverage_90.max(), '.0f')}")
            parts.append(f"{m}: yes ({span} at {'its budget' if len(g) == 1 else 'every budget'}, "
                         f"every seed interval inside)")
        else:
            open_ = ", ".join(
                f"{r.budget}: {_pct(r.coverage_90, '.0f')} " + (
                    f"[{_pct(r.coverage_90_lo, '.0f')}, {_pct(r.coverage_90_hi, '.0f')}]"
                    if np.isfinite(r.coverage_90_lo) and np.isfinite(r.coverage_90_hi)
                    else "(one seed: no interval)")
                for r in g[~inside].itertuples())
            parts.append(f"{m}: undetermined ({open_})")
    if not parts:
        return ""
    return (f"Do the 90 % intervals cover {100 * lo_t:.0f}-{100 * hi_t:.0f} % of test points "
            f"(judged on the seed interval of the mean over seeds)? " + "; ".join(parts) + ".")


def calibration_markdown(table: pd.DataFrame) -> str:
    """The summary.md section "## Ensemble calibration": the table (coverages in percent)
    and the 85-95 % verdict per model; "" for an empty table."""
    if table is None or table.empty:
        return ""
    lines = ["## Ensemble calibration", "",
             "Deep ensembles (Lakshminarayanan et al. 2017): RMSE of the members' mean; Gaussian "
             "intervals mean +- z sd with sd^2 = (c x the members' sd)^2 + the MC label's "
             "s.e.^2, c fitted on each cell's calibration thetas: the validation thetas its "
             "members' early stopping did not use (sigma scaling, Laves et al. 2020; 'raw': "
             "c = 1; c = 1 with 0 calibration thetas), scored against the MC test labels. Cal. "
             "thetas: the thetas c was fitted on (mean over seeds); with 1-2 the calibrated "
             "90 % interval covers about 0.8-0.87 of the time (tests/benchmarks/coverage.py, "
             "'calibrated 90 % interval'). Coverage: share of test points inside, mean "
             "over seeds; seed CI: 95 % t interval over seeds, approximate (simulated "
             "coverage 0.89-0.96 for cells covering 85-95 %, down to 0.78 near 100 %: "
             "tests/benchmarks/coverage.py, 'mean coverage over seeds'). Width: mean full width "
             "of the 90 % interval. NLL: mean Gaussian negative log-likelihood per point "
             "(errors in bp; lower is better). Reliability diagram: plots/reliability.png.", "",
             "| model | budget | seeds | members | RMSE of mean (bp) | 50 % coverage | "
             "90 % coverage [seed 95 % CI, approx.] | cal. thetas | raw 90 % | c | "
             "90 % width (bp) | NLL | Hagan (bp) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        ci = (f" [{_pct(r.coverage_90_lo)}, {_pct(r.coverage_90_hi)}]"
              if np.isfinite(r.coverage_90_lo) and np.isfinite(r.coverage_90_hi) else "")
        lines.append(f"| {r.model_type} | {r.budget} | {r.n_seeds} | {_num(r.ensemble_size, '.0f')} "
                     f"| {_num(r.rmse_bp)} | {_pct(r.coverage_50)} | {_pct(r.coverage_90)}{ci} | "
                     f"{_num(r.n_calibration_thetas, '.3g')} | {_pct(r.coverage_90_raw)} | {_num(r.spread_scale, '.2f')} | "
                     f"{_num(r.width_90_bp)} | {_num(r.nll, '.2f')} | {_num(r.hagan_rmse_bp)} |")
    floor = pd.to_numeric(table.noise_floor_bp, errors="coerce").dropna()
    if len(floor):
        lines += ["", f"MC noise floor ({FLOOR_WORDS}): {floor.mean():.1f} bp."]
    verdict = _verdict(table)
    if verdict:
        lines += ["", verdict]
    return "\n".join(lines) + "\n"


def write_calibration(df: pd.DataFrame, output_dir) -> dict:
    """Write analysis/calibration.csv (calibration_table) and plots/reliability.png under
    ``output_dir`` (folders created). Returns {'calibration': csv path, 'reliability': png
    path} as strings, or {} (nothing written) when the frame has no ensemble cells."""
    table = calibration_table(df)
    if table.empty:
        return {}
    out = Path(output_dir)
    csv = atomic_write_text(out / "analysis" / "calibration.csv", table.to_csv(index=False))
    png = plot_reliability(df, out / "plots" / "reliability.png")
    return {"calibration": str(csv), "reliability": str(png)}
