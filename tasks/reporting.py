"""Tasks that turn finished cells into the result tables and the run's artifacts."""
from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from sabr.results import markdown_summary, performance_vs_budget, results_frame, write_tables

__all__ = ["aggregate_results"]


@task(name="aggregate", task_run_name="aggregate {n_planned} cells")
def aggregate_results(cells: list[dict], planned: list[tuple[int, str, int]], output_dir: str,
                      n_planned: int) -> dict:
    """Write the result tables for what finished and publish the summary artifacts."""
    df = results_frame(cells, [tuple(p) for p in planned])
    files = write_tables(df, output_dir)
    md = markdown_summary(df)
    create_markdown_artifact(markdown=md, key="hf-budget-summary",
                             description="Test RMSE per model and budget")
    perf = performance_vs_budget(df)
    create_table_artifact(table=perf.round(3).fillna("").to_dict(orient="records"),
                          key="hf-budget-performance", description="performance_vs_budget.csv")
    n_ok = int((df.status == "ok").sum())
    get_run_logger().info("%d of %d cells finished; tables in %s", n_ok, len(df), output_dir)
    return {"n_ok": n_ok, "n_cells": len(df), "files": {k: str(v) for k, v in files.items()},
            "not_ok": df[df.status != "ok"][["budget", "model_type", "seed", "status", "reason"]]
            .to_dict(orient="records")}
