"""The answer to the seed's question, in a few sentences: the first lines of summary.md, of the
``hf-budget-summary`` artifact and of the terminal.

Which model is best at each HF budget and how sure (its RMSE with the combined seed and
test-theta interval, sabr.analysis.statistics.testset.combined_interval, and the Holm-corrected
paired comparison with the runner-up), how fast each model improves (the learning-curve
exponent gamma of MSE ~ b^-gamma, b the HF points, with its t interval,
sabr.analysis.statistics.scaling), and what the largest budget buys against Hagan (2002) and
the Monte Carlo noise floor; the cost study's sentence (sabr.analysis.studies.allocation.answer)
comes last. Plain text, one item per line; numbers from sabr.analysis.studies.budget.analyse.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .statistics.compare import MIN_PAIRS

__all__ = ["MIN_SEEDS", "GAMMA", "answer_lines", "few_seeds_note"]

MIN_SEEDS = MIN_PAIRS
"""Fewer seeds give intervals too wide to inform (a t quantile on 1 df is 12.7) and no paired
comparison (sabr.analysis.statistics.compare.MIN_PAIRS)."""

GAMMA = "γ"
"""The learning-curve exponent's letter (MSE ~ b^-γ): b is the HF budget everywhere."""


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _ci(lo, hi, spec: str) -> str:
    lo, hi = _num(lo), _num(hi)
    if not (np.isfinite(lo) or np.isfinite(hi)):
        return ""
    side = (lambda v: format(v, spec) if np.isfinite(v) else ("unbounded" if v == math.inf
                                                               else "n/a"))
    return f" [{side(lo)}, {side(hi)}]"


def few_seeds_note(n_seeds) -> str:
    """'' from MIN_SEEDS seeds on; otherwise the words every interval of the run carries."""
    n = int(_num(n_seeds)) if np.isfinite(_num(n_seeds)) else 0
    if n >= MIN_SEEDS:
        return ""
    return (f"{n} seed{'s' if n != 1 else ''}: intervals uninformative, no comparison "
            f"(run {MIN_SEEDS} or more)")


def _bounds(row) -> tuple[float, float]:
    """The RMSE interval the answer quotes (combined, else the seed interval)."""
    lo, hi = _num(getattr(row, "rmse_bp_all_lo", math.nan)), _num(getattr(row, "rmse_bp_all_hi",
                                                                          math.nan))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = _num(row.rmse_bp_lo), _num(row.rmse_bp_hi)
    return lo, hi


def _rmse(row) -> str:
    """'110 bp [89, 133]': the geometric-mean RMSE and the interval :func:`_bounds` picks."""
    return f"{row.rmse_bp_gmean:.0f} bp{_ci(*_bounds(row), '.0f')}"


def _lead(comp: pd.DataFrame, budget, best: str, other) -> str:
    """How sure the best model is against the runner-up, from their paired comparison."""
    if not isinstance(other, str) or comp.empty:
        return "no other model to compare with"
    hit = comp[(comp.budget == budget) & (((comp.model_a == best) & (comp.model_b == other))
                                          | ((comp.model_a == other) & (comp.model_b == best)))]
    if hit.empty:
        return f"not compared with {other}"
    c = hit.iloc[0]
    if c.verdict == "too few pairs" or int(_num(c.n_pairs) or 0) < MIN_SEEDS:
        n = int(_num(c.n_pairs))
        return f"not compared with {other} ({n} paired seed{'s' if n != 1 else ''})"
    wins = int(c.wins_a) if c.model_a == best else int(c.n_pairs) - int(c.wins_a) - int(c.ties)
    p = f"Holm p {_num(c.p_holm):.2g}" if np.isfinite(_num(c.p_holm)) else "no p"
    if c.verdict in ("A better", "B better"):
        return f"ahead of {other} ({p}, {wins} of {int(c.n_pairs)} seeds)"
    return f"not distinguishable from {other} ({p}, {wins} of {int(c.n_pairs)} seeds)"


def _best(analysis: dict, summary: pd.DataFrame) -> tuple[list[str], pd.Series | None]:
    ranks = pd.DataFrame(analysis.get("rankings") or [])
    comp = pd.DataFrame(analysis.get("comparisons") or [])
    if ranks.empty:
        return [], None
    ranks = ranks[pd.to_numeric(ranks.budget, errors="coerce").notna()]
    parts, last = [], None
    for budget, g in ranks.groupby("budget"):
        top = g.sort_values("rank").iloc[0]
        row = summary[(summary.model_type == top.model_type) & (summary.budget == budget)]
        if row.empty or not np.isfinite(_num(row.iloc[0].rmse_bp_gmean)):
            continue
        last = row.iloc[0]
        parts.append(f"b={budget}: {top.model_type} {_rmse(last)}, "
                     f"{_lead(comp, budget, top.model_type, top.get('next_model'))}")
    if not parts:
        return [], None
    return ["Best model per HF budget (test RMSE, geometric mean over seeds, combined 95 % "
            "interval): " + "; ".join(parts) + "."], last


def _exponents(analysis: dict) -> list[str]:
    scaling = pd.DataFrame(analysis.get("scaling") or [])
    if scaling.empty:
        return []
    k = int(scaling.n_budgets.max()) if scaling.n_budgets.notna().any() else 0
    fitted = scaling[pd.to_numeric(scaling.b, errors="coerce").notna()]
    if k < 2 or fitted.empty:
        return [f"How fast each model improves: not measured ({k} HF budget"
                f"{'s' if k != 1 else ''}; the exponent {GAMMA} of MSE ~ b^-{GAMMA} needs 2, "
                "its interval 3)."]
    fitted = fitted.sort_values("b", ascending=False)
    parts = [f"{r.model_type} {r.b:.2f}{_ci(r.b_lo, r.b_hi, '.2f')}" for r in fitted.itertuples()]
    tail = "" if k >= 3 else " (2 budgets: no interval; 3 or more give one)"
    return [f"How fast each model improves (MSE ~ b^-{GAMMA} over {k} HF budgets, {GAMMA} with "
            f"its 95 % interval; RMSE falls as b^-{GAMMA}/2): " + "; ".join(parts) + tail + "."]


def _largest(best_row) -> list[str]:
    """The largest budget's best model against Hagan and the floor, each ratio with the
    interval the RMSE's interval gives it (the reference taken as exact)."""
    if best_row is None:
        return []
    rmse = _num(best_row.rmse_bp_gmean)
    lo, hi = _bounds(best_row)
    hagan, floor = _num(best_row.hagan_rmse_bp), _num(best_row.noise_floor_bp)
    text = (f"What the largest budget buys: at b={best_row.budget}, {best_row.model_type} "
            f"reaches {_rmse(best_row)}")
    if np.isfinite(hagan) and rmse > 0:
        ci = _ci(hagan / hi, hagan / lo, ".1f") if lo > 0 else ""
        text += (f", {hagan / rmse:.1f}x{ci} below Hagan's expansion ({hagan:.0f} bp on the "
                 "same test set)" if rmse < hagan else
                 f", above Hagan's expansion ({hagan:.0f} bp on the same test set)")
    if np.isfinite(floor) and floor > 0:
        text += (f" and {rmse / floor:.1f}x{_ci(lo / floor, hi / floor, '.1f')} the Monte Carlo "
                 f"noise floor ({floor:.0f} bp: the test labels' own error, below which no "
                 "model can be measured)")
    return [text + "."]


def answer_lines(analysis: dict, cost_answer: str = "") -> list[str]:
    """The answer, one item per line (plain text; summary.md lists them as bullets).

    Args:
        analysis: sabr.analysis.studies.budget.analyse's tables (as ResultsAggregator.analysis).
        cost_answer: the allocation study's sentence, '' without one.
    Returns:
        list[str]: best model per budget, the exponents, the largest budget against Hagan
        and the floor, the few-seeds warning where it applies, the cost answer.
    """
    summary = pd.DataFrame(analysis.get("summary") or [])
    lines: list[str] = []
    if not summary.empty:
        summary = summary[~summary.is_reference.astype(bool) & (summary.n > 0)]
        summary = summary[pd.to_numeric(summary.budget, errors="coerce").notna()]
        best, last = _best(analysis, summary)
        lines += best + _exponents(analysis) + _largest(last)
        note = few_seeds_note(analysis.get("settings", {}).get("n_seeds",
                                                               summary.n.max()))
        if note and lines:
            lines.append(f"Caution: {note}.")
    if cost_answer:
        lines.append("What accuracy costs: " + cost_answer)
    return lines
