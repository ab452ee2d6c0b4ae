"""Analysis of an existing output folder, without training anything (``hf-budget analyze``,
``--skip-experiments``)."""
from __future__ import annotations

from pathlib import Path

from sabr.analysis.report import recompose_report
from sabr.lock import output_lock

from flows.preflight import require_finished_cells

__all__ = ["aggregate_existing"]


def aggregate_existing(output_dir: Path) -> dict:
    """Compose the report again from the cells on disk (sabr.analysis.report.recompose_report:
    the same files and summary.md as the run that wrote them, runs/ and ``latest`` refreshed),
    holding the folder's lock; print the summary.

    Raises:
        ConfigError: no finished cells there, or another run holds the folder (OutputBusy).
    """
    require_finished_cells(Path(output_dir))
    with output_lock(output_dir):
        report = recompose_report(Path(output_dir))
    report.pop("aggregator")
    print(report["markdown"])
    return report
