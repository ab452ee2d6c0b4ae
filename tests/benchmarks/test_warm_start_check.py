"""The warm-start check (tests/benchmarks/warm_start_check.py) on synthetic output folders with a
known effect: the ratio and its interval over seeds, the costs, the refusal of folders that
differ in more than the start."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
spec = importlib.util.spec_from_file_location("warm_start_check", HERE / "warm_start_check.py")
check_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_mod)

BUDGETS, SEEDS = (50, 100, 200), range(6)


def _folder(root: Path, *, effect: float = 1.0, seed_sd: float = 0.0, steps: float = 1.0,
            first_shift: float = 0.0, rng_seed: int = 0) -> Path:
    """detailed_results.csv as a run writes it: a cold arm (effect 1), or a warm one whose cells
    above the smallest budget have RMSE x effect, a per-seed factor shared by the seed's
    chain, and steps x ``steps``."""
    rng = np.random.default_rng(rng_seed)
    shared = {s: math.exp(rng.normal(0, seed_sd)) for s in SEEDS}
    rows = []
    for b in BUDGETS:
        for s in SEEDS:
            base = 300.0 * (b / 50) ** -0.5 * (1 + 0.03 * s)
            chained = b > min(BUDGETS)
            rows.append({"budget": b, "model_type": "mda_cnn", "seed": s, "status": "ok",
                         "unit": "points",
                         "rmse_bp": base * (effect * shared[s] if chained else 1 + first_shift),
                         "steps_run": 1000 * (steps if chained else 1),
                         "train_seconds": 10.0 * (steps if chained else 1)})
    root.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / "detailed_results.csv", index=False)
    return root


def test_a_known_effect_is_recovered_with_seeds_as_the_units(tmp_path):
    cold = _folder(tmp_path / "cold")
    warm = _folder(tmp_path / "warm", effect=0.9, steps=0.5)
    r = check_mod.compare(cold, warm)["models"]["mda_cnn"]
    assert r["smallest_equal"] and r["n_cells"] == 12 and r["n_seeds"] == 6
    assert math.isclose(r["ratio"], 0.9, rel_tol=1e-12)           # no noise: exact, zero width
    assert math.isclose(r["lo"], 0.9, rel_tol=1e-9) and math.isclose(r["hi"], 0.9, rel_tol=1e-9)
    assert r["cost"]["steps_run"]["ratio"] == 0.5 and r["cost"]["train_seconds"]["ratio"] == 0.5
    assert set(r["by_budget"]) == {"100", "200"}


def test_the_interval_covers_the_effect_about_95_percent_of_the_time(tmp_path):
    """A seed effect shared by the seed's chain: the interval over seeds holds its level (one
    over cells, treating a chain's cells as independent, would not)."""
    hits = []
    for rep in range(200):
        cold = _folder(tmp_path / f"c{rep}")
        warm = _folder(tmp_path / f"w{rep}", effect=1.1, seed_sd=0.2, rng_seed=rep)
        r = check_mod.compare(cold, warm)["models"]["mda_cnn"]
        hits.append(r["lo"] <= 1.1 <= r["hi"])
    assert 0.90 <= np.mean(hits) <= 0.99, np.mean(hits)


def test_folders_that_differ_in_more_than_the_start_are_refused(tmp_path, capsys):
    cold = _folder(tmp_path / "cold")
    warm = _folder(tmp_path / "warm", effect=0.9, first_shift=0.01)
    assert check_mod.main(["--cold", str(cold), "--warm", str(warm)]) == 1
    assert "REFUSED" in capsys.readouterr().out
    same = _folder(tmp_path / "same", effect=0.95)
    assert check_mod.main(["--cold", str(cold), "--warm", str(same),
                           "--json", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "mda_cnn: RMSE ratio 0.950 [0.950, 0.950] over 12 warm cells (6 seeds)" in text, text
    assert (tmp_path / "r.json").is_file()
