"""``adaptive/spread`` (sabr.data.allocations.acquisition_points): round 1 is the seed's spread design;
later rounds first take what the runs already paid for simulated (free), then buy maturity
rows where the ensemble disagrees most per incremental CPU-second, nested, inside their
budget and the train pool, and not on near duplicates while others are left."""
import numpy as np
import pytest

from sabr.data.allocations.acquisition import unit_box
from sabr.data.allocations.acquisition_points import (expand_order, first_spread_round, next_spread_round,
                                          row_disagreement, unbought_points)
from sabr.data.allocations import allocate, pool_cpu_seconds, spread
from sabr.data.costs import hf_cost


def _alloc(ds, budget, seed, order):
    return allocate("adaptive/spread", ds, budget, seed, unit="cpu_seconds", order=order)


def _scores(ds, order, seed, var_of):
    """Rows of a fake ensemble whose per-point variance is ``var_of(points)``."""
    pts, _, _ = expand_order(ds, seed, order)
    cand = unbought_points(ds, pts)
    var = var_of(cand)
    members = np.stack([np.zeros(cand.size), np.sqrt(2 * var)])   # var(ddof=1) = var
    return row_disagreement(ds, cand, members)


def test_round_one_is_spread_at_that_cpu_budget(steady_dataset):
    ds = steady_dataset
    budget = 0.4 * pool_cpu_seconds(ds)
    for seed in (0, 3):
        a = _alloc(ds, budget, seed, first_spread_round(ds, seed, budget))
        s = spread(ds, budget, seed, unit="cpu_seconds")
        assert np.array_equal(a.train, s.train) and np.array_equal(a.val, s.val)
        assert a.hf_cpu_seconds == s.hf_cpu_seconds


def test_rounds_are_nested_within_budget_in_the_pool_and_validate_by_theta(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    rng = np.random.default_rng(1)
    fractions = (0.2, 0.35, 0.6, 0.9)
    order = first_spread_round(ds, 0, fractions[0] * total)
    allocs = [_alloc(ds, fractions[0] * total, 0, order)]
    for f in fractions[1:]:
        thetas, rows = _scores(ds, order, 0, lambda c: rng.random(c.size))
        step = next_spread_round(ds, 0, order, f * total, thetas, rows)
        assert step["order"]["rows"][:len(order["rows"])] == order["rows"]     # nested order
        order = step["order"]
        allocs.append(_alloc(ds, f * total, 0, order))
    test = set(np.asarray(ds.test_thetas).tolist())
    for f, a in zip(fractions, allocs):
        assert 0 < a.hf_cpu_seconds <= f * total                     # never overspent
        assert a.hf_cpu_seconds > 0.8 * f * total                    # and the budget is used
        theta = np.unravel_index(a.split.all, ds.shape)[0]
        assert not set(theta.tolist()) & test
        assert ds.valid.ravel()[a.split.all].all()
        # validation by theta after round 1: f of the thetas, and a validation point bought
        # after round 1 never shares its theta with a training point
        train_t, val_t = (set(np.unravel_index(x, ds.shape)[0].tolist()) for x in (a.train, a.val))
        assert abs(len(val_t - train_t) - 0.2 * len(train_t | val_t)) <= 2
        later = np.setdiff1d(a.val, allocs[0].split.all)
        assert not set(np.unravel_index(later, ds.shape)[0].tolist()) & train_t
    for small, large in zip(allocs, allocs[1:]):
        assert set(small.split.all.tolist()) < set(large.split.all.tolist())
        assert set(small.val.tolist()) <= set(large.val.tolist())


def test_a_round_first_takes_the_points_its_runs_already_simulated_for_free(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    first = first_spread_round(ds, 2, 0.2 * total)
    before = _alloc(ds, 0.2 * total, 2, first)
    thetas, rows = _scores(ds, first, 2, lambda c: np.ones(c.size))
    # a budget of exactly what round 1 spent buys nothing new, but every free point
    step = next_spread_round(ds, 2, first, before.hf_cpu_seconds, thetas, rows)
    after = _alloc(ds, before.hf_cpu_seconds, 2, step["order"])
    assert step["n_rows_paid"] == 0 and step["n_free"] > 0
    assert after.hf_cpu_seconds == pytest.approx(before.hf_cpu_seconds, rel=1e-12)
    n, m, k = ds.shape
    t, j, _ = np.unravel_index(before.split.all, ds.shape)
    expected = set()
    for theta in np.unique(t):                  # every valid point up to its longest maturity
        top = j[t == theta].max()
        cols = np.flatnonzero(ds.valid[theta, :top + 1].ravel())
        expected |= set((theta * m * k + cols).tolist())
    assert set(after.split.all.tolist()) == expected
    assert after.split.all.size == before.split.all.size + step["n_free"]


def test_a_round_buys_where_the_ensemble_disagrees_per_cpu_second(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    first = first_spread_round(ds, 0, 0.2 * total)
    bought = np.unravel_index(expand_order(ds, 0, first)[0], ds.shape)[0]
    fresh = np.setdiff1d(ds.train_thetas, bought)
    target, row = int(fresh[0]), 1
    n, m, k = ds.shape

    def var_of(c):                               # the ensemble disagrees on one row only
        t, j, _ = np.unravel_index(c, ds.shape)
        return np.where((t == target) & (j == row), 1.0, 1e-9)

    thetas, rows = _scores(ds, first, 0, var_of)
    spent = _alloc(ds, 0.2 * total, 0, first).hf_cpu_seconds
    cost = ds.hf_cpu_seconds[target, row]
    step = next_spread_round(ds, 0, first, spent + 1.001 * cost, thetas, rows)
    paid = [r for r in step["order"]["rows"] if r[0] not in set(bought.tolist())]   # not free
    assert paid[0] == [target, row]              # up to that row, not beyond, first
    after = _alloc(ds, spent + 1.001 * cost, 0, step["order"])
    t, j, _ = np.unravel_index(after.split.all, ds.shape)
    assert set(j[t == target].tolist()) == set(range(row + 1)) & set(
        np.flatnonzero(ds.valid[target].any(axis=1)).tolist())


def test_a_round_never_pays_to_extend_a_validation_theta(steady_dataset):
    """The ensemble does not train on a validation theta, so it disagrees there most; the
    round takes its free points but buys rows elsewhere."""
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    for seed in range(10):                        # a validation theta with rows to extend
        first = first_spread_round(ds, seed, 0.3 * total)
        r1 = _alloc(ds, 0.3 * total, seed, first)
        t1, j1, _ = np.unravel_index(r1.split.all, ds.shape)
        train_t = set(np.unravel_index(r1.train, ds.shape)[0].tolist())
        short = [int(t) for t in np.unravel_index(r1.val, ds.shape)[0]
                 if t not in train_t and j1[t1 == t].max() < ds.shape[1] - 1]
        if short:
            break
    assert short, "no seed of 0-9 has a validation theta with a longer row to extend"
    vt = short[0]
    top = int(j1[t1 == vt].max())

    def var_of(c):                                # disagreement on that theta only
        return np.where(np.unravel_index(c, ds.shape)[0] == vt, 1.0, 1e-6)

    thetas, rows = _scores(ds, first, seed, var_of)
    step = next_spread_round(ds, seed, first, 0.5 * total, thetas, rows)
    after = _alloc(ds, 0.5 * total, seed, step["order"])
    t, j, _ = np.unravel_index(after.split.all, ds.shape)
    assert j[t == vt].max() == top                # its free points, nothing beyond
    assert after.hf_cpu_seconds > 0.4 * total     # the budget went elsewhere
    assert set(after.split.all[t == vt].tolist()) <= set(after.val.tolist())


def test_a_batch_skips_a_near_duplicate_while_others_are_left(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    first = first_spread_round(ds, 0, 0.2 * total)
    bought = set(np.unravel_index(expand_order(ds, 0, first)[0], ds.shape)[0].tolist())
    fresh = np.array([t for t in ds.train_thetas if t not in bought])
    pos = unit_box(ds)[fresh]
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2) + np.eye(fresh.size) * 9
    a, b = np.unravel_index(int(np.argmin(d)), d.shape)          # the closest pair
    a, b = int(fresh[a]), int(fresh[b])

    def var_of(c):                               # the ensemble disagrees most on both
        t = np.unravel_index(c, ds.shape)[0]
        return np.where((t == a) | (t == b), 1.0, 1e-3)

    thetas, rows = _scores(ds, first, 0, var_of)
    budget = 0.6 * total
    gap = float(np.linalg.norm(unit_box(ds)[a] - unit_box(ds)[b])) * 1.01

    def paid_thetas(min_distance):               # distinct new thetas, in buying order
        step = next_spread_round(ds, 0, first, budget, thetas, rows, min_distance=min_distance)
        return list(dict.fromkeys(r[0] for r in step["order"]["rows"] if r[0] not in bought))

    plain = paid_thetas(0.0)
    assert set(plain[:2]) == {a, b}              # without the rule: the two first
    diverse = paid_thetas(gap)
    x = diverse[0]
    assert x in (a, b)
    y = b if x == a else a
    i = diverse.index(y) if y in diverse else len(diverse)
    assert i > 1 and all(t not in (a, b) for t in diverse[1:i])   # others came before y


def test_no_test_theta_is_scored_or_bought(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    first = first_spread_round(ds, 0, 0.2 * total)
    pts, _, _ = expand_order(ds, 0, first)
    cand = unbought_points(ds, pts)
    assert not set(np.unravel_index(cand, ds.shape)[0].tolist()) & set(ds.test_thetas.tolist())
    test = np.asarray(ds.test_thetas)
    with pytest.raises(ValueError, match="thetas are invalid: allowed train-pool thetas"):
        next_spread_round(ds, 0, first, total, test, np.ones((test.size, ds.shape[1])))
    with pytest.raises(ValueError, match="allocation 'adaptive/spread' is invalid with order="):
        _alloc(ds, total, 0, {**first, "rows": [[int(test[0]), 0]]})
    with pytest.raises(ValueError, match="allocation 'adaptive/spread' is invalid with order="):
        _alloc(ds, total, 0, [1, 2, 3])


def test_row_disagreement_sums_the_members_variance_per_maturity_row(steady_dataset):
    ds = steady_dataset
    cand = unbought_points(ds, [])
    rng = np.random.default_rng(0)
    members = rng.normal(size=(4, cand.size))
    thetas, rows = row_disagreement(ds, cand, members)
    var = members.var(axis=0, ddof=1)
    t, j, _ = np.unravel_index(cand, ds.shape)
    i = int(np.searchsorted(thetas, t[7]))
    assert rows[i, j[7]] == pytest.approx(var[(t == t[7]) & (j == j[7])].sum())
    assert rows.sum() == pytest.approx(var.sum())
    assert hf_cost(ds, cand)["n_hf_thetas"] == thetas.size
