"""The budget-scaling study: every statistic of the rows in points of a results frame,
as tables and as JSON-ready records (docs/DESIGN.md section 7).

One trained cell (model, budget, seed) is one observation; tests run over seeds on
log(MSE), so effects are MSE ratios (RMSE ratios are their square roots). Errors are in
vol basis points (bp), MSE in bp^2, budgets in HF points, costs in seconds. The
statistics come from sabr.analysis.statistics (compare, scaling, fit, efficiency,
testset, ranking); its section of the summary is sabr.analysis.markdown. Every interval
the report shows has its coverage simulated in tests/benchmarks/coverage.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...budget_labels import cell_name
from ...io import to_json
from ..statistics.compare import cell_summary, compare_models, finished_cells
from ..statistics.efficiency import data_efficiency, efficiency_table
from ..statistics.fit import cluster_bootstrap_powerlaw, exponent_differences, scaling_table
from ..statistics.ranking import cost_benefit, default_target_rmse, friedman_test, rank_models

__all__ = ["analyse", "analyse_tables"]


def analyse_tables(df: pd.DataFrame, *, target_rmse_bp: float | None = None, rng=None,
                   n_boot: int = 2000, alpha: float = 0.05,
                   confidence: float = 0.95) -> tuple[dict, dict]:
    """Run every analysis on a results frame; the tables as DataFrames (see ``analyse``).

    Returns:
        (tables, extra): tables maps name -> DataFrame; extra holds the Friedman dict, the
        notes list and the settings dict. A table whose computation raises is left empty and
        the error is added to the notes ("<table> failed: ..."), so a run never stops here.
    """
    rng = np.random.default_rng(0 if rng is None else rng)
    notes: list[str] = []
    if df is None or len(df) == 0 or not {"model_type", "budget", "seed", "status"} <= set(df.columns):
        notes.append("empty results frame or missing columns (model_type, budget, seed, status)")
        df = pd.DataFrame(columns=["model_type", "budget", "seed", "status"])
    if len(df) and (df["model_type"].astype(str) == "hagan").any():
        notes.append("rows with model_type 'hagan' ignored: the baseline comes from hagan_rmse_bp")
        df = df[df["model_type"].astype(str) != "hagan"]
    cells, n0 = finished_cells(df)
    notes += n0
    if len(df):
        bad = df[df["status"] != "ok"]
        if len(bad):
            notes.append(f"{len(bad)} of {len(df)} cells not finished: " + ", ".join(
                f"{cell_name(r.model_type, r.budget, r.seed)} ({r.status})"
                for r in bad.itertuples()))
    target = default_target_rmse(df) if target_rmse_bp is None else float(target_rmse_bp)
    if target_rmse_bp is None:
        notes.append(f"target RMSE = 2 x median noise floor = {target:.4g} bp" if np.isfinite(target)
                     else "no noise floor recorded: no default target RMSE, efficiency skipped")
    def safe(name, fn, empty):
        try:
            return fn()
        except Exception as exc:     # an analysis must not take the run down: keep a note
            notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
            return empty

    no_draws = dict(models=[], seeds=np.array([]), b=np.empty((0, 0)), log_a=np.empty((0, 0)))
    empty = pd.DataFrame()
    summary = safe("summary", lambda: cell_summary(df, confidence=confidence), empty)
    comparisons = safe("comparisons", lambda: compare_models(df, alpha=alpha, confidence=confidence)
                       if len(df) else empty, empty)
    draws = safe("cluster bootstrap", lambda: cluster_bootstrap_powerlaw(cells, n_boot=n_boot, rng=rng),
                 no_draws)
    scaling = safe("scaling", lambda: scaling_table(df, draws=draws, confidence=confidence), empty)
    per_rank, overall_rank = safe("rankings", lambda: rank_models(df, n_boot=n_boot, rng=rng),
                                  (empty, empty))
    tables = {
        "summary": summary,
        "comparisons": comparisons,
        "scaling": scaling,
        "exponent_differences": safe("exponent differences", lambda: exponent_differences(
            df, confidence=confidence, alpha=alpha), empty),
        "efficiency": safe("efficiency", lambda: efficiency_table(
            summary, df, target, scaling=scaling, confidence=confidence), empty),
        "data_efficiency": safe("data efficiency", lambda: data_efficiency(
            summary, df, confidence=confidence), empty),
        "cost_benefit": safe("cost-benefit", lambda: cost_benefit(summary), empty),
        "rankings": per_rank,
        "rank_summary": overall_rank,
    }
    friedman = safe("Friedman test", lambda: friedman_test(df), {"note": "failed"})
    settings = {"alpha": alpha, "confidence": confidence, "n_boot": n_boot,
                "target_rmse_bp": target,
                "cost": "HF Monte Carlo CPU-seconds of each cell's distinct thetas + training s",
                "holm_family": "every (model pair, budget) test with a finite p",
                "n_seeds": int(len(draws["seeds"]))}
    return tables, {"friedman": friedman, "notes": notes, "settings": settings}


def analyse(df: pd.DataFrame, *, target_rmse_bp: float | None = None, rng=None, n_boot: int = 2000,
            alpha: float = 0.05, confidence: float = 0.95) -> dict:
    """All statistics of a results frame as JSON-ready lists of records (NaN/inf kept as floats).

    Uses status == 'ok' rows with a finite MSE (sabr.analysis.compare.finished_cells); a
    'hagan' model row, if any, is ignored: the Hagan baseline enters through the
    ``hagan_rmse_bp`` column (a reference row per budget in ``summary`` and a column in
    the other error tables). Never raises on missing / failed cells, single seeds,
    identical models or unequal hashes: those give NaN and a note.

    Args:
        df: results frame (sabr.analysis.results.results_frame).
        target_rmse_bp: target test RMSE (bp) for the efficiency table; None: 2 x the median
            MC noise floor of the finished cells.
        rng: numpy Generator or seed for the bootstraps; None: seed 0.
        n_boot: bootstrap resamples. alpha: level after Holm. confidence: interval level.
    Returns:
        dict with keys
        'summary' (per model x budget, plus 'hagan' reference rows; cell_summary),
        'comparisons' (paired tests per (pair, budget), Holm; compare_models),
        'scaling' (per model: exponent from the per-budget means with t interval and
        lack-of-fit test, a + floor sensitivity fit, descriptive seed bootstrap; scaling_table),
        'exponent_differences' (b_A - b_B from paired per-budget mean differences),
        'efficiency' (budget for the target RMSE on the noise-corrected MSE, Fieller
        interval; efficiency_table), 'data_efficiency' (HF points B needs / n with an
        interval; data_efficiency),
        'cost_benefit' (RMSE vs HF CPU-seconds + training seconds, Pareto front; cost_benefit),
        'rankings' (per budget: rank, P(rank 1)), 'rank_summary' (mean rank per model),
        each a list of row dicts; 'friedman' (dict; friedman_test), 'notes' (list of str),
        'settings' (dict: alpha, confidence, n_boot, target_rmse_bp, cost,
        holm_family, n_seeds). Values are Python scalars; NaN and inf may occur (write with
        sabr.io.atomic_write_json: NaN -> null, +-inf -> "inf" / "-inf").
    """
    tables, extra = analyse_tables(df, target_rmse_bp=target_rmse_bp, rng=rng, n_boot=n_boot,
                                   alpha=alpha, confidence=confidence)
    out = {k: to_json(t.to_dict(orient="records"), finite=False) for k, t in tables.items()}
    out.update(to_json(extra, finite=False))
    return out
