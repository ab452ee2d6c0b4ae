"""``random`` (sabr.data.allocations.random_surfaces): whole surfaces in a uniformly random
order of the train pool's thetas, its own permutation per seed, the baseline ``adaptive``
is judged against beside ``surfaces``. The registry's contract (nested, never overspent,
deterministic, validation inside and disjoint, the test set untouched) covers it in
tests/data/test_allocations.py, the path-step one in tests/data/test_path_steps.py."""
import numpy as np
import pytest
from scipy.stats import chisquare

from sabr.data.allocations import (ALLOCATIONS, allocate, random_surfaces, random_theta_order,
                                   theta_order)
from sabr.data.budgets import TUNING_REPLICATE
from sabr.data.costs import hf_cost

SEEDS = (0, 1, 2, 3, 4, TUNING_REPLICATE)
ALPHA = 0.001              # generous: a uniform permutation fails 1 time in 1000 fixed seed sets


def _pool_cost(ds) -> float:
    n, m, k = ds.shape
    pts = np.concatenate([t * m * k + np.flatnonzero(ds.valid[t].ravel()) for t in ds.train_thetas])
    return hf_cost(ds, pts)["hf_cpu_seconds"]


def _thetas(ds, pts) -> set:
    n, m, k = ds.shape
    return set((np.asarray(pts) // (m * k)).tolist())


def test_random_is_registered_under_its_name():
    assert ALLOCATIONS["random"] is random_surfaces


def test_each_seed_has_its_own_permutation_of_the_pool_and_the_same_seed_the_same(small_dataset):
    ds = small_dataset
    pool = sorted(np.asarray(ds.train_thetas).tolist())
    orders = {s: random_theta_order(ds, s) for s in SEEDS}
    for s, order in orders.items():
        assert sorted(order.tolist()) == pool                     # a permutation of the pool
        assert np.array_equal(order, random_theta_order(ds, s))   # deterministic
    keys = [tuple(o.tolist()) for o in orders.values()]
    assert len(set(keys)) == len(keys)                            # tuning replicate included
    with pytest.raises(ValueError, match=r"seed=-2 is invalid"):
        random_theta_order(ds, -2)
    # the cells: the same seed buys the same points, other seeds other thetas
    budget = 0.5 * _pool_cost(ds)
    cells = {s: allocate("random", ds, budget, s, unit="cpu_seconds") for s in SEEDS}
    for s, a in cells.items():
        assert a.split.hash == allocate("random", ds, budget, s, unit="cpu_seconds").split.hash
    bought = [frozenset(_thetas(ds, a.split.all)) for a in cells.values()]
    assert len(set(bought)) == len(bought)


def test_the_order_is_not_the_stratified_sobol_order_of_the_same_seed(small_dataset):
    ds = small_dataset
    budget = 0.5 * _pool_cost(ds)
    for s in SEEDS:
        assert not np.array_equal(random_theta_order(ds, s), theta_order(ds, s))
        r = allocate("random", ds, budget, s, unit="cpu_seconds")
        q = allocate("surfaces", ds, budget, s, unit="cpu_seconds")
        assert r.split.hash != q.split.hash


def test_random_buys_whole_surfaces_in_its_order_validated_by_theta(steady_dataset):
    """As surfaces: every valid point of each theta bought, thetas a prefix of the seed's
    random order, as many as the budget pays for, validation by theta, nested."""
    ds = steady_dataset
    n, m, k = ds.shape
    for seed in (0, 3):
        order = [t for t in random_theta_order(ds, seed) if ds.valid[t].any()]
        previous = set()
        for share in (0.3, 0.6, 0.9):
            budget = share * _pool_cost(ds)
            a = allocate("random", ds, budget, seed, unit="cpu_seconds")
            train_t, val_t = _thetas(ds, a.train), _thetas(ds, a.val)
            assert train_t and val_t and not train_t & val_t
            bought = train_t | val_t
            for t in bought:
                whole = set((t * m * k + np.flatnonzero(ds.valid[t].ravel())).tolist())
                assert whole <= set(a.split.all.tolist())
            assert set(order[:len(bought)]) == bought            # a prefix of the order
            if len(bought) < len(order):                         # one more is too dear
                nxt = order[len(bought)]
                extra = nxt * m * k + np.flatnonzero(ds.valid[nxt].ravel())
                assert hf_cost(ds, np.concatenate([a.split.all, extra]))["hf_cpu_seconds"] \
                    > budget
            assert previous <= bought
            previous = bought
        with pytest.raises(ValueError, match=r"allocation 'random' is invalid with point budgets"):
            allocate("random", ds, 10, seed, unit="points")


def _first_counts(ds, first, seeds) -> np.ndarray:
    pool = np.asarray(ds.train_thetas)
    index = {int(t): i for i, t in enumerate(pool)}
    counts = np.zeros(pool.size, np.int64)
    for s in seeds:
        counts[index[int(first(ds, s))]] += 1
    return counts


def test_every_pool_theta_is_equally_likely_to_come_first(small_dataset):
    """Over 100 seeds per pool theta, the first theta of the order: a chi-square test of
    uniformity at fixed seeds (0, 1, ...), alpha 0.001. The same test refuses a permutation
    whose first theta is drawn with probability rising with its place in the pool (the
    most likely twice as likely as the least), so it could fail if the order were biased."""
    ds = small_dataset
    pool = np.asarray(ds.train_thetas)
    seeds = range(100 * pool.size)
    counts = _first_counts(ds, lambda d, s: random_theta_order(d, s)[0], seeds)
    p = chisquare(counts).pvalue
    print(f"{pool.size} pool thetas, {len(seeds)} seeds: first-theta counts {counts.tolist()}, "
          f"chi-square p {p:.3g}")
    assert counts.sum() == len(seeds)
    assert p > ALPHA

    weights = 1.0 + np.arange(pool.size) / (pool.size - 1)        # 1 ... 2

    def biased(d, s):
        rng = np.random.default_rng([123, s])
        return pool[rng.choice(pool.size, p=weights / weights.sum())]
    power = chisquare(_first_counts(ds, biased, seeds)).pvalue
    print(f"biased permutation: chi-square p {power:.3g}")
    assert power < ALPHA


def test_a_bad_name_lists_random_among_the_allowed_ones(small_dataset):
    from sabr.budget_labels import ALLOCATION_NAMES, parse_allocation
    from sabr.config import ExperimentConfig
    from sabr.errors import ConfigError
    from sabr.options import RUN_OPTIONS
    assert "random" in ALLOCATION_NAMES
    for bad in ("greedy", "random/2", "randomly"):
        with pytest.raises(ValueError, match=r"is invalid: allowed one of \[.*'random'.*\]"):
            allocate(bad, small_dataset, 20, 0)
        with pytest.raises(ValueError, match=r"'random'"):
            parse_allocation(bad)
    with pytest.raises(ConfigError, match=r"allocations.*'random'"):
        ExperimentConfig.profile("quick", allocations=["greedy"])
    help_text = next(o.help for o in RUN_OPTIONS if o.name == "allocations")
    assert "random" in help_text.split()
    # the configuration takes it by name, with CPU budgets only (as surfaces)
    assert ExperimentConfig.profile("quick", allocations=["random", "surfaces"]).allocations == \
        ("random", "surfaces")
    with pytest.raises(ConfigError, match=r"'random' spends CPU-second budgets"):
        ExperimentConfig.profile("quick", allocations=["random"], hf_cpu_budgets=[])
