"""The import architecture (docs/DESIGN.md section 2), checked on every test run.

- ``lint-imports`` keeps every contract in pyproject.toml [tool.importlinter]: flows ->
  tasks -> sabr; inside sabr analysis -> learning -> data -> numerics; sabr never imports
  Prefect or Dask; the shared top-level modules import no layer; nothing in the project
  imports the seed's re-export paths; the analysis in two layers (report -> studies ->
  statistics), the statistics with no files, plots or markdown.
- No import cycle among the project's modules (function-level imports count too).
- The seed's import paths still work.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("sabr", "tasks", "flows")


def test_import_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.is_file(), f"{exe} missing: pip install -e '.[test]' (import-linter)"
    r = subprocess.run([str(exe), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "BROKEN" not in out and " 0 broken" in out, out
    assert "Contracts: 8 kept" in out, out     # a contract that vanished from pyproject.toml


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [m0, m1, ..., m0], or None (iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for root in sorted(graph):
        if colour[root] != WHITE:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        colour[root] = GREY
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = BLACK
                stack.pop()
            elif colour.get(nxt, BLACK) == GREY:
                return path[path.index(nxt):] + [nxt]
            elif colour.get(nxt) == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_no_import_cycles_among_project_modules():
    import grimp   # installed with import-linter (the test extra)
    g = grimp.build_graph(*PACKAGES, cache_dir=None)
    mods = {m for m in g.modules if m.split(".")[0] in PACKAGES}
    graph = {m: {i for i in g.find_modules_directly_imported_by(m) if i in mods} for m in mods}
    assert sum(map(len, graph.values())) > 50, "the import graph looks empty"
    assert any("sabr.data.budgets" in graph[m] for m in graph if m.startswith("sabr.learning"))
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_seeds_import_paths_work():
    code = ("from sabr.config import ExperimentConfig\n"
            "from sabr.tuning import HyperparameterTuner, HyperparameterSpace, TuningResult\n"
            "from sabr.results import ResultsAggregator, create_results_aggregator, results_frame\n"
            "from sabr.stats import scaling_exponent, analyse\n"
            "import sabr.analysis.statistics.scaling as real\n"
            "assert scaling_exponent is real.scaling_exponent\n"
            "from flows.hf_budget import (ExperimentOrchestrator, create_experiment_orchestrator,\n"
            "                             HyperparameterSpace, hf_budget)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
