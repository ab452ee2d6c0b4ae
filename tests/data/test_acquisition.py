"""Adaptive allocation's rounds (sabr.data.allocations.acquisition): round 1 is ``surfaces``, later
rounds are nested, stay inside their CPU budget and the train pool, buy where the ensemble
disagrees most per CPU-second, and do not spend a batch on near duplicates."""
import numpy as np
import pytest

from sabr.data.allocations.acquisition import (candidate_points, default_min_distance, first_round,
                                   integrated_disagreement, next_round, select_batch,
                                   theta_costs, unit_box)
from sabr.data.allocations import adaptive, pool_cpu_seconds, surfaces


def test_select_batch_takes_the_best_score_first_and_never_overspends():
    cand = np.array([10, 11, 12, 13])
    scores = np.array([1.0, 5.0, 3.0, 4.0])
    costs = np.array([1.0, 2.0, 1.0, 1.0])
    pos = np.eye(4)                                          # all far apart
    assert select_batch(cand, scores, costs, pos, 3.0, 0.1).tolist() == [11, 13]
    assert select_batch(cand, scores, costs, pos, 10.0, 0.1).tolist() == [11, 13, 12, 10]
    # what does not fit is skipped, a cheaper one after it still bought
    assert select_batch(cand, scores, costs, pos, 1.5, 0.1).tolist() == [13]
    assert select_batch(cand, scores, costs, pos, 0.5, 0.1).size == 0


def test_select_batch_skips_near_duplicates_while_others_are_left():
    cand = np.array([0, 1, 2])
    scores = np.array([9.0, 8.0, 1.0])
    pos = np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 1.0]])    # 0 and 1 are near duplicates
    costs = np.ones(3)
    assert select_batch(cand, scores, costs, pos, 2.0, 0.1).tolist() == [0, 2]
    assert select_batch(cand, scores, costs, pos, 2.0, 0.0).tolist() == [0, 1]
    # money left after the diverse pass buys the near duplicate too
    assert select_batch(cand, scores, costs, pos, 3.0, 0.1).tolist() == [0, 2, 1]


def test_round_one_is_the_surfaces_allocation(steady_dataset):
    ds = steady_dataset
    budget = 0.3 * pool_cpu_seconds(ds)
    order = first_round(ds, 1, budget)
    a, s = adaptive(ds, budget, 1, order=order), surfaces(ds, budget, 1)
    assert np.array_equal(np.sort(a.split.all), np.sort(s.split.all))
    assert np.array_equal(np.sort(a.val), np.sort(s.val))


def _rounds(ds, seed, fractions, disagreement_of):
    total = pool_cpu_seconds(ds)
    orders = [first_round(ds, seed, fractions[0] * total)]
    for f in fractions[1:]:
        cand, pts = candidate_points(ds, orders[-1])
        thetas = np.unique(np.unravel_index(pts, ds.shape)[0])
        assert np.array_equal(thetas, cand)
        orders.append(next_round(ds, orders[-1], f * total, cand, disagreement_of(cand)))
    return orders


def test_rounds_are_nested_within_budget_and_in_the_train_pool(steady_dataset):
    ds = steady_dataset
    rng = np.random.default_rng(0)
    fractions = (0.2, 0.4, 0.7)
    orders = _rounds(ds, 0, fractions, lambda c: rng.random(c.size))
    total = pool_cpu_seconds(ds)
    for f, small, large in zip(fractions[1:], orders, orders[1:]):
        assert np.array_equal(large[:small.size], small) and large.size > small.size
        assert np.sum(theta_costs(ds, large)) <= f * total
        assert set(large.tolist()) <= set(np.asarray(ds.train_thetas).tolist())
        assert np.unique(large).size == large.size
    allocs = [adaptive(ds, f * total, 0, order=o) for f, o in zip(fractions, orders)]
    for a, o in zip(allocs, orders):             # each round's cell trains on all it bought
        assert a.n_hf_thetas == o.size
    for a, b in zip(allocs, allocs[1:]):
        assert set(a.split.all.tolist()) <= set(b.split.all.tolist())
        assert set(a.val.tolist()) <= set(b.val.tolist())


def test_a_round_buys_where_the_ensemble_disagrees_per_cpu_second(steady_dataset):
    ds = steady_dataset
    total = pool_cpu_seconds(ds)
    order = first_round(ds, 0, 0.2 * total)
    cand, _ = candidate_points(ds, order)
    costs = theta_costs(ds, cand)
    hot = cand[np.argsort(costs)[-1]]                 # the dearest surface, yet most uncertain
    dis = np.where(cand == hot, 1e6, 1.0)
    spent = float(theta_costs(ds, order).sum())      # what round 1 left unspent is not spent
    new = next_round(ds, order, spent + costs.max() * 1.01, cand, dis, min_distance=0)
    assert new[order.size] == hot
    # at equal disagreement, per CPU-second favours the cheapest surface
    flat = next_round(ds, order, spent + costs.min() * 1.01, cand, np.ones(cand.size),
                      min_distance=0)
    assert flat[order.size:].tolist() == [cand[np.argmin(costs)]]


def test_bought_thetas_never_include_a_test_theta_even_if_scored(steady_dataset):
    ds = steady_dataset
    order = first_round(ds, 0, 0.2 * pool_cpu_seconds(ds))
    with pytest.raises(ValueError, match="thetas are invalid: allowed train-pool thetas"):
        next_round(ds, order, pool_cpu_seconds(ds), np.asarray(ds.test_thetas),
                   np.ones(len(ds.test_thetas)))
    with pytest.raises(ValueError, match="allocation 'adaptive' is invalid with order="):
        adaptive(ds, pool_cpu_seconds(ds), 0, order=np.asarray(ds.test_thetas))
    with pytest.raises(ValueError, match="allocation 'adaptive' is invalid without the thetas or points"):
        adaptive(ds, pool_cpu_seconds(ds), 0)


def test_integrated_disagreement_sums_the_members_variance_over_each_surface(steady_dataset):
    ds = steady_dataset
    _, pts = candidate_points(ds, [])
    rng = np.random.default_rng(1)
    members = rng.normal(0.2, 0.01, size=(4, pts.size))
    thetas, dis = integrated_disagreement(ds, pts, members)
    theta_of = np.unravel_index(pts, ds.shape)[0]
    for t, d in zip(thetas[:3], dis[:3]):
        assert d == pytest.approx(members[:, theta_of == t].var(axis=0, ddof=1).sum())
    with pytest.raises(ValueError, match=r"allowed \(M, n\) with M >= 2"):
        integrated_disagreement(ds, pts, members[:1])


def test_the_diversity_distance_is_a_fraction_of_the_pool_spacing(steady_dataset):
    ds = steady_dataset
    u = unit_box(ds)[np.asarray(ds.train_thetas)]
    d = default_min_distance(ds)
    nearest = np.sort(np.linalg.norm(u[:, None] - u[None], axis=2), axis=1)[:, 1]
    assert d == pytest.approx(0.5 * np.median(nearest))
    assert 0 < d < np.median(nearest)
