"""``ResultsAggregator``: the seed's API over an output folder, and every analysis file.

Reads the finished cells (``<cell folder>/metrics.json``) into the one results frame
(sabr.analysis.results: every cell, point and CPU-second budgets), runs
sabr.analysis.studies.budget.analyse on the rows in points and writes the tree of docs/DESIGN.md
section 6:

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

from ..io import atomic_write_json, atomic_write_text
from ..model_types import BASELINE_MODEL
from .markdown import headline_markdown
from ..cells import cell_folders
from .results import TASK_FAILED as _TASK_FAILED, not_ok, point_rows, results_frame, write_tables
from .studies.budget import analyse
from ..budget_labels import cell_name

__all__ = ["ResultsAggregator", "create_results_aggregator", "collect_cells", "relative_improvements"]


def collect_cells(output_dir: str | Path, names: list[str] | None = None) -> list[dict]:
    """Metrics of every finished cell folder (``<folder>/metrics.json``, sabr.cells:
    ``exp_XXXX`` and ``cost_XXXX`` alike), with its folder name; ``names``: only those
    folders (a run's plan: sabr.plan), else every one there."""
    cells = []
    for folder in cell_folders(output_dir):
        f = folder / "metrics.json"
        if (names is not None and folder.name not in names) or not f.is_file():
            continue
        m = json.loads(f.read_text())
        m["exp_dir"] = folder.name
        cells.append(m)
    return cells


def relative_improvements(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (model, budget): RMSE against Hagan, against the baseline model (direct_mlp: the
    registry's ``baseline``, sabr.model_types), and against the previous budget.

    improvement = 1 - RMSE_model / RMSE_reference (0.6 means 60 % lower error).
    """
    s = summary[~summary.is_reference & (summary.n > 0)].copy()
    if s.empty:
        return pd.DataFrame()
    s = s.sort_values(["model_type", "budget"])
    s["vs_hagan"] = 1.0 - s.rmse_bp_gmean / s.hagan_rmse_bp
    base = s[s.model_type == BASELINE_MODEL].set_index("budget").rmse_bp_gmean
    s[f"vs_{BASELINE_MODEL}"] = 1.0 - s.rmse_bp_gmean / s.budget.map(base)
    s["vs_previous_budget"] = 1.0 - s.rmse_bp_gmean / s.groupby("model_type").rmse_bp_gmean.shift(1)
    return s[["model_type", "budget", "n", "rmse_bp_gmean", "hagan_rmse_bp", "vs_hagan",
              f"vs_{BASELINE_MODEL}", "vs_previous_budget", "noise_floor_bp"]].reset_index(drop=True)


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
        planned: every (budget, model, seed) meant to run, a budget a point count or a
            CPU-budget label (default: the cells found plus those run_status.json lists as
            not finished).
        failures: [(budget, model, seed, why)] of cells whose task failed in this run
            (status ``failed``; default: the failures run_status.json recorded).
        n_boot, seed: bootstrap size and seed of the analysis.
        folders: the cell folders to read (a run's, from its plan: another run into the same
            output folder may have left other cells, such as other ensemble sizes of the
            same (budget, model, seed)); default every one there.
        target_rmse_bp: the target of the efficiency analysis (default 2 x noise floor).

    Attributes:
        frame: one row per planned cell (detailed_results.csv).
        df: its rows in points, ``budget`` an int (the seed's budget axis: the statistics).
    """

    def __init__(self, output_dir: str | Path, *, planned=None, failures=None, n_boot: int = 2000,
                 seed: int = 0, target_rmse_bp: float | None = None,
                 folders: list[str] | None = None):
        self.output_dir = Path(output_dir)
        self.cells = collect_cells(self.output_dir, names=folders)
        fail = {} if failures is None else {(b, m, int(s)): why for b, m, s, why in failures}
        if planned is None:
            planned = {(c["budget"], c["model_type"], int(c["seed"])) for c in self.cells}
            status = self.output_dir / "run_status.json"
            if status.is_file():
                for c in json.loads(status.read_text()).get("not_ok", []):
                    key = (c["budget"], c["model_type"], int(c["seed"]))
                    planned.add(key)
                    why = str(c.get("reason") or "")
                    if failures is None and why.startswith(_TASK_FAILED):
                        fail[key] = why[len(_TASK_FAILED):]
        self.planned = [tuple(p) for p in planned]
        self.frame = results_frame(self.cells, self.planned, fail)
        self.df = point_rows(self.frame)
        self.n_boot, self.seed, self.target = n_boot, seed, target_rmse_bp
        self._analysis = None

    def analysis(self) -> dict:
        """sabr.analysis.studies.budget.analyse of the finished cells (computed once)."""
        if self._analysis is None:
            # cost-benefit reads each cell's own HF CPU-seconds (hf_cpu_seconds column)
            self._analysis = analyse(self.df, target_rmse_bp=self.target, n_boot=self.n_boot,
                                     rng=np.random.default_rng(self.seed))
            self._add_test_set_intervals(self._analysis)
        return self._analysis

    def test_set_intervals(self) -> tuple[pd.DataFrame, str]:
        """Per (model, budget): RMSE interval (bp) from a bootstrap over test thetas, paired across models.

        Each finished cell's predictions.npz (points, sigma) against the data set's HF vols
        gives per-theta squared errors (sabr.analysis.statistics.testset.per_theta_sse); one set of theta
        draws serves every cell (test_theta_bootstrap, n_boot draws, seeded by ``seed``).

        Returns:
            (frame (model_type, budget, rmse_bp_test, rmse_bp_test_lo, rmse_bp_test_hi,
            n_cells_test, n_test_thetas), note: why cells or everything got no interval).
        """
        from .statistics.testset import per_theta_sse, test_theta_bootstrap
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
                missing.append(cell_name(r.model_type, r.budget, r.seed))
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
        """Add rmse_bp_test_lo / _hi and the combined rmse_bp_all_lo / _hi (bp; NaN where none)
        to the analysis' summary rows, notes."""
        try:
            tab, note = self.test_set_intervals()
        except Exception as exc:     # the report must not fail on this: keep a note
            tab, note = pd.DataFrame(), f"test-theta intervals failed: {type(exc).__name__}: {exc}"
        from .statistics.testset import combined_interval
        got = {} if tab.empty else {(m, int(b)): (lo, hi) for m, b, lo, hi in zip(
            tab.model_type, tab.budget, tab.rmse_bp_test_lo, tab.rmse_bp_test_hi)}
        for rec in a["summary"]:
            lo, hi = got.get((rec["model_type"], int(rec["budget"])), (math.nan, math.nan))
            rec["rmse_bp_test_lo"], rec["rmse_bp_test_hi"] = float(lo), float(hi)
            # the seed part is the seed interval's own: every finished seed (log RMSE =
            # log MSE / 2), also one whose predictions are gone
            both = combined_interval(rec.get("log_mse_mean", math.nan) / 2,
                                     rec.get("log_mse_sd", math.nan) / 2, int(rec.get("n", 0)),
                                     lo, hi) if not rec.get("is_reference") else (math.nan,) * 2
            rec["rmse_bp_all_lo"], rec["rmse_bp_all_hi"] = (float(v) for v in both)
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
        """Cells finished, cells planned, and the ones not finished (budget, model, seed, why),
        point and CPU-second budgets alike."""
        df = self.frame
        return {"n_ok": int((df.status == "ok").sum()), "n_cells": len(df), "not_ok": not_ok(df)}

    def dataset(self):
        """The run's data set (data/ under the output folder), or None if it is not there."""
        from ..data.dataset import DatasetError, load_dataset
        try:
            return load_dataset(self.output_dir / "data")
        except DatasetError:
            return None

    def write_all(self, *, plots: bool = True, summary: bool = True) -> dict:
        """Write every table, the JSON files and (optionally) the plots; returns paths and markdown.

        The smile and heatmap plots need the data set; they are skipped if it is missing.
        ``summary``: also write the headline as analysis/summary.md (the seed's API); the
        report (sabr.analysis.report) composes the whole summary and writes it itself, once.
        """
        out, a = self.output_dir, self.analysis()
        files = {k: str(v) for k, v in write_tables(self.frame, out).items()}
        ana = out / "analysis"
        atomic_write_json(out / "statistical_analysis.json", a)
        perf = pd.DataFrame(a["summary"])
        writes = {
            "performance_summary": (ana / "performance_summary.csv", perf),
            "relative_improvements": (ana / "relative_improvements.csv", relative_improvements(perf)
                                      if not perf.empty else pd.DataFrame()),
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
        markdown = headline_markdown(a, self.frame, plot_paths)
        if summary:
            atomic_write_text(ana / "summary.md", markdown)
        files["summary_markdown"] = str(ana / "summary.md")
        return {"files": files, "plots": [str(p) for p in plot_paths], "markdown": markdown}


def create_results_aggregator(output_dir: str | Path, **kwargs) -> ResultsAggregator:
    """The seed's factory: ``ResultsAggregator(output_dir, **kwargs)``."""
    return ResultsAggregator(output_dir, **kwargs)
