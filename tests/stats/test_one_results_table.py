"""One results table: detailed_results.csv holds every cell of a run, point and CPU-second
budgets alike, with the seed's columns and ``allocation`` / ``unit`` / ``hf_cpu_budget``;
the counts every file gives agree; no report code tests what type a budget is."""
from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pandas as pd

from sabr.analysis.report import compose_report
from sabr.analysis.results import read_results

ROOT = Path(__file__).resolve().parents[2]
OLD = ROOT / "tests" / "data" / "old_output"
POINTS = [(20, m, s) for m in ("residual_mlp", "mda_cnn") for s in (0, 1)]
CPU = [("surfaces@40%", "mda_cnn", s) for s in (0, 1)]


def test_every_cell_of_a_run_is_one_row_of_detailed_results(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(OLD, out)
    missing = ("surfaces@40%", "mda_cnn", 2)                  # planned, never ran
    report = compose_report(out, "run1", planned=POINTS + CPU + [missing], previous=None)
    df = read_results(out)
    assert len(df) == 7
    assert df.columns[:5].tolist() == ["budget", "model_type", "seed", "status", "reason"]
    none = lambda col: [None if pd.isna(v) else v for v in col]
    ident = list(zip(df.unit, df.allocation, none(df.budget), none(df.hf_cpu_budget),
                     df.model_type, df.seed))
    assert ident == [("points", "spread", 20, None, m, s) for m, s in
                     [("mda_cnn", 0), ("mda_cnn", 1), ("residual_mlp", 0), ("residual_mlp", 1)]] \
        + [("cpu_seconds", "surfaces", None, "40%", "mda_cnn", s) for s in (0, 1, 2)]
    # the seed's budget column stays an integer column in the file: '20', never '20.0'
    assert (out / "detailed_results.csv").read_text().splitlines()[1].startswith("20,")
    # each row is its cell's metrics.json
    for folder in ("exp_0001", "cost_0001"):
        m = json.loads((out / folder / "metrics.json").read_text())
        row = df[(df.model_type == m["model_type"]) & (df.seed == m["seed"])
                 & (df.unit == ("points" if isinstance(m["budget"], int) else "cpu_seconds"))]
        assert len(row) == 1 and row.rmse_bp.iloc[0] == m["rmse_bp"]
    # cost_results.csv is the study's view of the same rows
    cost = pd.read_csv(out / "cost_results.csv")
    cpu = df[df.unit == "cpu_seconds"].reset_index(drop=True)
    assert cost[["allocation", "hf_cpu_budget", "model_type", "seed", "status"]].values.tolist() \
        == cpu[["allocation", "hf_cpu_budget", "model_type", "seed", "status"]].values.tolist()
    assert cost.rmse_bp.equals(cpu.rmse_bp)
    # the counts agree: the report, run_status.json, the CPU-budget entry
    status = json.loads((out / "run_status.json").read_text())
    assert report["n_cells"] == status["cells"] == 7 and report["n_ok"] == 6
    assert status["not_ok"] == report["not_ok"] == [
        {"budget": "surfaces@40%", "model_type": "mda_cnn", "seed": 2, "status": "missing",
         "reason": "task failed or did not run"}]
    assert (report["cost"]["n_cells"], report["cost"]["n_ok"]) == (3, 2)
    # the statistics read the rows in points only
    perf = pd.read_csv(out / "analysis" / "performance_summary.csv")
    assert set(perf.budget) == {20}


def test_analyze_of_the_folder_alone_finds_the_same_cells(tmp_path):
    """Without a plan (``hf-budget analyze`` of a folder with no recorded report), every cell
    folder is read, exp_ and cost_ alike."""
    out = tmp_path / "out"
    shutil.copytree(OLD, out)
    compose_report(out, "run1", previous=None)
    df = read_results(out)
    assert sorted(zip(df.unit, df.model_type, df.seed)) == sorted(
        [("points", m, s) for _, m, s in POINTS] + [("cpu_seconds", m, s) for _, m, s in CPU])


def test_no_report_code_tests_what_type_a_budget_is():
    """The cell knows its allocation and unit (sabr.cells.Cell.columns); the report reads
    columns. Report code never asks whether a budget is a label or a folder a cost_ one."""
    banned = {"is_cell_label", "parse_cell_label", "spends_cpu_seconds"}
    files = sorted((ROOT / "sabr" / "analysis").glob("*.py")) + [ROOT / "tasks" / "reporting.py"]
    for f in files:
        tree = ast.parse(f.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not names & banned, (f.name, names & banned)
        globs = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                 and isinstance(n.value, str) and n.value.startswith(("exp_*", "cost_*"))]
        assert not globs, (f.name, globs)
