"""Shared test configuration: seeded Hypothesis, the published tables in tests/data/reference,
the tiny flow configuration, the test server, and the quick profile run once per session."""
from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import settings

settings.register_profile("seeded", derandomize=True, max_examples=300, deadline=None)
settings.load_profile("seeded")

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "reference"   # published values, each row with its source

@pytest.fixture(scope="session")
def antonov_spector() -> pd.DataFrame:
    """Antonov & Spector (2012) tables 1-9: SABR MC and Hagan vols at T = 10."""
    return pd.read_csv(REFERENCE / "antonov_spector_2012_T10.csv")


@pytest.fixture(scope="session")
def benchop() -> pd.DataFrame:
    """BENCHOP Set I (von Sydow et al. 2018) SABR reference call prices."""
    return pd.read_csv(REFERENCE / "benchop_set1_prices.csv")


TINY_EXPERIMENT = {
    "profile": "quick",
    "data_gen_config": {"n_parameter_sets": 12, "mc_paths": 2000, "chunk_size": 6,
                        "n_maturities": 4, "n_strikes": 7, "maturity_range": [0.5, 2.0]},
    # no step floors (sabr.settings.TrainingConfig.min_steps): these runs test the plumbing
    "training_config": {"epochs": 3, "tuning_epochs": 2, "early_stopping_patience": 2,
                        "min_steps": 0, "min_patience_steps": 0, "min_tuning_steps": 0},
    "model_config": {"patch_size": [3, 3], "cnn_filters": [4], "mlp_hidden_dims": [8]},
    "hyperparameter_space": {"learning_rates": [0.001], "batch_sizes": [32], "dropout_rates": [0.1],
                             "cnn_filters": [[4]], "mlp_hidden_dims": [[8]]},
    "hf_budgets": [20],
    "model_types": ["residual_mlp", "mda_cnn"],
    "n_random_seeds": 2,
    "n_hyperparameter_trials": 1,
    "parallel_jobs": 2,
    # no allocation study unless a test asks for one (quick's needs 4000 paths for paths/4)
    "allocations": ["spread"],
    "hf_cpu_budgets": [],
    "cost_model_types": None,
}


@pytest.fixture(scope="session")
def tiny_experiment() -> dict:
    """The tiny flow configuration, as a dict (a copy: tests may change it)."""
    return yaml.safe_load(yaml.safe_dump(TINY_EXPERIMENT))


@pytest.fixture()
def make_tiny_config(tmp_path):
    """Factory: a YAML file of a flow run small enough for tests (top-level keys replaceable)."""
    def make(**overrides) -> Path:
        path = tmp_path / "tiny.yaml"
        path.write_text(yaml.safe_dump({**TINY_EXPERIMENT, **overrides}))
        return path
    return make


HF_BUDGET = Path(sys.executable).parent / "hf-budget"


@pytest.fixture(scope="session")
def migrated_prefect_db(tmp_path_factory) -> Path:
    """A Prefect database with every migration applied (``prefect server database upgrade``),
    made once per session. A fresh PREFECT_HOME starts from a copy of it: its temporary
    server then opens in about 4 s instead of about 10 (migrating a new database)."""
    home = tmp_path_factory.mktemp("prefect-home-template")
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    subprocess.run([str(HF_BUDGET.parent / "prefect"), "server", "database", "upgrade", "-y"],
                   env=env, check=True, capture_output=True, timeout=300)
    return home / "prefect.db"


def new_prefect_home(home: Path, db: Path) -> Path:
    """``home`` as a Prefect home holding a copy of the migrated database ``db``."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "prefect.db").exists():
        shutil.copyfile(db, home / "prefect.db")
    return home


@pytest.fixture(scope="session")
def prefect_home(migrated_prefect_db):
    """Factory: a fresh Prefect home at the given path, its database already migrated."""
    return functools.partial(new_prefect_home, db=migrated_prefect_db)


def run_hf_budget(args, cwd: Path, *, db: Path, timeout: float = 900, env: dict | None = None):
    """``hf-budget *args`` in a fresh process with a Prefect home of its own under ``cwd``
    (its ephemeral server: no PREFECT_API_URL; the database a copy of ``db``); ``env`` adds
    to the environment."""
    home = new_prefect_home(cwd / "prefect-home", db)
    full = dict(os.environ, PREFECT_HOME=str(home),
                PREFECT_SERVER_ANALYTICS_ENABLED="false", **(env or {}))
    full.pop("PREFECT_API_URL", None)
    return subprocess.run([str(HF_BUDGET), *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="session")
def hf_budget_cli(migrated_prefect_db):
    """:func:`run_hf_budget`, for test modules (a conftest is not imported by name)."""
    return functools.partial(run_hf_budget, db=migrated_prefect_db)


@dataclass(frozen=True)
class QuickRun:
    """A finished ``hf-budget run``: the process's result, its output folder, the folder it
    ran in and its wall time in seconds."""

    result: subprocess.CompletedProcess
    out: Path
    cwd: Path
    wall_s: float


@pytest.fixture(scope="session")
def quick_local_run(tmp_path_factory, hf_budget_cli) -> QuickRun:
    """The quick profile on two local workers, run once per session from a fresh process:
    tests/flow/test_cli.py checks it, tests/cluster compares the Slurm run with it (CI has
    no time for a second one). Under pytest-xdist (the README's test command runs two
    workers) the first worker to need it runs it, and the other waits for it and reads its
    record: the recipe of pytest-xdist's documentation ("Making session-scoped fixtures
    execute only once"), with a POSIX file lock in the session's shared temporary folder."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):      # each worker's basetemp is under the session's
        base = base.parent
    cwd, record = base / "quick-local", base / "quick-local.json"
    with open(base / "quick-local.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            cwd.mkdir(exist_ok=True)
            started = time.monotonic()
            r = hf_budget_cli(["run", "--profile", "quick", "--output-dir", str(cwd / "quick")],
                              cwd)
            record.write_text(json.dumps({"args": r.args, "returncode": r.returncode,
                                          "stdout": r.stdout, "stderr": r.stderr,
                                          "wall_s": time.monotonic() - started}))
    done = json.loads(record.read_text())
    result = subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"],
                                         done["stderr"])
    return QuickRun(result, cwd / "quick", cwd, done["wall_s"])


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    """A temporary Prefect home and test server, shared by every test that runs the flow."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture()
def dask_cluster(harness, tmp_path):
    """A real `dask scheduler` and two single-threaded `dask worker` processes (each with a
    nanny) on 127.0.0.1, reporting to the test server; yields (address, Client)."""
    import socket
    import subprocess
    import sys
    import time
    from distributed import Client
    from prefect.settings import PREFECT_API_URL
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address, bin_dir = f"tcp://127.0.0.1:{port}", Path(sys.executable).parent
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2",
               DASK_DISTRIBUTED__WORKER__DAEMON="False")       # deployments/README.md, step 5
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], **quiet)]
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        for i in range(2):
            procs.append(subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--name", f"w{i}",
                 "--local-directory", str(tmp_path / f"worker{i}"), "--no-dashboard"], **quiet))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield address, client
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
