import numpy as np
import pytest

from sabr.data.budgets import TUNING_REPLICATE, budget_points, grid_cell_order, point_order


def test_budgets_are_nested_for_a_seed(small_dataset):
    prev = None
    for b in (10, 20, 40, 80):
        s = budget_points(small_dataset, b, seed=0)
        assert s.train.size + s.val.size == b
        if prev is not None:
            assert set(prev.train) <= set(s.train) and set(prev.val) <= set(s.val)
        prev = s


def test_validation_share_is_the_fraction(small_dataset):
    for b in (10, 20, 40, 80):
        s = budget_points(small_dataset, b, seed=1)
        assert abs(s.val.size - 0.2 * b) <= 1
    s = budget_points(small_dataset, 40, seed=1, validation_fraction=0.5)
    assert s.val.size == 20


def test_different_seeds_differ_same_seed_repeats(small_dataset):
    a, b = budget_points(small_dataset, 20, 0), budget_points(small_dataset, 20, 1)
    assert not np.array_equal(a.all, b.all) and a.hash != b.hash
    c = budget_points(small_dataset, 20, 0)
    np.testing.assert_array_equal(a.train, c.train)
    assert a.hash == c.hash


def test_no_test_theta_in_any_budget(small_dataset):
    d = small_dataset
    points, _ = point_order(d, 3)
    th, _, _ = d.unravel(points)
    assert not set(th) & set(d.test_thetas)
    # the order covers every valid train-pool point exactly once
    assert points.size == np.unique(points).size == d.theta_points(d.train_thetas).size


def test_stratified_over_thetas_and_grid(small_dataset):
    d = small_dataset
    n_pool = d.train_thetas.size                        # 17
    s = budget_points(d, n_pool, seed=2)
    th, m, k = d.unravel(s.all)
    assert len(set(th)) == n_pool                       # no theta gets two points
    tm, tk = d.unravel(s.train)[1:]
    assert len(set(zip(tm, tk))) == s.train.size        # no grid cell is trained twice
    vm, vk = d.unravel(s.val)[1:]
    assert set(zip(vm, vk)) <= set(zip(tm, tk))         # validation on trained cells
    # two full rounds: every theta has two points, on different cells
    s2 = budget_points(d, 2 * n_pool, seed=2)
    th2, m2, k2 = d.unravel(s2.all)
    assert np.bincount(th2)[d.train_thetas].tolist() == [2] * n_pool
    assert len(set(zip(th2, m2, k2))) == 2 * n_pool


def test_grid_order_runs_cover_the_grid_evenly():
    cells = grid_cell_order(10, 21, np.random.default_rng(0))
    assert sorted(cells) == list(range(210))
    m, k = np.divmod(cells, 21)
    # any 50 consecutive cells reach every maturity and at least 18 of 21 strikes
    for start in (0, 50, 100, 160):
        run = slice(start, start + 50)
        assert set(m[run]) == set(range(10))
        assert len(set(k[run])) >= 18


def test_invalid_budgets(small_dataset):
    n_valid = small_dataset.theta_points(small_dataset.train_thetas).size
    for bad in (0, 1, n_valid + 1, 2.5):
        with pytest.raises(ValueError, match="^budget="):
            budget_points(small_dataset, bad, 0)
    with pytest.raises(ValueError, match="^validation_fraction="):
        budget_points(small_dataset, 20, 0, validation_fraction=1.0)


def test_nan_points_are_skipped(small_dataset):
    d = small_dataset
    hf = d.hf.copy()
    first = point_order(d, 0)[0][:5]
    hf.ravel()[first] = np.nan
    import dataclasses
    e = dataclasses.replace(d, hf=hf)
    pts, _ = point_order(e, 0)
    assert not set(first) & set(pts)
    assert pts.size == point_order(d, 0)[0].size - 5


# ------------------------------------------------------------ the full profile's pool shape
SEED_GRID_BUDGETS = (50, 100, 200, 500, 1000)      # the full profile's hf_budgets


def _cells(d, points):
    _, m, k = d.unravel(points)
    return set((m * d.shape[2] + k).tolist())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_every_budget_trains_on_as_many_cells_as_it_can(full_pool, seed):
    """Training covers min(n_train, 210) cells at every budget; no cell is validation-only."""
    d = full_pool
    n_cells = d.shape[1] * d.shape[2]
    assert n_cells == 210 and d.train_thetas.size == 850
    for b in SEED_GRID_BUDGETS:
        s = budget_points(d, b, seed)
        train, val = _cells(d, s.train), _cells(d, s.val)
        assert len(train) == min(s.train.size, n_cells), (b, len(train))
        assert val <= train, f"b={b}: cells {sorted(val - train)[:5]} are validation-only"
        assert s.val.size == round(0.2 * b)              # exactly the fraction at these sizes
        th_all = d.unravel(s.all)[0]
        assert len(set(th_all.tolist())) == min(b, 850)  # one point per theta while b <= 850
        th_val = d.unravel(s.val)[0]
        if b <= 850:                                      # validation spread over thetas
            assert len(set(th_val.tolist())) == s.val.size
    # b = 1000 and beyond: every cell trained, so none is validation-only
    s = budget_points(d, 1000, seed)
    assert len(_cells(d, s.train)) == n_cells


def test_every_prefix_keeps_the_promises(full_pool):
    """Up to 5000 points: coverage at every prefix, the fraction up to one point, nesting."""
    d = full_pool
    pts, is_val = point_order(d, 0, n_points=5000)
    _, m, k = d.unravel(pts)
    cell = m * d.shape[2] + k
    seen_train, seen_val, n_train = set(), set(), 0
    for i in range(pts.size):
        (seen_val if is_val[i] else seen_train).add(int(cell[i]))
        n_train += not is_val[i]
        assert len(seen_train) == min(n_train, 210)
        assert seen_val <= seen_train
        assert abs(is_val[: i + 1].sum() - 0.2 * (i + 1)) < 1
    # a prefix does not depend on how far the order is computed
    head, head_val = point_order(d, 0, n_points=777)
    np.testing.assert_array_equal(head, pts[:777])
    np.testing.assert_array_equal(head_val, is_val[:777])
    # a theta never repeats a cell, and validation cells spread over the grid
    th = d.unravel(pts)[0]
    assert len(set(zip(th.tolist(), cell.tolist()))) == pts.size
    m_val, k_val = m[is_val][:200], k[is_val][:200]
    assert set(m_val.tolist()) == set(range(10)) and len(set(k_val.tolist())) == 21


def test_the_old_aliasing_is_gone(full_pool):
    """The defect this order fixes: at 210 < b <= 850 training used to miss 42 cells."""
    d = full_pool
    for b in (300, 500, 850):
        s = budget_points(d, b, 1)
        assert len(_cells(d, s.train)) == 210


def test_tuning_replicate_is_its_own_order(full_pool):
    """The tuning replicate: same sizes and promises, points differing from every reported seed."""
    d = full_pool
    for b in SEED_GRID_BUDGETS:
        tune = budget_points(d, b, TUNING_REPLICATE)
        assert tune.all.size == b and tune.val.size == round(0.2 * b)
        assert len(_cells(d, tune.train)) == min(tune.train.size, 210)
        for seed in range(5):
            rep = budget_points(d, b, seed)
            assert tune.hash != rep.hash
            shared = np.intersect1d(tune.all, rep.all).size
            assert shared < 0.1 * b, (b, seed, shared)   # independent draws rarely share points
    with pytest.raises(ValueError, match="^seed=-2"):
        budget_points(d, 50, -2)
