"""Allocation strategies: how a cell's HF budget is spent on points of the pool.

A strategy is ``(dataset, budget, seed, *, unit, validation_fraction) -> Allocation``:
the budget's train / validation points (a sabr.data.budgets.BudgetSplit), the Monte
Carlo paths behind their labels, and their HF cost (sabr.data.costs.hf_cost). A budget
is counted in ``unit``: ``"points"`` (the seed's axis, ``hf_budgets``) or
``"cpu_seconds"`` (Monte Carlo CPU-seconds, ``hf_cpu_budgets``; docs/DESIGN.md, "What
HF data costs"). Contract (tests/data/test_allocations.py, over every entry and unit):
the splits of growing budgets are nested, validation lies inside the budget, train and
validation are disjoint, a CPU budget is never overspent, and the same arguments give
the same points; the test set is never touched.

To add a strategy: write its function here and add it to ``ALLOCATIONS``, or register it
from a module of your own (:func:`register_allocation`, and that module in the
configuration's ``plugins``).

* ``spread``: the seed's point budgets (sabr.data.budgets.budget_points): the first
  points of the seed's order, spread over thetas, maturities and strikes. In CPU-seconds:
  the longest prefix of the same order that the budget pays for.
* ``surfaces``: whole surfaces (every valid point of a theta) for as many thetas as the
  budget pays for, thetas in a stratified order (the points of a scrambled Sobol sequence
  over the parameter box, Owen 1998, each take in turn the nearest pool theta left, so a
  prefix of the order covers the box evenly); validation by theta. CPU-seconds only.
* ``paths/D`` (D = 2, 4, 8, 16; ``paths`` is ``paths/4``): as ``surfaces``, but each
  surface labelled by the first 1/D of its run's paths (recorded at generation,
  sabr.numerics.montecarlo.prefix_paths), at about 1/D of the CPU-seconds, so about D
  times as many thetas; the labels' standard errors are about sqrt(D) times larger. The
  test set keeps its full-path labels. CPU-seconds only.
* ``adaptive``: as ``surfaces``, thetas in the order they were bought round by round
  (``order``): the first round's are the ``surfaces`` order's, each later round's where a
  deep ensemble trained on the earlier rounds disagrees most per CPU-second
  (sabr.data.acquisition). The order comes from the flow's acquisition tasks; it never
  holds a test theta. CPU-seconds only.
* ``adaptive/spread``: the same from the seed's spread points: round 1 is ``spread``'s,
  later rounds add the points already simulated (free) and maturity rows of thetas where
  the ensemble disagrees most per incremental CPU-second (sabr.data.acquisition_points).
  CPU-seconds only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Literal

import numpy as np

from ..budget_labels import (ALLOCATION_NAMES, MIN_PREFIX_PATHS, PATH_DIVISORS, POINT_BUDGETS,
                             budget_name,
                             cell_label, cpu_budget_label, is_cell_label, parse_allocation,
                             parse_cell_label, parse_cpu_budget)
from .budgets import TUNING_REPLICATE, BudgetSplit, _rng, budget_points, make_split, point_order
from .costs import hf_cost

__all__ = ["Allocation", "ALLOCATIONS", "UNITS", "allocate", "spread", "surfaces", "paths",
           "adaptive", "surface_points", "register_allocation", "whole_surfaces",
           "theta_order", "parse_cpu_budget", "cpu_budget_label", "cell_label", "parse_cell_label",
           "pool_cpu_seconds", "resolve_cpu_budget", "cell_allocation", "budget_name"]

Unit = Literal["points", "cpu_seconds"]
UNITS = ("points", "cpu_seconds")
_THETA_STREAM = 21


@dataclass(frozen=True)
class Allocation:
    """A budget's points, the Monte Carlo paths behind their labels, and what they cost.

    ``level``: None when the labels are the data set's own (every path), else the index
    into ``dataset.prefix_paths`` of the prefix they come from (``paths``)."""

    split: BudgetSplit
    n_hf_thetas: int
    hf_cpu_seconds: float
    n_paths: int
    level: int | None = None

    @property
    def train(self):
        return self.split.train

    @property
    def val(self):
        return self.split.val

    def labelled(self, dataset):
        """The data set with this allocation's HF labels (and standard errors) on the train
        pool: itself for full-path labels; for prefix labels, a copy whose train-pool
        surfaces come from the prefix. Test thetas keep their full-path labels."""
        if self.level is None:
            return dataset
        pool = np.asarray(dataset.train_thetas)
        hf, se = dataset.hf.copy(), dataset.hf_se.copy()
        hf[pool] = dataset.hf_prefix[pool, self.level]
        se[pool] = dataset.hf_se_prefix[pool, self.level]
        return replace(dataset, hf=hf, hf_se=se)


def _paths(dataset) -> int:
    return int(dataset.meta.get("config", {}).get("mc_paths", 0))


def _need_costs(dataset, strategy: str) -> None:
    if dataset.hf_cpu_seconds is None or not np.all(np.isfinite(dataset.hf_cpu_seconds)):
        raise ValueError(f"allocation={strategy!r} with a CPU-second budget is invalid for this "
                         f"data set: it has no recorded Monte Carlo CPU-seconds; allowed a data set "
                         f"built by this version (build it again)")


def _allocation(dataset, split: BudgetSplit, level: int | None = None) -> Allocation:
    paths = _paths(dataset) if level is None else int(dataset.prefix_paths[level])
    return Allocation(split, **hf_cost(dataset, split.all, level=level), n_paths=paths,
                      level=level)


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
    return whole_surfaces("surfaces", dataset, budget, seed, unit, validation_fraction, None)


def paths(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
          validation_fraction: float = 0.2, divisor: int = 4) -> Allocation:
    """As :func:`surfaces`, with every surface labelled by the first 1/``divisor`` of its
    run's paths and costed at what such a run costs (``Dataset.hf_cpu_seconds_prefix``);
    a point is used where its prefix label is finite too."""
    name = f"paths/{divisor}"
    if divisor not in PATH_DIVISORS:
        raise ValueError(f"allocation={name!r} is invalid: allowed paths/D with D in "
                         f"{list(PATH_DIVISORS)}")
    if dataset.hf_prefix is None or dataset.hf_cpu_seconds_prefix is None:
        raise ValueError(f"allocation={name!r} is invalid for this data set: it has no labels "
                         f"from a prefix of the paths; allowed a data set built by this "
                         f"version (build it again)")
    want = 2 * round(_paths(dataset) / (2 * divisor))
    found = np.flatnonzero(np.asarray(dataset.prefix_paths) == want)
    if not found.size:
        raise ValueError(f"allocation={name!r} is invalid for this data set: its runs record "
                         f"labels at {np.asarray(dataset.prefix_paths).tolist()} paths, not "
                         f"{want}; allowed data_gen_config.mc_paths >= "
                         f"{MIN_PREFIX_PATHS * divisor}")
    return whole_surfaces(name, dataset, budget, seed, unit, validation_fraction,
                           int(found[0]))


def adaptive(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
             validation_fraction: float = 0.2, order=None, start: str = "surfaces") -> Allocation:
    """``start='surfaces'`` (``adaptive``): as :func:`surfaces`, thetas in ``order``: the
    train-pool thetas in the order the rounds bought them (sabr.data.acquisition); the
    validation thetas are picked by position in that order as in :func:`surfaces`, so
    rounds are nested. ``start='spread'`` (``adaptive/spread``): ``order`` is
    {'spread_points', 'rows'} (sabr.data.acquisition_points): the longest prefix of its
    points that ``budget`` pays for, validation by theta after round 1 (sabr.data.row_orders)."""
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
    if unit != "cpu_seconds":
        raise ValueError("allocation 'adaptive/spread' is invalid with point budgets "
                         "(hf_budgets): allowed CPU-second budgets (hf_cpu_budgets)")
    _need_costs(dataset, "adaptive/spread")
    points, flags, spent = expand_order(dataset, seed, order, validation_fraction)
    # running sums and hf_cost add in different orders: a budget equal to a prefix's cost
    # (a round that bought only free points) must pay for that prefix
    count = int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))
    head, is_val = points[:count], flags[:count]
    if not is_val.any() or is_val.all():
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation 'adaptive/spread': "
                         f"it pays for {count} points, not one train and one validation point")
    return _allocation(dataset, make_split(dataset, head[~is_val], head[is_val]))


def whole_surfaces(name, dataset, budget, seed, unit, validation_fraction, level=None,
                   order=None) -> Allocation:
    """Whole surfaces of the thetas in ``order`` (default: the seed's stratified order,
    :func:`theta_order`), as many as ``budget`` CPU-seconds pay for, their labels from the
    prefix ``level`` of the paths (None: every path); validation thetas by position, as
    :func:`surfaces` says. ``name`` names the strategy in errors."""
    if unit != "cpu_seconds":
        raise ValueError(f"allocation {name!r} is invalid with point budgets (hf_budgets): "
                         "allowed CPU-second budgets (hf_cpu_budgets)")
    _need_costs(dataset, name)
    order = theta_order(dataset, seed) if order is None else order
    n, m, k = dataset.shape
    valid = dataset.valid
    if level is not None:
        valid = (valid & np.isfinite(dataset.hf_prefix[:, level])
                 & np.isfinite(dataset.hf_se_prefix[:, level]))
    valid = valid.reshape(n, m * k)
    order = order[valid[order].any(axis=1)]
    pts = [t * m * k + np.flatnonzero(valid[t]) for t in order]      # each theta's surface
    spent = np.cumsum([hf_cost(dataset, p, level=level)["hf_cpu_seconds"] for p in pts])
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
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation {name!r}: it pays "
                         f"for {count} surfaces, not one train and one validation surface; "
                         f"allowed at least {spent[first]:.3g} s")
    pts = pts[:count]
    train = np.concatenate([p for p, v in zip(pts, flags) if not v])
    val = np.concatenate([p for p, v in zip(pts, flags) if v])
    labels = "" if level is None else f"paths={int(dataset.prefix_paths[level])}"
    return _allocation(dataset, make_split(dataset, train, val, labels=labels), level)


ALLOCATIONS: dict[str, Callable[..., Allocation]] = {"spread": spread, "surfaces": surfaces,
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


def cell_allocation(dataset, budget, seed: int, *, validation_fraction: float = 0.2,
                    order=None) -> Allocation:
    """What a cell of the flow trains on: a point budget (an int: the seed's ``spread``
    axis, sabr.data.budgets.budget_points) or a CPU-budget cell's label
    ('surfaces@120s', 'spread@5%')."""
    if is_cell_label(budget):
        allocation, value = parse_cell_label(budget)
        return allocate(allocation, dataset, resolve_cpu_budget(dataset, value), seed,
                        unit="cpu_seconds", validation_fraction=validation_fraction, order=order)
    return allocate("spread", dataset, int(budget), seed, unit="points",
                    validation_fraction=validation_fraction)
