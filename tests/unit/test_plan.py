"""The plan a run submits (sabr.plan.make_plan), made once from the configuration."""
from __future__ import annotations

from sabr.cells import CellLedger
from sabr.config import ExperimentConfig
from sabr.plan import TRAIN_PRIORITY, make_plan


def test_the_quick_plan_holds_every_cell_once_each_with_its_tuning_and_own_folder(tmp_path):
    cfg = ExperimentConfig.profile("quick")
    plan = make_plan(cfg, CellLedger(tmp_path))
    ids = [p.id for p in plan.all_cells()]
    assert len(ids) == len(set(ids)) == 24 + 8
    assert sorted(ids, key=str) == sorted(plan.report_cells, key=str)
    assert len({p.folder for p in plan.all_cells()}) == 32
    assert len({p.run_name for p in plan.all_cells()} | {t.run_name for t in plan.tunings}) == 32 + 16
    tunings = {(t.budget, t.model_type) for t in plan.tunings}
    assert len(tunings) == len(plan.tunings) == 12 + 4
    assert all(p.tuning in tunings for p in plan.all_cells())
    # every tuning before every training; a larger budget's cell before a smaller one's
    assert min(t.priority for t in plan.tunings) > max(p.priority for p in plan.cells)
    first = {p.cell.budget: p.priority for p in plan.cells if p.cell.model_type == "mda_cnn"
             and p.cell.seed == 0}
    assert first[500] > first[200] > first[50]
    # a fresh folder is numbered in the grid's order, as before the ledger
    assert [p.folder for p in sorted(plan.cells, key=lambda p: p.folder)
            if p.folder.startswith("exp_")][:2] == ["exp_0001", "exp_0002"]
    by_folder = {p.folder: p.id for p in plan.cells}
    assert by_folder["exp_0001"] == (50, cfg.model_types[0], 0)
    assert by_folder["cost_0001"][0] == f"{cfg.allocations[0]}@{cfg.hf_cpu_budgets[0]}"


def test_adaptive_rounds_chain_per_model_and_seed(tmp_path):
    cfg = ExperimentConfig.profile("quick", allocations=["surfaces", "adaptive"],
                                   hf_cpu_budgets=["2%", "4%", "8%"], model_types=["mda_cnn"],
                                   n_random_seeds=2)
    plan = make_plan(cfg, CellLedger(tmp_path))
    assert plan.members == 5 and plan.round_labels == ("adaptive@2%", "adaptive@4%", "adaptive@8%")
    rounds = {(p.cell.seed, p.acquisition.round): p for p in plan.rounds}
    assert len(rounds) == 2 * 3
    for (seed, r), p in rounds.items():
        assert p.acquisition.label == p.cell.budget and p.cell.members == 5
        assert p.tuning == (p.cell.budget.replace("adaptive", "surfaces"), "mda_cnn")
        assert p.score_pool == (r < 3)
        assert p.priority > TRAIN_PRIORITY
        if r == 1:
            assert p.previous is None and p.warm_from is None
        else:
            assert p.previous == rounds[(seed, r - 1)].cell == p.warm_from
    cold = make_plan(cfg.with_overrides(adaptive_warm_start=False), CellLedger(tmp_path))
    assert all(p.warm_from is None for p in cold.rounds)


def test_ensemble_cells_adaptive_makes_only_the_adaptive_rounds_ensembles(tmp_path):
    import pytest
    from sabr.plan import cell_members
    cfg = ExperimentConfig.profile("quick", allocations=["surfaces", "random", "adaptive"],
                                   hf_cpu_budgets=["2%", "4%"], model_types=["mda_cnn"],
                                   n_random_seeds=2, ensemble_cells="adaptive", ensemble_size=3)
    plan = make_plan(cfg, CellLedger(tmp_path))
    members = {p.cell.allocation: p.cell.members for p in plan.all_cells()}
    assert members == {"spread": 1, "surfaces": 1, "random": 1, "adaptive": 3}
    assert all(p.cell.members == 3 for p in plan.rounds) and len(plan.rounds) == 4
    assert cell_members(cfg, 200) == 1 and cell_members(cfg, "adaptive@2%") == 3
    # the default: every cell an ensemble where the run has an adaptive allocation
    every = make_plan(cfg.with_overrides(ensemble_cells="all"), CellLedger(tmp_path / "all"))
    assert {p.cell.members for p in every.all_cells()} == {3}
    # a setting that would not be applied is refused, naming the field
    with pytest.raises(ValueError, match="ensemble_cells: 'adaptive'.*would not be applied"):
        ExperimentConfig.profile("quick", ensemble_cells="adaptive")


def test_the_tuning_that_gates_the_most_fits_runs_first(tmp_path):
    """surfaces' tuning also trains adaptive's rounds (3-member ensembles): it gates the most
    member fits, so it is submitted first, not last by its name (the 2026-12-07 cost run
    waited 45 minutes for it); with one cell per tuning, the longest first as before."""
    cfg = ExperimentConfig.profile("quick", allocations=["paths/2", "random", "surfaces", "adaptive"],
                                   hf_cpu_budgets=["2%", "6%"], model_types=["mda_cnn"],
                                   n_random_seeds=2, ensemble_cells="adaptive", ensemble_size=3,
                                   tuning_reference_cpu_budget="2%", hf_budgets=[200])
    plan = make_plan(cfg, CellLedger(tmp_path))
    first = max(plan.tunings, key=lambda t: t.priority)
    assert (first.budget, first.model_type) == ("surfaces@2%", "mda_cnn")
    assert len({t.priority for t in plan.tunings}) == len(plan.tunings)
