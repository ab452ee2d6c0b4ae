"""The task that turns finished cells into the analysis files, plots and the run's artifacts."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.artifacts import (create_link_artifact, create_markdown_artifact,
                                create_table_artifact)

from .common import Clock

if TYPE_CHECKING:         # the analysis stack (pandas, statsmodels, matplotlib) loads in the task
    import pandas as pd
    from sabr.analysis.aggregator import ResultsAggregator

__all__ = ["aggregate_results", "publish"]


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def publish(agg: ResultsAggregator, written: dict) -> None:
    """Markdown summary (key hf-budget-summary), a link to the self-contained HTML report
    (key hf-budget-report: analysis/report.html, the summary with its plots inline) and table
    artifacts of cells and comparisons."""
    page = Path(written["report_html"]).resolve() if written.get("report_html") else None
    where = f"\nThe report with its plots inline: `{page}`\n" if page else ""
    create_markdown_artifact(markdown=written["markdown"] + where, key="hf-budget-summary",
                             description="hf-budget: best models, scaling, efficiency, comparisons")
    if page:
        create_link_artifact(link=page.as_uri(), link_text=f"{page} (summary and plots, one file)",
                             key="hf-budget-report",
                             description="hf-budget: the run's report with every plot inline")
    create_table_artifact(table=_records(agg.frame.round(3)), key="hf-budget-cells",
                          description="detailed_results.csv: one row per cell")
    import pandas as pd
    comp = pd.DataFrame(agg.analysis()["comparisons"])
    if not comp.empty:
        create_table_artifact(table=_records(comp.round(4)), key="hf-budget-comparisons",
                              description="paired comparisons with Holm-adjusted p")


@task(name="aggregate", task_run_name="aggregate {n_planned} cells")
def aggregate_results(planned: list[tuple[int | str, str, int]], output_dir: str, n_planned: int,
                      run_name: str, failures: list | None = None,
                      outcomes: dict | None = None, clock: dict | None = None,
                      folders: list | None = None, tuning_sources: dict | None = None) -> dict:
    """Compose the report of what finished (sabr.analysis.report.compose_report: every file of
    the results tree, the comparison with the previous run, the archive under runs/<run_name>/)
    and publish the artifacts.

    Args:
        planned: every cell of the run (budget, model, seed), point and CPU-second budgets
            alike (a CPU-budget cell's budget is its label, 'surfaces@120s').
        failures: [budget, model, seed, why] of cells whose task failed in this run.
        outcomes: per stage ("generate", "assemble", "tune", "train"), the (state name,
            result) of each task run; gives analysis/timings.json (sabr.analysis.timings)
            and whether the run was served from the cache entirely.
        clock: ``flow_started`` (epoch seconds) and ``workers`` of the run.
        folders: the run's cell folders (from its plan): the report reads those only.
        tuning_sources: which tuning each budget trained with (sabr.plan.tuning_sources).
    """
    from sabr.analysis.report import compose_report
    from sabr.analysis.timings import stage_timings, throughput
    own = Clock()
    outcomes = outcomes or {}
    fully_cached = bool(outcomes) and all(state == "Cached" for runs in outcomes.values()
                                          for state, _ in runs)
    timings = None
    if outcomes and clock is not None:
        def timings():          # called by compose_report once the analysis is done
            records = {stage: [(state, (r or {}).get("timing")) for state, r in runs]
                       for stage, runs in outcomes.items()}
            return stage_timings({**records, "aggregate": [("Completed", own.read())]},
                                 flow_started=clock["flow_started"], flow_ended=time.time(),
                                 workers=clock["workers"],
                                 extra=throughput(outcomes.get("generate", []),
                                                  outcomes.get("train", [])))
    report = compose_report(output_dir, run_name, planned=[tuple(p) for p in planned],
                            failures=failures or [], fully_cached=fully_cached, timings=timings,
                            folders=folders, tuning_sources=tuning_sources)
    agg = report.pop("aggregator")
    publish(agg, report)
    get_run_logger().info("%d of %d cells finished; analysis in %s (archived in %s). %s",
                          report["n_ok"], report["n_cells"], output_dir, report["run_dir"],
                          report["comparison"].splitlines()[0])
    if "cost" in report:
        get_run_logger().info("%d of %d CPU-budget cells finished: %s. %s", report["cost"]["n_ok"],
                              report["cost"]["n_cells"], report["cost"]["file"],
                              report.get("answer", ""))
    report.pop("markdown")
    return report
