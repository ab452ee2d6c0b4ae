"""A cell as a value, and the ledger that gives each cell its folder for good.

A cell is one model trained on one HF allocation with one seed (an ensemble of
``members``). Its folder depends on the cell alone, never on which other cells a run
plans or their order (docs/DESIGN.md, "How a cell is named"): the output folder's
ledger ``cells.json`` maps each cell's key to the folder it was first given, and a new
cell gets the next free number. A grown, narrowed or reordered grid reuses every folder
it had; nothing is renumbered.

Folders keep the seed's layout: ``exp_XXXX/`` for the point budgets, ``cost_XXXX/`` for
CPU-second budgets (config.json, models/, checkpoints/, logs/, metrics.json). A folder
written before the ledger existed is adopted by what its ``config.json`` says it holds.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .budget_labels import budget_unit, cell_name, is_cell_label, parse_cell_label
from .io import atomic_write_json

__all__ = ["Cell", "CellLedger", "LEDGER_FILE", "folder_holds", "cell_folders", "IDENTITY"]

LEDGER_FILE = "cells.json"
_FOLDER = re.compile(r"^(exp|cost)_(\d{4,})$")


@dataclass(frozen=True)
class Cell:
    """One cell: ``budget`` a point count (the seed's spread design) or a CPU-budget label
    ('surfaces@5%', 'adaptive@2%'); ``members``: its ensemble size."""

    model_type: str
    budget: int | str
    seed: int
    members: int = 1

    def __post_init__(self):
        object.__setattr__(self, "budget",
                           self.budget if is_cell_label(self.budget) else int(self.budget))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "members", int(self.members))

    @property
    def key(self) -> str:
        """Its name everywhere (ledger, task runs, logs): 'mda_cnn b=200 s=1',
        'mda_cnn surfaces@5% s=0 M=5'."""
        name = cell_name(self.model_type, self.budget, self.seed)
        return name if self.members == 1 else f"{name} M={self.members}"

    @property
    def spends_cpu_seconds(self) -> bool:
        return is_cell_label(self.budget)

    @property
    def allocation(self) -> str:
        """Its allocation strategy: ``spread`` for the seed's point budgets."""
        return parse_cell_label(self.budget)[0] if self.spends_cpu_seconds else "spread"

    @property
    def unit(self) -> str:
        """What its budget counts: ``points``, ``cpu_seconds`` (seconds or a percentage of
        the pool's) or ``path_steps`` (a budget such as 'surfaces@2.5Gps')."""
        if not self.spends_cpu_seconds:
            return "points"
        return "path_steps" if budget_unit(self.budget) == "path_steps" else "cpu_seconds"

    def columns(self) -> dict:
        """Its identity as a row of the results (sabr.analysis.results): the seed's
        ``budget`` (HF points; None for a CPU-second budget), ``allocation``, ``unit``,
        ``hf_cpu_budget`` (as configured, '5%' or '120'; None for points), model and seed."""
        cpu = self.spends_cpu_seconds
        return {"budget": None if cpu else self.budget, "model_type": self.model_type,
                "seed": self.seed, "allocation": self.allocation, "unit": self.unit,
                "hf_cpu_budget": parse_cell_label(self.budget)[1] if cpu else None}

    @property
    def prefix(self) -> str:
        """The seed's folder prefix: ``cost`` for a CPU-second budget, ``exp`` otherwise."""
        return "cost" if self.spends_cpu_seconds else "exp"

    @classmethod
    def of_folder(cls, folder: str | Path) -> "Cell | None":
        """The cell a folder's ``config.json`` says it holds; None if unreadable."""
        try:
            c = json.loads((Path(folder) / "config.json").read_text())
            return cls(c["model_type"], c["budget"], c["seed"], c.get("ensemble_size", 1))
        except (OSError, ValueError, KeyError, TypeError):
            return None


IDENTITY = ("budget", "model_type", "seed", "allocation", "unit", "hf_cpu_budget")
"""The columns of :meth:`Cell.columns`."""


def cell_folders(output_dir: str | Path) -> list[Path]:
    """Every cell folder of an output folder (``exp_XXXX``, ``cost_XXXX``), sorted."""
    return sorted(p for p in Path(output_dir).iterdir() if _FOLDER.match(p.name) and p.is_dir()) \
        if Path(output_dir).is_dir() else []


def folder_holds(folder: str | Path, cell: Cell) -> bool:
    """Whether ``folder`` holds ``cell``'s finished result: its config.json names the cell
    and its metrics.json is there. A cached result whose folder fails this is recomputed."""
    return Cell.of_folder(folder) == cell and (Path(folder) / "metrics.json").is_file()


class CellLedger:
    """Which folder of ``output_dir`` each cell has (``cells.json``), assigned once.

    ``folder(cell)`` returns the cell's folder name, giving a new cell the next free number
    of its prefix (past every such folder on disk, ledgered or not); ``save()`` writes the
    ledger atomically. Without a ledger, the folders on disk are adopted by their
    config.json (an output folder of an earlier version), a finished one first.
    """

    def __init__(self, output_dir: str | Path):
        self.root = Path(output_dir)
        path = self.root / LEDGER_FILE
        if path.is_file():
            self.folders: dict[str, str] = dict(json.loads(path.read_text())["cells"])
        else:
            self.folders = self._adopt()
        self._dirty = not path.is_file() and bool(self.folders)
        self._last = {}                 # per prefix, the highest number in use (read once)
        for name in [*self.folders.values(),
                     *(p.name for p in self.root.glob("*_*") if p.is_dir())]:
            if m := _FOLDER.match(name):
                self._last[m[1]] = max(self._last.get(m[1], 0), int(m[2]))

    def _adopt(self) -> dict[str, str]:
        found: dict[str, str] = {}
        candidates = sorted((p for p in self.root.glob("*_*") if _FOLDER.match(p.name)),
                            key=lambda p: (not (p / "metrics.json").is_file(), p.name))
        for p in candidates:
            cell = Cell.of_folder(p)
            if cell is not None and cell.prefix == _FOLDER.match(p.name)[1]:
                found.setdefault(cell.key, p.name)
        return found

    def _next(self, prefix: str) -> str:
        self._last[prefix] = self._last.get(prefix, 0) + 1
        return f"{prefix}_{self._last[prefix]:04d}"

    def folder(self, cell: Cell) -> str:
        """The folder name of ``cell`` (assigned now if it is new)."""
        if cell.key not in self.folders:
            self.folders[cell.key] = self._next(cell.prefix)
            self._dirty = True
        return self.folders[cell.key]

    def save(self) -> None:
        if self._dirty:
            atomic_write_json(self.root / LEDGER_FILE,
                              {"format": 1, "cells": dict(sorted(self.folders.items()))})
            self._dirty = False
