"""The report of an output folder: one function writes it, for the flow and for ``hf-budget analyze``.

:func:`compose_report` writes every table, JSON file and plot (ResultsAggregator),
``analysis/summary.md`` (with the ensemble cells' calibration, sabr.analysis.studies.calibration,
when a run has ensembles) with the comparison against the previous run and, when
known, where the time went (``analysis/timings.json``), then archives the analysis
under ``runs/<run_name>/`` and points ``latest`` at it (sabr.analysis.studies.history).

What the summary depends on beyond the cells on disk (the run's name, the run it
is compared with, the planned cells, the failures, whether the run was fully
cached) is recorded in ``analysis/report.json``. :func:`recompose_report` reads it
back, so ``hf-budget analyze`` after a run writes the same summary.md as the run
did, and refreshes that run's archive; in a folder without a recorded report it
composes a new one under a new run name.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from ..io import atomic_write_json, atomic_write_text
from .aggregator import ResultsAggregator
from .answer import answer_lines
from .glossary import glossary_markdown
from .html_report import write_html_report
from .markdown import TUNING_NOTE, tuning_note
from .studies.history import archive_run, comparison_markdown, previous_run
from .timings import timings_markdown

__all__ = ["compose_report", "recompose_report", "REPORT_FILE", "TIMINGS_FILE"]

REPORT_FILE = "analysis/report.json"
TIMINGS_FILE = "analysis/timings.json"


def compose_report(output_dir: str | Path, run_name: str, *, planned=None, failures=None,
                   fully_cached: bool = False, timings: dict | Callable[[], dict] | None = None,
                   previous: Path | None | str = "latest", folders: list[str] | None = None,
                   cost_planned=None, cost_failures=None,
                   tuning_sources: dict | None = None) -> dict:
    """Analyse the cells on disk and write the whole report of run ``run_name``.

    Args:
        output_dir: the output folder.
        run_name: the run's archive name under runs/.
        planned, failures: every cell of the run (budget, model, seed), a budget a point
            count or a CPU-budget label, and [budget, model, seed, why] of those whose task
            failed, as in ResultsAggregator (None: from the cells and run_status.json).
        fully_cached: nothing was recomputed in this run (the comparison says so).
        timings: the run's sabr.analysis.timings.stage_timings (written to timings.json and
            summarised), or a function returning them, called once the analysis is done (so
            the run's clock includes it), or None when unknown.
        previous: the archived run to compare with; "latest" (default): the one ``latest``
            points at before this run is archived.
        folders: the run's cell folders (its plan); None: every cell folder there.
        cost_planned, cost_failures: CPU-budget cells listed apart, as report.json recorded
            them before the results were one frame: added to ``planned`` / ``failures``.
        tuning_sources: which tuning each budget trained with (sabr.plan.tuning_sources),
            recorded in report.json; the summary's tuning note names the reused ones (None:
            unknown, every budget taken to have its own).
    Returns:
        dict: the aggregator's status (every cell) plus files, plots, markdown, comparison,
        run_dir, timings, the ResultsAggregator (``aggregator``) and, with CPU-budget cells,
        ``cost`` (cost_results.csv and its counts, sabr.analysis.cost.write_cost_results)
        and ``answer`` (the allocation study's one sentence, also the summary's second line).
    """
    out = Path(output_dir)
    before = previous_run(out) if previous == "latest" else (Path(previous) if previous else None)
    if cost_planned is not None:
        planned = [*(planned or []), *cost_planned]
    if cost_failures is not None:
        failures = [*(failures or []), *cost_failures]
    planned_list = None if planned is None else [list(p) for p in planned]
    failures_list = None if failures is None else [list(f) for f in failures]
    agg = ResultsAggregator(out, planned=None if planned is None else [tuple(p) for p in planned],
                            failures=failures_list, folders=folders)
    written = agg.write_all(summary=False)      # summary.md is written once, below
    section = comparison_markdown(agg.df, before, fully_cached=fully_cached)
    markdown = written["markdown"]
    cost, study = _allocation_study(out, agg)
    if study is not None:
        written["files"].update(study["files"], cost_results=cost["file"])
        written["plots"].extend(study["plots"])
        markdown += "\n" + study["markdown"]
    headline = answer_lines(agg.analysis(), study["tables"]["answer"] if study else "")
    title, _, rest = markdown.partition("\n")
    markdown = (title + "\n\n## The answer\n\n" + "".join(f"- {x}\n" for x in headline)
                + rest) if headline else markdown
    calibration = _calibration(out, agg)
    if calibration:
        written["files"]["calibration"] = calibration["calibration"]
        written["plots"].append(calibration["reliability"])
        markdown += "\n" + calibration["markdown"]
    markdown += "\n## Against the previous run\n\n" + section + "\n"
    if callable(timings):
        timings = timings()
    if timings is not None:
        atomic_write_json(out / TIMINGS_FILE, timings)
        markdown += "\n## Where the time went\n\n" + timings_markdown(timings) + "\n"
    markdown = markdown.replace(TUNING_NOTE, tuning_note(tuning_sources))
    markdown += glossary_markdown(markdown)
    atomic_write_text(out / "analysis" / "summary.md", markdown)
    written["files"]["report_html"] = str(write_html_report(out, markdown, written["plots"]))
    atomic_write_json(out / REPORT_FILE, {
        "run_name": run_name, "previous": before.name if before else None,
        "planned": planned_list, "failures": failures_list, "fully_cached": bool(fully_cached),
        "timings": timings is not None, "tuning_sources": tuning_sources})
    archived = archive_run(out, run_name, replace=True)
    extra = {} if cost is None else {"cost": {k: v for k, v in cost.items() if k != "frame"},
                                     "answer": study["tables"]["answer"]}
    return {**agg.status(), "files": written["files"], "plots": written["plots"],
            "report_html": written["files"]["report_html"],
            "markdown": markdown, "comparison": section, "run_dir": str(archived),
            "timings": timings, "headline": headline, "aggregator": agg, **extra}


def _allocation_study(out: Path, agg):
    """cost_results.csv and the allocation analysis, when the run has CPU-budget cells."""
    if not (agg.frame.unit != "points").any():
        return None, None
    from .studies.allocation import write_allocation_analysis
    from .cost import write_cost_results
    cost = write_cost_results(out, agg.frame)
    return cost, write_allocation_analysis(out, cost["frame"], agg.df)


def _calibration(out: Path, agg) -> dict:
    """The ensemble cells' calibration (sabr.analysis.studies.calibration): analysis/calibration.csv,
    plots/reliability.png and its summary section; {} without ensemble cells."""
    from .studies.calibration import calibration_markdown, calibration_table, write_calibration
    from .results import cell_budgets
    df = agg.frame.assign(budget=cell_budgets(agg.frame))
    written = write_calibration(df, out)
    if not written:
        return {}
    return {**written, "markdown": calibration_markdown(calibration_table(df))}


def _floats(obj):
    """Inverse of sabr.io.to_json for the infinities it writes as "inf" / "-inf"."""
    if isinstance(obj, dict):
        return {k: _floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_floats(v) for v in obj]
    return float(obj) if obj in ("inf", "-inf") else obj


def recompose_report(output_dir: str | Path) -> dict:
    """Compose the report again from the cells on disk and the recorded report inputs
    (``analysis/report.json``): the same summary.md as the run that wrote them, its archive
    refreshed. Without a recorded report: a new report named ``<UTC time>-analyze``."""
    out = Path(output_dir)
    path = out / REPORT_FILE
    if not path.is_file():
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-analyze"
        return compose_report(out, name)
    rec = json.loads(path.read_text())
    timings = None
    if rec.get("timings") and (out / TIMINGS_FILE).is_file():
        timings = _floats(json.loads((out / TIMINGS_FILE).read_text()))
    prev = out / "runs" / rec["previous"] if rec.get("previous") else None
    return compose_report(out, rec["run_name"], planned=rec.get("planned"),
                          failures=rec.get("failures"), fully_cached=rec.get("fully_cached", False),
                          timings=timings, previous=prev if prev is not None and prev.is_dir() else None,
                          cost_planned=rec.get("cost_planned"), cost_failures=rec.get("cost_failures"),
                          tuning_sources=rec.get("tuning_sources"))
