"""``adaptive`` and ``adaptive/spread``: what the rounds bought (their acquisition:
acquisition.py over thetas, acquisition_points.py over the seed's points and maturity rows,
row_orders.py the orders' format)."""
from __future__ import annotations

import numpy as np

from ..budgets import make_split
from .base import (COST_BUDGET_UNITS, Allocation, Unit, make_allocation, need_costs,
                   whole_surfaces)

__all__ = ["adaptive"]


def adaptive(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
             validation_fraction: float = 0.2, order=None, start: str = "surfaces") -> Allocation:
    """``start='surfaces'`` (``adaptive``): as :func:`surfaces`, thetas in ``order``: the
    train-pool thetas in the order the rounds bought them (sabr.data.allocations.acquisition); the
    validation thetas are picked by position in that order as in :func:`surfaces`, so
    rounds are nested. ``start='spread'`` (``adaptive/spread``): ``order`` is
    {'spread_points', 'rows'} (sabr.data.allocations.acquisition_points): the longest prefix of its
    points that ``budget`` pays for, validation by theta after round 1 (sabr.data.allocations.row_orders)."""
    name = "adaptive" if start == "surfaces" else f"adaptive/{start}"
    if order is None:
        raise ValueError(f"allocation {name!r} is invalid without the thetas or points its rounds "
                         "bought: allowed in a run's rounds (the flow's acquire tasks)")
    if start == "spread":
        return _adaptive_points(dataset, budget, seed, unit, validation_fraction, order)
    order = np.asarray(order, dtype=np.int64)
    outside = np.setdiff1d(order, np.asarray(dataset.train_thetas))
    if outside.size or np.unique(order).size != order.size:
        raise ValueError(f"allocation 'adaptive' is invalid with order={order.tolist()[:8]}...: "
                         f"allowed distinct train-pool thetas (never a test theta)")
    return whole_surfaces("adaptive", dataset, budget, seed, unit, validation_fraction, None,
                           order=order)


def _adaptive_points(dataset, budget, seed, unit, validation_fraction, order) -> Allocation:
    from .row_orders import expand_order
    if unit not in COST_BUDGET_UNITS:
        raise ValueError("allocation 'adaptive/spread' is invalid with point budgets "
                         "(hf_budgets): allowed CPU-second budgets (hf_cpu_budgets)")
    need_costs(dataset, "adaptive/spread", unit)
    points, flags, spent = expand_order(dataset, seed, order, validation_fraction, unit=unit)
    # running sums and hf_cost add in different orders: a budget equal to a prefix's cost
    # (a round that bought only free points) must pay for that prefix
    count = int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))
    head, is_val = points[:count], flags[:count]
    if not is_val.any() or is_val.all():
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation 'adaptive/spread': "
                         f"it pays for {count} points, not one train and one validation point")
    return make_allocation(dataset, make_split(dataset, head[~is_val], head[is_val]))

