"""The headline of analysis/summary.md: best model, scaling, efficiency and comparisons as Markdown.

Formats the tables of sabr.analysis.studies.budget.analyse (lists of row dicts); errors in vol bp.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .answer import GAMMA, MIN_SEEDS, few_seeds_note
from .statistics.compare import FAILURE_FACTOR, FLOOR_WORDS, MIN_PAIRS, corrected_rmse
from .statistics.efficiency import RANGE_FACTOR
from ..budget_labels import cell_name
from .results import cell_budgets

MAX_NOTES = 10
"""Notes the summary lists; it says how many more statistical_analysis.json holds."""

__all__ = ["headline_markdown", "md_table", "TUNING_NOTE", "UNINFORMATIVE", "tuning_note"]

UNINFORMATIVE = "†"
"""Marks an interval from fewer than MIN_SEEDS seeds (the note under its table says so)."""


def md_table(header: list[str], rows: list[list[str]], *, missing: str = "n/a") -> list[str]:
    """A Markdown table without blank cells: a column blank in every row is left out, and a
    blank cell of another column reads ``missing``."""
    keep = [j for j in range(len(header)) if any(str(r[j]).strip() for r in rows)] \
        if rows else list(range(len(header)))
    out = ["| " + " | ".join(header[j] for j in keep) + " |",
           "|" + "---|" * len(keep)]
    out += ["| " + " | ".join(str(r[j]).strip() or missing for j in keep) + " |" for r in rows]
    return out


def _fmt(v, spec=".1f"):
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


TUNING_NOTE = ("Verdicts and intervals hold for the hyperparameters tuned per (model, budget) on "
               "a tuning replicate: they compare tuned configurations, not architectures under "
               "every setting.")


def tuning_note(sources: dict | None) -> str:
    """The summary's note on tuning: :data:`TUNING_NOTE` when every budget took a tuning at
    its own budget (an adaptive round's is its start allocation's at its budget), or
    ``sources`` is unknown; else which tuning each budget that reuses another budget's took
    (``sources``: sabr.plan.tuning_sources, {'b=50': 'b=200', ...})."""
    def amount(name: str) -> str:
        return name.partition("@")[2] or name

    reused = {b: t for b, t in (sources or {}).items() if amount(b) != amount(t)}
    if not reused:
        return TUNING_NOTE
    by_tuning: dict[str, list[str]] = {}
    for b, t in reused.items():
        by_tuning.setdefault(t, []).append(b)
    which = "; ".join(f"{', '.join(bs)} took {t}'s" for t, bs in by_tuning.items())
    return ("Verdicts and intervals hold for hyperparameters tuned once per model at a "
            f"reference budget and reused at the others ({which}; tuning_reference_budget, "
            "tuning_reference_cpu_budget): they compare tuned configurations, not "
            "architectures under every setting, and a budget other than the reference trains "
            "with hyperparameters not tuned for it.")


def _fmt_ci(lo, hi, spec=".1f", n=None) -> str:
    """'[lo, hi]' ('' when neither end is known; 'n/a' for one unknown end), marked
    UNINFORMATIVE when it comes from ``n`` < MIN_SEEDS seeds."""
    a, b = _fmt(lo, spec), _fmt(hi, spec)
    if not (a or b):
        return ""
    mark = f" {UNINFORMATIVE}" if n is not None and n < MIN_SEEDS else ""
    return f"[{a or 'n/a'}, {b or 'n/a'}]{mark}"


def _fmt_budget(v, beyond: bool = False, tested=(math.nan, math.nan), inf_text="never") -> str:
    """An HF budget for the markdown: 'beyond the tested range' rather than a far extrapolation
    (more than RANGE_FACTOR x outside the ``tested`` (min, max) budgets)."""
    if isinstance(v, float) and math.isinf(v):
        return inf_text if v > 0 else ""
    lo, hi = tested
    if beyond or (isinstance(v, (int, float)) and (v > RANGE_FACTOR * hi or v < lo / RANGE_FACTOR)):
        return "beyond the tested range"
    return _fmt(v, ".3g")


def _corrected_rmse(r) -> float:
    """Noise-corrected RMSE of a summary row (bp): its ``rmse_corrected_bp``, the one
    definition (sabr.analysis.statistics.compare.corrected_mse: sqrt(max(gmean MSE -
    floor^2, 0))); from the row's geometric mean and floor for a summary without it."""
    v = getattr(r, "rmse_corrected_bp", math.nan)
    if np.isfinite(v):
        return v
    return corrected_rmse([getattr(r, "mse_bp2_gmean", math.nan)],
                          [getattr(r, "noise_floor_bp", math.nan)])


def _b(budget) -> str:
    """'b=500' for a point budget; a CPU-budget label ('surfaces@5%') as it is."""
    return f"b={budget}" if isinstance(budget, (int, np.integer)) or str(budget).isdigit() \
        else str(budget)


def _failed(r) -> str:
    failed = pd.to_numeric(pd.Series([getattr(r, "n_training_failures", None)]),
                           errors="coerce").iloc[0]
    return "" if not np.isfinite(failed) else f"{int(failed)} of {r.n}"


def _md_headline(summary: pd.DataFrame) -> list[str]:
    """Per model and budget: RMSE with the seed and the test-theta interval, corrected RMSE, cost."""
    s = summary[~summary.is_reference & (summary.n > 0)].sort_values(["model_type", "budget"])
    if s.empty:
        return []
    lines = ["", "## Test RMSE per model and budget", "",
             "RMSE: geometric mean over seeds (bp), every seed in it; median beside it. Failed: "
             f"seeds whose RMSE is above {FAILURE_FACTOR:g}x the cell's median (training "
             "failures, kept in every statistic). Seed CI: t interval over seeds (training "
             "randomness). Test CI: BCa bootstrap over test thetas, paired across models (test-set "
             "draw; approximate: simulated coverage 0.91-0.96 at nominal 0.95, the low end when a "
             "few thetas dominate). Combined CI: both draws at once, for the RMSE over the "
             "population of seeds and test thetas (sabr.analysis.statistics.testset."
             "combined_interval; the one to quote for the RMSE itself). Corrected: the "
             "geometric-mean MSE minus the MC noise floor^2. HF CPU-s: Monte Carlo CPU-seconds "
             "of the HF data a cell uses.", ""]
    rows = [[r.model_type, _b(r.budget), r.n, _fmt(r.rmse_bp_gmean),
             _fmt(getattr(r, "rmse_bp_median", None)), _failed(r),
             _fmt_ci(r.rmse_bp_lo, r.rmse_bp_hi, n=r.n),
             _fmt_ci(getattr(r, "rmse_bp_test_lo", None), getattr(r, "rmse_bp_test_hi", None)),
             _fmt_ci(getattr(r, "rmse_bp_all_lo", None), getattr(r, "rmse_bp_all_hi", None),
                     n=r.n),
             _fmt(_corrected_rmse(r)), _fmt(getattr(r, "hf_cpu_seconds_mean", None), ".3g"),
             _fmt(r.hagan_rmse_bp)] for r in s.itertuples()]
    lines += md_table(["model", "budget", "seeds", "RMSE", "median", "failed", "seed 95 % CI",
                       "test-theta 95 % CI (approx.)", "combined 95 % CI", "corrected RMSE",
                       "HF CPU-s", "Hagan"], rows)
    if any(UNINFORMATIVE in str(c) for row in rows for c in row):
        lines += ["", f"{UNINFORMATIVE} from fewer than {MIN_SEEDS} seeds: correct, but too "
                  "wide to decide anything."]
    floor = summary.noise_floor_bp.dropna()
    if len(floor):
        lines += ["", f"MC noise floor ({FLOOR_WORDS}): {floor.mean():.1f} bp."]
    return lines + ["", TUNING_NOTE]


def _md_best(ranks: pd.DataFrame) -> list[str]:
    lines = ["", "## Best model per budget", "",
             "Best by mean log MSE; against the runner-up: the seeds it wins and the exact "
             "two-sided sign test (with n seeds no p is below 2^(1-n): 0.0625 for 5). The "
             "seed bootstrap's P(rank 1) (analysis/model_rankings.json) is descriptive, not "
             "the probability of being best: tied models reach 0.95 far more often than 5 % "
             "(tests/benchmarks/coverage.py prints the rate).", ""]
    rows = []
    for b, g in ranks.groupby("budget"):
        top = g.sort_values("rank").iloc[0]
        nxt = getattr(top, "next_model", None)
        if isinstance(nxt, str) and getattr(top, "n_vs_next", 0):
            wins = f"{int(top.wins_vs_next)}/{int(top.n_vs_next)}"
            p = _fmt(top.sign_p_vs_next, ".3g")
        else:
            nxt, wins, p = (nxt if isinstance(nxt, str) else "none"), "", ""
        rows.append([_b(b), top.model_type, nxt, wins, p, _fmt(top.rmse_bp_gmean),
                     _fmt(top.hagan_rmse_bp)])
    return lines + md_table(["budget", "best", "runner-up", "wins", "sign test p", "RMSE (bp)",
                             "Hagan (bp)"], rows)


def _md_scaling(scaling: pd.DataFrame, diffs: pd.DataFrame) -> list[str]:
    g = GAMMA
    lines = ["", f"## Scaling: MSE ~ b^-{g}", ""]
    k = int(scaling.n_budgets.max()) if scaling.n_budgets.notna().any() else 0
    if k < 2 or not np.isfinite(pd.to_numeric(scaling.b, errors="coerce")).any():
        return lines + [f"Not computed: this run has {k} HF budget{'s' if k != 1 else ''}; the "
                        f"exponent {g} needs 2 and its interval 3."]
    lines += [f"{g} from least squares on the per-budget mean log MSE, 95 % t interval on k - 2 "
              "df (k budgets"
              + (f"; with {k} there is none" if k < 3 else "") + "). Lack-of-fit p: budget "
              "means about the line against the seeds within a budget. The seed bootstrap is "
              "descriptive (few clusters; it cannot see effects shared by a budget's seeds), not "
              "a confidence interval.", ""]
    rows = [[r.model_type, _fmt(r.b, ".3f"), _fmt_ci(r.b_lo, r.b_hi, ".3f"),
             _fmt(r.rmse_exponent, ".3f"), _fmt(r.lof_p, ".3g"), _fmt(r.r2, ".3f"), r.n_budgets,
             _fmt_ci(r.b_boot_lo_descriptive, r.b_boot_hi_descriptive, ".3f")]
            for r in scaling.itertuples()]
    lines += md_table(["model", g, "95 % CI", f"RMSE exponent {g}/2", "lack-of-fit p", "R^2",
                       "budgets", "seed bootstrap (descriptive, few clusters)"], rows)
    if not diffs.empty and np.isfinite(pd.to_numeric(diffs.b_diff, errors="coerce")).any():
        lines += ["", f"Exponent differences (paired per-budget means, t on k - 2 df; > 0: A's "
                  "MSE falls faster; Holm p over the pairs as one family, as the comparisons):", ""]
        rows = [[r.model_a, r.model_b, _fmt(r.b_diff, ".3f"),
                 _fmt_ci(r.b_diff_lo, r.b_diff_hi, ".3f"), _fmt(r.p, ".3g"),
                 _fmt(getattr(r, "p_holm", math.nan), ".3g")] for r in diffs.itertuples()]
        lines += md_table(["A", "B", f"{g}_A - {g}_B", "95 % CI", "p", "Holm p"], rows)
    return lines


def _fit_interval(r, tested) -> str:
    """The Fieller interval of the budget for the target, cut to what the data show: a target
    not reached at the largest tested budget needs more than it, one reached at the smallest
    needs no more than it."""
    lo, hi = r.budget_fit_lo, r.budget_fit_hi
    bound = str(getattr(r, "interp_bound", "") or "")
    if bound.startswith(">") and np.isfinite(tested[1]):
        lo = max(lo, tested[1]) if np.isfinite(lo) else tested[1]
    elif bound.startswith("<") and np.isfinite(tested[0]):
        hi = min(hi, tested[0]) if np.isfinite(hi) or hi == math.inf else tested[0]
    return (f"[{_fmt_budget(lo, tested=tested, inf_text='unbounded')}, "
            f"{_fmt_budget(hi, tested=tested, inf_text='unbounded')}]")


def _md_efficiency(eff: pd.DataFrame, target) -> list[str]:
    lines = ["", f"## HF points needed for a test RMSE of {_fmt(target)} bp (noise-corrected)", ""]
    rows = []
    for r in eff.itertuples():
        beyond = bool(getattr(r, "beyond_range", False))
        tested = (getattr(r, "tested_min", math.nan), getattr(r, "tested_max", math.nan))
        ci = "" if beyond or not _fmt(r.budget_fit) else _fit_interval(r, tested)
        rows.append([r.model_type, _fmt(r.budget_interp, ".0f") or r.interp_bound or "",
                     _fmt_budget(r.budget_fit, beyond), ci, r.fit_flag or r.interp_flag or ""])
    if not any(x[1] or x[2] for x in rows):
        return lines + ["Not computed: no model's budgets bracket the target and no fit "
                        "reaches it (" + "; ".join(f"{x[0]}: {x[4] or 'no fit'}" for x in rows)
                        + ")."]
    return lines + md_table(["model", "interpolated", "from the fit", "95 % CI (Fieller)",
                             "flag"], rows, missing="none")


def _md_comparisons(comp: pd.DataFrame, alpha: float) -> list[str]:
    sig = comp[comp.verdict.isin(["A better", "B better"])]
    lines = ["", f"## Significant paired comparisons (Holm, alpha {alpha})", ""]
    tested = comp[comp.verdict != "too few pairs"]
    if tested.empty:
        lines.append(f"None tested: a paired comparison needs {MIN_PAIRS} or more seeds on "
                     f"both models (this run has at most {int(comp.n_pairs.max())}).")
    elif sig.empty:
        lines.append(f"None at this number of seeds ({len(tested)} tested).")
    else:
        rows = [[_b(r.budget), r.model_a, r.model_b,
                 f"{_fmt(r.rmse_ratio, '.2f')} {_fmt_ci(r.rmse_ratio_lo, r.rmse_ratio_hi, '.2f')}",
                 r.wins, _fmt(r.p_holm, ".3g"), _fmt(r.d_z, ".2f")] for r in sig.itertuples()]
        lines += md_table(["budget", "A", "B", "RMSE ratio A/B [CI]", "wins A", "p (Holm)",
                           "d_z"], rows)
    degenerate = comp[comp.verdict == "degenerate"]
    if len(degenerate):
        lines += ["", "Degenerate (a constant offset on every seed, sd 0: no test): " + ", ".join(
            f"{r.model_a} vs {r.model_b} at {r.budget}" for r in degenerate.itertuples())]
    return lines


def headline_markdown(analysis: dict, df: pd.DataFrame, plots: list[Path]) -> str:
    """The run's markdown summary (``df``: the results frame, every cell: the counts and the
    cells not finished): the headline RMSE table with seed and test-theta intervals,
    best model per budget, exponents with their honest intervals, budget for target,
    significant comparisons after Holm, notes and plot paths."""
    lines = ["# hf-budget results", ""]
    n_ok = int((df.status == "ok").sum())
    lines.append(f"{n_ok} of {len(df)} cells finished.")
    bad = df[df.status != "ok"]
    if len(bad):
        lines += ["", "**Not finished:** " + "; ".join(
            f"{cell_name(m, b, s)} ({st})" for b, m, s, st in
            zip(cell_budgets(bad), bad.model_type, bad.seed, bad.status))]
    summary = pd.DataFrame(analysis["summary"])
    if not summary.empty:
        lines += _md_headline(summary)
    ranks = pd.DataFrame(analysis["rankings"])
    if not ranks.empty:
        lines += _md_best(ranks)
    scaling = pd.DataFrame(analysis["scaling"])
    if not scaling.empty:
        lines += _md_scaling(scaling, pd.DataFrame(analysis.get("exponent_differences") or []))
    eff = pd.DataFrame(analysis["efficiency"])
    if not eff.empty:
        lines += _md_efficiency(eff, analysis["settings"].get("target_rmse_bp"))
    comp = pd.DataFrame(analysis["comparisons"])
    if not comp.empty:
        lines += _md_comparisons(comp, analysis["settings"]["alpha"])
    notes = analysis.get("notes") or []
    if notes:
        shown = notes[:MAX_NOTES]
        more = (f"; and {len(notes) - MAX_NOTES} more notes in statistical_analysis.json"
                if len(notes) > MAX_NOTES else "")
        lines += ["", f"Notes ({len(notes)}): " + "; ".join(shown) + more]
    if plots:
        lines += ["", "Plots: " + ", ".join(str(p) for p in plots)]
    return "\n".join(lines) + "\n"
