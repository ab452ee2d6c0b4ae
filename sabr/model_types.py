"""The model-type registry: every fact about a model type, in one place.

To add a model type: write its builder ``build_<name>(patch_size, hp, seed)`` in
sabr/learning/models.py, then add one ``ModelType`` entry to ``MODEL_TYPES`` below.
Everything else follows from this table: the config's allowed ``model_types``
(sabr.config), the parameters tuned for it (sabr.space), its inputs and target
(sabr.learning.training), its builder (sabr.learning.models), the flow's
longest-first order (flows.experiment) and the aggregator's baseline for relative
improvements (sabr.analysis.aggregator). ``tests/models/test_models.py`` builds and
fits every entry on a tiny input with its declared inputs.

This module is pure data (no Keras): config and the flow read it without loading
TensorFlow, so the builder is named here and looked up in sabr.learning.models.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelType", "MODEL_TYPES", "MODEL_NAMES", "BASELINE_MODEL", "TUNED_BASE"]

TUNED_BASE = ("learning_rate", "batch_size", "dropout_rate")
"""Tuned for every model type."""


@dataclass(frozen=True)
class ModelType:
    """One model type.

    Attributes:
        name: the name in configs and results (``model_type``).
        builder: the builder's function name in sabr.learning.models.
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
    builder: str
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

MODEL_NAMES: tuple[str, ...] = tuple(MODEL_TYPES)
"""The allowed model names, in registry order (the config's default ``model_types``)."""

_baselines = [m.name for m in MODEL_TYPES.values() if m.baseline]
assert len(_baselines) == 1, f"exactly one baseline model type, got {_baselines}"
BASELINE_MODEL: str = _baselines[0]
assert len({m.cost_rank for m in MODEL_TYPES.values()}) == len(MODEL_TYPES), "cost ranks must differ"
