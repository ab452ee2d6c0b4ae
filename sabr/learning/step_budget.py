"""How long a fit may train, in optimizer steps, and at what batch size and learning rate.

One pure rule for every fit (a cell's members and a tuning's trials), a function of the
fit's training points ``n_train``, its (tuned) hyperparameters and the training section
only, never of the cell's allocation, so every allocation of the cost study is trained
alike (issue 40, item 2). No TensorFlow: the plan's cost model (sabr.cost_model) may call
it.

1. **Step floors** (issue 38, :func:`step_floors`): the epoch cap rises so a fit may take
   at least ``min_steps`` optimizer steps (``min_tuning_steps`` for a tuning trial) and the
   patience so it waits at least ``min_patience_steps`` steps for a new best.
2. **Large cells: batch and learning rate** (``max_steps_per_epoch`` S, ``max_batch_size``):
   where an epoch of the tuned batch size b would be more than S steps, the batch grows to
   b' = min(max_batch_size, ceil(n_train / S)), so an epoch is at most S steps (up to the
   batch bound), and Adam's learning rate follows the square-root scaling rule,
   lr' = lr sqrt(b' / b) (Malladi, Lyu, Panigrahi and Arora, 2022, "On the SDEs and
   Scaling Rules for Adaptive Gradient Algorithms", NeurIPS: an adaptive method's SDE is
   kept when the batch grows by kappa and the learning rate by sqrt(kappa)). Their rule
   also moves Adam's betas (1 - beta by kappa) and epsilon; those are kept: at the
   kappa of 3-13 that cells of 30-42k points reach (up to 32 at the batch bound),
   1 - beta1 = 0.1 kappa would leave (0, 1). Under the rule, kappa times fewer steps cover the same SDE time, so an epoch at
   b' is as much training as an epoch at b.
3. **Step cap** (``max_steps``): the epoch cap falls to floor(max_steps / steps per epoch),
   so cap x steps per epoch <= max_steps (one epoch at least: a single epoch longer than
   max_steps, n_train > max_steps x max_batch_size, is the only excess). The cap outranks
   the floors. Where it binds, the patience is at most a quarter of the capped epochs
   (early stopping can still end the fit before the cap), and never below the
   ``min_patience_steps`` floor (nor above the cap).

``max_steps = 0`` turns the cap off and ``max_steps_per_epoch = 0`` the batch scaling.

The defaults (S = 100, max_batch_size = 1024, max_steps = 10000) leave every cell of the
seed design untouched: its cells hold at most 800 training points, at most 25 steps an
epoch at the smallest batch (32) and 200 epochs, 5000 steps; the rule is the identity
there (tests/models/test_step_budget.py, every budget of the full and quick profiles).
A cell of 30k points at batch 64 (470 steps an epoch, up to 94k steps) trains at batch
300 with the learning rate x2.17, 100 steps an epoch, at most 100 epochs.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["step_floors", "EffectiveTraining", "effective_training"]


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // max(1, int(b)))


def step_floors(n_train: int, batch_size: int, epochs: int, patience: int, *,
                min_steps: int = 0, min_patience_steps: int = 0) -> tuple[int, int, int]:
    """The epoch cap and the early-stopping patience of a fit, raised so that it may take at
    least ``min_steps`` optimizer steps and waits at least ``min_patience_steps`` steps for
    an improvement (issue 38: at b=50 an epoch is one or two steps, so 200 epochs with a
    patience of 20 stopped small budgets after a few dozen steps of plateau).

    Returns:
        (epochs, patience, steps per epoch), steps per epoch = ceil(n_train / batch_size).
    """
    spe = max(1, _ceil_div(n_train, batch_size))
    return (max(int(epochs), _ceil_div(min_steps, spe)),
            max(int(patience), _ceil_div(min_patience_steps, spe)), spe)


@dataclass(frozen=True)
class EffectiveTraining:
    """What a fit is trained with (module doc): ``batch_size`` and ``learning_rate`` as
    applied, the tuned ``nominal_batch_size`` and ``nominal_learning_rate``, the epoch cap
    ``epochs``, the ``patience`` (epochs), ``steps_per_epoch``, ``max_steps`` (the step cap
    in force; None: none, ``TrainingConfig.max_steps = 0``), ``batch_scaled`` (rule 2 applied) and ``step_cap_binds`` (rule 3
    lowered the epoch cap)."""

    batch_size: int
    learning_rate: float
    epochs: int
    patience: int
    steps_per_epoch: int
    max_steps: int | None
    nominal_batch_size: int
    nominal_learning_rate: float
    batch_scaled: bool
    step_cap_binds: bool

    @property
    def max_steps_run(self) -> int:
        """The most optimizer steps the fit can take: epochs x steps per epoch."""
        return self.epochs * self.steps_per_epoch

    def hyperparameters(self, hp: dict) -> dict:
        """``hp`` with the batch size and learning rate as applied."""
        return {**hp, "batch_size": self.batch_size, "learning_rate": self.learning_rate}

    def as_dict(self) -> dict:
        return {**asdict(self), "max_steps_run": self.max_steps_run}


def effective_training(n_train: int, hp: dict, tc, *, tuning: bool = False) -> EffectiveTraining:
    """The rule of the module doc for a fit of ``n_train`` training points.

    Args:
        n_train: the fit's training points; hp: its hyperparameters (``batch_size``,
            ``learning_rate``: the tuned or configured ones); tc: the training section
            (sabr.settings.TrainingConfig: epochs, early_stopping_patience, min_steps,
            min_patience_steps, max_steps, max_steps_per_epoch, max_batch_size, and for
            ``tuning`` tuning_epochs and min_tuning_steps).
        tuning: a tuning trial (its epoch cap and step floor; the same batch rule and cap).
    """
    b0, lr0 = int(hp["batch_size"]), float(hp["learning_rate"])
    s_max = getattr(tc, "max_steps_per_epoch", 0)
    batch = b0
    if s_max and _ceil_div(n_train, b0) > int(s_max):
        batch = max(b0, min(int(getattr(tc, "max_batch_size", b0)), _ceil_div(n_train, s_max)))
    lr = lr0 if batch == b0 else lr0 * math.sqrt(batch / b0)
    epochs, patience, spe = step_floors(
        n_train, batch, tc.tuning_epochs if tuning else tc.epochs, tc.early_stopping_patience,
        min_steps=tc.min_tuning_steps if tuning else tc.min_steps,
        min_patience_steps=tc.min_patience_steps)
    cap = getattr(tc, "max_steps", 0) or None
    binds = cap is not None and epochs * spe > int(cap)
    if binds:
        epochs = max(1, int(cap) // spe)
        patience = min(epochs, max(min(patience, epochs // 4),
                                   _ceil_div(tc.min_patience_steps, spe)))
    return EffectiveTraining(batch, float(lr), int(epochs), int(max(1, patience)), spe,
                             None if cap is None else int(cap), b0, lr0, batch != b0, binds)
