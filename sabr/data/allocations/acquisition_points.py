"""Adaptive allocation from the seed's spread points: ``adaptive/spread`` (docs/DESIGN.md,
"Allocation strategies"; the theta-by-theta variant is sabr.data.allocations.acquisition).

Round 1 buys what ``spread`` buys at the smallest CPU budget: the longest prefix of the
seed's point order that it pays for (sabr.data.allocations.spread), so round 1 is the seed's
design. Later rounds buy **maturity rows**. One Monte Carlo run of theta to maturity T_j
labels every strike of every maturity up to T_j (sabr.data.costs), so what a round buys
is "theta t up to maturity j" and its price is incremental: cpu[t, j] - cpu[t, p], where p
is the longest maturity of t already paid for (nothing if none). Points of t up to p cost
nothing: the run that labelled t's earlier points simulated them already. So every later
round first takes those free points, then fills its budget greedily with the extension
(t, j) whose ensemble disagreement per CPU-second is largest: the members' variance summed
over the points the extension adds (query by committee, Seung, Opper & Sompolinsky 1992,
integrated as in Cohn 1996; :func:`row_disagreement`), divided by its incremental price. A
theta paid for in a batch is skipped while it lies within ``min_distance`` (unit box) of
another paid for in the same batch (diversity; sabr.data.allocations.acquisition.default_min_distance),
then a second pass spends what is left without that rule. A validation theta (all its
points flagged for validation: sabr.data.allocations.row_orders) takes its free points but is never
extended: the ensemble does not train on it, so it disagrees there most, and a paid row
there would buy validation labels, not training data.

An order is ``{"spread_points": n, "rows": [[t, j], ...]}``: the spread prefix's length
and the extensions in buying order; sabr.data.allocations.row_orders turns it into points and
validation flags. Test thetas are never candidates and an order naming one is refused.
"""
from __future__ import annotations

import numpy as np

from .row_orders import check_order, expand_order, nth_new_theta_validates

__all__ = ["first_spread_round", "expand_order", "check_order", "unbought_points",
           "row_disagreement", "next_spread_round"]


def first_spread_round(dataset, seed: int, budget: float, validation_fraction: float = 0.2,
                       *, unit: str = "cpu_seconds") -> dict:
    """Round 1: the points ``spread`` buys at ``budget`` CPU-seconds (path-steps with
    ``unit`` 'path_steps'; a prefix of the seed's point order)."""
    from .spread import spread
    alloc = spread(dataset, budget, seed, unit=unit,
                   validation_fraction=validation_fraction)
    return {"spread_points": int(alloc.split.all.size), "rows": []}


def unbought_points(dataset, bought) -> np.ndarray:
    """Flat indices of every valid train-pool point not in ``bought`` (what the ensemble
    scores for the next round)."""
    n, m, k = dataset.shape
    pool = np.asarray(dataset.train_thetas, np.int64)
    pts = (pool[:, None] * (m * k) + np.arange(m * k)[None, :])[
        dataset.valid.reshape(n, m * k)[pool]]
    return np.setdiff1d(pts, np.asarray(bought, np.int64))


def row_disagreement(dataset, points, member_sigma) -> tuple[np.ndarray, np.ndarray]:
    """Per theta among ``points``: the members' sample variance (ddof 1) of their predicted
    vols summed over each maturity row. ``member_sigma``: (M, n), M >= 2. Returns (thetas
    ascending, rows of shape (len(thetas), n_maturities))."""
    member_sigma = np.asarray(member_sigma, float)
    if member_sigma.ndim != 2 or member_sigma.shape[0] < 2:
        raise ValueError(f"member_sigma of shape {member_sigma.shape} is invalid: allowed "
                         f"(M, n) with M >= 2 ensemble members")
    var = member_sigma.var(axis=0, ddof=1)
    theta, mat, _ = np.unravel_index(np.asarray(points, np.int64), dataset.shape)
    thetas, inverse = np.unique(theta, return_inverse=True)
    m = dataset.shape[1]
    rows = np.bincount(inverse * m + mat, weights=var, minlength=thetas.size * m)
    return thetas, rows.reshape(thetas.size, m)


def next_spread_round(dataset, seed: int, order, budget: float, thetas, rows,
                      validation_fraction: float = 0.2, min_distance: float | None = None,
                      *, unit: str = "cpu_seconds") -> dict:
    """The order after one more round: ``order`` followed by the free rows, then the
    extensions the rest of ``budget`` (the round's whole CPU budget) buys, scored by
    ``rows`` (per theta of ``thetas``: :func:`row_disagreement` of the previous round's
    ensemble) per incremental CPU-second (path-steps with ``unit`` 'path_steps', the
    budget's unit too). Returns {"order", "n_free" (points that cost nothing),
    "n_rows_paid" (extensions bought)}."""
    from ..costs import cost_table
    from .acquisition import default_min_distance, unit_box
    n1, done = check_order(dataset, order)
    thetas = np.asarray(thetas, np.int64)
    gain = np.array(rows, float).reshape(thetas.size, dataset.shape[1])
    if np.setdiff1d(thetas, np.asarray(dataset.train_thetas)).size:
        raise ValueError("thetas are invalid: allowed train-pool thetas (never a test theta)")
    points, flags, spent = expand_order(dataset, seed, order, validation_fraction, unit=unit)
    n, m, k = dataset.shape
    bought = np.zeros(n * m * k, bool)
    bought[points] = True
    seen = bought.reshape(n, m * k).any(axis=1)
    trains = np.zeros(n, bool)                    # thetas with a training point
    trains[points[~flags] // (m * k)] = True
    validation = seen & ~trains
    head_thetas = np.unique(points[:n1] // (m * k))
    n_new = int(seen.sum()) - head_thetas.size    # thetas first bought by a row so far
    left_pts = (dataset.valid.reshape(n, m * k) & ~bought.reshape(n, m * k))[thetas]
    count = left_pts.reshape(thetas.size, m, k).sum(axis=2)          # unbought valid per row
    gain[count == 0] = 0.0
    theta_of, mat_of, _ = np.unravel_index(points, dataset.shape)
    paid = np.full(n, -1, np.int64)
    np.maximum.at(paid, theta_of, mat_of)
    paid = paid[thetas]
    cpu = cost_table(dataset, unit)[thetas]
    left = float(budget) - (float(spent[-1]) if spent.size else 0.0)
    new_rows, n_free = [], 0
    # 1. free: what the runs already paid for simulated
    for i in np.flatnonzero(paid >= 0):
        if count[i, :paid[i] + 1].any():
            new_rows.append([int(thetas[i]), int(paid[i])])
            n_free += int(count[i, :paid[i] + 1].sum())
            gain[i, :paid[i] + 1] = 0.0
            count[i, :paid[i] + 1] = 0
    # 2. paid extensions, best disagreement per CPU-second first
    pos = unit_box(dataset)[thetas]
    gap = default_min_distance(dataset) if min_distance is None else float(min_distance)
    batch, near, n_paid = [], set(), 0
    for diverse in (True, False):
        while True:
            base = np.where(paid >= 0, cpu[np.arange(thetas.size), np.maximum(paid, 0)], 0.0)
            price = cpu - base[:, None]
            j_idx = np.arange(m)[None, :]
            has = np.cumsum(count, axis=1) > 0
            ok = ((j_idx > paid[:, None]) & has & (price <= left * (1 + 1e-12))
                  & ~validation[thetas][:, None])
            if diverse and near:
                ok[list(near)] = False
            if not ok.any():
                break
            ratio = np.where(ok, np.cumsum(gain, axis=1) / np.maximum(price, 1e-12), -np.inf)
            i, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            if diverse and gap > 0 and batch:
                others = [b for b in batch if b != i]
                if others and np.min(np.linalg.norm(pos[others] - pos[i], axis=1)) < gap:
                    near.add(int(i))
                    continue
            # the points it adds, and what they really cost (the longest maturity among them)
            top = int(np.flatnonzero(count[i, :j + 1])[-1])
            new_rows.append([int(thetas[i]), int(top)])
            if paid[i] < 0:                       # a new theta: validation or training for good
                validation[thetas[i]] = nth_new_theta_validates(n_new, validation_fraction)
                n_new += 1
            left -= float(cpu[i, top] - base[i])
            gain[i, :top + 1] = 0.0
            count[i, :top + 1] = 0
            paid[i] = max(paid[i], top)
            n_paid += 1
            if i not in batch:
                batch.append(int(i))
    out = {"spread_points": n1, "rows": done.tolist() + new_rows}
    return {"order": out, "n_free": n_free, "n_rows_paid": n_paid}
