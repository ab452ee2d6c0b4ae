import numpy as np
import pytest

from sabr.budgets import budget_points, grid_cell_order, point_order


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
    assert len(set(zip(m, k))) == n_pool                # and no grid cell is used twice
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
