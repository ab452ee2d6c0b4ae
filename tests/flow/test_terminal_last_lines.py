"""The terminal's last lines after a run: the count of cells, the answer, the report's path;
never the list of every file (the Python API's return value keeps it in ``files``)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from flows import cli

FILES = {f"table{i}": f"/somewhere/out/analysis/table{i}.csv" for i in range(15)}


def _summary(out: Path, **extra) -> dict:
    return {"n_ok": 32, "n_cells": 32, "not_ok": 0, "files": FILES,
            "report_html": str(out / "analysis" / "report.html"), **extra}


@pytest.fixture()
def run_with(monkeypatch, tmp_path, capsys):
    """``cli._run`` with the flow replaced by one returning ``summary``: its stdout lines."""
    import flows.experiment

    def run(summary: dict) -> list[str]:
        monkeypatch.setattr(flows.experiment, "hf_budget", lambda **kw: summary)
        plan = SimpleNamespace(skip_experiments=False, config=None, dask_address=None,
                               output_dir=tmp_path)
        assert cli._run({}, plan) == 0
        return capsys.readouterr().out.splitlines()
    return run


def test_the_last_lines_are_the_count_the_answer_and_the_report(run_with, tmp_path):
    lines = run_with(_summary(tmp_path, headline=["Best model at b=500: mda_cnn 120 bp [70, 213].",
                                                  "What accuracy costs: paths/4 at 10 %."],
                              answer="the cost study's answer"))
    assert lines == ["hf-budget: 32 of 32 cells finished",
                     "hf-budget: Best model at b=500: mda_cnn 120 bp [70, 213].",
                     "hf-budget: What accuracy costs: paths/4 at 10 %.",
                     f"hf-budget: report: {tmp_path / 'analysis' / 'report.html'} "
                     f"(tables in {tmp_path})"]
    assert not any(".csv" in line for line in lines)


def test_without_a_headline_the_answer_is_the_answer(run_with, tmp_path):
    lines = run_with(_summary(tmp_path, answer="For mda_cnn, no allocation reached it."))
    assert lines[1:] == ["hf-budget: For mda_cnn, no allocation reached it.",
                         f"hf-budget: report: {tmp_path / 'analysis' / 'report.html'} "
                         f"(tables in {tmp_path})"]
    assert run_with(_summary(tmp_path))[0] == "hf-budget: 32 of 32 cells finished"


def test_analyze_ends_with_the_report(monkeypatch, tmp_path, capsys):
    import flows.analysis
    page = tmp_path / "analysis" / "report.html"
    monkeypatch.setattr(flows.analysis, "aggregate_existing",
                        lambda out: print("# hf-budget results") or {"report_html": str(page)})
    plan = SimpleNamespace(skip_experiments=True, output_dir=tmp_path)
    assert cli._run({}, plan) == 0
    assert capsys.readouterr().out.splitlines()[-1] == \
        f"hf-budget: report: {page} (tables in {tmp_path})"
