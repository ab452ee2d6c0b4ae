"""Adaptive allocation and deep ensembles in the flow (issue 20): rounds are tasks named
for what they are, nested per seed, inside their CPU budgets, never on a test theta;
every cell reports its ensemble's calibration; a rerun is Cached round by round."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from flows.experiment import hf_budget

from conftest import last_experiment_task_names, last_experiment_task_states

pytestmark = pytest.mark.slow
BUDGETS = ["30%", "50%", "80%"]


def test_adaptive_rounds_with_ensembles_are_nested_calibrated_and_cached(
        harness, make_tiny_config, tmp_path):
    from prefect.artifacts import Artifact

    from sabr.data.allocations.acquisition import theta_costs
    from sabr.data.allocations import pool_cpu_seconds
    from sabr.data.dataset import load_dataset
    cfg = make_tiny_config(model_types=["mda_cnn"], allocations=["surfaces", "adaptive"],
                           hf_cpu_budgets=BUDGETS, ensemble_size=2)
    out = tmp_path / "out"
    summary = hf_budget(config_path=str(cfg), output_dir=str(out))
    assert summary["n_ok"] == summary["n_cells"] == 2 + 12
    assert summary["cost"]["n_ok"] == summary["cost"]["n_cells"] == 12

    # every cell, the seed's point cells included, is a 2-member ensemble with calibration
    detailed = pd.read_csv(out / "detailed_results.csv")
    df = pd.read_csv(out / "cost_results.csv")
    for frame in (detailed, df):
        assert (frame.ensemble_size == 2).all()
        assert frame.coverage_90.between(0, 1).all() and (frame.width_90_bp > 0).all()
        assert (frame.rmse_bp <= frame.member_rmse_bp + 1e-9).all()
        assert np.isfinite(frame.nll).all()

    ds = load_dataset(out / "data")
    pool = pool_cpu_seconds(ds)
    test = set(np.asarray(ds.test_thetas).tolist())
    for seed in (0, 1):
        orders = [json.loads((out / "adaptive" / f"mda_cnn_s{seed}" / f"round_{r}.json")
                             .read_text()) for r in (1, 2, 3)]
        for b, rnd in zip(BUDGETS, orders):
            assert rnd["label"] == f"adaptive@{b}"
            spent = float(np.sum(theta_costs(ds, rnd["order"])))
            assert spent == pytest.approx(rnd["hf_cpu_seconds"])
            assert spent <= float(b.rstrip("%")) / 100 * pool + 1e-9
            assert not set(rnd["order"]) & test
        for small, large in zip(orders, orders[1:]):        # round r holds round r-1
            assert large["order"][:len(small["order"])] == small["order"]
            assert large["n_thetas"] > small["n_thetas"]
        cells = df[(df.allocation == "adaptive") & (df.seed == seed)].set_index("hf_cpu_budget")
        assert [int(cells.loc[b, "n_hf_thetas"]) for b in BUDGETS] == [
            r["n_thetas"] for r in orders]
    # round 1 is the surfaces order's: the same thetas as surfaces at that budget
    first = df[df.hf_cpu_budget == "30%"].pivot_table(index="seed", columns="allocation",
                                                      values=["n_hf_thetas", "rmse_bp"])
    assert (first["n_hf_thetas"]["adaptive"] == first["n_hf_thetas"]["surfaces"]).all()

    names = last_experiment_task_names()
    assert {"acquire surfaces r=1 s=0 (mda_cnn)", "acquire surfaces r=3 s=1 (mda_cnn)",
            "train mda_cnn ensemble r=2 s=1 (adaptive@50%)", "train mda_cnn surfaces@80% s=0",
            "tune mda_cnn surfaces@50%"} <= names
    assert not any(n.startswith("tune mda_cnn adaptive") for n in names)   # surfaces' tuning
    for seed in (0, 1):
        assert Artifact.get(f"hf-budget-adaptive-s{seed}") is not None

    md = (out / "analysis" / "summary.md").read_text()
    assert "## Ensemble calibration" in md and "adaptive@80%" in md
    assert (out / "plots" / "reliability.png").stat().st_size > 10_000
    cal = pd.read_csv(out / "analysis" / "calibration.csv")
    assert len(cal) == 1 + 2 * len(BUDGETS)                 # b=20 and two allocations x 3
    ratios = pd.read_csv(out / "analysis" / "allocation_ratios.csv")
    assert "adaptive" in set(ratios.allocation)

    again = hf_budget(config_path=str(cfg), output_dir=str(out))
    assert again["cost"]["n_ok"] == 12
    states = last_experiment_task_states()
    assert states[("acquire", "Cached")] == 6 and states[("train", "Cached")] == 14
    pd.testing.assert_frame_equal(pd.read_csv(out / "cost_results.csv"), df)


def test_adaptive_from_spread_points_starts_from_spread_then_buys_rows_and_is_cached(
        harness, make_tiny_config, tmp_path):
    """``adaptive/spread``: round 1 trains on spread's points at that budget; round 2 adds the points
    round 1's runs already simulated (free) and paid rows, inside its budget, on no test
    theta; tasks say 'acquire points'; a rerun is Cached."""
    from sabr.data.allocations import pool_cpu_seconds, spread
    from sabr.data.costs import hf_cost
    from sabr.data.dataset import load_dataset
    budgets = ["40%", "80%"]
    cfg = make_tiny_config(model_types=["mda_cnn"], allocations=["adaptive/spread"],
                           hf_cpu_budgets=budgets, ensemble_size=2, n_random_seeds=1)
    out = tmp_path / "out"
    summary = hf_budget(config_path=str(cfg), output_dir=str(out))
    assert summary["cost"]["n_ok"] == summary["cost"]["n_cells"] == 2
    df = pd.read_csv(out / "cost_results.csv").set_index(["allocation", "hf_cpu_budget"])
    ds = load_dataset(out / "data")
    pool = pool_cpu_seconds(ds)
    r1, r2 = (json.loads((out / "adaptive-spread" / "mda_cnn_s0" / f"round_{r}.json").read_text())
              for r in (1, 2))
    assert r1["order"]["rows"] == [] and r2["n_free_points"] > 0
    assert r2["order"]["spread_points"] == r1["order"]["spread_points"]
    # round 1 trains on exactly spread's points at 40 %
    s40 = spread(ds, 0.4 * pool, 0, unit="cpu_seconds")
    first = df.loc[("adaptive/spread", "40%")]
    assert (first.n_train, first.n_val, first.n_hf_thetas) == (
        s40.train.size, s40.val.size, s40.n_hf_thetas)
    assert first.hf_cpu_seconds == pytest.approx(s40.hf_cpu_seconds)
    big = df.loc[("adaptive/spread", "80%")]
    assert big.n_train + big.n_val == r2["n_points"] > r1["n_points"]
    assert big.hf_cpu_seconds == pytest.approx(r2["hf_cpu_seconds"]) and r2["hf_cpu_seconds"] <= 0.8 * pool
    from sabr.data.allocations.acquisition_points import expand_order
    pts = expand_order(ds, 0, r2["order"])[0][:r2["n_points"]]
    assert hf_cost(ds, pts)["hf_cpu_seconds"] == pytest.approx(r2["hf_cpu_seconds"])
    assert not set(np.unravel_index(pts, ds.shape)[0].tolist()) & set(ds.test_thetas.tolist())
    names = last_experiment_task_names()
    assert {"acquire points r=1 s=0 (mda_cnn)", "acquire points r=2 s=0 (mda_cnn)",
            "train mda_cnn ensemble r=2 s=0 (adaptive/spread@80%)",
            "tune mda_cnn spread@80%"} <= names
    assert not any(n.startswith("tune mda_cnn adaptive") for n in names)    # spread's tuning
    ratios = pd.read_csv(out / "analysis" / "allocation_ratios.csv")
    assert "adaptive/spread" in set(ratios.allocation)
    hf_budget(config_path=str(cfg), output_dir=str(out))
    states = last_experiment_task_states()
    assert states[("acquire", "Cached")] == 2 and states[("train", "Cached")] == 3
