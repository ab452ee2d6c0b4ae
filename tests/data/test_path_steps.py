"""The machine-independent cost unit (issue 40, item 5): Monte Carlo path-steps.

Identities of the unit (a surface's path-steps are its run's paths x time steps, a prefix
of p paths costs p / n of them, cumulative per maturity, the pool's sum is the metadata's
total), budgets given in it, and the property it exists for: two data sets that differ only
in their measured CPU-seconds (another machine: slower by 1.38x, with noise per run) buy
the same cells for the same budget in path-steps, with every allocation strategy.
"""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from sabr.budget_labels import budget_unit, cpu_budget_label, parse_cell_label, parse_hf_budget
from sabr.cells import Cell
from sabr.config import ExperimentConfig
from sabr.data.allocations import (allocate, cell_allocation, pool_cost, pool_cpu_seconds,
                                   resolve_budget, resolve_cpu_budget)
from sabr.data.allocations.acquisition import (first_round, integrated_disagreement, next_round,
                                               surface_points, theta_costs)
from sabr.data.allocations.acquisition_points import (first_spread_round, next_spread_round,
                                                      row_disagreement, unbought_points)
from sabr.data.costs import hf_cost
from sabr.data.dataset import META_FILE, load_dataset
from sabr.numerics.montecarlo import mc_prices
from sabr.numerics.time_grid import default_steps_per_year, path_steps_to_maturity, step_counts

OLD_DATA = __import__("pathlib").Path(__file__).parent / "old_output" / "data"


def _pool_points(ds):
    n, m, k = ds.shape
    pool = np.asarray(ds.train_thetas)
    return (pool[:, None] * (m * k) + np.arange(m * k)[None, :])[ds.valid.reshape(n, m * k)[pool]]


# ---------------------------------------------------------------- identities
def test_a_surface_costs_its_runs_paths_times_steps(small_dataset):
    ds = small_dataset
    n_paths = ds.meta["config"]["mc_paths"]
    for t in (0, 7, 13):
        alpha, beta = ds.thetas[t, :2]
        steps = step_counts(ds.maturities, default_steps_per_year(ds.fwd, alpha, beta))
        assert ds.hf_path_steps[t, -1] == n_paths * steps.sum()
        assert hf_cost(ds, surface_points(ds, t))["hf_path_steps"] == n_paths * steps.sum()
    # the engine's own count of a run, for one theta simulated again
    alpha, beta, nu, rho = ds.thetas[3]
    res = mc_prices(ds.fwd, ds.strikes[3], ds.maturities, alpha, beta, nu, rho, n_paths=n_paths)
    assert ds.hf_path_steps[3, -1] == res.n_paths * res.n_steps
    np.testing.assert_array_equal(ds.hf_path_steps[:, -1], ds.meta["path_steps_per_surface"])


def test_path_steps_are_cumulative_and_increasing_per_maturity(small_dataset):
    ds = small_dataset
    steps = ds.hf_path_steps
    assert steps.shape == ds.shape[:2] and np.all(np.diff(steps, axis=1) > 0)
    n, m, k = ds.shape
    for t in (1, 9):
        for j in range(m):          # points up to maturity j cost the run to maturity j
            pts = t * m * k + j * k + np.arange(k)
            pts = pts[ds.valid.ravel()[pts]]
            if pts.size:
                assert hf_cost(ds, pts)["hf_path_steps"] == steps[t, j]
    spy = default_steps_per_year(ds.fwd, *ds.thetas[1, :2])
    np.testing.assert_array_equal(
        path_steps_to_maturity(ds.fwd, ds.maturities, *ds.thetas[1, :2], 2000),
        2000 * np.cumsum(step_counts(ds.maturities, spy)))


def test_a_prefix_of_the_paths_costs_its_share_of_the_path_steps(small_dataset):
    ds = small_dataset
    n_paths = ds.meta["config"]["mc_paths"]
    pts = _pool_points(ds)[::3]
    full = hf_cost(ds, pts)["hf_path_steps"]
    assert len(ds.prefix_paths) >= 2
    for level, p in enumerate(ds.prefix_paths):
        np.testing.assert_array_equal(ds.hf_path_steps_prefix[:, level],
                                      ds.hf_path_steps * p / n_paths)
        assert hf_cost(ds, pts, level=level)["hf_path_steps"] == full * p / n_paths


def test_the_pool_sums_to_the_metadata_total(small_dataset):
    ds = small_dataset
    meta = ds.meta
    assert meta["hf_path_steps_total"] == ds.hf_path_steps[:, -1].sum() \
        == sum(meta["path_steps_per_surface"])
    pool = np.asarray(ds.train_thetas)
    n, m, k = ds.shape
    longest = np.array([np.flatnonzero(ds.valid[t].any(axis=1))[-1] for t in pool])
    assert pool_cost(ds, "path_steps") == ds.hf_path_steps[pool, longest].sum()
    assert meta["hf_timed_on"] and all(", " in s and "CPUs" in s for s in meta["hf_timed_on"])


# ---------------------------------------------------------------- budgets in path-steps
@pytest.mark.parametrize("text,amount,label", [
    ("2.5e9ps", 2.5e9, "2.5Gps"), ("2500Mps", 2.5e9, "2.5Gps"), ("2.5Gps", 2.5e9, "2.5Gps"),
    ("300kps", 3e5, "300kps"), ("1234567890123ps", 1234567890123, "1.234567890123Tps"),
    ("7ps", 7, "7ps")])
def test_a_budget_in_path_steps_reads_and_labels_back_as_the_same_count(text, amount, label):
    assert parse_hf_budget(text) == (amount, "path_steps")
    assert cpu_budget_label(text) == label and parse_hf_budget(label) == (amount, "path_steps")
    assert parse_cell_label(f"surfaces@{text}") == ("surfaces", label)
    assert budget_unit(f"paths/4@{label}") == "path_steps"
    assert Cell("mda_cnn", f"surfaces@{label}", 0).unit == "path_steps"
    assert Cell("mda_cnn", "surfaces@120s", 0).unit == "cpu_seconds"
    assert parse_hf_budget("120") == (120.0, "cpu_seconds") and parse_hf_budget("5%") == (0.05, "fraction")


@pytest.mark.parametrize("bad", ["0.4ps", "ps", "Gps", "3Xps", "-1ps", "infps", "1e400ps"])
def test_a_bad_path_step_budget_is_one_line_naming_every_allowed_form(bad):
    with pytest.raises(ValueError) as err:
        ExperimentConfig.profile("quick", hf_cpu_budgets=[bad])
    msg = str(err.value)
    assert "hf_cpu_budgets" in msg and repr(bad) in msg
    line = next(x for x in msg.splitlines() if "hf_cpu_budgets" in x)
    assert all(s in line for s in ("CPU-seconds > 0", "(0, 100]", "path-steps >= 1",
                                   "'2.5e9ps'", "'2.5Gps'"))


def test_the_configuration_keeps_path_step_budgets_and_refuses_mixed_adaptive_rounds():
    cfg = ExperimentConfig.profile("quick", hf_cpu_budgets=["2.5e9ps", "5Gps"])
    assert cfg.hf_cpu_budgets == ("2.5Gps", "5Gps")
    with pytest.raises(ValueError, match="mixes units"):
        ExperimentConfig.profile("quick", allocations=["adaptive"],
                                 hf_cpu_budgets=["1%", "2Gps"])


def test_a_path_step_budget_has_no_seconds(steady_dataset):
    ds = steady_dataset
    assert resolve_budget(ds, "2.5Gps") == (2.5e9, "path_steps")
    assert resolve_budget(ds, "50%") == (0.5 * pool_cpu_seconds(ds), "cpu_seconds")
    with pytest.raises(ValueError, match="path-steps, not CPU-seconds"):
        resolve_cpu_budget(ds, "2.5Gps")


# ---------------------------------------------------------------- the same cells anywhere
def _other_machine(ds, factor=1.38, seed=5):
    """The data set as another machine timed it: every run 1.38x slower, with +-20 %
    noise of its own per run and maturity (cumulative costs stay increasing)."""
    rng = np.random.default_rng(seed)

    def noisy(cpu):
        inc = np.diff(cpu, axis=-1, prepend=0.0)
        return np.cumsum(inc * factor * rng.uniform(0.8, 1.2, inc.shape), axis=-1)
    return replace(ds, hf_cpu_seconds=noisy(ds.hf_cpu_seconds),
                   hf_cpu_seconds_prefix=noisy(ds.hf_cpu_seconds_prefix))


def _same(a, b):
    assert np.array_equal(a.train, b.train) and np.array_equal(a.val, b.val)
    assert a.split.hash == b.split.hash and a.hf_path_steps == b.hf_path_steps
    assert a.n_hf_thetas == b.n_hf_thetas and a.n_paths == b.n_paths


@pytest.mark.parametrize("name", ["spread", "surfaces", "random", "paths/2", "paths/4"])
@pytest.mark.parametrize("share", [0.3, 0.6])
def test_a_budget_in_path_steps_buys_the_same_cells_on_another_machine(steady_dataset, name,
                                                                       share):
    here = steady_dataset
    there = _other_machine(here)
    assert not np.allclose(here.hf_cpu_seconds, there.hf_cpu_seconds)
    steps = round(share * pool_cost(here, "path_steps"))
    label = f"{name}@{cpu_budget_label(f'{steps}ps')}"
    for seed in (0, 1):
        a, b = cell_allocation(here, label, seed), cell_allocation(there, label, seed)
        _same(a, b)
        assert a.hf_path_steps <= parse_hf_budget(parse_cell_label(label)[1])[0]
        assert b.hf_cpu_seconds > a.hf_cpu_seconds            # the seconds are the machine's


def test_a_budget_in_cpu_seconds_does_not(steady_dataset):
    """What the unit is for: the same seconds buy less on the slower machine."""
    here, there = steady_dataset, _other_machine(steady_dataset)
    budget = 0.6 * pool_cpu_seconds(here)
    a = allocate("surfaces", here, budget, 0, unit="cpu_seconds")
    b = allocate("surfaces", there, budget, 0, unit="cpu_seconds")
    assert b.n_hf_thetas < a.n_hf_thetas


def _members(ds, pts, step: float, column: int) -> np.ndarray:
    """The predictions of 3 ensemble members at ``pts`` that disagree more where the
    points' theta[column] is high (the scores an acquisition would see)."""
    theta = ds.thetas[pts // np.prod(ds.shape[1:]), column]
    return np.stack([ds.lf.ravel()[pts] * (1 + step * i * theta) for i in range(3)])


def test_adaptive_rounds_buy_the_same_thetas_on_another_machine(steady_dataset):
    here, there = steady_dataset, _other_machine(steady_dataset)
    total = pool_cost(here, "path_steps")
    budgets = (0.25 * total, 0.5 * total)
    orders = []
    for ds in (here, there):
        order = first_round(ds, 0, budgets[0], unit="path_steps")
        # the scores an ensemble would give: members that disagree more where alpha is high
        cand = np.setdiff1d(np.asarray(ds.train_thetas), order)
        pts = np.concatenate([surface_points(ds, t) for t in cand])
        members = _members(ds, pts, 0.05, 0)
        thetas, dis = integrated_disagreement(ds, pts, members)
        order = next_round(ds, order, budgets[1], thetas, dis, unit="path_steps")
        orders.append(order)
        a = allocate("adaptive", ds, budgets[1], 0, unit="path_steps", order=order)
        assert a.hf_path_steps <= budgets[1]
        assert theta_costs(ds, order, "path_steps").sum() <= budgets[1]
    np.testing.assert_array_equal(orders[0], orders[1])
    _same(allocate("adaptive", here, budgets[1], 0, unit="path_steps", order=orders[0]),
          allocate("adaptive", there, budgets[1], 0, unit="path_steps", order=orders[1]))


def test_adaptive_spread_rounds_buy_the_same_rows_on_another_machine(steady_dataset):
    here, there = steady_dataset, _other_machine(steady_dataset)
    total = pool_cost(here, "path_steps")
    budgets = (0.2 * total, 0.45 * total)
    orders = []
    for ds in (here, there):
        first = first_spread_round(ds, 1, budgets[0], unit="path_steps")
        a = allocate("adaptive/spread", ds, budgets[0], 1, unit="path_steps", order=first)
        pts = unbought_points(ds, a.split.all)
        members = _members(ds, pts, 0.03, 2)
        thetas, rows = row_disagreement(ds, pts, members)
        step = next_spread_round(ds, 1, first, budgets[1], thetas, rows, unit="path_steps")
        assert step["n_rows_paid"] > 0
        orders.append(step["order"])
    assert orders[0] == orders[1]
    _same(allocate("adaptive/spread", here, budgets[1], 1, unit="path_steps", order=orders[0]),
          allocate("adaptive/spread", there, budgets[1], 1, unit="path_steps", order=orders[1]))


# ---------------------------------------------------------------- older data sets
def test_an_old_data_set_gets_its_path_steps_from_its_grid(tmp_path):
    ds = load_dataset(OLD_DATA)            # written before path-steps were recorded
    assert "hf_path_steps" not in ds.meta
    np.testing.assert_array_equal(ds.hf_path_steps[:, -1], ds.meta["path_steps_per_surface"])
    assert np.all(np.diff(ds.hf_path_steps, axis=1) > 0)
    assert cell_allocation(ds, "surfaces@2Mps", 0).hf_path_steps <= 2e6


def test_a_data_set_whose_path_steps_are_unknown_refuses_a_path_step_budget_in_one_line(
        tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(OLD_DATA, folder)
    meta = json.loads((folder / META_FILE).read_text())
    meta["path_steps_per_surface"] = [p + 1 for p in meta["path_steps_per_surface"]]  # another grid
    (folder / META_FILE).write_text(json.dumps(meta))
    ds = load_dataset(folder)
    assert np.isnan(ds.hf_path_steps).all() and np.isnan(hf_cost(ds, [0])["hf_path_steps"])
    with pytest.raises(ValueError) as err:
        cell_allocation(ds, "surfaces@2Mps", 0)
    msg = str(err.value)
    assert "\n" not in msg and "path-step budget is invalid" in msg and "'120s'" in msg
    assert cell_allocation(ds, "surfaces@40%", 0).n_hf_thetas > 0     # seconds still work
