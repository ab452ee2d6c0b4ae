"""One report function for the flow and ``hf-budget analyze`` (sabr.analysis.report)."""
from __future__ import annotations

import json
import math

from sabr.analysis.report import REPORT_FILE, compose_report, recompose_report

from test_aggregator import _write_cells

TIMINGS = {"wall_s": 12.5, "workers": 2, "task_wall_s": 20.0, "cpu_s": 18.0,
           "overhead_ratio": 1.25, "hf_path_steps_per_s": math.inf,
           "stages": {"train": {"tasks": 4, "computed": 4, "cached": 0, "failed": 0,
                                "task_wall_s": 20.0, "cpu_s": 18.0, "span_s": 10.0,
                                "peak_rss_mib": 300.0, "cached_compute_s": 0.0,
                                "starts_after_s": 1.5},
                      "generate": {"tasks": 2, "computed": 2, "cached": 0, "failed": 0,
                                   "task_wall_s": 3.0, "cpu_s": 2.0, "span_s": 2.0,
                                   "peak_rss_mib": 200.0, "cached_compute_s": 0.0}}}


def test_analyze_recomposes_the_runs_report_and_refreshes_its_archive(tmp_path):
    _write_cells(tmp_path, seeds=3, budgets=(50, 100))
    first = compose_report(tmp_path, "20260101T000000Z-aaaa")
    assert "First run in this output folder" in first["markdown"]
    planned = [(b, m, s) for b in (50, 100) for m in ("mda_cnn", "residual_mlp", "direct_mlp")
               for s in range(3)] + [(100, "cnn_only", 0)]
    second = compose_report(tmp_path, "20260102T000000Z-bbbb", planned=planned,
                            failures=[(100, "cnn_only", 0, "boom")], timings=TIMINGS)
    md = (tmp_path / "analysis" / "summary.md").read_text()
    assert md == second["markdown"] and "## Where the time went" in md
    assert md.index("| generate |") < md.index("| train |")          # stage order, not sorted keys
    assert "Against the previous run (20260101T000000Z-aaaa)" in md and "cnn_only b=100 s=0 (failed)" in md
    assert json.loads((tmp_path / REPORT_FILE).read_text())["previous"] == "20260101T000000Z-aaaa"
    archived = tmp_path / "runs" / "20260102T000000Z-bbbb" / "analysis" / "summary.md"
    archived.write_text("stale")
    again = recompose_report(tmp_path)
    assert (tmp_path / "analysis" / "summary.md").read_text() == md == again["markdown"]
    assert archived.read_text() == md                                  # archive refreshed
    assert (tmp_path / "latest").resolve().name == "20260102T000000Z-bbbb"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "20260101T000000Z-aaaa", "20260102T000000Z-bbbb"]


def test_analyze_of_a_folder_without_a_report_composes_a_new_run(tmp_path):
    _write_cells(tmp_path, seeds=3, budgets=(50, 100))
    r = recompose_report(tmp_path)
    assert r["run_dir"].endswith("-analyze") and (tmp_path / "latest").resolve().name.endswith("-analyze")
    assert "First run in this output folder" in r["markdown"]
