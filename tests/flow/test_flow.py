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


def _without_timestamp(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if not l.startswith("Composed at "))


def assert_analyze_reproduces_the_report(out) -> str:
    """``hf-budget analyze`` on a folder the flow just wrote: the same summary.md (apart from
    a timestamp line), the same run archived in runs/ and ``latest`` pointing at it, refreshed."""
    from flows.cli import main
    md = (out / "analysis" / "summary.md").read_text()
    latest = (out / "latest").resolve()
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert (latest / "analysis" / "summary.md").read_text() == md
    (latest / "analysis" / "summary.md").write_text("stale")      # analyze refreshes the archive
    assert main(["analyze", "--output-dir", str(out)]) == 0
    again = (out / "analysis" / "summary.md").read_text()
    assert _without_timestamp(again) == _without_timestamp(md)
    assert "## Against the previous run" in again and "## Where the time went" in again
    assert (out / "latest").resolve() == latest and sorted(p.name for p in (out / "runs").iterdir()) == runs
    assert (latest / "analysis" / "summary.md").read_text() == again
    return again


def assert_every_cell_trained_with_its_tuning(out, config_path) -> None:
    """Each cell's config.json holds its tuning's best trial (the Optuna journal), not the
    configuration's defaults: until 2026-12-07 every cell of a Dask run trained with the
    defaults (the tuning's result reached the task wrapped in a tuple)."""
    import optuna

    from sabr.config import ExperimentConfig
    from sabr.space import default_hyperparameters
    cfg = ExperimentConfig.from_yaml(config_path)
    defaults = default_hyperparameters(cfg.models, cfg.training_config)
    differ = 0
    for f in sorted(out.glob("exp_*/config.json")):
        cell = json.loads(f.read_text())
        journal = out / "tuning" / f"{cell['model_type']}_b{cell['budget']}" / "optuna_journal.log"
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal)))
        (name,) = optuna.get_all_study_names(storage)
        best = optuna.load_study(study_name=name, storage=storage).best_trial.params
        hp = cell["hyperparameters"]
        for key in ("learning_rate", "batch_size", "dropout_rate"):
            assert hp[key] == best[key], (f.parent.name, key, hp[key], best[key])
        differ += any(hp[k] != defaults[k] for k in ("learning_rate", "batch_size", "dropout_rate"))
    assert differ, "the tuned values equal the defaults here: the test shows nothing"


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
    assert_every_cell_trained_with_its_tuning(out, tiny_config)
    from prefect.artifacts import Artifact
    md = Artifact.get("hf-budget-summary").data
    assert "## Best model per budget" in md and "4 of 4 cells" in md
    assert "| residual_mlp | b=20 |" in md and "| mda_cnn | b=20 |" in md     # the RMSE table
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

    assert_analyze_reproduces_the_report(out)

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
    assert "Fully cached run" in assert_analyze_reproduces_the_report(out)
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


def test_bad_input_or_a_busy_folder_ends_the_flow_failed_with_one_line(harness, tiny_config,
                                                                       tmp_path):
    """What a deployment run shows in the UI: state Failed, the one-line message naming the
    field; called from Python, the flow raises that error (no cell runs)."""
    from sabr.errors import ConfigError
    from sabr.lock import OutputBusy, output_lock
    state = hf_budget(config_path=str(tiny_config), output_dir=str(tmp_path / "a"),
                      hf_budgets=[0], return_state=True)
    assert state.is_failed() and "\n" not in state.message
    assert state.message.startswith("hf_budgets=[0] is invalid: allowed"), state.message
    assert isinstance(state.result(raise_on_failure=False), ConfigError)
    assert not (tmp_path / "a").exists()
    out = tmp_path / "busy"
    with output_lock(out):
        state = hf_budget(config_path=str(tiny_config), output_dir=str(out), return_state=True)
        assert state.is_failed() and "is in use by another run" in state.message
        with pytest.raises(OutputBusy, match="allowed one run per output folder"):
            hf_budget(config_path=str(tiny_config), output_dir=str(out))
    assert not list(out.glob("exp_*")) and not (out / "data").exists()
