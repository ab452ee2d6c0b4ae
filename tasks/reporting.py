"""The task that turns finished cells into the analysis files, plots and the run's artifacts."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from sabr.analysis.aggregator import ResultsAggregator
from sabr.analysis.history import archive_run, comparison_markdown, previous_run
from sabr.io import atomic_write_json, atomic_write_text
from sabr.analysis.timings import stage_timings, timings_markdown

from .common import Clock

__all__ = ["aggregate_results", "publish"]


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def publish(agg: ResultsAggregator, written: dict) -> None:
    """Markdown summary (key hf-budget-summary) and table artifacts of cells and comparisons."""
    create_markdown_artifact(markdown=written["markdown"], key="hf-budget-summary",
                             description="hf-budget: best models, scaling, efficiency, comparisons")
    create_table_artifact(table=_records(agg.df.round(3)), key="hf-budget-cells",
                          description="detailed_results.csv: one row per cell")
    comp = pd.DataFrame(agg.analysis()["comparisons"])
    if not comp.empty:
        create_table_artifact(table=_records(comp.round(4)), key="hf-budget-comparisons",
                              description="paired comparisons with Holm-adjusted p")


@task(name="aggregate", task_run_name="aggregate {n_planned} cells")
def aggregate_results(planned: list[tuple[int, str, int]], output_dir: str, n_planned: int,
                      run_name: str, fully_cached: bool = False,
                      failures: list | None = None, records: dict | None = None,
                      clock: dict | None = None) -> dict:
    """Analyse what finished (on disk), write every file of the results tree, compare with the
    previous run, archive this run's analysis under runs/<run_name>/, publish the artifacts.
    ``failures``: [budget, model, seed, why] of cells whose task failed in this run;
    ``records``/``clock``: the stages' task timings for analysis/timings.json (sabr.analysis.timings)."""
    own = Clock()
    out = Path(output_dir)
    before = previous_run(out)
    agg = ResultsAggregator(out, planned=[tuple(p) for p in planned], failures=failures or [])
    written = agg.write_all()
    section = comparison_markdown(agg.get_performance_summary(), before, fully_cached=fully_cached)
    written["markdown"] += "\n## Against the previous run\n\n" + section + "\n"
    timings = None
    if records is not None and clock is not None:
        timings = stage_timings({**records, "aggregate": [("Completed", own.read())]},
                                flow_started=clock["flow_started"], flow_ended=time.time(),
                                workers=clock["workers"], extra=clock.get("extra"))
        atomic_write_json(out / "analysis" / "timings.json", timings)
        written["markdown"] += "\n## Where the time went\n\n" + timings_markdown(timings) + "\n"
    atomic_write_text(out / "analysis" / "summary.md", written["markdown"])
    archived = archive_run(out, run_name)
    publish(agg, written)
    status = agg.status()
    get_run_logger().info("%d of %d cells finished; analysis in %s (archived in %s). %s",
                          status["n_ok"], status["n_cells"], out, archived, section.splitlines()[0])
    return {**status, "files": written["files"], "plots": written["plots"],
            "run_dir": str(archived), "comparison": section, "timings": timings}
