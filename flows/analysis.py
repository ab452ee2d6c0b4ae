"""Analysis of an existing output folder: collect exp_XXXX/metrics.json into the result tables."""
from __future__ import annotations

import json
from pathlib import Path

from sabr.results import markdown_summary, results_frame, write_tables

__all__ = ["collect_cells", "aggregate_existing"]


def collect_cells(output_dir: Path) -> list[dict]:
    """Metrics of every cell folder that finished (exp_*/metrics.json), in folder order."""
    cells = []
    for f in sorted(Path(output_dir).glob("exp_*/metrics.json")):
        m = json.loads(f.read_text())
        m["exp_dir"] = f.parent.name
        cells.append(m)
    return cells


def aggregate_existing(output_dir: Path) -> dict:
    """Rewrite the tables from the cells on disk; the summary's not_ok lists failed cells."""
    cells = collect_cells(output_dir)
    if not cells:
        raise FileNotFoundError(f"output_dir={str(output_dir)!r} holds no finished cells "
                                f"(exp_*/metrics.json)")
    planned = sorted({(int(c["budget"]), c["model_type"], int(c["seed"])) for c in cells})
    df = results_frame(cells, planned)
    files = write_tables(df, output_dir)
    print(markdown_summary(df))
    return {"n_ok": int((df.status == "ok").sum()), "n_cells": len(df),
            "files": {k: str(v) for k, v in files.items()},
            "not_ok": df[df.status != "ok"][["budget", "model_type", "seed", "status", "reason"]]
            .to_dict(orient="records")}
