"""Nested HF budgets: one stratified random order of the train pool's points per seed.

A budget counts HF-labelled points (theta, K, T) a model may see, validation
included (shared/DESIGN.md section 1). For each seed the pool's points are put
in one order and budget b takes the first b, so budgets are nested and every
model sees the same points for the same (budget, seed).

The order is stratified twice:

* **over thetas**, round robin: in round r every pool theta (in a random order)
  contributes its r-th point, so for b <= number of pool thetas no theta gets
  two points;
* **over the (T, K) grid**: the C = M * K grid cells are ordered by a scrambled
  2-d Sobol sequence (each Sobol point assigned to its own cell by
  ``scipy.optimize.linear_sum_assignment``), so any run of consecutive cells in
  that order covers the grid evenly. Theta t takes cell number (t + r s) mod C
  in round r, with a stride s >= the number of thetas (up to C) coprime to C:
  one round's cells are a consecutive run (spread over the grid), and a theta
  never repeats a cell.

Inside a budget, position i of the order is a validation point when
floor((i+1) f + u) > floor(i f + u) (f the validation fraction, u a random
phase): exactly a fraction f of any prefix, up to one point, and nested too.
Points whose HF vol is not finite are skipped (a theta's sequence moves on to
its next valid cell).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import qmc

from .io import hash_bytes

__all__ = ["BudgetSplit", "point_order", "budget_points", "grid_cell_order"]

_ORDER_STREAM = 11


@dataclass(frozen=True)
class BudgetSplit:
    """The HF points of one (budget, seed): flat point indices into the data set's (N, M, K)."""

    train: np.ndarray
    val: np.ndarray
    hash: str

    @property
    def all(self) -> np.ndarray:
        return np.concatenate([self.train, self.val])


def grid_cell_order(n_maturities: int, n_strikes: int, rng: np.random.Generator) -> np.ndarray:
    """Cells 0..M*K-1 (cell = m * K + k) in an order whose consecutive runs spread over the grid."""
    c = n_maturities * n_strikes
    pts = qmc.Sobol(d=2, scramble=True, rng=rng).random(2 ** math.ceil(math.log2(c)))[:c]
    centres = np.stack(np.meshgrid((np.arange(n_maturities) + 0.5) / n_maturities,
                                   (np.arange(n_strikes) + 0.5) / n_strikes,
                                   indexing="ij"), axis=-1).reshape(c, 2)
    cost = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    _, cells = linear_sum_assignment(cost)     # Sobol point i -> its own cell
    return cells


def _stride(n_thetas: int, n_cells: int) -> int:
    s = max(1, min(n_thetas, n_cells - 1))
    while math.gcd(s, n_cells) != 1:
        s += 1
    return s


def point_order(dataset, seed: int, validation_fraction: float = 0.2
                ) -> tuple[np.ndarray, np.ndarray]:
    """The seed's order of every valid train-pool point, and its validation flags.

    Args:
        dataset: a :class:`sabr.dataset.Dataset`.
        seed: the seed index (0, 1, ...); with the data set's master seed it fixes the order.
        validation_fraction: share of any prefix flagged for validation.
    Returns:
        (points, is_val): flat point indices in order, and bool flags of the same length.
    """
    master = int(dataset.meta.get("config", {}).get("master_seed", 0))
    rng = np.random.default_rng(np.random.SeedSequence([master, _ORDER_STREAM, int(seed)]))
    n, m, k = dataset.shape
    c = m * k
    thetas = rng.permutation(dataset.train_thetas)
    p = thetas.size
    cells = grid_cell_order(m, k, rng)
    s = _stride(p, c)
    rounds = np.arange(c)
    seq = cells[(np.arange(p)[:, None] + rounds[None, :] * s) % c]       # (P, C) cells per theta
    pts = thetas[:, None] * c + seq
    valid = dataset.valid.ravel()[pts]
    rank = np.cumsum(valid, axis=1) - 1                                  # round of each valid point
    t_idx = np.broadcast_to(np.arange(p)[:, None], pts.shape)
    order = np.lexsort((t_idx[valid], rank[valid]))                      # by round, then theta
    points = pts[valid][order]
    f = float(validation_fraction)
    phase = rng.random()
    i = np.arange(points.size)
    is_val = np.floor((i + 1) * f + phase) > np.floor(i * f + phase)
    return points, is_val


def budget_points(dataset, budget: int, seed: int, *, validation_fraction: float = 0.2
                  ) -> BudgetSplit:
    """The first ``budget`` points of the seed's order, split into train / validation.

    Args:
        dataset: a :class:`sabr.dataset.Dataset`.
        budget: HF points the cell may see, validation included.
        seed: seed index.
        validation_fraction: share of the budget used for validation (default 0.2).
    Returns:
        BudgetSplit(train, val, hash) with sorted flat point indices; the hash identifies
        the exact subset (the analysis refuses to pair cells whose hashes differ).
    Raises:
        ValueError if the budget exceeds the pool or leaves no train or no validation point.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction={validation_fraction} is invalid: allowed 0 < f < 1")
    points, is_val = point_order(dataset, seed, validation_fraction)
    if not isinstance(budget, (int, np.integer)) or budget < 2 or budget > points.size:
        raise ValueError(f"budget={budget!r} is invalid: allowed an integer in [2, {points.size}] "
                         f"(the train pool's valid points)")
    head, flags = points[:budget], is_val[:budget]
    train, val = np.sort(head[~flags]), np.sort(head[flags])
    if train.size == 0 or val.size == 0:
        raise ValueError(f"budget={budget} is invalid: it leaves {train.size} train and {val.size} "
                         f"validation points; allowed a budget with both")
    digest = hash_bytes(dataset.content_hash.encode(), train.astype("<i8").tobytes(), b"|",
                        val.astype("<i8").tobytes())[:16]
    return BudgetSplit(train, val, digest)
