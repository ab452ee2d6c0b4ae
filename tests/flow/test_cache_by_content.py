"""Caching by content (tasks.common.content_policy), tried on edited copies of the code.

The project's packages are copied to a temporary folder that comes first on
PYTHONPATH (the Dask workers inherit it); each run is ``hf-budget run`` in a fresh
process; what each stage computed or took from the cache is read from the run's own
``analysis/timings.json``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "hf-budget"


def _run(src: Path, config: Path, out: Path, home: Path, log: list | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), PREFECT_HOME=str(home),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    r = subprocess.run([str(BIN), "run", "--config", str(config), "--output-dir", str(out)],
                       capture_output=True, text=True, env=env, cwd=src, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    if log is not None:
        log.extend((r.stdout + r.stderr).splitlines())
    stages = json.loads((out / "analysis" / "timings.json").read_text())["stages"]
    return {name: (st["computed"], st["cached"]) for name, st in stages.items()
            if name != "aggregate"}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _content_hash(out: Path) -> str:
    return json.loads((out / "data" / "metadata.json").read_text())["content_hash"]


def test_edits_recompute_only_what_they_change(make_tiny_config, tmp_path, prefect_home):
    src = tmp_path / "src"
    for pkg in ("sabr", "tasks", "flows"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    # one model and one seed: a tuning and a cell are enough to tell computed from cached
    config = make_tiny_config(model_types=["residual_mlp"], n_random_seeds=1)
    out, home = tmp_path / "out", prefect_home(tmp_path / "home")
    everything_cached = {"generate": (0, 2), "assemble": (0, 1), "tune": (0, 1), "train": (0, 1)}

    first = _run(src, config, out, home)
    assert first == {"generate": (2, 0), "assemble": (1, 0), "tune": (1, 0), "train": (1, 0)}
    data_hash = _content_hash(out)

    # a comment and a docstring in the Monte Carlo module change no code: nothing reruns
    _edit(src / "sabr" / "numerics" / "montecarlo.py", "from __future__ import annotations",
          "from __future__ import annotations\n# an edit that changes no number")
    _edit(src / "sabr" / "numerics" / "montecarlo.py", '"""', '"""A reworded docstring. ')
    assert _run(src, config, out, home) == everything_cached

    # an error message of the configuration module, which no stage imports: nothing reruns
    _edit(src / "sabr" / "config.py", "is invalid: allowed", "is invalid (see the README): allowed")
    assert _run(src, config, out, home) == everything_cached

    # the code of a module training imports (the adaptive rounds' row orders, which the
    # hand-kept list of modules this replaced had left out): cells are trained and tuned
    # again, on the same data
    _edit(src / "sabr" / "data" / "allocations" / "row_orders.py", "from __future__ import annotations",
          "from __future__ import annotations\n_EDITED = True")
    retrained = _run(src, config, out, home)
    assert retrained == {"generate": (0, 2), "assemble": (0, 1), "tune": (1, 0),
                         "train": (1, 0)}, retrained
    assert _content_hash(out) == data_hash

    # the output folder moved: its cache goes with it (no key holds a path)
    moved = tmp_path / "elsewhere" / "out"
    shutil.move(out, moved)
    assert _run(src, config, moved, home) == everything_cached
    # copied, and the code the data set is built with edited: its chunks are built again
    # beside the data set on disk, which the run checks them against before it submits
    # the rest; it reports each chunk as it finishes meanwhile (on the seed-scale data set
    # that wait is 12 minutes, and it was silent), and the same data come out
    copied = tmp_path / "copy"
    shutil.copytree(moved, copied)
    _edit(src / "sabr" / "numerics" / "montecarlo.py", "from __future__ import annotations",
          "from __future__ import annotations\n_EDITED = True")
    lines = []
    rebuilt = _run(src, config, copied, home, log=lines)
    assert rebuilt["generate"] == (2, 0), rebuilt
    data_at = [i for i, line in enumerate(lines) if " - data " in line and "/2: surfaces" in line]
    submitted_at = [i for i, line in enumerate(lines) if "submitted 2 chunks" in line]
    assert len(data_at) == 2 and len(submitted_at) == 1 and max(data_at) < submitted_at[0], lines
    assert _content_hash(copied) == data_hash
