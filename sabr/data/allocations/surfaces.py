"""``surfaces``: whole surfaces, thetas in the seed's stratified order (sabr.data.allocations)."""
from __future__ import annotations

from .base import Allocation, Unit, whole_surfaces

__all__ = ["surfaces"]


def surfaces(dataset, budget, seed: int, *, unit: Unit = "cpu_seconds",
             validation_fraction: float = 0.2) -> Allocation:
    """Whole surfaces, thetas in the seed's stratified order, as many as ``budget``
    CPU-seconds pay for; a theta is for validation when its position i in the order has
    floor((i + 1) f + u) > floor(i f + u) (f the validation fraction, u a random phase
    that makes the second theta the first validation one): any prefix holds a fraction f
    of validation thetas, up to one. A budget that pays for the first surface only takes
    the first later one the rest pays for as its validation surface (docs/METHODS.md)."""
    return whole_surfaces("surfaces", dataset, budget, seed, unit, validation_fraction, None)

