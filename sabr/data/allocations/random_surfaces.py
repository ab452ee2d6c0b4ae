"""``random``: whole surfaces, thetas in a uniformly random order, the seed's own
(sabr.data.allocations): the plain baseline an ``adaptive`` order is judged against, beside
``surfaces``' space-filling one (published deep active learning often loses to random
sampling)."""
from __future__ import annotations

from .base import Allocation, Unit, random_theta_order, whole_surfaces

__all__ = ["random_surfaces"]


def random_surfaces(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
                    validation_fraction: float = 0.2) -> Allocation:
    """As :func:`surfaces` (whole surfaces, as many as ``budget`` CPU-seconds or
    path-steps pay for, validation by theta, nested across budgets), thetas in a uniformly
    random permutation of the train pool (:func:`random_theta_order`: a stream of its own
    per seed, not the stratified order's Sobol points)."""
    return whole_surfaces("random", dataset, budget, seed, unit, validation_fraction, None,
                          order=random_theta_order(dataset, seed))
