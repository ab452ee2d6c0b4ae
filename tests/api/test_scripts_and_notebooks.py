"""The seed's Python snippets as a user runs them: a plain script with no main guard,
``python -c``, and a real Jupyter kernel (examples/quickstart.ipynb through nbclient)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


def _notebook_code() -> str:
    """The notebook's code cells, in order, as one program (what a user pastes into a script)."""
    nb = json.loads(NOTEBOOK.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cells[-1] += "\nprint(summary[['model_type', 'budget', 'n']].to_string(index=False))"
    cells[1] += "\nprint('CELLS', (results_df.status == 'ok').sum(), len(results_df))"
    return "\n\n".join(cells) + "\n"


def _env(home: Path, out: Path) -> dict:
    env = dict(os.environ, PREFECT_HOME=str(home), HF_BUDGET_EXAMPLE_DIR=str(out),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    for name in ("PREFECT_API_URL", "DASK_SCHEDULER_ADDRESS"):
        env.pop(name, None)
    return env


def _check(r: subprocess.CompletedProcess, out: Path) -> None:
    shown = f"stdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-4000:]}"
    assert r.returncode == 0, shown
    assert "Traceback" not in r.stderr and "Nanny failed" not in r.stderr, shown
    assert "CELLS 4 4" in r.stdout, shown            # every cell of the grid trained, once
    assert r.stdout.count("CELLS") == 1, shown         # the script ran once, not once per worker
    assert len(list(out.glob("exp_*/metrics.json"))) == 4


def test_the_snippets_as_a_plain_script_without_a_main_guard(tmp_path, prefect_home):
    script = tmp_path / "my_analysis.py"
    code = _notebook_code()
    assert "__main__" not in code
    script.write_text(code)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       env=_env(prefect_home(tmp_path / "home"), out), cwd=tmp_path, timeout=600)
    _check(r, out)


def test_the_snippets_with_python_c(tmp_path, prefect_home):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", _notebook_code()], capture_output=True, text=True,
                       env=_env(prefect_home(tmp_path / "home"), out), cwd=tmp_path, timeout=600)
    _check(r, out)


def test_the_quickstart_notebook_in_a_jupyter_kernel(tmp_path, monkeypatch, prefect_home):
    import nbformat
    from nbclient import NotebookClient
    out = tmp_path / "out"
    for key, value in _env(prefect_home(tmp_path / "home"), out).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    table = code[1].outputs[-1]["data"]["text/plain"]             # results_df, one row per cell
    assert table.count("ok") == 4, table
    assert "1e-3" in code[2].outputs[-1]["data"]["text/plain"] or \
        "0.001" in code[2].outputs[-1]["data"]["text/plain"]      # the tuner found the optimum
    assert len(list(out.glob("exp_*/metrics.json"))) == 4
