"""End to end: a real Prefect server and process worker on 127.0.0.1, `prefect deploy --all`,
`prefect deployment run hf-budget/prod` made tiny by --param, checked through the client."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(args, env, timeout=300):
    r = subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"prefect {' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r.stdout


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _run_and_wait(env, params: dict, timeout=600):
    args = ["deployment", "run", "hf-budget/prod"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    out = _cli(args, env)
    run_id = next(line.split()[-1] for line in out.splitlines() if "UUID" in line)
    from prefect.client.orchestration import get_client
    deadline = time.time() + timeout
    with get_client(sync_client=True) as client:
        while time.time() < deadline:
            run = client.read_flow_run(run_id)
            if run.state and run.state.is_final():
                return run
            time.sleep(2)
    raise AssertionError(f"flow run {run_id} did not finish within {timeout} s")


def _experiment_tasks(parent_id) -> tuple[Counter, set[str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterParentFlowRunId,
                                                FlowRunFilterId)
    with get_client(sync_client=True) as client:
        subs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))
        trs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[s.id for s in subs])))
    return Counter((tr.name.split()[0], tr.state.name) for tr in trs), {tr.name for tr in trs}


def test_prod_deployment_on_a_real_server_and_worker(tmp_path, make_tiny_config, prefect_home):
    port = _port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(prefect_home(tmp_path / "home")), PREFECT_API_URL=url,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    cfg = make_tiny_config(model_types=["residual_mlp"])
    out = tmp_path / "out"
    procs = []
    try:
        procs.append(subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                       "--port", str(port)], env=env, cwd=tmp_path,
                                      stdout=open(tmp_path / "server.log", "w"),
                                      stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(1)
        _cli(["work-pool", "create", "hf-budget", "--type", "process"], env)
        _cli(["--no-prompt", "deploy", "--all"], env)
        procs.append(subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "hf-budget"],
                                      env=env, cwd=tmp_path, stdout=open(tmp_path / "worker.log", "w"),
                                      stderr=subprocess.STDOUT, start_new_session=True))
        from prefect.settings import PREFECT_API_URL, temporary_settings
        with temporary_settings({PREFECT_API_URL: url}):
            from prefect.client.orchestration import get_client
            with get_client(sync_client=True) as client:
                dep = client.read_deployment_by_name("hf-budget/prod")
                gcl = dep.global_concurrency_limit       # concurrency_limit: 1 in prefect.yaml
                assert gcl is not None and gcl.limit == 1
                assert dep.schedules and dep.schedules[0].schedule.cron == "0 2 * * *"
            params = {"config_path": str(cfg), "output_dir": str(out)}
            run = _run_and_wait(env, params)
            assert run.state.is_completed(), (run.state, (tmp_path / "worker.log").read_text()[-3000:])
            states, names = _experiment_tasks(run.id)
            assert {"generate surfaces 0-5", "assemble data set", "tune residual_mlp b=20",
                    "train residual_mlp b=20 s=0", "train residual_mlp b=20 s=1"} <= names
            from prefect.artifacts import Artifact
            md = Artifact.get("hf-budget-summary").data
            assert "| residual_mlp | b=20 |" in md           # a row of the RMSE table
            for f in ("detailed_results.csv", "statistical_analysis.json", "exp_0001/metrics.json",
                      "plots/rmse_vs_budget.png"):
                assert (out / f).is_file(), f

            again = _run_and_wait(env, params)
            assert again.state.is_completed()
            states, _ = _experiment_tasks(again.id)
            for kind, n in (("generate", 2), ("assemble", 1), ("tune", 1), ("train", 2)):
                assert states[(kind, "Cached")] == n, states
            # the nightly rerun kept the first night's analysis and says it was fully cached
            assert len(list((out / "runs").iterdir())) == 2 and (out / "latest").is_symlink()
            assert "Fully cached run" in Artifact.get("hf-budget-summary").data
    finally:
        for p in procs[::-1]:
            _stop(p)
