"""``paths/D``: whole surfaces labelled by the first 1/D of each run's paths
(sabr.data.allocations)."""
from __future__ import annotations

import numpy as np

from ...budget_labels import MIN_PREFIX_PATHS, PATH_DIVISORS
from .base import Allocation, Unit, data_paths, whole_surfaces

__all__ = ["paths"]


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
    want = 2 * round(data_paths(dataset) / (2 * divisor))
    found = np.flatnonzero(np.asarray(dataset.prefix_paths) == want)
    if not found.size:
        raise ValueError(f"allocation={name!r} is invalid for this data set: its runs record "
                         f"labels at {np.asarray(dataset.prefix_paths).tolist()} paths, not "
                         f"{want}; allowed data_gen_config.mc_paths >= "
                         f"{MIN_PREFIX_PATHS * divisor}")
    return whole_surfaces(name, dataset, budget, seed, unit, validation_fraction,
                           int(found[0]))

