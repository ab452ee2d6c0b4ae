"""Analysis of an existing output folder, without training anything."""
from __future__ import annotations

from pathlib import Path

from sabr.aggregator import ResultsAggregator
from sabr.dataset import DatasetError, load_dataset

__all__ = ["aggregate_existing"]


def aggregate_existing(output_dir: Path) -> dict:
    """Rebuild every table, JSON file and plot from the cells on disk; print the summary."""
    agg = ResultsAggregator(output_dir)
    if not agg.cells:
        raise FileNotFoundError(f"output_dir={str(output_dir)!r} holds no finished cells "
                                f"(exp_*/metrics.json)")
    try:
        dataset = load_dataset(Path(output_dir) / "data")
    except DatasetError:
        dataset = None
    written = agg.write_all(dataset=dataset)
    print(written["markdown"])
    df = agg.df
    return {"n_ok": int((df.status == "ok").sum()), "n_cells": len(df), "files": written["files"],
            "plots": written["plots"],
            "not_ok": df[df.status != "ok"][["budget", "model_type", "seed", "status", "reason"]]
            .to_dict(orient="records")}
