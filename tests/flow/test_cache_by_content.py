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


def _run(src: Path, config: Path, out: Path, home: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), PREFECT_HOME=str(home),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    r = subprocess.run([str(BIN), "run", "--config", str(config), "--output-dir", str(out)],
                       capture_output=True, text=True, env=env, cwd=src, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
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

    first = _run(src, config, out, home)
    assert first == {"generate": (2, 0), "assemble": (1, 0), "tune": (1, 0), "train": (1, 0)}
    data_hash = _content_hash(out)

    # a comment in the Monte Carlo module: the surfaces are made again, come out the same,
    # and nothing downstream reruns
    _edit(src / "sabr" / "numerics" / "montecarlo.py", "from __future__ import annotations",
          "from __future__ import annotations\n# an edit that changes no number")
    again = _run(src, config, out, home)
    assert again["generate"] == (2, 0), again
    assert again["tune"] == (0, 1) and again["train"] == (0, 1), again
    assert _content_hash(out) == data_hash

    # an error message of the configuration module: every task from the cache
    _edit(src / "sabr" / "config.py", "is invalid: allowed", "is invalid (see the README): allowed")
    assert _run(src, config, out, home) == {"generate": (0, 2), "assemble": (0, 1),
                                            "tune": (0, 1), "train": (0, 1)}

    # the training code: cells are trained again on the same data
    _edit(src / "sabr" / "learning" / "training.py", "from __future__ import annotations",
          "from __future__ import annotations\n# a change to how cells are trained")
    retrained = _run(src, config, out, home)
    assert retrained["generate"] == (0, 2) and retrained["assemble"] == (0, 1), retrained
    assert retrained["train"] == (1, 0), retrained
    assert _content_hash(out) == data_hash
