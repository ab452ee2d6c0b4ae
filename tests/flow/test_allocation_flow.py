"""The allocation study in the flow: CPU-second budgets per strategy, beside the seed's
point budgets, named for what they are, never overspent, cached like every cell."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from flows.experiment import hf_budget

from conftest import last_experiment_task_names, last_experiment_task_states

pytestmark = pytest.mark.slow


def test_cpu_budget_cells_per_allocation_spend_at_most_their_budget_and_rerun_cached(
        harness, make_tiny_config, tmp_path):
    from sabr.data.allocations import pool_cpu_seconds
    from sabr.data.dataset import load_dataset
    cfg = make_tiny_config(model_types=["residual_mlp"], allocations=["spread", "surfaces", "paths/2"],
                           hf_cpu_budgets=["50%", "80%"])
    out = tmp_path / "out"
    summary = hf_budget(config_path=str(cfg), output_dir=str(out))
    # the seed's point cells are untouched: b=20, one model, two seeds; every cell is reported
    assert summary["n_ok"] == summary["n_cells"] == 2 + 12 and not summary["not_ok"]
    assert summary["cost"]["n_ok"] == summary["cost"]["n_cells"] == 12 and not summary["cost"]["not_ok"]
    every = pd.read_csv(out / "detailed_results.csv")
    assert every[every.unit == "points"].budget.tolist() == [20, 20]
    assert every.budget.isna().sum() == 12

    df = pd.read_csv(out / "cost_results.csv")
    assert sorted(set(zip(df.allocation, df.hf_cpu_budget))) == [
        ("paths/2", "50%"), ("paths/2", "80%"), ("spread", "50%"), ("spread", "80%"),
        ("surfaces", "50%"), ("surfaces", "80%")]
    assert (df.status == "ok").all() and (df.rmse_bp > 0).all() and (df.seed.isin([0, 1])).all()
    pool = pool_cpu_seconds(load_dataset(out / "data"))
    share = df.hf_cpu_budget.str.rstrip("%").astype(float) / 100
    assert (df.hf_cpu_seconds > 0).all() and (df.hf_cpu_seconds <= share * pool + 1e-9).all()
    spend = df.pivot_table(index=["allocation", "seed"], columns="hf_cpu_budget",
                           values="hf_cpu_seconds")
    assert (spend["80%"] > spend["50%"]).all()        # a larger budget buys more, every seed
    per_theta = df.eval("(n_train + n_val) / n_hf_thetas")
    assert (per_theta[df.allocation == "surfaces"] > 5).all()   # whole surfaces: many points each
    assert (per_theta[df.allocation == "spread"] < per_theta[df.allocation == "surfaces"].min()).all()
    # half the paths: labels from 1000 of 2000 paths, more thetas than whole surfaces buy.
    # Both walk the same theta order and a run's first half costs less than all of it, so
    # never fewer in a cell; at 2000 paths a run's fixed cost (about 8 ms of 17) makes the
    # half cost 0.8 of the whole, so one cell of 4-8 surfaces may buy the same number.
    assert (df.hf_paths == df.allocation.map({"paths/2": 1000}).fillna(2000)).all()
    thetas = df.pivot_table(index=["hf_cpu_budget", "seed"], columns="allocation",
                            values="n_hf_thetas")
    assert (thetas["paths/2"] >= thetas["surfaces"]).all()
    assert thetas["paths/2"].sum() > thetas["surfaces"].sum()

    # the analysis against CPU-seconds: tables, the plot, the answer in summary.md and
    # in the hf-budget-summary artifact (two CPU budgets: the line between them, its
    # interval over the seeds; one not bracketed: interpolation or not reached)
    from prefect.artifacts import Artifact
    ratios = pd.read_csv(out / "analysis" / "allocation_ratios.csv")
    assert set(ratios.allocation) == {"spread", "surfaces", "paths/2"}
    assert (ratios.reference == "b=20").all()
    # 2000 paths: a 67 bp noise floor, which a b=20 cell may reach (then no target)
    assert (ratios.method.isin(["two budgets", "interpolation"])
            | ratios.flag.str.contains("noise floor")).all()
    two = ratios[ratios.method == "two budgets"]
    assert (two.ratio_lo <= two.ratio).all() and (two.ratio <= two.ratio_hi).all()
    comp = pd.read_csv(out / "analysis" / "allocation_comparisons.csv")
    assert len(comp) == 6 and (comp.n_pairs == 2).all()                # 3 pairs x 2 budgets
    curves = pd.read_csv(out / "analysis" / "allocation_curves.csv")
    assert len(curves) == 7 and (curves.allocation == "spread (points)").sum() == 1
    assert (out / "plots" / "cost_curves.png").stat().st_size > 10_000
    md = (out / "analysis" / "summary.md").read_text()
    # the answer opens the summary; the cost study's sentence is its last item
    answer = md.partition("## The answer\n\n")[2].partition("\n\n")[0].splitlines()
    assert md.startswith("# hf-budget results\n\n## The answer\n\n")
    second = answer[-1]
    assert second.startswith("- What accuracy costs: For residual_mlp, ") and "b=20" in second
    assert "## What accuracy costs (HF Monte Carlo CPU-seconds)" in md
    assert second in Artifact.get("hf-budget-summary").data
    assert summary["answer"] == second.removeprefix("- What accuracy costs: ")
    assert summary["headline"][-1] == second.removeprefix("- ")

    names = last_experiment_task_names()
    assert {"train residual_mlp surfaces@50% s=1", "train residual_mlp spread@80% s=0",
            "tune residual_mlp surfaces@80%", "train residual_mlp b=20 s=0",
            "tune residual_mlp b=20", "train residual_mlp paths/2@80% s=0"} <= names
    # one count of cells everywhere: the UI's task name, the summary, run_status.json
    assert "aggregate 14 cells" in names and "14 of 14 cells finished." in md
    assert json.loads((out / "run_status.json").read_text())["cells"] == 14

    again = hf_budget(config_path=str(cfg), output_dir=str(out))
    assert again["cost"]["n_ok"] == 12
    states = last_experiment_task_states()
    assert states[("train", "Cached")] == 14 and states[("tune", "Cached")] == 7
    pd.testing.assert_frame_equal(pd.read_csv(out / "cost_results.csv"), df)
