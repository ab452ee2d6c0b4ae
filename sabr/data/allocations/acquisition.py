"""Adaptive allocation: which thetas each round of ``adaptive`` buys (docs/DESIGN.md,
"Allocation strategies"; sabr.data.allocations.adaptive).

Round 1 buys the ``surfaces`` order's first thetas, as many as the smallest CPU budget
pays for (:func:`first_round`). Every later round trains a deep ensemble (Lakshminarayanan,
Pritzel & Blundell 2017) on what was bought so far, and the ensemble scores every train-pool
theta not yet bought from its LF surface alone (its members' predictions need no HF label):
the disagreement of the members, their sample variance summed over the theta's valid grid
points (query by committee, Seung, Opper & Sompolinsky 1992, integrated over the surface as
in integrated-variance active learning, Cohn 1996), divided by the Monte Carlo CPU-seconds
of that theta's whole-surface run: disagreement bought per CPU-second
(:func:`integrated_disagreement`). :func:`select_batch` then fills the round's budget
greedily, best score first, skipping a theta closer than ``min_distance`` (in the pool's
unit box) to one already chosen in the batch, so a batch is not a cluster of near
duplicates; a second pass without that rule spends what the first left. Test thetas are
never candidates: the candidates are the train pool's, and scoring uses no HF label.
"""
from __future__ import annotations

import numpy as np

from ..costs import COST_UNITS, hf_cost

__all__ = ["surface_points", "theta_costs", "unit_box", "default_min_distance",
           "integrated_disagreement", "select_batch", "first_round", "next_round",
           "candidate_points"]


def surface_points(dataset, theta: int) -> np.ndarray:
    """Flat indices of theta's valid grid points (what a whole-surface cell labels)."""
    n, m, k = dataset.shape
    return int(theta) * m * k + np.flatnonzero(dataset.valid.reshape(n, m * k)[int(theta)])


def theta_costs(dataset, thetas, unit: str = "cpu_seconds") -> np.ndarray:
    """CPU-seconds (or path-steps, ``unit`` 'path_steps') of each theta's whole-surface run
    (sabr.data.costs.hf_cost)."""
    return np.array([hf_cost(dataset, surface_points(dataset, t))[COST_UNITS[unit]]
                     for t in np.asarray(thetas, np.int64)], float)


def unit_box(dataset) -> np.ndarray:
    """Every theta's parameters scaled to [0, 1] over the train pool's range (a fixed
    parameter, such as beta in some boxes, is dropped)."""
    x = np.asarray(dataset.thetas, float)
    pool = x[np.asarray(dataset.train_thetas)]
    lo, span = pool.min(axis=0), pool.max(axis=0) - pool.min(axis=0)
    free = span > 0
    return (x[:, free] - lo[free]) / span[free]


def default_min_distance(dataset) -> float:
    """Half the median distance from a train-pool theta to its nearest neighbour in the
    unit box: two thetas closer than that are near duplicates at the pool's own density."""
    from scipy.spatial import cKDTree
    u = unit_box(dataset)[np.asarray(dataset.train_thetas)]
    if len(u) < 2:
        return 0.0
    dist, _ = cKDTree(u).query(u, k=2)
    return 0.5 * float(np.median(dist[:, 1]))


def candidate_points(dataset, bought) -> tuple[np.ndarray, np.ndarray]:
    """The train-pool thetas not yet bought, and the flat indices of all their valid points
    (what the ensemble scores)."""
    pool = np.asarray(dataset.train_thetas, np.int64)
    cand = np.setdiff1d(pool, np.asarray(bought, np.int64))
    n, m, k = dataset.shape
    valid = dataset.valid.reshape(n, m * k)
    cand = cand[valid[cand].any(axis=1)]
    pts = (cand[:, None] * (m * k) + np.arange(m * k)[None, :])[valid[cand]]
    return cand, pts


def integrated_disagreement(dataset, points, member_sigma) -> tuple[np.ndarray, np.ndarray]:
    """Per theta among ``points``: the members' sample variance (ddof 1) of their predicted
    vols, summed over the theta's points. ``member_sigma``: (M, n) vols, M >= 2.
    Returns (thetas, disagreement), thetas ascending."""
    member_sigma = np.asarray(member_sigma, float)
    if member_sigma.ndim != 2 or member_sigma.shape[0] < 2:
        raise ValueError(f"member_sigma of shape {member_sigma.shape} is invalid: allowed "
                         f"(M, n) with M >= 2 ensemble members")
    var = member_sigma.var(axis=0, ddof=1)
    theta = np.unravel_index(np.asarray(points, np.int64), dataset.shape)[0]
    thetas, inverse = np.unique(theta, return_inverse=True)
    return thetas, np.bincount(inverse, weights=var, minlength=thetas.size)


def select_batch(candidates, scores, costs, positions, budget: float,
                 min_distance: float) -> np.ndarray:
    """Thetas to buy, in buying order, whose costs sum to at most ``budget``.

    Greedy by ``scores`` (ties by theta index), skipping a theta that does not fit what is
    left or that lies within ``min_distance`` (Euclidean, rows of ``positions``) of one
    already chosen in this batch; then a second pass, without the distance rule, over what
    was skipped for it, while money is left."""
    candidates = np.asarray(candidates, np.int64)
    scores, costs = np.asarray(scores, float), np.asarray(costs, float)
    positions = np.asarray(positions, float)
    order = np.lexsort((candidates, -np.nan_to_num(scores, nan=-np.inf)))
    left, chosen, near = float(budget), [], []
    for i in order:
        if costs[i] > left:
            continue
        if chosen and min_distance > 0 and np.min(np.linalg.norm(
                positions[chosen] - positions[i], axis=1)) < min_distance:
            near.append(i)
            continue
        chosen.append(i)
        left -= costs[i]
    for i in near:
        if costs[i] <= left:
            chosen.append(i)
            left -= costs[i]
    return candidates[np.asarray(chosen, np.int64)] if chosen else np.zeros(0, np.int64)


def first_round(dataset, seed: int, budget: float, validation_fraction: float = 0.2, *,
                unit: str = "cpu_seconds") -> np.ndarray:
    """Round 1: the thetas ``surfaces`` buys at ``budget`` CPU-seconds (path-steps with
    ``unit`` 'path_steps'), in its order."""
    from .base import theta_order
    from .surfaces import surfaces
    alloc = surfaces(dataset, budget, seed, unit=unit, validation_fraction=validation_fraction)
    bought = set(np.unravel_index(alloc.split.all, dataset.shape)[0].tolist())
    return np.array([t for t in theta_order(dataset, seed) if t in bought], np.int64)


def next_round(dataset, order, budget: float, thetas, disagreement,
               min_distance: float | None = None, *, unit: str = "cpu_seconds") -> np.ndarray:
    """The order after one more round: ``order`` (the thetas bought so far) followed by
    the batch that the rest of ``budget`` (CPU-seconds, the round's whole budget; path-steps
    with ``unit`` 'path_steps') buys, scored by ``disagreement`` (per theta of ``thetas``,
    the candidates the previous round's ensemble scored; :func:`integrated_disagreement`)
    per CPU-second (per path-step: then no timing decides what is bought)."""
    order = np.asarray(order, np.int64)
    thetas = np.asarray(thetas, np.int64)
    if np.intersect1d(thetas, order).size or np.setdiff1d(
            thetas, np.asarray(dataset.train_thetas)).size:
        raise ValueError("thetas are invalid: allowed train-pool thetas not bought yet")
    spent = float(np.cumsum(theta_costs(dataset, order, unit))[-1]) if order.size else 0.0
    costs = theta_costs(dataset, thetas, unit)
    scores = np.asarray(disagreement, float) / np.maximum(costs, 1e-12)
    gap = default_min_distance(dataset) if min_distance is None else float(min_distance)
    batch = select_batch(thetas, scores, costs, unit_box(dataset)[thetas], budget - spent, gap)
    out = np.concatenate([order, batch])
    # what the allocation will count: the prefix whose running cost fits (float sums agree)
    fits = int(np.searchsorted(np.cumsum(theta_costs(dataset, out, unit)), budget, side="right"))
    return out[:max(fits, order.size)]
