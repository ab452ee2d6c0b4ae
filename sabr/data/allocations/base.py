"""What every allocation strategy shares: the :class:`Allocation` it returns, the seed's
stratified theta order and its uniformly random one, and whole surfaces bought in an order
(sabr.data.allocations)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..budgets import TUNING_REPLICATE, BudgetSplit, _rng, make_split
from ..costs import COST_UNITS, cost_table, hf_cost

__all__ = ["Allocation", "Unit", "UNITS", "theta_order", "random_theta_order", "whole_surfaces",
           "need_costs",
           "make_allocation", "data_paths", "COST_BUDGET_UNITS", "unit_words", "cost_key"]

Unit = Literal["points", "cpu_seconds", "path_steps"]
UNITS = ("points", "cpu_seconds", "path_steps")
COST_BUDGET_UNITS = ("cpu_seconds", "path_steps")
"""The units of an HF cost budget (sabr.data.costs.COST_UNITS): Monte Carlo CPU-seconds
(the machine's) or path-steps (the same on every machine)."""
_THETA_STREAM = 21
"""The stratified order's stream; ``_THETA_STREAM + 1`` draws the validation phase."""
_RANDOM_STREAM = 23
"""The uniformly random order's stream (``random``), apart from the Sobol one."""


@dataclass(frozen=True)
class Allocation:
    """A budget's points, the Monte Carlo paths behind their labels, and what they cost.

    ``level``: None when the labels are the data set's own (every path), else the index
    into ``dataset.prefix_paths`` of the prefix they come from (``paths``).
    ``hf_cpu_seconds`` and ``hf_path_steps``: their cost in both units (sabr.data.costs)."""

    split: BudgetSplit
    n_hf_thetas: int
    hf_cpu_seconds: float
    n_paths: int
    level: int | None = None
    hf_path_steps: float = float("nan")

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


def data_paths(dataset) -> int:
    """The Monte Carlo paths of the data set's runs (its configuration)."""
    return int(dataset.meta.get("config", {}).get("mc_paths", 0))


def unit_words(unit: str) -> str:
    """How errors name a cost unit's amounts: 's' or 'path-steps'."""
    return "path-steps" if unit == "path_steps" else "s"


def need_costs(dataset, strategy: str, unit: str = "cpu_seconds") -> None:
    """ValueError (one line) when the data set lacks the costs a budget in ``unit`` needs."""
    table = cost_table(dataset, unit)
    if table is not None and np.all(np.isfinite(table)):
        return
    if unit == "path_steps":
        raise ValueError(f"allocation={strategy!r} with a path-step budget is invalid for this "
                         f"data set: its runs' Monte Carlo path-steps are not known (its "
                         f"metadata.json has no hf_path_steps and its configuration's time grid "
                         f"does not reproduce its path_steps_per_surface); allowed a budget in "
                         f"CPU-seconds ('120s') or a percentage ('5%'), or the data set built "
                         f"again by this version")
    raise ValueError(f"allocation={strategy!r} with a CPU-second budget is invalid for this "
                     f"data set: it has no recorded Monte Carlo CPU-seconds; allowed a data set "
                     f"built by this version (build it again)")


def make_allocation(dataset, split: BudgetSplit, level: int | None = None) -> Allocation:
    paths = data_paths(dataset) if level is None else int(dataset.prefix_paths[level])
    return Allocation(split, **hf_cost(dataset, split.all, level=level), n_paths=paths,
                      level=level)


def cost_key(unit: str) -> str:
    return COST_UNITS[unit]


def _stream_rng(dataset, stream: int, seed: int) -> np.random.Generator:
    """The generator of a seed's theta order: SeedSequence([master seed, stream, seed]),
    the tuning replicate (TUNING_REPLICATE) as seed 2**31 - 1; the seed checked as
    sabr.data.budgets checks it (an integer >= 0 or TUNING_REPLICATE)."""
    _rng(dataset, seed)                              # the same check of the seed as budgets
    return np.random.default_rng(np.random.SeedSequence(
        [int(dataset.meta.get("config", {}).get("master_seed", 0)), int(stream),
         (2 ** 31 - 1) if int(seed) == TUNING_REPLICATE else int(seed)]))


def random_theta_order(dataset, seed: int) -> np.ndarray:
    """The train pool's thetas in a uniformly random order, the seed's own: a permutation
    drawn from its stream of the data set's master seed (apart from :func:`theta_order`'s
    Sobol stream), so every pool theta is equally likely at every position and a prefix
    is a simple random sample of the pool (``random``)."""
    return _stream_rng(dataset, _RANDOM_STREAM, seed).permutation(
        np.asarray(dataset.train_thetas, np.int64))


def theta_order(dataset, seed: int) -> np.ndarray:
    """The train pool's thetas in the seed's stratified order (see the module doc)."""
    from scipy.stats import qmc
    rng = _stream_rng(dataset, _THETA_STREAM, seed)
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


def whole_surfaces(name, dataset, budget, seed, unit, validation_fraction, level=None,
                   order=None) -> Allocation:
    """Whole surfaces of the thetas in ``order`` (default: the seed's stratified order,
    :func:`theta_order`), as many as ``budget`` (CPU-seconds, or path-steps with ``unit``
    'path_steps': then no timing decides a surface) pays for, their labels from the
    prefix ``level`` of the paths (None: every path); validation thetas by position, as
    :func:`surfaces` says. When the budget pays for the first surface of the order only,
    the first later surface the rest pays for completes the cell as its validation surface;
    the least budget that gives a cell is thus the first surface's cost plus the cheapest
    other's, the figure the error names. ``name`` names the strategy in errors."""
    if unit not in COST_BUDGET_UNITS:
        raise ValueError(f"allocation {name!r} is invalid with point budgets (hf_budgets): "
                         "allowed CPU-second budgets (hf_cpu_budgets)")
    need_costs(dataset, name, unit)
    order = theta_order(dataset, seed) if order is None else order
    n, m, k = dataset.shape
    valid = dataset.valid
    if level is not None:
        valid = (valid & np.isfinite(dataset.hf_prefix[:, level])
                 & np.isfinite(dataset.hf_se_prefix[:, level]))
    valid = valid.reshape(n, m * k)
    order = order[valid[order].any(axis=1)]
    pts = [t * m * k + np.flatnonzero(valid[t]) for t in order]      # each theta's surface
    cost = np.array([hf_cost(dataset, p, level=level)[cost_key(unit)] for p in pts])
    spent = np.cumsum(cost)
    count = int(np.searchsorted(spent, budget, side="right"))
    f = float(validation_fraction)
    # a random phase that puts the first validation theta second: two surfaces suffice
    phase = (1 - 2 * f + f * np.random.default_rng(np.random.SeedSequence(
        [int(dataset.meta.get("config", {}).get("master_seed", 0)), _THETA_STREAM + 1,
         max(int(seed), -1) + 1])).random()) % 1.0
    i = np.arange(order.size)
    flags = np.floor((i + 1) * f + phase) > np.floor(i * f + phase)
    take = np.arange(count)
    if count == 1 and order.size > 1:
        # the first surface (a train one) alone: the first later surface that the rest of
        # the budget pays for is the validation surface, so a seed whose order starts dear
        # still gets a cell at a budget other seeds fill with two surfaces
        fits = np.flatnonzero(cost[1:] <= budget - spent[0]) + 1
        if fits.size:
            take = np.array([0, fits[0]])
            flags = flags.copy()
            flags[fits[0]] = True
    if count < 1 or not flags[take].any() or flags[take].all():
        least = spent[0] + cost[1:].min() if order.size > 1 else np.inf
        raise ValueError(f"hf_cpu_budget={budget:g} is invalid for allocation {name!r}: it pays "
                         f"for {take.size} surfaces, not one train and one validation surface; "
                         f"allowed at least {least:.3g} {unit_words(unit)}")
    train = np.concatenate([pts[j] for j in take if not flags[j]])
    val = np.concatenate([pts[j] for j in take if flags[j]])
    labels = "" if level is None else f"paths={int(dataset.prefix_paths[level])}"
    return make_allocation(dataset, make_split(dataset, train, val, labels=labels), level)

