"""Allocation strategies: how a cell's HF budget is spent on points of the pool.

The registry (``ALLOCATIONS``), one module per strategy (spread.py, surfaces.py,
random_surfaces.py for ``random``, paths.py, adaptive.py with its rounds' acquisition:
acquisition.py over thetas, acquisition_points.py over the seed's points and maturity rows,
row_orders.py the orders' format) and what they share (base.py). One interface: a
strategy is a function ``(dataset, budget, seed, *, unit, validation_fraction) ->
Allocation``: the budget's train / validation points (a sabr.data.budgets.BudgetSplit), the Monte
Carlo paths behind their labels, and their HF cost (sabr.data.costs.hf_cost). A budget
is counted in ``unit``: ``"points"`` (the seed's axis, ``hf_budgets``),
``"cpu_seconds"`` (Monte Carlo CPU-seconds, ``hf_cpu_budgets``; docs/DESIGN.md, "What
HF data costs") or ``"path_steps"`` (Monte Carlo paths x time steps, ``hf_cpu_budgets``
given as '2.5Gps': the same on every machine, so the same budget buys the same points
whatever the timings). Contract (tests/data/test_allocations.py, over every entry and unit):
the splits of growing budgets are nested, validation lies inside the budget, train and
validation are disjoint, a CPU budget is never overspent, and the same arguments give
the same points; the test set is never touched.

To add a strategy: write its module here and add its function to ``ALLOCATIONS``, or register it
from a module of your own (:func:`register_allocation`, and that module in the
configuration's ``plugins``).

* ``spread``: the seed's point budgets (sabr.data.budgets.budget_points): the first
  points of the seed's order, spread over thetas, maturities and strikes. In CPU-seconds:
  the longest prefix of the same order that the budget pays for.
* ``surfaces``: whole surfaces (every valid point of a theta) for as many thetas as the
  budget pays for, thetas in a stratified order (the points of a scrambled Sobol sequence
  over the parameter box, Owen 1998, each take in turn the nearest pool theta left, so a
  prefix of the order covers the box evenly); validation by theta. CPU-seconds only.
* ``random``: as ``surfaces``, thetas in a uniformly random permutation of the pool, a
  different one per seed from a stream of its own (base.random_theta_order, not the Sobol
  one): a prefix is a simple random sample of the pool's thetas, the plain baseline that
  ``adaptive`` is judged against beside ``surfaces``. CPU-seconds only.
* ``paths/D`` (D = 2, 4, 8, 16; ``paths`` is ``paths/4``): as ``surfaces``, but each
  surface labelled by the first 1/D of its run's paths (recorded at generation,
  sabr.numerics.montecarlo.prefix_paths), at about 1/D of the CPU-seconds, so about D
  times as many thetas; the labels' standard errors are about sqrt(D) times larger. The
  test set keeps its full-path labels. CPU-seconds only.
* ``adaptive``: as ``surfaces``, thetas in the order they were bought round by round
  (``order``): the first round's are the ``surfaces`` order's, each later round's where a
  deep ensemble trained on the earlier rounds disagrees most per CPU-second
  (sabr.data.allocations.acquisition). The order comes from the flow's acquisition tasks; it never
  holds a test theta. CPU-seconds only.
* ``adaptive/spread``: the same from the seed's spread points: round 1 is ``spread``'s,
  later rounds add the points already simulated (free) and maturity rows of thetas where
  the ensemble disagrees most per incremental CPU-second (sabr.data.allocations.acquisition_points).
  CPU-seconds only."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...budget_labels import (ALLOCATION_NAMES, POINT_BUDGETS, budget_name, cell_label,
                              cpu_budget_label, is_cell_label, parse_allocation,
                              parse_cell_label, parse_cpu_budget, parse_hf_budget)
from ..costs import hf_cost
from .adaptive import adaptive
from .base import (UNITS, Allocation, Unit, cost_key, need_costs, random_theta_order, theta_order,
                   whole_surfaces)
from .paths import paths
from .random_surfaces import random_surfaces
from .spread import spread
from .surfaces import surfaces

__all__ = ["Allocation", "ALLOCATIONS", "UNITS", "allocate", "spread", "surfaces", "paths",
           "adaptive", "random_surfaces", "register_allocation", "whole_surfaces",
           "theta_order", "random_theta_order",
           "parse_cpu_budget", "cpu_budget_label", "cell_label", "parse_cell_label",
           "pool_cpu_seconds", "pool_cost", "resolve_cpu_budget", "resolve_budget",
           "cell_allocation", "budget_name", "POINT_BUDGETS"]

ALLOCATIONS: dict[str, Callable[..., Allocation]] = {"spread": spread, "surfaces": surfaces,
                                                     "random": random_surfaces,
                                                     "paths": paths, "adaptive": adaptive}
assert tuple(ALLOCATIONS) == tuple(ALLOCATION_NAMES), "sabr.budget_labels names every strategy"



def register_allocation(name: str, strategy: Callable[..., Allocation]) -> None:
    """Add an allocation strategy spending CPU-second budgets, from a module of your own
    named in the configuration's ``plugins`` (sabr.plugins, so that every process of a run
    registers it): ``strategy(dataset, budget, seed, *, unit, validation_fraction)`` returns
    the :class:`Allocation` of ``budget`` CPU-seconds (:func:`whole_surfaces` buys whole
    surfaces in an order of your choosing) and must keep the contract in the module doc.
    Registering the same function again changes nothing; ValueError (one line) for a name
    taken or not a plain lower-case word."""
    if ALLOCATIONS.get(name) is strategy:
        return
    if name in ALLOCATIONS or not name.replace("_", "").isalpha() or not name.islower():
        raise ValueError(f"allocation {name!r} cannot be registered: allowed a new lower-case "
                         f"name of letters and '_', not one of {list(ALLOCATIONS)}")
    ALLOCATIONS[name] = strategy
    ALLOCATION_NAMES.append(name)


def allocate(strategy: str, dataset, budget, seed: int, *, unit: Unit = "points",
             validation_fraction: float = 0.2, order=None) -> Allocation:
    """Run the named strategy ('paths/8' names paths with its divisor, 'adaptive/spread'
    adaptive with its start); an unknown name or unit is a ValueError listing the known
    ones. ``order``: what an adaptive cell's rounds bought (refused for the other
    strategies, which fix their own order)."""
    base, variant = parse_allocation(strategy)
    fn = ALLOCATIONS[base]
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r} is invalid: allowed one of {list(UNITS)}")
    extra = {"divisor": variant} if base == "paths" else {}
    if base == "adaptive":
        extra.update(order=order, start=variant or "surfaces")
    elif order is not None:
        raise ValueError(f"order is not applied by allocation {strategy!r}: allowed only with "
                         f"'adaptive'")
    return fn(dataset, budget, seed, unit=unit, validation_fraction=validation_fraction, **extra)


def pool_cost(dataset, unit: str = "cpu_seconds") -> float:
    """The Monte Carlo cost of every train-pool theta's whole surface, in CPU-seconds or
    path-steps (``unit``, sabr.data.costs.COST_UNITS)."""
    need_costs(dataset, "a percentage CPU budget" if unit == "cpu_seconds" else "the pool",
               unit)
    n, m, k = dataset.shape
    pool = np.asarray(dataset.train_thetas)
    points = pool[:, None] * (m * k) + np.arange(m * k)[None, :]
    return hf_cost(dataset, points[dataset.valid.reshape(n, m * k)[pool]])[cost_key(unit)]


def pool_cpu_seconds(dataset) -> float:
    """The Monte Carlo CPU-seconds of every train-pool theta's whole surface: what a
    percentage CPU budget is a percentage of."""
    return pool_cost(dataset, "cpu_seconds")


def resolve_budget(dataset, value) -> tuple[float, str]:
    """An HF cost budget for this data set as (amount, unit): CPU-seconds (a percentage of
    pool_cpu_seconds included) with unit 'cpu_seconds', or path-steps with unit
    'path_steps' (sabr.budget_labels.parse_hf_budget)."""
    amount, unit = parse_hf_budget(value)
    if unit == "fraction":
        return amount * pool_cpu_seconds(dataset), "cpu_seconds"
    return amount, unit


def resolve_cpu_budget(dataset, value) -> float:
    """A CPU budget in seconds for this data set (a percentage of pool_cpu_seconds);
    ValueError (one line) for a budget in path-steps, which has no seconds
    (:func:`resolve_budget`)."""
    amount, unit = resolve_budget(dataset, value)
    if unit != "cpu_seconds":
        raise ValueError(f"hf_cpu_budget={value!r} is in path-steps, not CPU-seconds: allowed "
                         f"here seconds ('120s') or a percentage ('5%'); resolve_budget reads both")
    return amount


def cell_allocation(dataset, budget, seed: int, *, validation_fraction: float = 0.2,
                    order=None) -> Allocation:
    """What a cell of the flow trains on: a point budget (an int: the seed's ``spread``
    axis, sabr.data.budgets.budget_points) or a CPU-budget cell's label
    ('surfaces@120s', 'spread@5%', 'paths/4@2.5Gps': path-steps)."""
    if is_cell_label(budget):
        allocation, value = parse_cell_label(budget)
        amount, unit = resolve_budget(dataset, value)
        return allocate(allocation, dataset, amount, seed, unit=unit,
                        validation_fraction=validation_fraction, order=order)
    return allocate("spread", dataset, int(budget), seed, unit="points",
                    validation_fraction=validation_fraction)

