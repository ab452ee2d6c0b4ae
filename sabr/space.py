"""The hyperparameter search space: discrete choices per field, validated like the config.

The seed's defaults; a model ignores the fields it has no use for (see
``RELEVANT_PARAMETERS``, from the model-type registry sabr.model_types). Width lists are Optuna categorical choices encoded as
strings ("32-64").
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import ConfigError, unknown_key
from .model_types import registry_view

__all__ = ["HyperparameterSpace", "RELEVANT_PARAMETERS", "WIDTH_PARAMETERS", "encode_widths",
           "decode_widths", "default_hyperparameters"]

RELEVANT_PARAMETERS = registry_view(lambda m: m.tuned_parameters)
"""Per model type, the parameters tuned (a live view of the registry, sabr.model_types): a
model ignores what it has no use for."""
WIDTH_PARAMETERS = ("cnn_filters", "mlp_hidden_dims")
"""Parameters whose value is a list of layer widths (an Optuna choice "32-64")."""
_FIELD = {"learning_rate": "learning_rates", "batch_size": "batch_sizes",
          "dropout_rate": "dropout_rates", "cnn_filters": "cnn_filters",
          "mlp_hidden_dims": "mlp_hidden_dims"}


def encode_widths(widths) -> str:
    """A list of layer widths as one Optuna categorical choice, e.g. [32, 64] -> "32-64"."""
    return "-".join(str(int(w)) for w in widths)


def decode_widths(text: str) -> list[int]:
    """Inverse of :func:`encode_widths`: "32-64" -> [32, 64]."""
    return [int(w) for w in str(text).split("-")]


def _describe(err: ValidationError) -> list[str]:
    """A line for each of pydantic's errors, in sabr.config's style."""
    lines = []
    for e in err.errors(include_url=False):
        path = [str(p) for p in e["loc"] if not isinstance(p, int)]
        loc = ".".join(["hyperparameter_space", *path])
        if e["type"] == "extra_forbidden":
            lines.append(unknown_key(loc, path[-1], HyperparameterSpace.model_fields))
        else:
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}={e.get('input')!r} is invalid: {msg}")
    return lines


def _choices(ok: Callable[[Any], bool], what: str):
    """Validator body: a non-empty list of distinct values each passing ``ok``."""
    def check(v):
        if not v or not all(ok(x) for x in v) or len(set(v)) != len(v):
            raise ValueError(f"allowed a non-empty list of distinct {what}")
        return v
    return check


class HyperparameterSpace(BaseModel):
    """The discrete choices searched (the seed's defaults); loadable from YAML, unknown keys fail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3)
    batch_sizes: tuple[int, ...] = (32, 64, 128)
    dropout_rates: tuple[float, ...] = (0.1, 0.2, 0.3)
    cnn_filters: tuple[tuple[int, ...], ...] = ((32, 64), (32, 64, 128), (64, 128, 256))
    mlp_hidden_dims: tuple[tuple[int, ...], ...] = ((64, 64), (128, 64), (128, 128, 64))

    _lr = field_validator("learning_rates")(_choices(lambda x: 0 < x <= 1, "rates in (0, 1]"))
    _bs = field_validator("batch_sizes")(_choices(lambda x: 1 <= x <= 65_536, "sizes in [1, 65536]"))
    _dr = field_validator("dropout_rates")(_choices(lambda x: 0 <= x < 1, "rates in [0, 1)"))
    _widths = field_validator("cnn_filters", "mlp_hidden_dims")(_choices(
        lambda w: w and 1 <= min(w) and max(w) <= 4096, "width lists, widths in [1, 4096]"))

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(*_describe(err)) from None

    @classmethod
    def from_dict(cls, data: dict | None) -> "HyperparameterSpace":
        """Validate a mapping (e.g. a YAML section); ConfigError names the bad field."""
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"hyperparameter_space={data!r} is invalid: allowed a mapping")
        return cls(**(data or {}))

    @classmethod
    def from_yaml(cls, path: str | Path, section: str = "hyperparameter_space"
                  ) -> "HyperparameterSpace":
        """Load from a YAML file: its ``section`` mapping if present, else the whole mapping.

        A file whose ``profile:`` names a profile with its own space (``quick``) starts from
        that space, as the experiment read from the same file does (sabr.config). A bad
        field's ConfigError names the file, every bad field in one error."""
        from .profiles import PROFILES
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"config={str(path)!r} is invalid: {type(err).__name__}") from None
        if isinstance(data, dict) and section in data:
            base = PROFILES.get(data.get("profile", "full"), {}).get(section, {})
            data = data[section]
            if isinstance(data, dict):
                data = {**base, **data}
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(*err.problems, source=str(path)) from None

    def choices(self, model_type: str) -> dict[str, list]:
        """Optuna categorical choices (scalars; width lists encoded) of the model's parameters."""
        return {name: [encode_widths(v) if isinstance(v, tuple) else v
                       for v in getattr(self, _FIELD[name])]
                for name in RELEVANT_PARAMETERS[model_type]}

    def grid_size(self, model_type: str) -> int:
        """Number of points of the model's grid."""
        return math.prod(len(v) for v in self.choices(model_type).values())


def default_hyperparameters(model_config, training_config) -> dict:
    """Hyperparameters of a cell before tuning, from the config sections (``model_config``,
    ``training_config``); sabr.learning.models re-exports it."""
    return {
        "learning_rate": float(training_config.learning_rate),
        "batch_size": int(training_config.batch_size),
        "dropout_rate": float(model_config.dropout_rate),
        "cnn_filters": list(model_config.cnn_filters),
        "mlp_hidden_dims": list(model_config.mlp_hidden_dims),
        "residual_mlp_hidden_dims": list(model_config.residual_mlp_hidden_dims),
    }
