"""Nested HF budgets: one stratified random order of the train pool's points per seed.

A budget counts HF-labelled points (theta, K, T) a model may see, validation
included (docs/DESIGN.md, "HF budget"). For each seed the pool's
points are put in one order and budget b takes the first b, so budgets are
nested and every model sees the same points for the same (budget, seed).

The order is built point by point:

* **thetas, round robin**: in round r every pool theta (in a random order)
  contributes one point, so for b <= number of pool thetas no theta gets two
  points; a theta whose valid points are used up drops out of later rounds.
* **validation flags by position**: position i is a validation point when
  floor((i+1) f + u) > floor(i f + u) (f the validation fraction, u a random
  phase), so any prefix holds exactly a fraction f of validation points, up to
  one point, and budgets stay nested.
* **grid cells by two streams**: the C = M * K grid cells are ordered by a
  scrambled 2-d Sobol sequence (each Sobol point assigned to its own cell by
  ``scipy.optimize.linear_sum_assignment``), so any run of consecutive cells
  covers the grid evenly. Training points take the cells of that order one
  after the other, cycling; validation points take the same order in a stream
  of their own. So the first C training points are C distinct cells (all cells
  are trained once there are C training points: no cell is validation-only),
  and the validation points, which advance f / (1 - f) times as fast, sit on
  cells that training already covers, spread over the grid and over thetas.
  A cell that the theta at hand has already used, or whose HF vol is not
  finite there, is passed to the next point of the same stream (deferred), so
  a theta never repeats a cell and no invalid point is used.

The validation flags used to repeat with the grid order (theta t took cell
t mod C in round 0 and C was a multiple of 1/f), so a fixed fifth of the cells
was only ever validation; the two streams remove that aliasing.

Tuning uses a replicate of its own (``TUNING_REPLICATE``): an order drawn from
another random stream, of the same budget sizes and stratification, never one
of the reported seeds (docs/DESIGN.md, "Tuning").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..io import hash_bytes

__all__ = ["BudgetSplit", "point_order", "budget_points", "make_split", "grid_cell_order", "TUNING_REPLICATE",
           "replicate_name"]

_ORDER_STREAM = 11
_TUNING_STREAM = 12
TUNING_REPLICATE = -1
"""The seed index of the tuning replicate (reported seeds are 0, 1, ...)."""


def replicate_name(seed: int) -> str:
    """'s=3' for a reported seed, 'tuning' for the tuning replicate."""
    return "tuning" if int(seed) == TUNING_REPLICATE else f"s={int(seed)}"


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
    from scipy.optimize import linear_sum_assignment   # here: scipy takes a second to import
    from scipy.stats import qmc
    pts = qmc.Sobol(d=2, scramble=True, rng=rng).random(2 ** math.ceil(math.log2(c)))[:c]
    centres = np.stack(np.meshgrid((np.arange(n_maturities) + 0.5) / n_maturities,
                                   (np.arange(n_strikes) + 0.5) / n_strikes,
                                   indexing="ij"), axis=-1).reshape(c, 2)
    cost = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    _, cells = linear_sum_assignment(cost)     # Sobol point i -> its own cell
    return cells


class _Stream:
    """Cells in the grid order, cycling; cells a point could not take are owed to the next."""

    def __init__(self, n_cells: int):
        self.c, self.next, self.owed = n_cells, 0, []

    def take(self, free: bytearray) -> int:
        """The first owed cell, else the next cell of the order, with ``free[cell]`` set."""
        for i, cell in enumerate(self.owed):
            if free[cell]:
                del self.owed[i]
                return cell
        for _ in range(self.c):
            cell = self.next % self.c
            self.next += 1
            if free[cell]:
                return cell
            if cell not in self.owed:
                self.owed.append(cell)
        raise AssertionError("no free cell although the theta has one")   # unreachable


def _rng(dataset, seed: int) -> np.random.Generator:
    master = int(dataset.meta.get("config", {}).get("master_seed", 0))
    if int(seed) == TUNING_REPLICATE:
        return np.random.default_rng(np.random.SeedSequence([master, _TUNING_STREAM]))
    if int(seed) < 0:
        raise ValueError(f"seed={seed} is invalid: allowed an integer >= 0, or "
                         f"TUNING_REPLICATE ({TUNING_REPLICATE})")
    return np.random.default_rng(np.random.SeedSequence([master, _ORDER_STREAM, int(seed)]))


def point_order(dataset, seed: int, validation_fraction: float = 0.2, *,
                n_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The seed's order of the train pool's valid points, and its validation flags.

    Args:
        dataset: a :class:`sabr.data.dataset.Dataset`.
        seed: the seed index (0, 1, ...) or ``TUNING_REPLICATE``; with the data set's
            master seed it fixes the order.
        validation_fraction: share of any prefix flagged for validation.
        n_points: stop after this many points (the order's prefix; default: every valid
            point of the pool). A prefix does not depend on ``n_points``.
    Returns:
        (points, is_val): flat point indices in order, and bool flags of the same length.
    """
    rng = _rng(dataset, seed)
    n, m, k = dataset.shape
    c = m * k
    thetas = rng.permutation(dataset.train_thetas)
    cells = grid_cell_order(m, k, rng)                  # position in the order -> cell
    f = float(validation_fraction)
    phase = rng.random()
    valid = dataset.valid.reshape(n, c)[thetas][:, cells]          # (P, C) in order positions
    free = [bytearray(row.astype(np.uint8).tobytes()) for row in valid]
    left = valid.sum(axis=1)
    total = int(left.sum())
    limit = total if n_points is None else min(int(n_points), total)
    streams = (_Stream(c), _Stream(c))                  # train, validation
    points = np.empty(limit, np.int64)
    is_val = np.zeros(limit, bool)
    active = [t for t in range(thetas.size) if left[t] > 0]
    i = 0
    while i < limit:
        still = []
        for t in active:
            if i == limit:
                break
            flag = math.floor((i + 1) * f + phase) > math.floor(i * f + phase)
            pos = streams[flag].take(free[t])
            free[t][pos] = 0
            left[t] -= 1
            points[i] = thetas[t] * c + cells[pos]
            is_val[i] = flag
            i += 1
            if left[t] > 0:
                still.append(t)
        active = still
    return points, is_val


def budget_points(dataset, budget: int, seed: int, *, validation_fraction: float = 0.2
                  ) -> BudgetSplit:
    """The first ``budget`` points of the seed's order, split into train / validation.

    Args:
        dataset: a :class:`sabr.data.dataset.Dataset`.
        budget: HF points the cell may see, validation included.
        seed: seed index, or ``TUNING_REPLICATE`` for the tuning replicate.
        validation_fraction: share of the budget used for validation (default 0.2).
    Returns:
        BudgetSplit(train, val, hash) with sorted flat point indices; the hash identifies
        the exact subset (the analysis refuses to pair cells whose hashes differ).
    Raises:
        ValueError if the budget exceeds the pool or leaves no train or no validation point.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction={validation_fraction} is invalid: allowed 0 < f < 1")
    n_valid = int(dataset.valid[dataset.train_thetas].sum())
    if not isinstance(budget, (int, np.integer)) or budget < 2 or budget > n_valid:
        raise ValueError(f"budget={budget!r} is invalid: allowed an integer in [2, {n_valid}] "
                         f"(the train pool's valid points)")
    head, flags = point_order(dataset, seed, validation_fraction, n_points=int(budget))
    if flags.all() or not flags.any():
        raise ValueError(f"budget={budget} is invalid: it leaves {int((~flags).sum())} train and "
                         f"{int(flags.sum())} validation points; allowed a budget with both")
    return make_split(dataset, head[~flags], head[flags])


def make_split(dataset, train, val, *, labels: str = "") -> BudgetSplit:
    """A BudgetSplit of these points (sorted), with the hash that identifies the subset
    (and, when ``labels`` names other labels than the data set's own, which ones)."""
    train = np.sort(np.asarray(train, np.int64))
    val = np.sort(np.asarray(val, np.int64))
    digest = hash_bytes(dataset.content_hash.encode(), train.astype("<i8").tobytes(), b"|",
                        val.astype("<i8").tobytes(), *([b"|", labels.encode()] if labels else [])
                        )[:16]
    return BudgetSplit(train, val, digest)
