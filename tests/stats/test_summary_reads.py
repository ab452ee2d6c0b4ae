"""summary.md as a researcher reads it (issue 39): the answer first, one notation, a glossary of
the terms it uses, no blank cells, and few seeds flagged instead of dressed up as findings."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sabr.analysis.answer import answer_lines
from sabr.analysis.glossary import TERMS, glossary_markdown
from sabr.analysis.report import compose_report
from sabr.analysis.studies.budget import analyse

from stats_frames import power_law_frame

OLD = Path(__file__).resolve().parents[1] / "data" / "old_output"   # 1 budget, 2 seeds


def _tables(md: str) -> list[list[str]]:
    """Every Markdown table row's cells (header and separator rows left out)."""
    rows = []
    for line in md.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _assert_reads(md: str):
    for row in _tables(md):
        assert all(row), f"blank cell in {row}"
    for bad in ("[, ]", "[n/a, n/a]", "n/a [", "| |", "[nan", "nan]"):
        assert bad not in md, bad


def _defined(md: str) -> set[str]:
    section = md.partition("## Glossary")[2]
    return set(re.findall(r"^- \*\*(.+?)\*\*:", section, re.M))


@pytest.fixture(scope="module")
def one_budget(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    shutil.copytree(OLD, out)
    report = compose_report(out, "run1", previous=None)
    return report, (out / "analysis" / "summary.md").read_text()


def test_a_one_budget_two_seed_summary_opens_with_the_answer_and_flags_its_seeds(one_budget):
    report, md = one_budget
    head = md.split("\n## ")[1]
    assert head.startswith("The answer")
    assert "Best model per HF budget" in head and "b=20:" in head
    assert "How fast each model improves: not measured (1 HF budget" in head
    assert "Caution: 2 seeds: intervals uninformative, no comparison" in head
    assert report["headline"] and all(line in md for line in report["headline"])
    # tables that cannot be computed are one sentence, not rows of blanks
    assert "## Scaling: MSE ~ b^-γ\n\nNot computed: this run has 1 HF budget" in md
    assert "None tested: a paired comparison needs 3 or more seeds" in md
    assert "significant" not in head
    # the two-seed intervals are marked, and the mark is explained
    assert "] †" in md and "† from fewer than 3 seeds" in md
    _assert_reads(md)


def test_the_glossary_defines_every_term_the_summary_uses_and_no_other(one_budget):
    _, md = one_budget
    defined = _defined(md)
    body = md.partition("## Glossary")[0]
    for term, pattern, _ in TERMS:
        assert (term in defined) == bool(re.search(pattern, body)), term
    # the words a new user asked about
    for term in ("b", "spread", "tuning replicate", "seed", "noise floor", "uninformative",
                 "Hagan", "CPU budget"):
        assert term in defined, term
    assert "calibrated" not in defined                     # no ensembles in this run
    assert glossary_markdown("nothing here") == ""


def test_one_seed_is_flagged_and_the_count_is_one_everywhere(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(OLD, out)
    import json
    seeds = {p.name: json.loads((p / "config.json").read_text()).get("seed")
             for p in out.glob("exp_*")}
    for name, seed in seeds.items():
        if seed != 0:
            shutil.rmtree(out / name)
    report = compose_report(out, "run1", previous=None)
    md = (out / "analysis" / "summary.md").read_text()
    assert "Caution: 1 seed: intervals uninformative" in md
    assert "not compared with mda_cnn (1 paired seed)" in md or \
        "not compared with residual_mlp (1 paired seed)" in md
    # no interval, so no mark and no note about marks in the point-budget table
    table = md.partition("## Test RMSE per model and budget")[2].partition("\n## ")[0]
    assert "†" not in table
    assert f"{report['n_ok']} of {report['n_cells']} cells finished." in md
    _assert_reads(md)


def test_the_answer_names_the_best_model_and_how_sure_from_five_seeds():
    rng = np.random.default_rng(3)
    # A: lower MSE than B at every budget (1.8x at b=50, 7x at 800), gamma 1.0 against 0.5
    df = power_law_frame({"A": (4e6, 1.0, 0.1), "B": (1e6, 0.5, 0.1)}, [50, 200, 800], 5, rng)
    lines = answer_lines(analyse(df, n_boot=200, rng=rng), "")
    best, speed, largest = lines
    for b in (50, 200, 800):
        assert re.search(rf"b={b}: A \d+ bp \[\d+, \d+\], ahead of B \(Holm p [\d.e-]+, 5 of 5 "
                         rf"seeds\)", best), best
    g = re.findall(r"(A|B) ([\d.]+) \[([-\d.]+), ([-\d.]+)\]", speed)
    assert [m for m, *_ in g] == ["A", "B"]                 # the faster first
    for m, est, lo, hi in g:
        truth = {"A": 1.0, "B": 0.5}[m]
        assert float(lo) < truth < float(hi) and abs(float(est) - truth) < 0.1
    assert largest.startswith("What the largest budget buys: at b=800, A reaches")
    assert "above Hagan's expansion (30 bp" in largest and "noise floor (2 bp" in largest
    # each ratio carries the interval its RMSE's interval gives it
    rmse, lo, hi = map(float, re.search(r"A reaches (\d+) bp \[(\d+), (\d+)\]", largest).groups())
    ratio, rlo, rhi = map(float, re.search(r"([\d.]+)x \[([\d.]+), ([\d.]+)\] the Monte Carlo",
                                           largest).groups())
    assert rlo < ratio < rhi and rlo == pytest.approx(lo / 2, abs=0.6) \
        and rhi == pytest.approx(hi / 2, abs=0.6)
    assert not any(x.startswith("Caution") for x in lines)
