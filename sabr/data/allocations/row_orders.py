"""An ``adaptive/spread`` order and the points it stands for (sabr.data.allocations.acquisition_points
buys it; sabr.data.allocations.adaptive reads it; this module imports neither).

An order is ``{"spread_points": n, "rows": [[t, j], ...]}``: the first n points of the
seed's point order (sabr.data.budgets.point_order), then, per row (t, j) in buying order,
the valid points of theta t at maturities <= j not bought before, by (maturity, strike).

Validation: the first n points keep the seed's flags (round 1 is exactly ``spread``'s
cell). Every later point is flagged **by its theta**, as ``surfaces`` flags whole thetas: a
theta of the first n points is a validation theta when all its points there are
validation points; a theta first bought by a row is one when it is the i-th such theta
with floor((i + 1) f + 1/2) > floor(i f + 1/2), f the validation fraction. Flagging by
position instead put validation points on the rows the ensemble trains on, and the spread
scale fitted on them was too small for unseen thetas: 90 % intervals covered 36 % of the
test points (docs/RESULTS.md).
"""
from __future__ import annotations

import numpy as np

from ..budgets import point_order

__all__ = ["check_order", "expand_order", "nth_new_theta_validates"]


def check_order(dataset, order) -> tuple[int, np.ndarray]:
    """(spread_points, rows as an (r, 2) int array) of a checked order; ValueError (one
    line) unless it names train-pool thetas and maturity indices of the grid."""
    allowed = ("allowed {'spread_points': n >= 2, 'rows': [[train-pool theta, maturity "
               "index], ...]} (never a test theta)")
    if not isinstance(order, dict) or set(order) != {"spread_points", "rows"}:
        raise ValueError(f"allocation 'adaptive/spread' is invalid with order={order!r:.60}: "
                         f"{allowed}")
    n1 = order["spread_points"]
    rows = np.asarray(order["rows"], dtype=np.int64).reshape(-1, 2)
    m = dataset.shape[1]
    bad = (not isinstance(n1, (int, np.integer)) or n1 < 2
           or np.setdiff1d(rows[:, 0], np.asarray(dataset.train_thetas)).size > 0
           or ((rows[:, 1] < 0) | (rows[:, 1] >= m)).any())
    if bad:
        raise ValueError(f"allocation 'adaptive/spread' is invalid with order="
                         f"{ {'spread_points': n1, 'rows': rows[:4].tolist()} }...: {allowed}")
    return int(n1), rows


def expand_order(dataset, seed: int, order, validation_fraction: float = 0.2, *,
                 unit: str = "cpu_seconds") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order's points in buying order, their validation flags, and the HF CPU-seconds
    (path-steps with ``unit`` 'path_steps') spent once each point is bought (cumulative,
    never falling: the cost of every prefix).
    """
    n1, rows = check_order(dataset, order)
    head, head_flags = point_order(dataset, seed, validation_fraction, n_points=n1)
    n, m, k = dataset.shape
    bought = np.zeros(n * m * k, bool)
    bought[head] = True
    valid = dataset.valid.reshape(n, m * k)
    status = _head_theta_status(head // (m * k), head_flags)
    f, n_new = float(validation_fraction), 0   # n_new: thetas first bought by a row so far
    pieces, flags = [head], [np.asarray(head_flags, bool)]
    for t, j in rows:
        cols = np.flatnonzero(valid[t, :(j + 1) * k])
        new = t * m * k + cols
        new = new[~bought[new]]
        bought[new] = True
        if t not in status:                       # a theta first bought by a row
            status[t] = nth_new_theta_validates(n_new, f)
            n_new += 1
        pieces.append(new)
        flags.append(np.full(new.size, status[t]))
    points = np.concatenate(pieces).astype(np.int64)
    return points, np.concatenate(flags), _running_cost(dataset, points, unit)


def nth_new_theta_validates(i: int, validation_fraction: float) -> bool:
    """Whether the i-th theta (from 0) that a row buys first is a validation theta: f of
    them, spread evenly (floor((i + 1) f + 1/2) > floor(i f + 1/2))."""
    f = float(validation_fraction)
    return bool(np.floor((i + 1) * f + 0.5) > np.floor(i * f + 0.5))


def _head_theta_status(theta, flags) -> dict[int, bool]:
    """theta -> True for the thetas all of whose points among the first n are validation."""
    status: dict[int, bool] = {}
    for t, v in zip(np.asarray(theta).tolist(), np.asarray(flags, bool).tolist()):
        status[t] = status.get(t, True) and v
    return status


def _running_cost(dataset, points, unit: str = "cpu_seconds") -> np.ndarray:
    """CPU-seconds (or path-steps, ``unit``) of each prefix of ``points``
    (sabr.data.costs.hf_cost, incrementally)."""
    from ..costs import cost_table
    theta, mat, _ = np.unravel_index(points, dataset.shape)
    cpu = cost_table(dataset, unit)
    paid = {}
    out, total = np.empty(points.size), 0.0
    for i, (t, j) in enumerate(zip(theta.tolist(), mat.tolist())):
        before = paid.get(t, -1)
        if j > before:
            total += cpu[t, j] - (cpu[t, before] if before >= 0 else 0.0)
            paid[t] = j
        out[i] = total
    return out
