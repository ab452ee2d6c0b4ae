"""The seed's Python snippets as a user runs them: a plain script with no main guard,
``python -c``, a real Jupyter kernel (examples/quickstart.ipynb through nbclient), the
notebook as committed (its outputs from a real run), and the example script
(flows/example_hf_budget_analysis.py), whose terminal shows its results and the run's
warnings, not the libraries' log (flows/quiet.py)."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
EXAMPLE = REPO / "flows" / "example_hf_budget_analysis.py"
N_CELLS = 8          # the notebook's grid: 2 budgets x 2 models x 2 seeds

# what the example and the notebook printed before flows/quiet.py (issue 39): Dask's process
# specs and start-up lines, TensorFlow's and absl's, Prefect's server and INFO log
NOISE = ("retracing", "absl", "onednn", "cuda", "I0000", "W0000", "E0000", "distributed.",
         "dask spec", "--spec", "| INFO", "Starting temporary server", "IProgress not found")


def noise(text: str) -> list[str]:
    """The lines of ``text`` with one of NOISE in them (case-insensitive)."""
    return [line for line in text.splitlines()
            if any(n.lower() in line.lower() for n in NOISE)]


def test_the_noise_check_catches_what_the_example_printed_before():
    """Lines the example printed before (issue 39), shortened: each is caught."""
    before = [
        "17:00:38.401 | INFO    | distributed.deploy.subprocess - /work/main/.venv/bin/python -m dask "
        'spec --spec {"cls": "distributed.Scheduler", "opts": {"host": "127.0.0.1"}}',
        "17:00:28.318 | INFO    | prefect - Starting temporary server on http://127.0.0.1:8473",
        "WARNING:tensorflow:5 out of the last 11 calls to <function TensorFlowTrainer._make_function."
        "<locals>.multi_step_on_iterator at 0x7f487c60e8e0> triggered tf.function retracing.",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796662883.515981   18405 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1796662883.5 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)",
        "/venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found.",
    ]
    assert noise("\n".join(before)) == before
    assert noise("hf-budget example: 4 cells (HF budgets 20; residual_mlp, mda_cnn; 2 seeds)\n"
                 " budget   model_type  seed status    rmse_bp  hagan_rmse_bp\n"
                 "     20      mda_cnn     0     ok  43.321435       49.33232") == []


def _notebook_code() -> str:
    """The notebook's snippets (setup, orchestrator, tuner, aggregator), in order, as one
    program (what a user pastes into a script); its last cell displays with IPython."""
    nb = json.loads(NOTEBOOK.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    setup, run, tune, aggregate = cells[:4]
    run += "\nprint('CELLS', (results_df.status == 'ok').sum(), len(results_df))"
    aggregate += "\nprint(summary[['model_type', 'budget', 'n']].to_string(index=False))"
    return "\n\n".join([setup, run, tune, aggregate]) + "\n"


QUIET = ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "DASK_LOGGING__DISTRIBUTED",
         "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")


def _env(home: Path, out: Path) -> dict:
    env = dict(os.environ, PREFECT_HOME=str(home), HF_BUDGET_EXAMPLE_DIR=str(out),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    # the quiet settings are the example's own (flows/quiet.py), not the test's
    for name in ("PREFECT_API_URL", "DASK_SCHEDULER_ADDRESS", "HF_BUDGET_FAULT", *QUIET):
        env.pop(name, None)
    return env


def _check(r: subprocess.CompletedProcess, out: Path) -> None:
    shown = f"stdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-4000:]}"
    assert r.returncode == 0, shown
    assert "Traceback" not in r.stderr and "Nanny failed" not in r.stderr, shown
    assert f"CELLS {N_CELLS} {N_CELLS}" in r.stdout, shown   # every cell of the grid trained, once
    assert r.stdout.count("CELLS") == 1, shown         # the script ran once, not once per worker
    assert noise(r.stdout + r.stderr) == [], shown
    assert len(list(out.glob("exp_*/metrics.json"))) == N_CELLS


@pytest.mark.slow
def test_the_snippets_as_a_plain_script_without_a_main_guard(tmp_path, prefect_home):
    script = tmp_path / "my_analysis.py"
    code = _notebook_code()
    assert "__main__" not in code
    script.write_text(code)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       env=_env(prefect_home(tmp_path / "home"), out), cwd=tmp_path, timeout=600)
    _check(r, out)


@pytest.mark.slow
def test_the_snippets_with_python_c(tmp_path, prefect_home):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", _notebook_code()], capture_output=True, text=True,
                       env=_env(prefect_home(tmp_path / "home"), out), cwd=tmp_path, timeout=600)
    _check(r, out)


def _outputs_text(cell) -> str:
    """Every text a code cell's outputs hold (streams, text/* data, error tracebacks)."""
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        parts += [v for k, v in o.get("data", {}).items() if k.startswith("text/")]
        parts += o.get("traceback", [])
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _check_notebook(nb) -> list:
    """What every run of the notebook shows: no error, the run's results, its answer and plot,
    no library noise. Returns the code cells."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 5, [c.source[:60] for c in code]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "\n".join(_outputs_text(c) for c in code)
    assert "Traceback" not in text, text
    assert noise(text) == [], noise(text)
    assert code[0].outputs == []                                   # the settings: no output
    assert all(c.outputs for c in code[1:]), [len(c.outputs) for c in code]
    table = code[1].outputs[-1]["data"]["text/plain"]             # results_df, one row per cell
    assert len(re.findall(r"\s(?:mda_cnn|residual_mlp)\s+[01]\s+ok\s", table)) == N_CELLS, table
    assert "text/html" in code[1].outputs[-1]["data"]
    tuned = code[2].outputs[-1]["data"]["text/plain"]
    assert "1e-3" in tuned or "0.001" in tuned, tuned              # the tuner found the optimum
    summary = code[3].outputs[-1]["data"]["text/plain"]
    assert "rmse_bp_gmean" in summary and summary.count("mda_cnn") == 2, summary
    md = [o["data"]["text/markdown"] for o in code[4].outputs if "text/markdown" in o.get("data", {})]
    assert md and md[0].startswith("### The answer"), md
    assert f"{N_CELLS} of {N_CELLS} cells finished" in md[0], md[0]
    png = [o["data"]["image/png"] for o in code[4].outputs if "image/png" in o.get("data", {})]
    assert len(png) == 1
    raw = base64.b64decode(png[0])
    assert raw.startswith(b"\x89PNG") and 10_000 < len(raw) < 300_000, len(raw)
    return code


def test_the_committed_notebook_holds_the_outputs_of_a_real_run():
    """examples/quickstart.ipynb as committed: run top to bottom once, every cell's outputs
    from that run, nothing on stderr (no warning, no library log), no temporary path, small."""
    import nbformat
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = _check_notebook(nb)
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    streams = [o for c in code for o in c.outputs if o.get("output_type") == "stream"]
    assert streams == [], streams
    text = "\n".join(_outputs_text(c) for c in code)
    for path in ("/tmp", "/var/folders", "hf-budget-quickstart-", "pytest-of-", "/home/", "/work/"):
        assert path not in text, path
    assert NOTEBOOK.stat().st_size < 300_000


@pytest.mark.slow
def test_the_quickstart_notebook_in_a_jupyter_kernel(tmp_path, monkeypatch, prefect_home):
    import nbformat
    from nbclient import NotebookClient
    out = tmp_path / "out"
    for name in QUIET:
        monkeypatch.delenv(name, raising=False)
    for key, value in _env(prefect_home(tmp_path / "home"), out).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:                                          # not the committed run's
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    _check_notebook(nb)
    assert len(list(out.glob("exp_*/metrics.json"))) == N_CELLS


def _run_example(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_the_example_script_prints_its_results_and_warnings_only(tmp_path, prefect_home,
                                                                 make_tiny_config):
    """A run prints what it runs, its results and where they are: nothing on stderr. A run
    with a failing cell (a third seed, one of its cells raising) shows the failure (the
    flow's warning, the API's RuntimeWarning), and still no library log."""
    out = tmp_path / "out"
    env = _env(prefect_home(tmp_path / "home"), out)
    args = ["--config", str(make_tiny_config()), "--output-dir", str(out)]
    r = _run_example(args, env, tmp_path)
    shown = f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.returncode == 0, shown
    assert r.stderr == "", shown
    lines = r.stdout.splitlines()
    assert lines[0] == (f"hf-budget example: 4 cells (HF budgets 20; residual_mlp, mda_cnn; "
                        f"2 seeds) into {out}"), shown
    assert len(re.findall(r"20\s+(?:mda_cnn|residual_mlp)\s+[01]\s+ok\s", r.stdout)) == 4, shown
    for part in ("Ranking per budget:", "residual_mlp vs mda_cnn (paired over seeds):", "Tuner ("):
        assert part in r.stdout, (part, shown)
    assert lines[-2:] == [f"Report (the answer, every table and plot): {out}/analysis/report.html",
                          f"Results in {out}"], shown
    assert (out / "analysis" / "report.html").is_file()
    assert len(lines) < 25, shown
    assert noise(r.stdout) == [], shown

    make_tiny_config(n_random_seeds=3)         # the same file: two new cells, one raises
    r = _run_example(args, {**env, "HF_BUDGET_FAULT": "raise:mda_cnn:20:2"}, tmp_path)
    shown = f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.returncode == 0, shown
    assert "cell mda_cnn b=20 s=2 did not finish" in r.stderr, shown
    assert "RuntimeWarning: 1 of 6 cells did not finish: mda_cnn b=20 s=2 (failed)" in r.stderr, shown
    assert re.search(r"20\s+mda_cnn\s+2\s+failed", r.stdout), shown
    assert noise(r.stdout + r.stderr) == [], shown


def test_quiet_output_keeps_warnings_under_a_progress_bar_too(tmp_path):
    """flows.quiet: Prefect's console shows WARNING and above, also while a run's progress bar
    (tqdm's logging redirect, flows/progress.py) has replaced its handler; the environment's
    PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL still wins."""
    code = ("import logging\n"
            "from flows.quiet import quiet_output\n"
            "quiet_output()\n"
            "from tqdm.contrib.logging import logging_redirect_tqdm\n"
            "log = logging.getLogger('prefect.hf_budget_test')\n"
            "log.info('info plain'); log.warning('warning plain')\n"
            "with logging_redirect_tqdm(loggers=[logging.getLogger()]):\n"
            "    log.info('info under the bar'); log.warning('warning under the bar')\n")
    env = _env(tmp_path / "home", tmp_path / "out")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "warning plain" in r.stderr and "warning under the bar" in r.stderr, r.stderr
    assert "info" not in r.stderr.lower(), r.stderr
    assert noise(r.stdout + r.stderr) == [], r.stderr           # TensorFlow imported quietly
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**env, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "info plain" in r.stderr and "info under the bar" in r.stderr, r.stderr
