"""sabr.io: the one atomic-write rule, the one JSON conversion."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sabr.io import atomic_path, atomic_write_json, to_json


def test_to_json_strict_and_in_memory():
    obj = {1: np.float64("nan"), "inf": [np.inf, -np.inf], "arr": np.array([1.5, np.nan]),
           "ints": (np.int64(3), True, None, "s")}
    assert to_json(obj) == {"1": None, "inf": ["inf", "-inf"], "arr": [1.5, None],
                            "ints": [3, True, None, "s"]}
    kept = to_json(obj, finite=False)
    assert math.isnan(kept["1"]) and kept["inf"] == [math.inf, -math.inf]
    assert type(kept["ints"][0]) is int
    with pytest.raises(TypeError, match="not JSON serialisable"):
        to_json({"x": object()})


def test_atomic_write_json_is_strict_json(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "x.json", {"v": np.nan, "w": np.inf, "n": np.int32(2)})
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == {"v": None, "w": "inf", "n": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_atomic_path_hides_its_temporary_name_and_cleans_up(tmp_path):
    final = tmp_path / "model.keras"
    with atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".keras"
        tmp.write_text("new")
        assert not final.exists()
    assert final.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert final.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_progress_line_counts_and_estimates():
    from sabr.analysis.timings import progress_line
    line = progress_line(6, 24, (200, "mda_cnn", 1), "Completed",
                         {"status": "ok", "rmse_bp": 181.34, "hagan_rmse_bp": 1002.7}, 60.0, 180.0)
    assert line == ("cell 6/24 mda_cnn b=200 s=1: 181.3 bp (Hagan 1002.7) [Completed] "
                    "1:00 elapsed, ETA 3:00")
    assert progress_line(24, 24, (50, "cnn_only", 0), "Failed", None, 3700.0).endswith(
        "cnn_only b=50 s=0: Failed 1:01:40 elapsed, ETA done")
    assert progress_line(1, 24, (50, "cnn_only", 0), "Cached", None, 5.0).endswith("ETA ?")


def test_data_and_tuning_lines():
    from sabr.analysis.timings import data_line, tuning_line
    assert data_line(3, 40, 50, 74, "Completed", 161.0, 845.0) == (
        "data 3/40: surfaces 50-74 [Completed] 2:41 elapsed, ETA 14:05")
    assert data_line(40, 40, 975, 999, "Cached", 3.0).endswith("ETA done")
    ok = {"best_value": 71.3 ** 2, "n_complete": 11, "n_pruned": 4, "n_failed": 0}
    assert tuning_line(2, 20, 1000, "mda_cnn", "Completed", ok) == (
        "tuning 2/20 mda_cnn b=1000: best validation RMSE 71.3 bp; 11 trials completed, "
        "4 pruned, 0 failed [Completed]")
    failed = {"best_value": None, "message": "no trial completed: 15 failed"}
    assert tuning_line(1, 1, 50, "cnn_only", "Completed", failed).endswith(
        "b=50: no trial completed: 15 failed [Completed]")
    assert tuning_line(1, 1, 50, "cnn_only", "Failed", None).endswith("b=50: Failed")


def test_the_eta_counts_cells_trained_in_this_run_not_the_stages_before_or_the_cache():
    """25 min of data and tuning, then cells at 2 per minute on 2 workers: the ETA is the
    remaining cells at that rate (not 25 min per cell), and cached cells cost nothing."""
    from sabr.analysis.timings import CellEta
    eta, t0 = CellEta(10), 1500.0                     # the first cell starts 25 min in
    assert math.isnan(eta.cell_done("Cached", {"timing": {"start": 10.0}}, 1400.0))
    got = [eta.cell_done("Completed", {"timing": {"start": t0 + 30 * (i // 2)}}, t0 + 60 + 30 * i)
           for i in range(4)]
    # after cell i (2 + i done, 1 cached), (60 + 30 i) s for i + 1 trained cells
    assert got == pytest.approx([(60 + 30 * i) / (i + 1) * (10 - 2 - i) for i in range(4)])
    assert got[-1] == pytest.approx(37.5 * 5)        # 5 left at 37.5 s each
    assert eta.cell_done("Failed", None, t0 + 200) == pytest.approx(200 / 4 * 4)   # 4 left
