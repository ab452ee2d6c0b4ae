"""Analysis of an existing output folder, without training anything."""
from __future__ import annotations

from pathlib import Path

from sabr.analysis.aggregator import ResultsAggregator

__all__ = ["aggregate_existing"]


def aggregate_existing(output_dir: Path) -> dict:
    """Rebuild every table, JSON file and plot from the cells on disk; print the summary."""
    agg = ResultsAggregator(output_dir)
    if not agg.cells:
        raise FileNotFoundError(f"output_dir={str(output_dir)!r} holds no finished cells "
                                f"(exp_*/metrics.json)")
    written = agg.write_all()
    print(written["markdown"])
    return {**agg.status(), "files": written["files"], "plots": written["plots"]}
