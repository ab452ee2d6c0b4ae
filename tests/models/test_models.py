"""One contract over every model builder, and the registry."""
import numpy as np
import pytest

from sabr.config import MODEL_TYPES as CONFIG_MODEL_NAMES, ExperimentConfig
from sabr.learning.models import (MODEL_BUILDERS, MODEL_INPUTS, RESIDUAL_MODELS, build_model,
                                  default_hyperparameters, get_builder)
from sabr.learning.training import configure_tensorflow, prepare_cell_data
from sabr.model_types import BASELINE_MODEL, MODEL_TYPES
from sabr.space import RELEVANT_PARAMETERS, HyperparameterSpace

CFG = ExperimentConfig()


def test_every_view_of_the_model_registry_covers_exactly_its_entries():
    names = tuple(MODEL_TYPES)
    assert CONFIG_MODEL_NAMES == names and CFG.model_types == names
    assert tuple(MODEL_BUILDERS) == names and tuple(MODEL_INPUTS) == names
    assert tuple(RELEVANT_PARAMETERS) == names
    assert RESIDUAL_MODELS == {n for n, m in MODEL_TYPES.items() if m.residual}
    assert MODEL_TYPES[BASELINE_MODEL].baseline
    fields = {"learning_rate", "batch_size", "dropout_rate", "cnn_filters", "mlp_hidden_dims"}
    for name, m in MODEL_TYPES.items():
        assert m.name == name and set(m.inputs) <= {"patch", "features", "params"}
        assert set(m.tuned_parameters) <= fields
        assert HyperparameterSpace().grid_size(name) >= 1


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_builder_contract(model_type, tiny_dataset):
    """Every registered model type builds, predicts from its declared inputs and trains."""
    configure_tensorflow(1, 1)
    import keras
    entry = MODEL_TYPES[model_type]
    hp = default_hyperparameters(CFG.models, CFG.training_config)
    model = build_model(model_type, (9, 9), hp)
    assert isinstance(model, keras.Model)
    assert getattr(model, "optimizer", None) is None      # builders return uncompiled models
    assert {i.name for i in model.inputs} == set(entry.inputs)
    assert model.layers[-1].name == ("residual" if entry.residual else "sigma_hf")
    data = prepare_cell_data(tiny_dataset, model_type, 20, 0, (9, 9))
    assert data.residual == entry.residual
    x = data.x["train"]
    n = data.points["train"].size
    assert set(x) == set(entry.inputs)
    out = model.predict(x, verbose=0)
    assert out.shape == (n, 1) and np.all(np.isfinite(out))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, data.y["train"])
    assert np.isfinite(float(np.ravel(loss)[0]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_residual_mlp_default_is_funahashi_5x32():
    import keras
    hp = default_hyperparameters(CFG.models, CFG.training_config)
    model = build_model("residual_mlp", (9, 9), hp)
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert [l.units for l in dense] == [32] * 5 + [1]
    assert all(l.activation.__name__ == "relu" for l in dense[:-1])


def test_direct_mlp_sees_no_lf():
    data_inputs = MODEL_INPUTS["direct_mlp"]
    assert data_inputs == ("params",)


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError) as err:
        get_builder("transformer")
    msg = str(err.value)
    assert msg.startswith("model_type='transformer' is invalid") and "mda_cnn" in msg


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_seeded_weights_ignore_other_threads_drawing_from_python_random(model_type):
    """A Dask worker's other threads draw from Python's global random while a cell builds
    its model; with a seed, the weights must not depend on that (they once did)."""
    import random
    import threading
    hp = {**default_hyperparameters(CFG.models, CFG.training_config), "dropout_rate": 0.2}
    quiet = build_model(model_type, (9, 9), hp, seed=123).get_weights()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    noisy_thread = threading.Thread(target=draw, daemon=True)
    noisy_thread.start()
    try:
        random.seed(987)                       # and a different global state to start from
        noisy = build_model(model_type, (9, 9), hp, seed=123).get_weights()
    finally:
        stop.set()
        noisy_thread.join()
    other = build_model(model_type, (9, 9), hp, seed=124).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(quiet, noisy))
    assert any(not np.array_equal(a, b) for a, b in zip(quiet, other))
