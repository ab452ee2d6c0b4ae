"""sabr.io: the one atomic-write rule, the one JSON conversion, code fingerprints by import."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
import json
import math

import numpy as np
import pytest

import sabr.numerics.hagan
from sabr.io import atomic_path, atomic_write_json, code_fingerprint, to_json


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


def test_code_fingerprint_is_of_the_sources_found_by_import():
    a = code_fingerprint(("sabr.numerics.hagan", "sabr.numerics.black"))
    assert a == code_fingerprint(("sabr.numerics.black", "sabr.numerics.hagan", "sabr.numerics.hagan"))
    assert len(a) == 16 and a != code_fingerprint(("sabr.numerics.hagan",))
    digest = hashlib.sha256(Path(sabr.numerics.hagan.__file__).read_bytes()).hexdigest()
    assert code_fingerprint(("sabr.numerics.hagan",)) == hashlib.sha256(digest.encode()).hexdigest()[:16]
    with pytest.raises(ModuleNotFoundError):
        code_fingerprint(("sabr.no_such_module",))


def test_code_fingerprint_locates_modules_without_running_them():
    """A cache lookup must not pay for importing TensorFlow (seconds per worker)."""
    code = ("import sys; from sabr.io import code_fingerprint; "
            "code_fingerprint(('sabr.learning.models', 'sabr.learning.training')); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'sabr.learning.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_progress_line_counts_and_estimates():
    from sabr.analysis.timings import progress_line
    line = progress_line(6, 24, (200, "mda_cnn", 1), "Completed",
                         {"status": "ok", "rmse_bp": 181.34, "hagan_rmse_bp": 1002.7}, 60.0)
    assert line == ("cell 6/24 mda_cnn b=200 s=1: 181.3 bp (Hagan 1002.7) [Completed] "
                    "1:00 elapsed, ETA 3:00")                       # 18 more at 10 s each
    assert progress_line(24, 24, (50, "cnn_only", 0), "Failed", None, 3700.0).endswith(
        "cnn_only b=50 s=0: Failed 1:01:40 elapsed, ETA done")
