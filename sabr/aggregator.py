"""``ResultsAggregator``: the seed's API over an output folder, and every analysis file.

Reads the finished cells (``exp_*/metrics.json``), runs sabr.stats.analyse and
writes the tree of shared/DESIGN.md section 4:

    detailed_results.csv  summary_statistics.csv  statistical_analysis.json
    performance_vs_budget.csv  run_status.json  plots/*.png
    analysis/ performance_summary.csv  model_rankings.json  efficiency_analysis.json
              relative_improvements.csv  model_comparisons.csv  scaling.csv

All writes are atomic; JSON holds null where a number is undefined and "inf" / "-inf"
where it is infinite.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_write_json, atomic_write_text
from .results import TASK_FAILED as _TASK_FAILED, results_frame, write_tables
from .stats import analyse
from .stats_efficiency import RANGE_FACTOR

__all__ = ["ResultsAggregator", "create_results_aggregator", "collect_cells", "relative_improvements",
           "headline_markdown"]


def collect_cells(output_dir: str | Path) -> list[dict]:
    """Metrics of every finished cell folder (exp_*/metrics.json), with its folder name."""
    cells = []
    for f in sorted(Path(output_dir).glob("exp_*/metrics.json")):
        m = json.loads(f.read_text())
        m["exp_dir"] = f.parent.name
        cells.append(m)
    return cells


def relative_improvements(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (model, budget): RMSE against Hagan, against direct_mlp, and against the previous budget.

    improvement = 1 - RMSE_model / RMSE_reference (0.6 means 60 % lower error).
    """
    s = summary[~summary.is_reference & (summary.n > 0)].copy()
    if s.empty:
        return pd.DataFrame()
    s = s.sort_values(["model_type", "budget"])
    s["vs_hagan"] = 1.0 - s.rmse_bp_gmean / s.hagan_rmse_bp
    direct = s[s.model_type == "direct_mlp"].set_index("budget").rmse_bp_gmean
    s["vs_direct_mlp"] = 1.0 - s.rmse_bp_gmean / s.budget.map(direct)
    s["vs_previous_budget"] = 1.0 - s.rmse_bp_gmean / s.groupby("model_type").rmse_bp_gmean.shift(1)
    return s[["model_type", "budget", "n", "rmse_bp_gmean", "hagan_rmse_bp", "vs_hagan",
              "vs_direct_mlp", "vs_previous_budget", "noise_floor_bp"]].reset_index(drop=True)


def _fmt(v, spec=".1f"):
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


TUNING_NOTE = ("Verdicts and intervals hold for the hyperparameters tuned per (model, budget) on "
               "a tuning replicate: they compare tuned configurations, not architectures under "
               "every setting.")


def _fmt_ci(lo, hi, spec=".1f") -> str:
    return f"[{_fmt(lo, spec)}, {_fmt(hi, spec)}]" if _fmt(lo, spec) or _fmt(hi, spec) else ""


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
    """Noise-corrected RMSE of a summary row (bp): sqrt(max(gmean MSE - floor^2, 0)).

    The test set, and so the floor, is the same for every cell, so this is the geometric
    mean of the column beside it with the label noise taken out (never above it).
    """
    gm, floor = getattr(r, "mse_bp2_gmean", math.nan), getattr(r, "noise_floor_bp", math.nan)
    return math.sqrt(max(gm - floor ** 2, 0.0)) if np.isfinite(gm) and np.isfinite(floor) else math.nan


def _md_headline(summary: pd.DataFrame) -> list[str]:
    """Per model and budget: RMSE with the seed and the test-theta interval, corrected RMSE, cost."""
    s = summary[~summary.is_reference & (summary.n > 0)].sort_values(["model_type", "budget"])
    if s.empty:
        return []
    lines = ["", "## Test RMSE per model and budget", "",
             "RMSE: geometric mean over seeds (bp). Seed CI: t interval over seeds (training "
             "randomness). Test CI: BCa bootstrap over test thetas, paired across models (test-set "
             "draw; approximate: simulated coverage 0.91-0.96 at nominal 0.95, the low end when a "
             "few thetas dominate). Corrected: the geometric-mean MSE minus the MC noise floor^2. HF CPU-s: Monte Carlo CPU-seconds "
             "of the HF data a cell uses.", "",
             "| model | budget | seeds | RMSE | seed 95 % CI | test-theta 95 % CI (approx.) | corrected RMSE "
             "| HF CPU-s | Hagan |", "|---|---|---|---|---|---|---|---|---|"]
    for r in s.itertuples():
        cost = _fmt(getattr(r, "hf_cpu_seconds_mean", None), ".3g")
        lines.append(f"| {r.model_type} | {r.budget} | {r.n} | {_fmt(r.rmse_bp_gmean)} | "
                     f"{_fmt_ci(r.rmse_bp_lo, r.rmse_bp_hi)} | "
                     f"{_fmt_ci(getattr(r, 'rmse_bp_test_lo', None), getattr(r, 'rmse_bp_test_hi', None))} | "
                     f"{_fmt(_corrected_rmse(r))} | {cost} | {_fmt(r.hagan_rmse_bp)} |")
    floor = summary.noise_floor_bp.dropna()
    if len(floor):
        lines += ["", f"MC noise floor (RMS HF s.e. on the test set): {floor.mean():.1f} bp."]
    return lines + ["", TUNING_NOTE]


def _md_best(ranks: pd.DataFrame) -> list[str]:
    lines = ["", "## Best model per budget", "", "| budget | best | P(rank 1) | RMSE (bp) | Hagan (bp) |",
             "|---|---|---|---|---|"]
    for b, g in ranks.groupby("budget"):
        top = g.sort_values("rank").iloc[0]
        p1 = _fmt(top.p_rank1, ".2f") or f"n/a ({int(top.n_complete_seeds)} seeds)"
        lines.append(f"| {b} | {top.model_type} | {p1} | {_fmt(top.rmse_bp_gmean)} | "
                     f"{_fmt(top.hagan_rmse_bp)} |")
    return lines


def _md_scaling(scaling: pd.DataFrame, diffs: pd.DataFrame) -> list[str]:
    lines = ["", "## Scaling: MSE ~ n^-b", "",
             "b from least squares on the per-budget mean log MSE, 95 % t interval on k - 2 df "
             "(k budgets). Lack-of-fit p: budget means about the line against the seeds within a "
             "budget. The seed bootstrap is descriptive (few clusters; it cannot see effects "
             "shared by a budget's seeds), not a confidence interval.", "",
             "| model | b | 95 % CI | RMSE exponent b/2 | lack-of-fit p | R^2 | budgets | "
             "seed bootstrap (descriptive, few clusters) |", "|---|---|---|---|---|---|---|---|"]
    for r in scaling.itertuples():
        lines.append(f"| {r.model_type} | {_fmt(r.b, '.3f')} | {_fmt_ci(r.b_lo, r.b_hi, '.3f')} | "
                     f"{_fmt(r.rmse_exponent, '.3f')} | {_fmt(r.lof_p, '.3g')} | {_fmt(r.r2, '.3f')} | "
                     f"{r.n_budgets} | {_fmt_ci(r.b_boot_lo_descriptive, r.b_boot_hi_descriptive, '.3f')} |")
    if not diffs.empty:
        lines += ["", "Exponent differences (paired per-budget means, t on k - 2 df; > 0: A's MSE "
                  "falls faster):", "", "| A | B | b_A - b_B | 95 % CI | p |", "|---|---|---|---|---|"]
        for r in diffs.itertuples():
            lines.append(f"| {r.model_a} | {r.model_b} | {_fmt(r.b_diff, '.3f')} | "
                         f"{_fmt_ci(r.b_diff_lo, r.b_diff_hi, '.3f')} | {_fmt(r.p, '.3g')} |")
    return lines


def _md_efficiency(eff: pd.DataFrame, target) -> list[str]:
    lines = ["", f"## HF points needed for a test RMSE of {_fmt(target)} bp (noise-corrected)", "",
             "| model | interpolated | from the fit | 95 % CI (Fieller) | flag |", "|---|---|---|---|---|"]
    for r in eff.itertuples():
        beyond = bool(getattr(r, "beyond_range", False))
        tested = (getattr(r, "tested_min", math.nan), getattr(r, "tested_max", math.nan))
        ci = "" if beyond else (f"[{_fmt_budget(r.budget_fit_lo, tested=tested, inf_text='unbounded')}, "
                                f"{_fmt_budget(r.budget_fit_hi, tested=tested, inf_text='unbounded')}]")
        lines.append(f"| {r.model_type} | {_fmt(r.budget_interp, '.0f') or r.interp_bound or ''} | "
                     f"{_fmt_budget(r.budget_fit, beyond)} | {ci if _fmt(r.budget_fit) else ''} | "
                     f"{r.fit_flag or r.interp_flag or ''} |")
    return lines


def _md_comparisons(comp: pd.DataFrame, alpha: float) -> list[str]:
    sig = comp[comp.verdict.isin(["A better", "B better"])]
    lines = ["", f"## Significant paired comparisons (Holm, alpha {alpha})", ""]
    if sig.empty:
        lines.append("None at this number of seeds.")
    else:
        lines += ["| budget | A | B | RMSE ratio A/B [CI] | wins A | p (Holm) | d_z |",
                  "|---|---|---|---|---|---|---|"]
        for r in sig.itertuples():
            lines.append(f"| {r.budget} | {r.model_a} | {r.model_b} | {_fmt(r.rmse_ratio, '.2f')} "
                         f"{_fmt_ci(r.rmse_ratio_lo, r.rmse_ratio_hi, '.2f')} | "
                         f"{r.wins} | {_fmt(r.p_holm, '.3g')} | {_fmt(r.d_z, '.2f')} |")
    degenerate = comp[comp.verdict == "degenerate"]
    if len(degenerate):
        lines += ["", "Degenerate (a constant offset on every seed, sd 0: no test): " + ", ".join(
            f"{r.model_a} vs {r.model_b} at {r.budget}" for r in degenerate.itertuples())]
    return lines


def headline_markdown(analysis: dict, df: pd.DataFrame, plots: list[Path]) -> str:
    """The run's markdown summary: the headline RMSE table with seed and test-theta intervals,
    best model per budget, exponents with their honest intervals, budget for target,
    significant comparisons after Holm, notes and plot paths."""
    lines = ["# hf-budget results", ""]
    n_ok = int((df.status == "ok").sum())
    lines.append(f"{n_ok} of {len(df)} cells finished.")
    bad = df[df.status != "ok"]
    if len(bad):
        lines += ["", "**Not finished:** " + "; ".join(
            f"{r.model_type} b={r.budget} s={r.seed} ({r.status})" for r in bad.itertuples())]
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
    if analysis.get("notes"):
        lines += ["", "Notes: " + "; ".join(analysis["notes"][:10])]
    if plots:
        lines += ["", "Plots: " + ", ".join(str(p) for p in plots)]
    return "\n".join(lines) + "\n"


_VERDICT_FLIP = {"A better": "B better", "B better": "A better"}


def _flip(rows: pd.DataFrame) -> pd.DataFrame:
    """Comparison rows of (A, B) rewritten as (B, A): ratios inverted, signs and wins swapped."""
    r = rows.copy()
    r["model_a"], r["model_b"] = rows.model_b, rows.model_a
    for stem in ("mse_ratio", "rmse_ratio"):
        r[stem] = 1.0 / rows[stem]
        r[f"{stem}_lo"], r[f"{stem}_hi"] = 1.0 / rows[f"{stem}_hi"], 1.0 / rows[f"{stem}_lo"]
    for col in ("t", "d_z", "d_z_uncorrected", "mean_log_diff"):
        r[col] = -rows[col]
    r["wins_a"] = rows.n_pairs - rows.wins_a - rows.ties
    r["wins"] = [f"{w}/{n}" for w, n in zip(r.wins_a, rows.n_pairs)]
    r["rmse_bp_mean_a"], r["rmse_bp_mean_b"] = rows.rmse_bp_mean_b, rows.rmse_bp_mean_a
    r["verdict"] = rows.verdict.map(lambda v: _VERDICT_FLIP.get(v, v))
    return r


class ResultsAggregator:
    """The experiment's results in ``output_dir``: tables, statistics, rankings, comparisons.

    Args:
        output_dir: a folder written by the hf-budget flow.
        planned: every (budget, model, seed) meant to run (default: the cells found plus
            those run_status.json lists as not finished).
        failures: [(budget, model, seed, why)] of cells whose task failed in this run
            (status ``failed``; default: the failures run_status.json recorded).
        n_boot, seed: bootstrap size and seed of the analysis.
        target_rmse_bp: the target of the efficiency analysis (default 2 x noise floor).
    """

    def __init__(self, output_dir: str | Path, *, planned=None, failures=None, n_boot: int = 2000,
                 seed: int = 0, target_rmse_bp: float | None = None):
        self.output_dir = Path(output_dir)
        self.cells = collect_cells(self.output_dir)
        fail = {} if failures is None else {(int(b), m, int(s)): why for b, m, s, why in failures}
        if planned is None:
            planned = {(int(c["budget"]), c["model_type"], int(c["seed"])) for c in self.cells}
            status = self.output_dir / "run_status.json"
            if status.is_file():
                for c in json.loads(status.read_text()).get("not_ok", []):
                    key = (int(c["budget"]), c["model_type"], int(c["seed"]))
                    planned.add(key)
                    why = str(c.get("reason") or "")
                    if failures is None and why.startswith(_TASK_FAILED):
                        fail[key] = why[len(_TASK_FAILED):]
        self.planned = sorted(tuple(p) for p in planned)
        self.df = results_frame(self.cells, self.planned, fail) if self.planned else pd.DataFrame(
            columns=["budget", "model_type", "seed", "status", "reason"])
        self.n_boot, self.seed, self.target = n_boot, seed, target_rmse_bp
        self._analysis = None

    def analysis(self) -> dict:
        """sabr.stats.analyse of the finished cells (computed once)."""
        if self._analysis is None:
            # cost-benefit reads each cell's own HF CPU-seconds (hf_cpu_seconds column)
            self._analysis = analyse(self.df, target_rmse_bp=self.target, n_boot=self.n_boot,
                                     rng=np.random.default_rng(self.seed))
            self._add_test_set_intervals(self._analysis)
        return self._analysis

    def test_set_intervals(self) -> tuple[pd.DataFrame, str]:
        """Per (model, budget): RMSE interval (bp) from a bootstrap over test thetas, paired across models.

        Each finished cell's predictions.npz (points, sigma) against the data set's HF vols
        gives per-theta squared errors (sabr.stats_testset.per_theta_sse); one set of theta
        draws serves every cell (test_theta_bootstrap, n_boot draws, seeded by ``seed``).

        Returns:
            (frame (model_type, budget, rmse_bp_test, rmse_bp_test_lo, rmse_bp_test_hi,
            n_cells_test, n_test_thetas), note: why cells or everything got no interval).
        """
        from .stats_testset import per_theta_sse, test_theta_bootstrap
        cols = ["model_type", "budget", "rmse_bp_test", "rmse_bp_test_lo", "rmse_bp_test_hi",
                "n_cells_test", "n_test_thetas"]
        ok = self.df[self.df.status == "ok"] if "exp_dir" in self.df else self.df.iloc[:0]
        if ok.empty:
            return pd.DataFrame(columns=cols), ""
        ds = self.dataset()
        if ds is None:
            return pd.DataFrame(columns=cols), "no data set: no test-theta intervals (rmse_bp_test_lo / _hi empty)"
        truth, thetas = ds.hf.ravel(), np.sort(np.asarray(ds.test_thetas))
        sse, cnt, groups, missing = [], [], [], []
        for r in ok.itertuples():
            f = self.output_dir / str(r.exp_dir) / "predictions.npz"
            if not f.is_file():
                missing.append(f"{r.model_type} b={r.budget} s={r.seed}")
                continue
            with np.load(f, allow_pickle=False) as z:
                pts, sigma = z["points"], z["sigma"]
            s, n = per_theta_sse(pts, sigma, truth, ds.unravel(pts)[0], thetas)
            sse.append(s), cnt.append(n), groups.append((r.model_type, r.budget))
        note = ("cells without predictions.npz (no test-theta interval): " + ", ".join(missing)) \
            if missing else ""
        if not sse:
            return pd.DataFrame(columns=cols), note
        res = test_theta_bootstrap(np.array(sse), np.array(cnt), groups=groups, n_boot=self.n_boot,
                                   rng=np.random.default_rng([self.seed, 16]))
        return pd.DataFrame({"model_type": [g[0] for g in res["groups"]],
                             "budget": [g[1] for g in res["groups"]], "rmse_bp_test": res["rmse"],
                             "rmse_bp_test_lo": res["lo"], "rmse_bp_test_hi": res["hi"],
                             "n_cells_test": res["n_cells"], "n_test_thetas": res["n_thetas"]}), note

    def _add_test_set_intervals(self, a: dict) -> None:
        """Add rmse_bp_test_lo / _hi (bp; NaN where none) to the analysis' summary rows, notes."""
        try:
            tab, note = self.test_set_intervals()
        except Exception as exc:     # the report must not fail on this: keep a note
            tab, note = pd.DataFrame(), f"test-theta intervals failed: {type(exc).__name__}: {exc}"
        got = {} if tab.empty else {(m, int(b)): (lo, hi) for m, b, lo, hi in zip(
            tab.model_type, tab.budget, tab.rmse_bp_test_lo, tab.rmse_bp_test_hi)}
        for rec in a["summary"]:
            lo, hi = got.get((rec["model_type"], int(rec["budget"])), (math.nan, math.nan))
            rec["rmse_bp_test_lo"], rec["rmse_bp_test_hi"] = float(lo), float(hi)
        if note:
            a["notes"].append(note)

    def get_performance_summary(self) -> pd.DataFrame:
        """Per (model, budget): seeds, mean/sd RMSE, geometric mean with t-interval, Hagan, floor."""
        return pd.DataFrame(self.analysis()["summary"])

    def rank_models_by_budget(self) -> pd.DataFrame:
        """Per budget: models by mean log MSE, rank and P(rank 1) from a paired seed bootstrap."""
        return pd.DataFrame(self.analysis()["rankings"])

    def compare_models(self, model_a: str, model_b: str) -> pd.DataFrame:
        """The paired tests of A against B at every budget (ratio CI, wins, t, p, Holm p, d_z)."""
        comp = pd.DataFrame(self.analysis()["comparisons"])
        if comp.empty:
            return comp
        same = comp[(comp.model_a == model_a) & (comp.model_b == model_b)]
        if len(same) or model_a == model_b:
            return same.reset_index(drop=True)
        # the family holds (B, A): the same tests seen from the other side (same p, Holm p)
        return _flip(comp[(comp.model_a == model_b) & (comp.model_b == model_a)]).reset_index(drop=True)

    def status(self) -> dict:
        """Cells finished, cells planned, and the ones not finished (budget, model, seed, why)."""
        df = self.df
        return {"n_ok": int((df.status == "ok").sum()), "n_cells": len(df),
                "not_ok": df[df.status != "ok"][["budget", "model_type", "seed", "status", "reason"]]
                .to_dict(orient="records")}

    def dataset(self):
        """The run's data set (data/ under the output folder), or None if it is not there."""
        from .dataset import DatasetError, load_dataset
        try:
            return load_dataset(self.output_dir / "data")
        except DatasetError:
            return None

    def write_all(self, *, plots: bool = True) -> dict:
        """Write every table, the JSON files and (optionally) the plots; returns paths and markdown.

        The smile and heatmap plots need the data set; they are skipped if it is missing.
        """
        out, a = self.output_dir, self.analysis()
        files = {k: str(v) for k, v in write_tables(self.df, out).items()}
        ana = out / "analysis"
        atomic_write_json(out / "statistical_analysis.json", a)
        summary = pd.DataFrame(a["summary"])
        writes = {
            "performance_summary": (ana / "performance_summary.csv", summary),
            "relative_improvements": (ana / "relative_improvements.csv", relative_improvements(summary)
                                      if not summary.empty else pd.DataFrame()),
            "model_comparisons": (ana / "model_comparisons.csv", pd.DataFrame(a["comparisons"])),
            "scaling": (ana / "scaling.csv", pd.DataFrame(a["scaling"])),
        }
        for key, (path, frame) in writes.items():
            atomic_write_text(path, frame.to_csv(index=False))
            files[key] = str(path)
        atomic_write_json(ana / "model_rankings.json", {
            "per_budget": a["rankings"], "overall": a["rank_summary"], "friedman": a["friedman"]})
        atomic_write_json(ana / "efficiency_analysis.json", {
            "target_rmse_bp": a["settings"].get("target_rmse_bp"), "efficiency": a["efficiency"],
            "data_efficiency": a["data_efficiency"], "cost_benefit": a["cost_benefit"],
            "exponent_differences": a["exponent_differences"]})
        files.update(statistical_analysis=str(out / "statistical_analysis.json"),
                     model_rankings=str(ana / "model_rankings.json"),
                     efficiency_analysis=str(ana / "efficiency_analysis.json"))
        plot_paths = []
        if plots and (self.df.status == "ok").any():
            from .plots import make_all_plots
            plot_paths = make_all_plots(a, self.df, out, dataset=self.dataset())
        markdown = headline_markdown(a, self.df, plot_paths)
        atomic_write_text(ana / "summary.md", markdown)
        files["summary_markdown"] = str(ana / "summary.md")
        return {"files": files, "plots": [str(p) for p in plot_paths], "markdown": markdown}


def create_results_aggregator(output_dir: str | Path, **kwargs) -> ResultsAggregator:
    """The seed's factory: ``ResultsAggregator(output_dir, **kwargs)``."""
    return ResultsAggregator(output_dir, **kwargs)
