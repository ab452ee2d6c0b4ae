"""The contract of every allocation strategy (sabr.data.allocations.ALLOCATIONS)."""
import numpy as np
import pytest

from sabr.data.allocations import ALLOCATIONS, allocate
from sabr.data.budgets import TUNING_REPLICATE, budget_points
from sabr.data.costs import hf_cost

BUDGETS = (10, 20, 40)


@pytest.mark.parametrize("name", sorted(ALLOCATIONS))
@pytest.mark.parametrize("seed", [0, 1, TUNING_REPLICATE])
def test_every_strategy_gives_nested_splits_with_validation_inside_the_budget(small_dataset, name, seed):
    splits = [allocate(name, small_dataset, b, seed, validation_fraction=0.2) for b in BUDGETS]
    for b, a in zip(BUDGETS, splits):
        train, val = set(a.train.tolist()), set(a.val.tolist())
        assert train and val and not train & val
        assert len(train) + len(val) == b          # validation is part of the budget
        assert a.n_hf_thetas >= 1 and a.hf_cpu_seconds >= 0 or np.isnan(a.hf_cpu_seconds)
        assert hf_cost(small_dataset, a.split.all) == {"n_hf_thetas": a.n_hf_thetas,
                                                       "hf_cpu_seconds": a.hf_cpu_seconds}
    for small, large in zip(splits, splits[1:]):   # a larger budget keeps every point
        assert set(small.split.all.tolist()) <= set(large.split.all.tolist())
    again = ALLOCATIONS[name](small_dataset, BUDGETS[-1], seed, validation_fraction=0.2)
    assert again.split.hash == splits[-1].split.hash


def test_spread_is_todays_point_budgets(small_dataset):
    a = allocate("spread", small_dataset, 20, 0)
    b = budget_points(small_dataset, 20, 0)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.val, b.val) and a.split.hash == b.hash


def test_an_unknown_strategy_lists_the_known_ones(small_dataset):
    with pytest.raises(ValueError, match="allocation='greedy' is invalid: allowed one of"):
        allocate("greedy", small_dataset, 20, 0)
