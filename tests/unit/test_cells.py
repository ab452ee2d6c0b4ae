"""A cell's folder depends on the cell alone (sabr.cells): the ledger, adoption, agreement."""
from __future__ import annotations

import json
import random

from sabr.cells import Cell, CellLedger, folder_holds


def _grid(budgets, models, seeds, labels=()):
    return ([Cell(m, b, s) for b in budgets for m in models for s in range(seeds)]
            + [Cell("mda_cnn", lab, s) for lab in labels for s in range(seeds)])


def _assign(root, cells):
    ledger = CellLedger(root)
    folders = {c.key: ledger.folder(c) for c in cells}
    ledger.save()
    return folders


def test_a_cells_folder_never_depends_on_the_other_cells_or_their_order(tmp_path):
    first = _assign(tmp_path, _grid([50, 200], ["mda_cnn", "direct_mlp"], 2, ["surfaces@5%"]))
    assert sorted(first.values()) == ["cost_0001", "cost_0002"] + [f"exp_{i:04d}"
                                                                  for i in range(1, 9)]
    # grown by a seed, a budget and a label, the lists reordered and shuffled: old cells keep
    # their folders, new ones get fresh numbers, no folder is given twice
    grown = _grid([500, 200, 50], ["direct_mlp", "cnn_only", "mda_cnn"], 3,
                  ["paths/4@5%", "surfaces@5%"])
    random.Random(0).shuffle(grown)
    second = _assign(tmp_path, grown)
    assert {k: second[k] for k in first} == first
    assert len(set(second.values())) == len(second) == 27 + 6
    # narrowed to one model: the same folders again, nothing new
    third = _assign(tmp_path, _grid([50], ["mda_cnn"], 1))
    assert third == {"mda_cnn b=50 s=0": first["mda_cnn b=50 s=0"]}
    assert json.loads((tmp_path / "cells.json").read_text())["cells"] == {**first, **second}


def test_an_ensemble_is_another_cell_and_a_label_is_not_a_point_budget():
    assert Cell("mda_cnn", 200, 1).key == "mda_cnn b=200 s=1"
    assert Cell("mda_cnn", "200", 1) == Cell("mda_cnn", 200, 1)
    assert Cell("mda_cnn", 200, 1, 5).key == "mda_cnn b=200 s=1 M=5"
    assert Cell("mda_cnn", "adaptive@2%", 0, 5).prefix == "cost"
    assert Cell("mda_cnn", 200, 0).prefix == "exp"


def test_folders_written_before_the_ledger_are_adopted_by_what_they_hold(tmp_path):
    def write(folder, model, budget, seed, finished=True, **extra):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(json.dumps(
            {"model_type": model, "budget": budget, "seed": seed, **extra}))
        if finished:
            (tmp_path / folder / "metrics.json").write_text("{}")
    write("exp_0001", "mda_cnn", 50, 1)                       # an old grid's numbering
    write("exp_0002", "mda_cnn", 50, 0, finished=False)       # a duplicate, unfinished
    write("exp_0007", "mda_cnn", 50, 0)
    write("cost_0003", "mda_cnn", "surfaces@5%", 0, ensemble_size=3)
    (tmp_path / "exp_0009").write_text("not a folder")
    folders = _assign(tmp_path, [Cell("mda_cnn", 50, 0), Cell("mda_cnn", 50, 1),
                                 Cell("mda_cnn", "surfaces@5%", 0, 3), Cell("cnn_only", 50, 0),
                                 Cell("mda_cnn", "surfaces@5%", 1, 3)])
    assert folders == {"mda_cnn b=50 s=0": "exp_0007", "mda_cnn b=50 s=1": "exp_0001",
                       "mda_cnn surfaces@5% s=0 M=3": "cost_0003",
                       "cnn_only b=50 s=0": "exp_0008",           # past every folder there
                       "mda_cnn surfaces@5% s=1 M=3": "cost_0004"}


def test_a_folder_holds_a_cell_only_with_its_config_and_its_metrics(tmp_path):
    cell = Cell("residual_mlp", 200, 2)
    assert not folder_holds(tmp_path / "missing", cell)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "config.json").write_text(json.dumps(
        {"model_type": "residual_mlp", "budget": 200, "seed": 2}))
    assert not folder_holds(tmp_path / "f", cell)                # not finished
    (tmp_path / "f" / "metrics.json").write_text("{}")
    assert folder_holds(tmp_path / "f", cell)
    assert not folder_holds(tmp_path / "f", Cell("residual_mlp", 200, 1))   # another cell
    assert not folder_holds(tmp_path / "f", Cell("residual_mlp", 200, 2, 5))
    (tmp_path / "f" / "config.json").write_text("{not json")
    assert not folder_holds(tmp_path / "f", cell)
