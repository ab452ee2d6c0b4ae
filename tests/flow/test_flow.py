"""The hf-budget flow on Dask: outputs, caching across runs, failure isolation, existing cluster."""
from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from flows.experiment import ExperimentFailed, hf_budget

from conftest import last_experiment_task_states

pytestmark = pytest.mark.slow

SEED_FILES = ("detailed_results.csv", "summary_statistics.csv", "performance_vs_budget.csv",
              "statistical_analysis.json", "analysis/performance_summary.csv",
              "analysis/model_rankings.json", "analysis/efficiency_analysis.json",
              "analysis/relative_improvements.csv", "analysis/model_comparisons.csv",
              "plots/rmse_vs_budget.png", "plots/example_smiles.png", "plots/error_heatmap.png",
              "data/surfaces.npz", "data/metadata.json")
CELL_FILES = ("config.json", "metrics.json", "models/model.keras", "logs/history.csv")


def flow_run_events(flow_name: str, timeout: float = 60.0) -> set[str]:
    """Names of the events of the newest run of ``flow_name``, read once its Completed event
    is stored (events are written asynchronously; anything the run emitted precedes it)."""
    import time
    from datetime import datetime, timezone
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.events.filters import EventFilter, EventOccurredFilter, EventResourceFilter
    with get_client(sync_client=True) as client:
        run = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                    sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        deadline = time.time() + timeout
        while True:
            flt = EventFilter(resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
                              occurred=EventOccurredFilter(since=run.created,
                                                           until=datetime.now(timezone.utc)))
            names = {e.event for e in client.read_events(filter=flt, limit=50).events}
            if "prefect.flow-run.Completed" in names or time.time() > deadline:
                return names
            time.sleep(0.5)


def test_flow_completes_then_reruns_fully_cached(harness, tiny_config, tmp_path):
    out = tmp_path / "out"
    summary = hf_budget(config_path=str(tiny_config), output_dir=str(out))
    assert summary["n_ok"] == summary["n_cells"] == 4 and not summary["not_ok"]
    for f in SEED_FILES:
        assert (out / f).is_file(), f
    logs = list((out / "logs").glob("run-*.json"))
    assert len(logs) == 1 and json.loads(logs[0].read_text())["summary"]["n_ok"] == 4
    for i in range(1, 5):
        for f in CELL_FILES:
            assert (out / f"exp_{i:04d}" / f).is_file(), (i, f)
    df = pd.read_csv(out / "detailed_results.csv")
    assert len(df) == 4 and set(df.status) == {"ok"}
    assert (df.rmse_bp > 0).all() and (df.hagan_rmse_bp > 0).all()
    from prefect.artifacts import Artifact
    md = Artifact.get("hf-budget-summary").data
    assert "## Best model per budget" in md and "4 of 4 cells" in md
    assert "| residual_mlp | 20 |" in md and "| mda_cnn | 20 |" in md     # the RMSE table
    progress = Artifact.get("hf-budget-progress")
    assert float(progress.data) == pytest.approx(100.0)
    first = last_experiment_task_states()
    assert first[("train", "Completed")] == 4 and first[("generate", "Completed")] == 2
    timings = json.loads((out / "analysis" / "timings.json").read_text())
    assert [timings["stages"][k]["computed"] for k in ("generate", "assemble", "tune", "train")] \
        == [2, 1, 2, 4]
    assert timings["stages"]["train"]["cpu_s"] > 0 and timings["hf_path_steps_per_s"] > 1e5
    assert 0 < timings["task_wall_s"] < timings["wall_s"] * 2
    assert "## Where the time went" in (out / "analysis" / "summary.md").read_text()
    # the flow run sends Prefect heartbeats; the experiment subflow in its process does not
    parent_events, sub_events = flow_run_events("hf-budget"), flow_run_events("hf-budget-experiment")
    assert "prefect.flow-run.heartbeat" in parent_events, parent_events
    assert "prefect.flow-run.heartbeat" not in sub_events, sub_events

    mtime = (out / "exp_0001" / "metrics.json").stat().st_mtime_ns
    again = hf_budget(config_path=str(tiny_config), output_dir=str(out))
    assert again["n_ok"] == 4
    states = last_experiment_task_states()
    for kind, n in (("generate", 2), ("assemble", 1), ("tune", 2), ("train", 4)):
        assert states[(kind, "Cached")] == n, states
        assert states[(kind, "Completed")] == 0, states
    assert (out / "exp_0001" / "metrics.json").stat().st_mtime_ns == mtime   # nothing recomputed
    cached = json.loads((out / "analysis" / "timings.json").read_text())["stages"]["train"]
    assert (cached["computed"], cached["cached"], cached["cpu_s"]) == (0, 4, 0)
    assert cached["cached_compute_s"] > 0
    # each run's analysis is archived; latest points at the newest; the rerun says it was cached
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 2 and (out / "latest").resolve().name == runs[-1]
    assert (out / "runs" / runs[0] / "analysis" / "performance_summary.csv").is_file()
    assert "Fully cached run" in again["comparison"]
    assert "First run in this output folder" in summary["comparison"]


def test_a_failing_cell_is_isolated_and_alone_recomputed(harness, tiny_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "exp_0002").write_text("a file where the cell's folder should be\n")  # cell 2 cannot write
    with pytest.raises(ExperimentFailed, match=r"1 of 4 cells did not finish: residual_mlp b=20 s=1"):
        hf_budget(config_path=str(tiny_config), output_dir=str(out))
    df = pd.read_csv(out / "detailed_results.csv")
    assert df.status.tolist().count("ok") == 3
    failed = df[df.status != "ok"]
    assert failed[["model_type", "seed", "status"]].values.tolist() == [["residual_mlp", 1, "failed"]]
    assert failed.reason.iloc[0].startswith("task failed: Failed")
    status = json.loads((out / "run_status.json").read_text())
    assert status["by_status"] == {"ok": 3, "failed": 1}

    (out / "exp_0002").unlink()
    summary = hf_budget(config_path=str(tiny_config), output_dir=str(out))
    assert summary["n_ok"] == 4
    states = last_experiment_task_states()
    assert states[("train", "Completed")] == 1 and states[("train", "Cached")] == 3, states
    assert states[("generate", "Cached")] == 2 and states[("tune", "Cached")] == 2


def test_runs_on_an_existing_dask_cluster(dask_cluster, tiny_config, tmp_path):
    address, client = dask_cluster
    summary = hf_budget(config_path=str(tiny_config), output_dir=str(tmp_path / "out"),
                        dask_address=address)
    assert summary["n_ok"] == 4
    # the work ran on those two workers: both logged task transitions
    info = client.scheduler_info()
    assert len(info["workers"]) == 2
    executed = client.run(lambda dask_worker: len(dask_worker.state.log))
    assert all(n > 0 for n in executed.values()), executed


def test_a_failed_data_chunk_ends_the_run_failed_without_hanging(harness, tiny_config, tmp_path):
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "chunks").write_text("a file where the chunk folder should be\n")
    t0 = time.time()
    with pytest.raises(ExperimentFailed, match=r"4 of 4 cells did not finish"):
        hf_budget(config_path=str(tiny_config), output_dir=str(out))
    assert time.time() - t0 < 300
    df = pd.read_csv(out / "detailed_results.csv")
    assert len(df) == 4 and set(df.status) == {"failed"}
    states = last_experiment_task_states()
    assert states[("generate", "Failed")] == 2 and states[("train", "Completed")] == 0
