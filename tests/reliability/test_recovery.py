"""What goes wrong in a nightly run, and that nothing is lost: kill -9, a lost Dask worker,
a diverging or raising cell, two runs on one folder, a corrupt data set.

Every run is real: the CLI in fresh processes (its own ephemeral Prefect server), or
the flow under the shared test server with real Dask workers.
"""
from __future__ import annotations

import json
import os
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
SLOW_TINY = {"training_config": {"epochs": 40, "tuning_epochs": 2, "early_stopping_patience": 40},
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


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


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
def reference(tmp_path_factory, tiny_experiment):
    """An uninterrupted CLI run of the slow tiny config: the numbers the others must equal."""
    import yaml
    base = tmp_path_factory.mktemp("reference")
    cfg = base / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({**tiny_experiment, **SLOW_TINY}))
    rc, log = _finish(_cli(["run", "--config", str(cfg), "--output-dir", str(base / "out")],
                           _env(base / "home"), base))
    assert rc == 0, log[-3000:]
    return cfg, _metrics(base / "out")


def test_kill_9_mid_training_then_the_same_command_resumes(reference, tmp_path):
    cfg, expected = reference
    out, env = tmp_path / "out", _env(tmp_path / "home")
    args = ["run", "--config", str(cfg), "--output-dir", str(out)]
    proc = _cli(args, env, tmp_path)
    try:
        deadline = time.time() + 300
        while not list(out.glob("exp_*/metrics.json")):      # the first cell has finished
            assert proc.poll() is None and time.time() < deadline, "run ended before any cell"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)                    # the flow process, as kill -9 does
        proc.wait(timeout=30)
    finally:
        _kill_group(proc)                                    # and whatever it had started
    before = {f.parent.name: f.stat().st_mtime_ns for f in out.glob("exp_*/metrics.json")}
    assert 0 < len(before) < len(expected), before
    assert _assert_every_visible_file_is_whole(out) > 0

    rc, log = _finish(_cli(args, env, tmp_path))
    assert rc == 0, log[-3000:]
    cached = [l for l in log.splitlines() if "Task run 'train " in l and "Finished in state Cached" in l]
    done = [l for l in log.splitlines() if "Task run 'train " in l and "Finished in state Completed" in l]
    assert cached and done and len(cached) + len(done) == len(expected), log[-3000:]
    # every cell whose result was stored before the kill is reused, not recomputed
    assert len(cached) <= len(before)
    unchanged = [d for d, t in before.items() if (out / d / "metrics.json").stat().st_mtime_ns == t]
    assert len(unchanged) >= len(cached)
    got = _metrics(out)
    assert set(got.status) == {"ok"}
    pd.testing.assert_frame_equal(got[METRICS], expected[METRICS], check_exact=False, rtol=1e-9)
    _assert_every_visible_file_is_whole(out)


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(reference, tmp_path):
    cfg, expected = reference
    out = tmp_path / "out"
    args = ["run", "--config", str(cfg), "--output-dir", str(out)]
    first = _cli(args, _env(tmp_path / "home1"), tmp_path)
    try:
        deadline = time.time() + 120
        while not (out / "data").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        rc, log = _finish(_cli(args, _env(tmp_path / "home2"), tmp_path), timeout=120)
        assert rc == 2, log
        lines = [l for l in log.splitlines() if l.startswith("hf-budget")]
        assert len(lines) == 1 and "is in use by another run (pid" in lines[0], log
        assert f"pid {first.pid}" in lines[0] and "Traceback" not in log
        assert first.poll() is None                       # the first run goes on undisturbed
        rc, log = _finish(first)
        assert rc == 0, log[-3000:]
    finally:
        _kill_group(first)
    pd.testing.assert_frame_equal(_metrics(out)[METRICS], expected[METRICS], check_exact=False,
                                  rtol=1e-9)
    # once the first has finished the folder is free again: analysis runs
    rc, log = _finish(_cli(["analyze", "--output-dir", str(out)], _env(tmp_path / "home2"),
                           tmp_path), timeout=120)
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
    cfg, out = make_tiny_config(), tmp_path / "out"
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
    assert summary["n_ok"] == 4
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
