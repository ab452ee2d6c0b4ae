"""Analysis of an existing output folder, without training anything."""
from __future__ import annotations

from pathlib import Path

from sabr.analysis.aggregator import collect_cells
from sabr.analysis.report import recompose_report

__all__ = ["aggregate_existing"]


def aggregate_existing(output_dir: Path) -> dict:
    """Compose the report again from the cells on disk (sabr.analysis.report.recompose_report:
    the same files and summary.md as the run that wrote them, runs/ and ``latest`` refreshed);
    print the summary."""
    if not collect_cells(Path(output_dir)):
        raise FileNotFoundError(f"output_dir={str(output_dir)!r} holds no finished cells "
                                f"(exp_*/metrics.json)")
    report = recompose_report(output_dir)
    report.pop("aggregator")
    print(report["markdown"])
    return report
