"""What goes wrong in a nightly run, and that nothing is lost: kill -9, a lost Dask worker,
a diverging or raising cell, two runs on one folder, a corrupt data set.

Every run is real: the CLI in fresh processes (its own ephemeral Prefect server), or
the flow under the shared test server with real Dask workers.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
METRICS = ["rmse_bp", "mae_bp", "max_abs_bp", "hagan_rmse_bp", "epochs_run"]
# long enough per cell that a kill lands while cells are training
SLOW_TINY = {"training_config": {"epochs": 40, "tuning_epochs": 2, "early_stopping_patience": 40,
                                 "min_steps": 0, "min_patience_steps": 0, "min_tuning_steps": 0},
             "n_random_seeds": 3}


def _env(home: Path, **extra) -> dict:
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env.pop("PREFECT_API_URL", None)
    return env


def _cli(args, env, cwd, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "hf-budget"), *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, **kw)


def _finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process (Linux /proc)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    """Every living process started, directly or not, by ``pid``."""
    table, found, frontier = _processes(), set(), {pid}
    while frontier:
        frontier = {p for p, (pp, _) in table.items() if pp in frontier} - found
        found |= frontier
    return found


def _running(pids) -> set[int]:
    table = _processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the command and every process it started (the run process has a process
    group of its own: flows/stopping.py)."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def _cells(log: str, state: str) -> list[str]:
    """The run's per-cell progress lines whose training task ended in ``state``."""
    return re.findall(rf"^.*cell \d+/\d+ \S+ b=\d+ s=\d+: .*\[{state}\].*$", log, re.M)


def _metrics(out: Path) -> pd.DataFrame:
    df = pd.read_csv(out / "detailed_results.csv")
    return df.set_index(["budget", "model_type", "seed"]).sort_index()


def _assert_every_visible_file_is_whole(out: Path) -> int:
    """Files under their final names parse completely (temporary files are hidden '.*' names)."""
    n = 0
    for f in out.rglob("*"):
        if not f.is_file() or any(p.startswith(".") for p in f.relative_to(out).parts):
            continue
        n += 1
        if f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".csv":
            pd.read_csv(f)
        elif f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                [z[k] for k in z.files]
        elif f.suffix == ".keras":
            with zipfile.ZipFile(f) as z:
                assert z.testzip() is None, f
    return n


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_experiment, prefect_home):
    """An uninterrupted CLI run of the slow tiny config: the numbers the others must equal.
    While it runs, a second run on the same folder is started (and must be refused:
    :func:`test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs`); what it
    saw is kept in the module's ``SECOND`` dict."""
    import yaml
    base = tmp_path_factory.mktemp("reference")
    cfg = base / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({**tiny_experiment, **SLOW_TINY}))
    out = base / "out"
    args = ["run", "--config", str(cfg), "--output-dir", str(out)]
    first = _cli(args, _env(prefect_home(base / "home")), base)
    try:
        deadline = time.time() + 120
        while not (out / "data").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        rc2, log2 = _finish(_cli(args, _env(prefect_home(base / "home2")), base), timeout=120)
        SECOND.update(rc=rc2, log=log2, run=_descendants(first.pid),
                      still_running=first.poll() is None, out=out, home=base / "home2")
        rc, log = _finish(first)
    finally:
        _kill_group(first)
    assert rc == 0, log[-3000:]
    return cfg, _metrics(out)


SECOND: dict = {}


def _stop_after_a_new_cell(args, env, cwd, out: Path, signum: int, to_group: bool):
    """Start the run, send ``signum`` once one more cell has finished (to the whole process
    group, as Ctrl-C in a terminal does, or to the command alone, as ``kill`` does), and
    return (exit code, output, seconds until every process of the run was gone, cells
    finished before the signal with their metrics' mtimes)."""
    already = set(out.glob("exp_*/metrics.json"))
    proc = _cli(args, env, cwd)
    try:
        deadline = time.time() + 300
        while not set(out.glob("exp_*/metrics.json")) - already:
            assert proc.poll() is None and time.time() < deadline, "run ended before a new cell"
            time.sleep(0.05)
        time.sleep(1.0)          # its task result is stored a few ms after its metrics file
        before = {f.parent.name: f.stat().st_mtime_ns for f in out.glob("exp_*/metrics.json")}
        run = _descendants(proc.pid) | {proc.pid}        # flow process, server, workers
        assert len(run) >= 4, run
        sent = time.monotonic()
        (os.killpg if to_group else os.kill)(proc.pid, signum)
        out_text, _ = proc.communicate(timeout=60)
        while _running(run) and time.monotonic() - sent < 60:
            time.sleep(0.05)
        gone = time.monotonic() - sent
    finally:
        _kill_group(proc)
    return proc.returncode, out_text, gone, before


def test_sigint_sigterm_and_kill_9_stop_the_run_and_the_same_command_resumes(
        reference, tmp_path, prefect_home):
    """Ctrl-C (SIGINT to the terminal's process group), ``kill`` (SIGTERM to the command)
    and ``kill -9`` of the command, one after the other on one folder: every process of the
    run is gone within 10 s (after kill -9, its run process notices), exit 130 / 143 with
    one line and no traceback, the lock is free, and the same command resumes with finished
    cells Cached and the uninterrupted run's numbers."""
    import yaml
    from sabr.lock import check_free
    ref_cfg, expected = reference
    # 10 seeds, 20 cells: room for three stops mid-run. A cell trains in about a second,
    # so a resumed run finished 4-6 new cells before its signal landed (with 10 cells, all
    # were done by the third stop; with 16, 11); seeds 0-2 are the reference's cells
    cfg = tmp_path / "ten-seeds.yaml"
    cfg.write_text(yaml.safe_dump({**yaml.safe_load(ref_cfg.read_text()), "n_random_seeds": 10}))
    n_cells = len(expected) // 3 * 10                # (models x budgets) x 10 seeds
    out, env = tmp_path / "out", _env(prefect_home(tmp_path / "home"))
    args = ["run", "--config", str(cfg), "--output-dir", str(out)]
    n_before = 0
    for signum, to_group, code in [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143),
                                   (signal.SIGKILL, False, -signal.SIGKILL)]:
        rc, log, gone, before = _stop_after_a_new_cell(args, env, tmp_path, out, signum, to_group)
        name = signal.Signals(signum).name
        print(f"{name}: exit {rc}, every process gone {gone:.1f} s after the signal; "
              f"{len(before)} of {n_cells} cells finished")
        assert rc == code, log[-3000:]
        assert gone <= 10.0, (name, gone)
        if signum != signal.SIGKILL:                      # a killed command says nothing
            ours = [l for l in log.splitlines() if l.startswith("hf-budget")]
            assert len(ours) == 1, log[-3000:]
            assert ours[0].startswith(f"hf-budget: stopped by {name}; finished cells are kept "
                                      f"in {out}"), ours
            assert "Traceback" not in log, log[-3000:]
        check_free(out)                                   # the lock was released
        assert n_before < len(before) < n_cells, before
        n_before = len(before)
        _assert_every_visible_file_is_whole(out)

    rc, log = _finish(_cli(args, env, tmp_path))
    assert rc == 0, log[-3000:]
    cached = _cells(log, "Cached")
    assert len(cached) >= len(before), log[-3000:]        # nothing finished is trained again
    assert all((out / d / "metrics.json").stat().st_mtime_ns == t for d, t in before.items())
    got = _metrics(out)
    assert len(got) == n_cells and set(got.status) == {"ok"}
    pd.testing.assert_frame_equal(got.loc[expected.index, METRICS], expected[METRICS],
                                  check_exact=False, rtol=1e-9)


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(reference, tmp_path):
    """Observed while the reference run ran (the ``reference`` fixture): one line, exit 2,
    naming the first run's process; the first run went on and finished with the numbers."""
    cfg, expected = reference
    rc, log = SECOND["rc"], SECOND["log"]
    assert rc == 2, log
    lines = [l for l in log.splitlines() if l.startswith("hf-budget")]
    assert len(lines) == 1 and "is in use by another run (pid" in lines[0], log
    holder = int(re.search(r"pid (\d+) on", lines[0]).group(1))
    assert holder in SECOND["run"] and "Traceback" not in log      # the first run's process
    assert SECOND["still_running"]                      # the first run went on undisturbed
    assert len(expected) and set(expected.status) == {"ok"}
    # once the first has finished the folder is free again: analysis runs
    rc, log = _finish(_cli(["analyze", "--output-dir", str(SECOND["out"])],
                           _env(SECOND["home"]), tmp_path), timeout=120)
    assert rc == 0 and f"{len(expected)} of {len(expected)} cells finished" in log, log


def test_the_lock_is_refused_in_process_and_freed_by_a_killed_holder(tmp_path):
    from sabr.lock import OutputBusy, check_free, output_lock
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from sabr.lock import output_lock\n"
        f"with output_lock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusy, match=rf"in use by another run \(pid {holder.pid} on "):
            with output_lock(tmp_path):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with output_lock(tmp_path):          # a dead holder leaves no stale lock
            with pytest.raises(OutputBusy):  # and a run takes it once: a second take is refused
                with output_lock(tmp_path):
                    pass
            with pytest.raises(OutputBusy):
                check_free(tmp_path)
        check_free(tmp_path)                 # a probe holds nothing: the lock is free again
        with output_lock(tmp_path):
            pass
    finally:
        holder.kill()


def test_a_worker_killed_mid_task_is_replaced_and_the_run_completes(dask_cluster, reference,
                                                                     tmp_path):
    from flows.experiment import hf_budget
    cfg, expected = reference
    address, client = dask_cluster
    killed: list[str] = []

    def kill_a_training_worker():
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            for addr, keys in client.processing().items():
                if any("train" in str(k) for k in keys):
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    time.sleep(0.5)              # well inside the task
                    os.kill(pid, signal.SIGKILL)
                    killed.append(addr)
                    return
            time.sleep(0.1)

    watcher = threading.Thread(target=kill_a_training_worker, daemon=True)
    watcher.start()
    summary = hf_budget(config_path=str(cfg), output_dir=str(tmp_path / "out"),
                        dask_address=address)
    watcher.join(timeout=5)
    assert killed, "no training task was seen running"
    assert summary["n_ok"] == summary["n_cells"] == len(expected)
    assert len(client.scheduler_info()["workers"]) == 2    # the nanny started a new one
    got = _metrics(tmp_path / "out")
    pd.testing.assert_frame_equal(got[METRICS], expected[METRICS], check_exact=False, rtol=1e-9)


def test_a_diverging_cell_and_a_raising_cell_are_failed_and_the_rest_completes(
        harness, make_tiny_config, tmp_path, monkeypatch):
    from flows.experiment import ExperimentFailed, hf_budget
    monkeypatch.setenv("HF_BUDGET_FAULT", "nan:residual_mlp:20:1,raise:mda_cnn:20:0")
    out = tmp_path / "out"
    with pytest.raises(ExperimentFailed, match="2 of 4 cells did not finish"):
        hf_budget(config_path=str(make_tiny_config()), output_dir=str(out))
    df = pd.read_csv(out / "detailed_results.csv").set_index(["model_type", "seed"])
    assert df.loc[("residual_mlp", 1), "status"] == "failed"
    assert "diverged" in df.loc[("residual_mlp", 1), "reason"]
    assert df.loc[("mda_cnn", 0), "status"] == "failed"
    assert "injected fault" in df.loc[("mda_cnn", 0), "reason"]
    ok = df[df.status == "ok"]
    assert len(ok) == 2 and np.isfinite(ok.rmse_bp).all()
    # the analysis ran on what finished, and the summary names what did not
    summary_md = (out / "analysis" / "summary.md").read_text()
    assert "2 of 4 cells finished" in summary_md
    assert "residual_mlp b=20 s=1 (failed)" in summary_md and "mda_cnn b=20 s=0 (failed)" in summary_md
    assert (out / "analysis" / "performance_summary.csv").is_file()
    status = json.loads((out / "run_status.json").read_text())
    assert status["by_status"] == {"ok": 2, "failed": 2}


def test_a_corrupt_data_set_is_detected_and_built_again(harness, make_tiny_config, tmp_path):
    from flows.experiment import hf_budget
    from sabr.data.dataset import DatasetError, load_dataset
    # one model, one seed: the data set is what is tested, one cell shows nothing retrained
    cfg, out = make_tiny_config(model_types=["residual_mlp"], n_random_seeds=1), tmp_path / "out"
    hf_budget(config_path=str(cfg), output_dir=str(out))
    data = out / "data" / "surfaces.npz"
    good = load_dataset(out / "data").meta["content_hash"]
    first = _metrics(out)
    mtimes = {f: f.stat().st_mtime_ns for f in out.glob("exp_*/metrics.json")}

    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])          # truncated
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        load_dataset(out / "data")
    chunk = sorted((out / "data" / "chunks").glob("*.npz"))[0]
    with np.load(chunk, allow_pickle=False) as z:                             # an edited chunk
        arrays = {k: z[k] for k in z.files}
    arrays["hf"] = arrays["hf"] * 1.01
    np.savez(chunk, **arrays)
    summary = hf_budget(config_path=str(cfg), output_dir=str(out))
    assert summary["n_ok"] == 1
    assert load_dataset(out / "data").meta["content_hash"] == good            # the same data again
    # the cells never saw the bad file: their cached results stand, nothing retrained
    assert all(f.stat().st_mtime_ns == t for f, t in mtimes.items())
    pd.testing.assert_frame_equal(_metrics(out)[METRICS], first[METRICS])

    # an edited (still loadable) data file is caught by its hash and rebuilt as well
    with np.load(data, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["hf"] = arrays["hf"] + 1e-4
    np.savez(data, **arrays)
    with pytest.raises(DatasetError, match="does not match its content hash"):
        load_dataset(out / "data")
    hf_budget(config_path=str(cfg), output_dir=str(out))
    assert load_dataset(out / "data").meta["content_hash"] == good


def test_kill_9_in_an_adaptive_round_then_the_same_command_continues_at_that_round(
        tiny_experiment, tmp_path, prefect_home):
    """An adaptive run killed (-9, every process) while round 2 trains: the rerun takes
    round 1's acquisition and ensemble from the cache and continues at round 2, buying the
    same thetas."""
    import yaml
    cfg = tmp_path / "adaptive.yaml"
    cfg.write_text(yaml.safe_dump({
        **tiny_experiment, **SLOW_TINY, "model_types": ["mda_cnn"], "n_random_seeds": 1,
        "allocations": ["adaptive"], "hf_cpu_budgets": ["30%", "80%"],
        "ensemble_size": 2, "adaptive_warm_start": True}))
    out, env = tmp_path / "out", _env(prefect_home(tmp_path / "home"))
    args = ["run", "--config", str(cfg), "--output-dir", str(out)]
    rounds = out / "adaptive" / "mda_cnn_s0"
    proc = _cli(args, env, tmp_path)
    try:
        deadline = time.time() + 400
        while not (rounds / "round_2.json").is_file():     # round 1 trained, round 2 bought
            assert proc.poll() is None and time.time() < deadline, "run ended before round 2"
            time.sleep(0.05)
        time.sleep(0.5)
        bought = json.loads((rounds / "round_2.json").read_text())["order"]
    finally:
        _kill_group(proc)                      # every process of the run, at once

    rc, log = _finish(_cli(args, env, tmp_path))
    assert rc == 0, log[-3000:]
    assert re.search(r"acquire \d+/2 mda_cnn s=0 round 1 \(adaptive@30%\): .*\[Cached\]", log), log
    assert re.search(r"cell \d+/3 mda_cnn adaptive@30% s=0: .*\[Cached\]", log), log
    assert re.search(r"cell \d+/3 mda_cnn adaptive@80% s=0: .*\[Completed\]", log), log  # round 2
    assert json.loads((rounds / "round_2.json").read_text())["order"] == bought
    df = pd.read_csv(out / "cost_results.csv")
    assert (df.status == "ok").all() and len(df) == 2
    # warm start: each later round continues the previous round's members (its folder)
    configs = {json.loads((d / "config.json").read_text())["budget"]: json.loads(
        (d / "config.json").read_text()) for d in out.glob("cost_[0-9]*")}
    folders = {b: d.name for d in out.glob("cost_[0-9]*")
               for b in [json.loads((d / "config.json").read_text())["budget"]]}
    assert "warm_from" not in configs["adaptive@30%"]
    assert configs["adaptive@80%"]["warm_from"] == folders["adaptive@30%"]
