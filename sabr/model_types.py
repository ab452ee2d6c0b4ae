"""The model-type registry: every fact about a model type, in one place.

To add a model type: write its builder ``build_<name>(patch_size, hp, seed)`` in
sabr/learning/models.py, then add one ``ModelType`` entry to ``MODEL_TYPES`` below; or,
from a module of your own, call :func:`register_model_type` with the builder itself and
name that module in the configuration's ``plugins`` (sabr.plugins), so every process of a
run registers it. Everything else follows from this table: the config's allowed
``model_types`` (sabr.config), the parameters tuned for it (sabr.space), its inputs and
target (sabr.learning.training), its builder (sabr.learning.models), the flow's
longest-first order (sabr.plan) and the aggregator's baseline for relative improvements
(sabr.analysis.aggregator). ``tests/models/test_models.py`` builds and fits every entry on
a tiny input with its declared inputs; ``tests/flow/test_registries.py`` registers one
from a test file and runs it.

This module is pure data (no Keras): config and the flow read it without loading
TensorFlow, so a built-in builder is named here and looked up in sabr.learning.models.
The names and facts other modules take from it (``MODEL_NAMES``, :func:`registry_view`)
are live views: a model type registered later shows in them at once.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Callable

__all__ = ["ModelType", "MODEL_TYPES", "MODEL_NAMES", "BASELINE_MODEL", "TUNED_BASE",
           "register_model_type", "registry_view"]

TUNED_BASE = ("learning_rate", "batch_size", "dropout_rate")
"""Tuned for every model type."""


@dataclass(frozen=True)
class ModelType:
    """One model type.

    Attributes:
        name: the name in configs and results (``model_type``).
        builder: the builder's function name in sabr.learning.models, or (a model type
            registered from elsewhere) the builder itself.
        inputs: the model's named inputs: ``patch`` (LF patch), ``features`` (6 parameters
            + sigma_LF) and/or ``params`` (the 6 parameters, no LF information).
        residual: True if it predicts sigma_HF - sigma_LF, False if sigma_HF itself.
        tuned_parameters: the hyperparameters its tuning searches (sabr.space fields).
        cost_rank: 0 = most expensive per cell; the flow schedules low ranks first.
        baseline: the single-fidelity baseline of the relative improvements (exactly one).
        reads_as: (tuned parameter, hyperparameter) pairs: its builder reads that tuned
            parameter under another name (residual_mlp's MLP widths), so tuning sets both.
    """

    name: str
    builder: str | Callable
    inputs: tuple[str, ...]
    residual: bool
    tuned_parameters: tuple[str, ...]
    cost_rank: int
    baseline: bool = False
    reads_as: tuple[tuple[str, str], ...] = ()


# cost ranks measured on the full run: CNN cells 75-110 s, MLP cells 25-30 s at b=1000
MODEL_TYPES: dict[str, ModelType] = {m.name: m for m in (
    ModelType("mda_cnn", "build_mda_cnn", ("patch", "features"), residual=True,
              tuned_parameters=TUNED_BASE + ("cnn_filters", "mlp_hidden_dims"), cost_rank=0),
    ModelType("residual_mlp", "build_residual_mlp", ("features",), residual=True,
              tuned_parameters=TUNED_BASE + ("mlp_hidden_dims",), cost_rank=2,
              reads_as=(("mlp_hidden_dims", "residual_mlp_hidden_dims"),)),
    ModelType("direct_mlp", "build_direct_mlp", ("params",), residual=False,
              tuned_parameters=TUNED_BASE + ("mlp_hidden_dims",), cost_rank=3, baseline=True),
    ModelType("cnn_only", "build_cnn_only", ("patch",), residual=True,
              tuned_parameters=TUNED_BASE + ("cnn_filters",), cost_rank=1),
)}



class _Names(Sequence):
    """The registered model names, in registration order (a live view)."""

    def __getitem__(self, i):
        return tuple(MODEL_TYPES)[i]

    def __len__(self) -> int:
        return len(MODEL_TYPES)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


class _View(Mapping):
    """Per registered model type, one fact of it (a live view)."""

    def __init__(self, fact: Callable[[ModelType], object]):
        self._fact = fact

    def __getitem__(self, name: str):
        return self._fact(MODEL_TYPES[name])

    def __iter__(self):
        return iter(MODEL_TYPES)

    def __len__(self) -> int:
        return len(MODEL_TYPES)


def registry_view(fact: Callable[[ModelType], object]) -> Mapping:
    """``{name: fact(model_type)}`` over the registry, live: ``registry_view(lambda m:
    m.inputs)["mda_cnn"]``."""
    return _View(fact)


MODEL_NAMES: Sequence[str] = _Names()
"""The allowed model names, in registry order (the config's default ``model_types``)."""


def register_model_type(model_type: ModelType) -> ModelType:
    """Add ``model_type`` to the registry (its ``builder`` the function itself, when it is
    not one of sabr.learning.models'); registering the same entry again changes nothing.
    ValueError (one line) for a name taken by another entry, a cost rank in use, or a
    second baseline."""
    old = MODEL_TYPES.get(model_type.name)
    if old == model_type:
        return model_type
    if old is not None:
        raise ValueError(f"model type {model_type.name!r} is registered already; allowed a "
                         f"new name, not one of {list(MODEL_TYPES)}")
    ranks = {m.cost_rank for m in MODEL_TYPES.values()}
    if model_type.cost_rank in ranks:
        raise ValueError(f"model type {model_type.name!r}: cost_rank={model_type.cost_rank} is "
                         f"taken; allowed a rank not in {sorted(ranks)}")
    if model_type.baseline:
        raise ValueError(f"model type {model_type.name!r}: baseline=True is invalid: the "
                         f"baseline is {BASELINE_MODEL!r}; allowed baseline=False")
    MODEL_TYPES[model_type.name] = model_type
    return model_type


_baselines = [m.name for m in MODEL_TYPES.values() if m.baseline]
assert len(_baselines) == 1, f"exactly one baseline model type, got {_baselines}"
BASELINE_MODEL: str = _baselines[0]
assert len({m.cost_rank for m in MODEL_TYPES.values()}) == len(MODEL_TYPES), "cost ranks must differ"
