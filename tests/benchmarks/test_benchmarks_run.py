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
    report = _load("bench_dataset").main(["--full-surfaces", "1", "--out", str(tmp_path)])
    assert report["quick"]["surfaces"] == 60 and report["full"]["mc_paths"] == 100_000
    steps = report["full"]["path_steps_per_surface"] / 100_000     # 320 to 1280 (10 y)
    assert steps == int(steps) and 320 <= steps <= 1280
    assert 0 < report["peak_rss_mib"] < 2048
    assert "peak RSS" in capsys.readouterr().out
