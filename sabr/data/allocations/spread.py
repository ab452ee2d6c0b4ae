"""``spread``: the seed's point order, spread over thetas, maturities and strikes
(sabr.data.budgets); in CPU-seconds, its longest prefix the budget pays for."""
from __future__ import annotations

import numpy as np

from ..budgets import budget_points, make_split, point_order
from ..costs import hf_cost
from .base import Allocation, Unit, cost_key, make_allocation, need_costs, unit_words

__all__ = ["spread"]


def spread(dataset, budget, seed: int, *, unit: Unit = "points",
           validation_fraction: float = 0.2) -> Allocation:
    """The point budgets of sabr.data.budgets.budget_points; for a CPU budget (``unit``
    'cpu_seconds', or 'path_steps'), the longest prefix of the seed's point order whose HF
    cost in that unit is at most ``budget``."""
    if unit == "points":
        return make_allocation(dataset, budget_points(dataset, budget, seed,
                                                  validation_fraction=validation_fraction))
    need_costs(dataset, "spread", unit)
    key = cost_key(unit)
    points, flags = point_order(dataset, seed, validation_fraction)
    # the cost of a prefix never falls as it grows: bisect for the longest one paid for
    lo, hi = 0, points.size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hf_cost(dataset, points[:mid])[key] <= budget:
            lo = mid
        else:
            hi = mid - 1
    head, is_val = points[:lo], flags[:lo]
    if not is_val.any() or is_val.all():
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation 'spread': it pays for "
                         f"{lo} points, not one train and one validation point; allowed at least "
                         f"{_spread_minimum(dataset, points, flags, key):.3g} {unit_words(unit)}")
    return make_allocation(dataset, make_split(dataset, head[~is_val], head[is_val]))


def _spread_minimum(dataset, points, flags, key="hf_cpu_seconds") -> float:
    n = int(np.argmax(np.cumsum(flags) >= 1) + 1)
    n = max(n, int(np.argmax(np.cumsum(~flags) >= 1) + 1))
    return hf_cost(dataset, points[:n])[key]

