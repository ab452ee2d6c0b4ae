"""The four model architectures (Keras 3). Each builder returns an *uncompiled* ``keras.Model``.

Which builder, inputs and target belong to a model type is declared in the registry
sabr.model_types (to add a model type: write its builder here, add its entry there).

Inputs, by name (see ``MODEL_INPUTS``):

* ``patch``: (ph, pw, 1) normalised LF patch centred on the point (sabr.data.patches);
* ``features``: (7,) normalised alpha, beta, nu, rho, K, T, sigma_LF;
* ``params``: (6,) normalised alpha, beta, nu, rho, K, T (no LF information).

Outputs one normalised number per point: the residual sigma_HF - sigma_LF for
``mda_cnn``, ``residual_mlp`` and ``cnn_only``, sigma_HF itself for ``direct_mlp``.

* ``mda_cnn``: multi-fidelity data aggregation CNN: a Conv2D stack over the patch
  (3x3 kernels, ``cnn_filters``, same padding, ReLU, then global average pooling)
  fused with an MLP over ``features`` (``mlp_hidden_dims``), dense fusion, dropout.
* ``residual_mlp``: MLP over ``features``; default 5 x 32 ReLU, the network of
  Funahashi (2022), "SABR equipped with AI wings", Quantitative Finance 23(2).
* ``direct_mlp``: MLP over ``params``, no LF input (the single-fidelity baseline).
* ``cnn_only``: the CNN branch alone over the patch.
"""
from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras import layers

from ..model_types import MODEL_TYPES, registry_view
from ..space import default_hyperparameters

__all__ = ["MODEL_BUILDERS", "MODEL_INPUTS", "RESIDUAL_MODELS", "get_builder", "build_model",
           "default_hyperparameters"]


class _Seeds:
    """Successive layer seeds drawn from one cell seed.

    Keras draws the seed of an initializer or dropout layer given none from
    Python's global ``random``, which other threads of a Dask worker (tornado's
    jittered callbacks, Prefect's services) also draw from: the weights would then
    depend on timing. Every layer with randomness gets its own seed from here.
    ``seed=None`` keeps Keras's default behaviour.
    """

    def __init__(self, seed: int | None):
        self._ints = None if seed is None else iter(
            np.random.SeedSequence(int(seed)).generate_state(256, dtype=np.uint32).tolist())

    def __call__(self) -> int | None:
        return None if self._ints is None else int(next(self._ints)) % (2 ** 31 - 1)

    def kernel(self):
        return keras.initializers.GlorotUniform(seed=self())


def _mlp(x, widths, dropout: float, name: str, seeds: _Seeds):
    for i, w in enumerate(widths):
        x = layers.Dense(int(w), activation="relu", name=f"{name}_dense{i}",
                         kernel_initializer=seeds.kernel())(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout", seed=seeds())(x)
    return x


def _cnn(patch, filters, seeds: _Seeds, name: str = "cnn"):
    x = patch
    for i, f in enumerate(filters):
        x = layers.Conv2D(int(f), 3, padding="same", activation="relu", name=f"{name}_conv{i}",
                          kernel_initializer=seeds.kernel())(x)
    return layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)


def build_mda_cnn(patch_size, hp: dict, seed: int | None = None) -> keras.Model:
    seeds = _Seeds(seed)
    patch = keras.Input((*patch_size, 1), name="patch")
    feats = keras.Input((7,), name="features")
    c = _cnn(patch, hp["cnn_filters"], seeds)
    m = _mlp(feats, hp["mlp_hidden_dims"], 0.0, "mlp", seeds)
    x = layers.Concatenate(name="fusion_concat")([c, m])
    width = int(hp["mlp_hidden_dims"][-1])
    x = _mlp(x, (width, width), hp["dropout_rate"], "fusion", seeds)
    out = layers.Dense(1, name="residual", kernel_initializer=seeds.kernel())(x)
    return keras.Model({"patch": patch, "features": feats}, out, name="mda_cnn")


def build_residual_mlp(patch_size, hp: dict, seed: int | None = None) -> keras.Model:
    seeds = _Seeds(seed)
    feats = keras.Input((7,), name="features")
    x = _mlp(feats, hp["residual_mlp_hidden_dims"], hp["dropout_rate"], "mlp", seeds)
    out = layers.Dense(1, name="residual", kernel_initializer=seeds.kernel())(x)
    return keras.Model({"features": feats}, out, name="residual_mlp")


def build_direct_mlp(patch_size, hp: dict, seed: int | None = None) -> keras.Model:
    seeds = _Seeds(seed)
    params = keras.Input((6,), name="params")
    x = _mlp(params, hp["mlp_hidden_dims"], hp["dropout_rate"], "mlp", seeds)
    out = layers.Dense(1, name="sigma_hf", kernel_initializer=seeds.kernel())(x)
    return keras.Model({"params": params}, out, name="direct_mlp")


def build_cnn_only(patch_size, hp: dict, seed: int | None = None) -> keras.Model:
    seeds = _Seeds(seed)
    patch = keras.Input((*patch_size, 1), name="patch")
    x = _cnn(patch, hp["cnn_filters"], seeds)
    if hp["dropout_rate"] > 0:
        x = layers.Dropout(hp["dropout_rate"], name="cnn_dropout", seed=seeds())(x)
    out = layers.Dense(1, name="residual", kernel_initializer=seeds.kernel())(x)
    return keras.Model({"patch": patch}, out, name="cnn_only")


MODEL_BUILDERS = registry_view(lambda m: m.builder if callable(m.builder) else globals()[m.builder])
"""Builder per model type: named in the registry (sabr.model_types) and defined here, or
the function a registered model type brings (a live view)."""

MODEL_INPUTS = registry_view(lambda m: m.inputs)
"""The named inputs per model type (a live view)."""

RESIDUAL_MODELS = frozenset(name for name, m in MODEL_TYPES.items() if m.residual)
"""The built-in model types that predict a residual (``ModelType.residual`` for any)."""


def get_builder(model_type: str) -> Callable[..., keras.Model]:
    """The builder of ``model_type``; an unknown name is a ValueError listing the known ones."""
    try:
        return MODEL_BUILDERS[model_type]
    except KeyError:
        raise ValueError(f"model_type={model_type!r} is invalid: allowed one of "
                         f"{sorted(MODEL_BUILDERS)}") from None


def build_model(model_type: str, patch_size, hp: dict, seed: int | None = None) -> keras.Model:
    """Build ``model_type`` (uncompiled) with hyperparameters ``hp`` (see default_hyperparameters);
    ``seed`` fixes every initializer and dropout layer (the same seed, the same weights)."""
    return get_builder(model_type)(tuple(int(p) for p in patch_size), hp, seed)
