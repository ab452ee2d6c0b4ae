"""``ResultsAggregator``: the seed's API over an output folder, and every analysis file.

Reads the finished cells (``exp_*/metrics.json``), runs sabr.stats.analyse and
writes the tree of shared/DESIGN.md section 4:

    detailed_results.csv  summary_statistics.csv  statistical_analysis.json
    performance_vs_budget.csv  run_status.json  plots/*.png
    analysis/ performance_summary.csv  model_rankings.json  efficiency_analysis.json
              relative_improvements.csv  model_comparisons.csv  scaling.csv

All writes are atomic; JSON holds null where a number is undefined.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_write_json, atomic_write_text
from .results import TASK_FAILED as _TASK_FAILED, results_frame, write_tables
from .stats import analyse

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


def headline_markdown(analysis: dict, df: pd.DataFrame, plots: list[Path]) -> str:
    """The run's markdown summary: best model per budget, exponents, budget for target,
    significant comparisons after Holm, the summary table, plot paths."""
    lines = ["# hf-budget results", ""]
    n_ok = int((df.status == "ok").sum())
    lines.append(f"{n_ok} of {len(df)} cells finished.")
    bad = df[df.status != "ok"]
    if len(bad):
        lines += ["", "**Not finished:** " + "; ".join(
            f"{r.model_type} b={r.budget} s={r.seed} ({r.status})" for r in bad.itertuples())]
    ranks = pd.DataFrame(analysis["rankings"])
    if not ranks.empty:
        lines += ["", "## Best model per budget", "", "| budget | best | P(rank 1) | RMSE (bp) | Hagan (bp) |",
                  "|---|---|---|---|---|"]
        for b, g in ranks.groupby("budget"):
            top = g.sort_values("rank").iloc[0]
            lines.append(f"| {b} | {top.model_type} | {_fmt(top.p_rank1, '.2f')} | "
                         f"{_fmt(top.rmse_bp_gmean)} | {_fmt(top.hagan_rmse_bp)} |")
    scaling = pd.DataFrame(analysis["scaling"])
    if not scaling.empty:
        lines += ["", "## Scaling: MSE ~ n^-b", "", "| model | b | 95 % CI (t) | CI (seed bootstrap) | R^2 |",
                  "|---|---|---|---|---|"]
        for r in scaling.itertuples():
            lines.append(f"| {r.model_type} | {_fmt(r.b, '.3f')} | [{_fmt(r.b_lo, '.3f')}, "
                         f"{_fmt(r.b_hi, '.3f')}] | [{_fmt(r.b_boot_lo, '.3f')}, "
                         f"{_fmt(r.b_boot_hi, '.3f')}] | {_fmt(r.r2, '.3f')} |")
    eff = pd.DataFrame(analysis["efficiency"])
    if not eff.empty:
        target = analysis["settings"].get("target_rmse_bp")
        lines += ["", f"## HF points needed for a test RMSE of {_fmt(target)} bp", "",
                  "| model | interpolated | from the fit [CI] | flag |", "|---|---|---|---|"]
        for r in eff.itertuples():
            lines.append(f"| {r.model_type} | {_fmt(r.budget_interp, '.0f') or r.interp_bound or ''} | "
                         f"{_fmt(r.budget_fit, '.3g')} [{_fmt(r.budget_fit_lo, '.3g')}, "
                         f"{_fmt(r.budget_fit_hi, '.3g')}] | {r.fit_flag or r.interp_flag or ''} |")
    comp = pd.DataFrame(analysis["comparisons"])
    if not comp.empty:
        sig = comp[comp.p_holm.notna() & (comp.p_holm < analysis["settings"]["alpha"])]
        lines += ["", f"## Significant paired comparisons (Holm, alpha {analysis['settings']['alpha']})", ""]
        if sig.empty:
            lines.append("None at this number of seeds.")
        else:
            lines += ["| budget | A | B | RMSE ratio A/B [CI] | wins A | p (Holm) | d_z |",
                      "|---|---|---|---|---|---|---|"]
            for r in sig.itertuples():
                lines.append(f"| {r.budget} | {r.model_a} | {r.model_b} | {_fmt(r.rmse_ratio, '.2f')} "
                             f"[{_fmt(r.rmse_ratio_lo, '.2f')}, {_fmt(r.rmse_ratio_hi, '.2f')}] | "
                             f"{r.wins} | {_fmt(r.p_holm, '.3g')} | {_fmt(r.d_z, '.2f')} |")
    summary = pd.DataFrame(analysis["summary"])
    if not summary.empty:
        table = summary.pivot_table(index="model_type", columns="budget", values="rmse_bp_gmean")
        lines += ["", "## Test RMSE (bp, geometric mean over seeds)", "",
                  "| model | " + " | ".join(str(b) for b in table.columns) + " |",
                  "|---|" + "---|" * len(table.columns)]
        for model, row in table.iterrows():
            lines.append(f"| {model} | " + " | ".join(_fmt(v) for v in row.values) + " |")
        floor = summary.noise_floor_bp.dropna()
        if len(floor):
            lines += ["", f"MC noise floor (RMS HF s.e. on the test set): {floor.mean():.1f} bp."]
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

    def _hf_seconds_per_point(self) -> float | None:
        meta = self.output_dir / "data" / "metadata.json"
        if not meta.is_file():
            return None
        m = json.loads(meta.read_text())
        secs = m.get("hf_seconds_per_surface") or []
        n, k = (m.get("shape") or [0, 0, 0])[1:3] if len(m.get("shape") or []) == 3 else (0, 0)
        return float(np.mean(secs)) / (n * k) if secs and n * k else None

    def analysis(self) -> dict:
        """sabr.stats.analyse of the finished cells (computed once)."""
        if self._analysis is None:
            self._analysis = analyse(self.df, hf_seconds_per_point=self._hf_seconds_per_point(),
                                     target_rmse_bp=self.target, n_boot=self.n_boot,
                                     rng=np.random.default_rng(self.seed))
        return self._analysis

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
