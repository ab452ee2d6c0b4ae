"""The benchmark scripts run and report their figures (tiny sizes; no timing is asserted)."""
import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_mc_reports_efficiency_ratio(capsys):
    report = _load("bench_mc").main(["--paths", "4000", "--repeats", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("efficiency_ratio=")
    assert report["efficiency_ratio"] > 0
    assert report["ours"]["nan_points"] == 0 and report["peer"]["steps"] == 1000
    # same surface, same model: the engines agree to within their noise
    noise = (report["ours"]["rms_stderr_bp"] ** 2 + report["peer"]["rms_stderr_bp"] ** 2) ** 0.5
    assert report["rms_vol_gap_bp"] < 3 * noise
    # the compiled and NumPy engines run the same scheme on the same random numbers
    assert report["engine_max_gap_bp"] < 1e-6 and report["compiled_speedup"] > 0


@pytest.mark.slow
def test_bench_dataset_reports_costs(tmp_path, capsys):
    report = _load("bench_dataset").main(["--full-surfaces", "1", "--quick-surfaces", "12",
                                          "--out", str(tmp_path)])
    assert report["quick"]["surfaces"] == 12 and report["full"]["mc_paths"] == 100_000
    steps = report["full"]["path_steps_per_surface"] / 100_000     # 320 to 1280 (10 y)
    assert steps == int(steps) and 320 <= steps <= 1280
    assert 0 < report["peak_rss_mib"] < 2048
    assert "peak RSS" in capsys.readouterr().out


def test_bench_flow_splits_idle_core_seconds():
    idle_breakdown = _load("bench_flow").idle_breakdown
    spans = [(1, 4, "generate"), (1, 3, "generate"), (4, 8, "train"), (8, 9, "aggregate")]
    idle = idle_breakdown(spans, 0.0, 10.0, 2)
    assert idle == {"startup": 2.0, "between_tasks": 5.0, "aggregate": 1.0, "shutdown": 2.0}
    # the parts add up to wall x workers - busy time
    assert sum(idle.values()) == 10 * 2 - (3 + 2 + 4 + 1)
    assert idle_breakdown([], 0.0, 3.0, 2)["startup"] == 6.0


def test_coverage_prints_every_interval(capsys):
    # loaded under another name: a module called "coverage" would shadow the coverage package
    spec = importlib.util.spec_from_file_location("coverage_bench", HERE / "coverage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = mod.main(["--reps", "6"])
    out = capsys.readouterr().out
    assert "| interval | setting | seeds | reps | coverage | mean width | unbounded |" in out
    for name in ("exponent b (primary)", "exponent difference", "per-cell geometric mean",
                 "paired ratio A/B", "budget for target", "data-efficiency ratio",
                 "test-theta bootstrap", "exponent b, seed bootstrap",
                 "combined (seeds and test thetas)", "cost ratio, two budgets"):
        assert f"| {name} |" in out, name
        assert ((table.interval == name) & table.coverage.between(0, 1)).any()
    assert {"no budget effects", "budget effects sd 0.2"} <= set(table.setting)
    assert {"failure mixture: 5% of seeds +2 log MSE",
            "failure mixture: 10% of seeds +2 log MSE"} <= set(table.setting)
    assert set(table.seeds) == {3, 5, 20}
    assert "| rate | setting | seeds | reps | nominal | measured |" in out
    assert "| exponent differences: any false 'significant', Holm p | 4 models, equal exponents " \
           "| 3 | 6 | 0.050 |" in out
    assert "| best model: exact sign test against the runner-up, p < 0.05 | 2 tied models, one " \
           "budget | 10 | 6 | 0.050 |" in out
    assert "| nightly comparison: runs with any false alarm | 20 cells, seed sd 0.3 of log MSE " \
           "| 5 | 1 | 0.050 |" in out
    for k in (1, 2, 5, 10):
        assert (f"| calibrated 90 % interval: share of test points covered | {k} calibration "
                f"theta(s), theta-level sd 0.6 of log(error / spread) | 1 | 3 | 0.900 |") in out


def test_bench_step_cap_reports_the_paired_ratio_and_resumes(tmp_path, capsys):
    """The step-cap measurement on its tiny setting: both arms per seed, the capped one at
    the rule's batch and cap, the uncapped one with the rule off; the ratio with its t
    interval; a rerun into the same folder reads the cells back instead of training."""
    args = ["--tiny", "--models", "direct_mlp", "--budget", "surfaces@50%", "--seeds", "0", "1",
            "--uncapped-epochs", "20", "--out", str(tmp_path)]
    bench = _load("bench_step_cap")
    report = bench.main(args)["models"]["direct_mlp"]
    assert report["seeds"] == 2 and report["failed"] == 0
    assert report["rmse_ratio_lo"] < report["rmse_ratio"] < report["rmse_ratio_hi"]
    capped, uncapped = report["steps_run"]["capped"], report["steps_run"]["uncapped"]
    assert max(capped) <= 8 == report["capped_max_steps"] and min(uncapped) > 8
    assert report["capped_batch_size"] == 64 and report["stopped_at_step_cap"] == 2
    assert report["cpu_seconds"]["capped"] > 0 and report["cpu_seconds"]["uncapped"] > 0
    out = capsys.readouterr().out
    assert "| direct_mlp | 2 seeds |" in out and "rmse_ratio[direct_mlp]=" in out
    cpu = (tmp_path / "capped" / "direct_mlp" / "s0" / "cpu.json").read_text()
    again = bench.main(args)["models"]["direct_mlp"]
    assert again["rmse_bp"] == report["rmse_bp"] and again["cpu_seconds"] == report["cpu_seconds"]
    assert (tmp_path / "capped" / "direct_mlp" / "s0" / "cpu.json").read_text() == cpu
