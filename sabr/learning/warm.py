"""Warm starts from the next smaller budget's cell (issue 41; docs/METHODS.md, "Warm starts").

With ``training_config.warm_start: previous_budget`` a cell (model, budget b, seed) starts
from the trained weights of (model, b', seed), b' the next smaller budget of its allocation
(sabr.plan.warm_sources), whose HF points are a subset of its own (the budgets are nested:
sabr.data.budgets, sabr.data.allocations). Ash & Adams (2020, "On Warm-Starting Neural
Network Training", NeurIPS) found that a network warm-started from one trained on part of
the data can generalise worse than a fresh one, and that "shrink and perturb" closes the
gap: shrink the warm weights towards zero and add noise. Here every trainable variable starts
at

    w0 = warm_shrink * w_source + warm_perturb * w_init,

``w_init`` the same variable of the cell's own freshly initialised network (its member
seed's, sabr.learning.training.member_seed): the noise is a draw of each layer's
initialiser, at that initialiser's scale. ``warm_shrink`` 1 and ``warm_perturb`` 0 (the
defaults) start from the source's weights as they are.

The network is the cell's own (built from its own hyperparameters: dropout, widths); only
its weights come from the source, so the source must have the same architecture, or the
start is refused with one line (sabr.config refuses a configuration whose tunings could
differ in widths across a chain).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["shrink_perturb", "warm_weights"]


def shrink_perturb(source: list, fresh: list, shrink: float = 1.0,
                   perturb: float = 0.0) -> list[np.ndarray]:
    """``shrink * w_source + perturb * w_init`` per variable (Ash & Adams 2020), in the
    variables' dtype; shrink 1 and perturb 0 return the source's arrays unchanged."""
    out = []
    for s, f in zip(source, fresh, strict=True):
        s, f = np.asarray(s), np.asarray(f)
        if shrink == 1.0 and perturb == 0.0:
            out.append(s.copy())
        else:
            out.append((shrink * s.astype(np.float64) + perturb * f.astype(np.float64)
                        ).astype(s.dtype))
    return out


def warm_weights(model, source_file: str | Path, shrink: float = 1.0,
                 perturb: float = 0.0) -> None:
    """Set ``model``'s (a freshly built, initialised network) trainable weights to the
    shrink-and-perturb start from the saved model ``source_file`` (a cell's
    ``models/model.keras`` or ``models/member_k.keras``). ValueError (one line) when the
    source is missing or its variables have other shapes."""
    import keras
    path = Path(source_file)
    if not path.is_file():
        raise ValueError(f"warm_from={str(path.parent.parent)!r} is invalid: it holds no "
                         f"models/{path.name}; allowed a finished cell of the same model and seed")
    source = keras.models.load_model(path, compile=False)
    theirs = [np.asarray(v) for v in source.trainable_weights]
    ours = [np.asarray(v) for v in model.trainable_weights]
    if [a.shape for a in theirs] != [a.shape for a in ours]:
        raise ValueError(f"warm_from={str(path.parent.parent)!r} is invalid: its network has "
                         f"other layer shapes ({len(theirs)} variables, "
                         f"{sum(a.size for a in theirs)} weights, against {len(ours)} and "
                         f"{sum(a.size for a in ours)}); allowed a cell of the same "
                         f"architecture (one tuning for the chain: tuning_reference_budget)")
    for var, value in zip(model.trainable_weights, shrink_perturb(theirs, ours, shrink, perturb)):
        var.assign(value)
