"""The task that turns finished cells into the analysis files, plots and the run's artifacts."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from sabr.aggregator import ResultsAggregator
from sabr.dataset import DatasetError, load_dataset

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
def aggregate_results(planned: list[tuple[int, str, int]], output_dir: str, n_planned: int) -> dict:
    """Analyse what finished (on disk), write every file of the results tree, publish artifacts."""
    agg = ResultsAggregator(output_dir, planned=[tuple(p) for p in planned])
    try:
        dataset = load_dataset(Path(output_dir) / "data")
    except DatasetError:
        dataset = None
    written = agg.write_all(dataset=dataset)
    publish(agg, written)
    df = agg.df
    n_ok = int((df.status == "ok").sum())
    get_run_logger().info("%d of %d cells finished; analysis in %s", n_ok, len(df), output_dir)
    return {"n_ok": n_ok, "n_cells": len(df), "files": written["files"], "plots": written["plots"],
            "not_ok": df[df.status != "ok"][["budget", "model_type", "seed", "status", "reason"]]
            .to_dict(orient="records")}
