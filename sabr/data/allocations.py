"""Allocation strategies: how a cell's HF budget is spent on points of the pool.

A strategy is ``(dataset, budget, seed, *, validation_fraction) -> Allocation``: the
budget's train / validation points (a sabr.data.budgets.BudgetSplit) and their HF cost
(sabr.data.costs.hf_cost). Contract (tests/data/test_allocations.py, over every entry):
the splits of growing budgets are nested, validation lies inside the budget, train and
validation are disjoint, and the same arguments give the same points.

To add a strategy: write its function here and add it to ``ALLOCATIONS``.

* ``spread``: today's point budgets (sabr.data.budgets.budget_points): the first
  ``budget`` points of the seed's order, spread over thetas, maturities and strikes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .budgets import BudgetSplit, budget_points
from .costs import hf_cost

__all__ = ["Allocation", "ALLOCATIONS", "allocate", "spread"]


@dataclass(frozen=True)
class Allocation:
    """A budget's points and what they cost."""

    split: BudgetSplit
    n_hf_thetas: int
    hf_cpu_seconds: float

    @property
    def train(self):
        return self.split.train

    @property
    def val(self):
        return self.split.val


def spread(dataset, budget: int, seed: int, *, validation_fraction: float = 0.2) -> Allocation:
    """The point budgets of sabr.data.budgets.budget_points, with their HF cost."""
    split = budget_points(dataset, budget, seed, validation_fraction=validation_fraction)
    return Allocation(split, **hf_cost(dataset, split.all))


ALLOCATIONS: dict[str, Callable[..., Allocation]] = {"spread": spread}


def allocate(strategy: str, dataset, budget: int, seed: int, *,
             validation_fraction: float = 0.2) -> Allocation:
    """Run the named strategy; an unknown name is a ValueError listing the known ones."""
    try:
        fn = ALLOCATIONS[strategy]
    except KeyError:
        raise ValueError(f"allocation={strategy!r} is invalid: allowed one of "
                         f"{sorted(ALLOCATIONS)}") from None
    return fn(dataset, budget, seed, validation_fraction=validation_fraction)
