"""Allocation strategies: how a cell's HF budget is spent on points of the pool.

A strategy is ``(dataset, budget, seed, *, unit, validation_fraction) -> Allocation``:
the budget's train / validation points (a sabr.data.budgets.BudgetSplit), the Monte
Carlo paths behind their labels, and their HF cost (sabr.data.costs.hf_cost). A budget
is counted in ``unit``: ``"points"`` (the seed's axis, ``hf_budgets``) or
``"cpu_seconds"`` (Monte Carlo CPU-seconds, ``hf_cpu_budgets``; shared/DESIGN.md, "What
HF data costs"). Contract (tests/data/test_allocations.py, over every entry and unit):
the splits of growing budgets are nested, validation lies inside the budget, train and
validation are disjoint, a CPU budget is never overspent, and the same arguments give
the same points; the test set is never touched.

To add a strategy: write its function here and add it to ``ALLOCATIONS``.

* ``spread``: the seed's point budgets (sabr.data.budgets.budget_points): the first
  points of the seed's order, spread over thetas, maturities and strikes. In CPU-seconds:
  the longest prefix of the same order that the budget pays for.
* ``surfaces``: whole surfaces (every valid point of a theta) for as many thetas as the
  budget pays for, thetas in a stratified order (the points of a scrambled Sobol sequence
  over the parameter box, Owen 1998, each take in turn the nearest pool theta left, so a
  prefix of the order covers the box evenly); validation by theta. CPU-seconds only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ..budget_labels import (ALLOCATION_NAMES, POINT_BUDGETS, budget_name, cell_label,
                             cpu_budget_label, is_cell_label, parse_cell_label, parse_cpu_budget)
from .budgets import TUNING_REPLICATE, BudgetSplit, _rng, budget_points, make_split, point_order
from .costs import hf_cost

__all__ = ["Allocation", "ALLOCATIONS", "UNITS", "allocate", "spread", "surfaces",
           "theta_order", "parse_cpu_budget", "cpu_budget_label", "cell_label", "parse_cell_label",
           "pool_cpu_seconds", "resolve_cpu_budget", "cell_allocation", "budget_name"]

Unit = Literal["points", "cpu_seconds"]
UNITS = ("points", "cpu_seconds")
_THETA_STREAM = 21


@dataclass(frozen=True)
class Allocation:
    """A budget's points, the Monte Carlo paths behind their labels, and what they cost."""

    split: BudgetSplit
    n_hf_thetas: int
    hf_cpu_seconds: float
    n_paths: int

    @property
    def train(self):
        return self.split.train

    @property
    def val(self):
        return self.split.val


def _paths(dataset) -> int:
    return int(dataset.meta.get("config", {}).get("mc_paths", 0))


def _need_costs(dataset, strategy: str) -> None:
    if dataset.hf_cpu_seconds is None or not np.all(np.isfinite(dataset.hf_cpu_seconds)):
        raise ValueError(f"allocation={strategy!r} with a CPU-second budget is invalid for this "
                         f"data set: it has no recorded Monte Carlo CPU-seconds; allowed a data set "
                         f"built by this version (build it again)")


def _allocation(dataset, split: BudgetSplit) -> Allocation:
    return Allocation(split, **hf_cost(dataset, split.all), n_paths=_paths(dataset))


def spread(dataset, budget, seed: int, *, unit: Unit = "points",
           validation_fraction: float = 0.2) -> Allocation:
    """The point budgets of sabr.data.budgets.budget_points; for a CPU budget, the
    longest prefix of the seed's point order whose HF cost is at most ``budget``."""
    if unit == "points":
        return _allocation(dataset, budget_points(dataset, budget, seed,
                                                  validation_fraction=validation_fraction))
    _need_costs(dataset, "spread")
    points, flags = point_order(dataset, seed, validation_fraction)
    # the cost of a prefix never falls as it grows: bisect for the longest one paid for
    lo, hi = 0, points.size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hf_cost(dataset, points[:mid])["hf_cpu_seconds"] <= budget:
            lo = mid
        else:
            hi = mid - 1
    head, is_val = points[:lo], flags[:lo]
    if not is_val.any() or is_val.all():
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation 'spread': it pays for "
                         f"{lo} points, not one train and one validation point; allowed at least "
                         f"{_spread_minimum(dataset, points, flags):.3g} s")
    return _allocation(dataset, make_split(dataset, head[~is_val], head[is_val]))


def _spread_minimum(dataset, points, flags) -> float:
    n = int(np.argmax(np.cumsum(flags) >= 1) + 1)
    n = max(n, int(np.argmax(np.cumsum(~flags) >= 1) + 1))
    return hf_cost(dataset, points[:n])["hf_cpu_seconds"]


def theta_order(dataset, seed: int) -> np.ndarray:
    """The train pool's thetas in the seed's stratified order (see the module doc)."""
    from scipy.stats import qmc
    rng = np.random.default_rng(np.random.SeedSequence(
        [int(dataset.meta.get("config", {}).get("master_seed", 0)), _THETA_STREAM,
         (2 ** 31 - 1) if int(seed) == TUNING_REPLICATE else int(seed)]))
    _rng(dataset, seed)                              # the same check of the seed as budgets
    pool = np.asarray(dataset.train_thetas)
    x = np.asarray(dataset.thetas, float)[pool]
    span = x.max(axis=0) - x.min(axis=0)
    free = span > 0                                  # a fixed parameter (beta) is no dimension
    if not free.any():
        return rng.permutation(pool)
    u = (x[:, free] - x.min(axis=0)[free]) / span[free]
    sob = qmc.Sobol(d=int(free.sum()), scramble=True, rng=rng).random(
        2 ** math.ceil(math.log2(max(pool.size, 2))))
    taken = np.zeros(pool.size, bool)
    order = np.empty(pool.size, np.int64)
    for j in range(pool.size):                       # Sobol point j takes the nearest theta left
        d = ((u - sob[j]) ** 2).sum(axis=1)
        d[taken] = np.inf
        order[j] = int(np.argmin(d))
        taken[order[j]] = True
    return pool[order]


def surfaces(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
             validation_fraction: float = 0.2) -> Allocation:
    """Whole surfaces, thetas in the seed's stratified order, as many as ``budget``
    CPU-seconds pay for; a theta is for validation when its position i in the order has
    floor((i + 1) f + u) > floor(i f + u) (f the validation fraction, u a random phase
    that makes the second theta the first validation one): any prefix holds a fraction f
    of validation thetas, up to one."""
    if unit != "cpu_seconds":
        raise ValueError("allocation 'surfaces' is invalid with point budgets (hf_budgets): "
                         "allowed CPU-second budgets (hf_cpu_budgets)")
    _need_costs(dataset, "surfaces")
    order = theta_order(dataset, seed)
    n, m, k = dataset.shape
    valid = dataset.valid.reshape(n, m * k)
    order = order[valid[order].any(axis=1)]
    pts = [t * m * k + np.flatnonzero(valid[t]) for t in order]      # each theta's surface
    spent = np.cumsum([hf_cost(dataset, p)["hf_cpu_seconds"] for p in pts])
    count = int(np.searchsorted(spent, budget, side="right"))
    f = float(validation_fraction)
    # a random phase that puts the first validation theta second: two surfaces suffice
    phase = (1 - 2 * f + f * np.random.default_rng(np.random.SeedSequence(
        [int(dataset.meta.get("config", {}).get("master_seed", 0)), _THETA_STREAM + 1,
         max(int(seed), -1) + 1])).random()) % 1.0
    i = np.arange(order.size)
    all_flags = np.floor((i + 1) * f + phase) > np.floor(i * f + phase)
    flags = all_flags[:count]
    if not flags.any() or flags.all():
        first = max(int(np.argmax(all_flags)), int(np.argmax(~all_flags)))
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation 'surfaces': it pays for "
                         f"{count} surfaces, not one train and one validation surface; allowed at "
                         f"least {spent[first]:.3g} s")
    pts = pts[:count]
    train = np.concatenate([p for p, v in zip(pts, flags) if not v])
    val = np.concatenate([p for p, v in zip(pts, flags) if v])
    return _allocation(dataset, make_split(dataset, train, val))


ALLOCATIONS: dict[str, Callable[..., Allocation]] = {"spread": spread, "surfaces": surfaces}
assert tuple(ALLOCATIONS) == ALLOCATION_NAMES, "sabr.budget_labels names every strategy"


def allocate(strategy: str, dataset, budget, seed: int, *, unit: Unit = "points",
             validation_fraction: float = 0.2) -> Allocation:
    """Run the named strategy; an unknown name or unit is a ValueError listing the known ones."""
    try:
        fn = ALLOCATIONS[strategy]
    except KeyError:
        raise ValueError(f"allocation={strategy!r} is invalid: allowed one of "
                         f"{sorted(ALLOCATIONS)}") from None
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r} is invalid: allowed one of {list(UNITS)}")
    return fn(dataset, budget, seed, unit=unit, validation_fraction=validation_fraction)


def pool_cpu_seconds(dataset) -> float:
    """The Monte Carlo CPU-seconds of every train-pool theta's whole surface: what a
    percentage CPU budget is a percentage of."""
    _need_costs(dataset, "a percentage CPU budget")
    n, m, k = dataset.shape
    pool = np.asarray(dataset.train_thetas)
    points = pool[:, None] * (m * k) + np.arange(m * k)[None, :]
    return hf_cost(dataset, points[dataset.valid.reshape(n, m * k)[pool]])["hf_cpu_seconds"]


def resolve_cpu_budget(dataset, value) -> float:
    """A CPU budget in seconds for this data set (a percentage of pool_cpu_seconds)."""
    amount, fraction = parse_cpu_budget(value)
    return amount * pool_cpu_seconds(dataset) if fraction else amount


def cell_allocation(dataset, budget, seed: int, *, validation_fraction: float = 0.2
                    ) -> Allocation:
    """What a cell of the flow trains on: a point budget (an int: the seed's ``spread``
    axis, sabr.data.budgets.budget_points) or a CPU-budget cell's label
    ('surfaces@120s', 'spread@5%')."""
    if is_cell_label(budget):
        allocation, value = parse_cell_label(budget)
        return allocate(allocation, dataset, resolve_cpu_budget(dataset, value), seed,
                        unit="cpu_seconds", validation_fraction=validation_fraction)
    return allocate("spread", dataset, int(budget), seed, unit="points",
                    validation_fraction=validation_fraction)
