"""The hf-budget command line, each call a fresh process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent / "hf-budget"


def _run(args, tmp_path, timeout=900):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=tmp_path)


@pytest.mark.slow
def test_quick_profile_from_a_fresh_process(tmp_path):
    out = tmp_path / "quick"
    r = _run(["run", "--profile", "quick", "--output-dir", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "24 of 24 cells finished" in r.stdout
    df = pd.read_csv(out / "detailed_results.csv")
    assert len(df) == 24 and set(df.status) == {"ok"}
    # the quick experiment learns: the residual models beat Hagan at the largest budget
    big = df[(df.budget == 500) & df.model_type.isin(["mda_cnn", "residual_mlp"])]
    assert (big.rmse_bp < big.hagan_rmse_bp).all()
    a = _run(["analyze", "--output-dir", str(out)], tmp_path, timeout=120)
    assert a.returncode == 0 and "24 of 24 cells finished" in a.stdout
