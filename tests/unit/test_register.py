"""Registering a model type or an allocation strategy: what is refused, and the live views."""
from __future__ import annotations

import pytest

from sabr.config import ConfigError, ExperimentConfig
from sabr.data.allocations import ALLOCATIONS, register_allocation, surfaces
from sabr.model_types import MODEL_NAMES, MODEL_TYPES, TUNED_BASE, ModelType, register_model_type
from sabr.space import RELEVANT_PARAMETERS


def test_a_registered_model_type_shows_in_every_view_and_conflicts_are_refused():
    toy = ModelType("toy_unit", lambda p, hp, seed=None: None, ("features",), residual=True,
                    tuned_parameters=TUNED_BASE, cost_rank=99)
    try:
        register_model_type(toy)
        register_model_type(toy)                       # the same entry again: no change
        assert MODEL_NAMES[-1] == "toy_unit" and RELEVANT_PARAMETERS["toy_unit"] == TUNED_BASE
        assert ExperimentConfig.profile("quick", model_types=["toy_unit"]).model_types == ("toy_unit",)
        with pytest.raises(ValueError, match="registered already"):
            register_model_type(ModelType("mda_cnn", "build_mda_cnn", ("patch",), True, TUNED_BASE, 50))
        with pytest.raises(ValueError, match="cost_rank=0 is taken"):
            register_model_type(ModelType("toy2", "x", ("features",), True, TUNED_BASE, 0))
        with pytest.raises(ValueError, match="baseline=True is invalid"):
            register_model_type(ModelType("toy3", "x", ("features",), True, TUNED_BASE, 98,
                                          baseline=True))
    finally:
        MODEL_TYPES.pop("toy_unit", None)
    assert "toy_unit" not in MODEL_NAMES
    with pytest.raises(ConfigError, match=r"^model_types='toy_unit' is invalid: allowed one of"):
        ExperimentConfig.profile("quick", model_types=["toy_unit"])


def test_a_strategy_name_is_refused_when_taken_or_not_a_word():
    register_allocation("surfaces", surfaces)          # the same function again: no change
    with pytest.raises(ValueError, match="cannot be registered"):
        register_allocation("surfaces", lambda *a, **k: None)
    with pytest.raises(ValueError, match="cannot be registered"):
        register_allocation("paths/3", lambda *a, **k: None)
    assert list(ALLOCATIONS) == ["spread", "surfaces", "random", "paths", "adaptive"]


def test_a_plugin_that_cannot_be_imported_is_one_line():
    with pytest.raises(ConfigError, match=r"^plugins: 'no_such_plugin' cannot be imported "
                                          r"\(ModuleNotFoundError: .*\); allowed names of "
                                          r"importable modules$"):
        ExperimentConfig.profile("quick", plugins=["no_such_plugin"])
