"""Warm starts from the next smaller budget (issue 41, item 1; sabr.learning.warm): a warm
cell's network starts at warm_shrink x its source's weights + warm_perturb x its own fresh
initialisation, member by member, with its own normaliser; a source of another
architecture is a one-line error."""
import json

import keras
import numpy as np
import pytest

from sabr.config import ExperimentConfig
from sabr.learning.models import build_model, default_hyperparameters
from sabr.learning.training import cell_seed, member_seed, train_and_evaluate
from sabr.learning.warm import shrink_perturb

QUICK = ExperimentConfig.profile("quick")
HP = default_hyperparameters(QUICK.models, QUICK.training_config)
SHORT = QUICK.training_config.model_copy(update={"epochs": 4, "min_steps": 0,
                                                  "min_patience_steps": 0})
MODELS = QUICK.models.model_copy(update={"patch_size": (3, 3)})
STILL = dict(HP, learning_rate=1e-12)        # a fit that leaves the weights where they start
SMALL, LARGE = 60, 160                       # nested: b=60's points are among b=160's


def _warm(**update):
    return SHORT.model_copy(update={"warm_start": "previous_budget", **update})


def _weights(folder, name="model"):
    model = keras.models.load_model(folder / "models" / f"{name}.keras", compile=False)
    return [np.asarray(v) for v in model.trainable_weights]


@pytest.fixture(scope="module")
def source(tiny_dataset, tmp_path_factory):
    """A trained two-member direct_mlp cell at the smaller budget."""
    folder = tmp_path_factory.mktemp("source")
    trained = SHORT.model_copy(update={"epochs": 150, "early_stopping_patience": 150})
    m = train_and_evaluate(tiny_dataset, "direct_mlp", HP, SMALL, 0, folder,
                           training_config=trained, model_config=MODELS, ensemble_size=2)
    assert m["status"] == "ok"
    return folder


def test_a_warm_cell_starts_from_its_sources_members_with_its_own_normaliser(
        tiny_dataset, source, tmp_path):
    kw = dict(model_config=MODELS, ensemble_size=2)
    warm = train_and_evaluate(tiny_dataset, "direct_mlp", STILL, LARGE, 0, tmp_path / "warm",
                              training_config=_warm(), warm_from=source, warm_mode="budget",
                              **kw)
    cold = train_and_evaluate(tiny_dataset, "direct_mlp", STILL, LARGE, 0, tmp_path / "cold",
                              training_config=SHORT, **kw)
    assert warm["status"] == cold["status"] == "ok"
    for name in ("model", "member_1"):          # member k from the source's member k
        for w, s, c in zip(_weights(tmp_path / "warm", name), _weights(source, name),
                           _weights(tmp_path / "cold", name), strict=True):
            np.testing.assert_allclose(w, s, rtol=0, atol=1e-6)
        assert not all(np.allclose(s, c, atol=1e-3) for s, c in
                       zip(_weights(source, name), _weights(tmp_path / "cold", name)))
    cw = json.loads((tmp_path / "warm" / "config.json").read_text())
    cc = json.loads((tmp_path / "cold" / "config.json").read_text())
    cs = json.loads((source / "config.json").read_text())
    # the larger budget's own normaliser (its own training points), not the source's
    assert cw["normaliser"] == cc["normaliser"] != cs["normaliser"]
    assert cw["warm_start"] == {"from": source.name, "budget": SMALL, "shrink": 1.0,
                                "perturb": 0.0}
    assert warm["warm_from_budget"] == SMALL and "warm_from_budget" not in cold
    # started from the source, the first epoch's loss is far below a fresh network's
    first = {k: float(open(tmp_path / k / "logs" / "history.csv").read().splitlines()[1]
                      .split(",")[1]) for k in ("warm", "cold")}
    assert first["warm"] < 0.5 * first["cold"], first


def test_shrink_and_perturb_start_at_shrink_times_source_plus_perturb_times_fresh(
        tiny_dataset, source, tmp_path):
    m = train_and_evaluate(tiny_dataset, "direct_mlp", STILL, LARGE, 0, tmp_path,
                           training_config=_warm(warm_shrink=0.5, warm_perturb=0.3),
                           model_config=MODELS, ensemble_size=2, warm_from=source,
                           warm_mode="budget")
    assert m["status"] == "ok"
    seed = cell_seed(int(tiny_dataset.meta["config"]["master_seed"]), LARGE, 0, "direct_mlp")
    for k, name in enumerate(("model", "member_1")):
        fresh = build_model("direct_mlp", MODELS.patch_size, STILL, seed=member_seed(seed, k))
        init = [np.asarray(v) for v in fresh.trainable_weights]
        expected = [0.5 * s.astype(np.float64) + 0.3 * f.astype(np.float64)
                    for s, f in zip(_weights(source, name), init, strict=True)]
        for got, want in zip(_weights(tmp_path, name), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert not np.allclose(_weights(tmp_path, name)[0], _weights(source, name)[0], atol=1e-3)


def test_the_rule_alone_and_a_source_of_another_architecture(tiny_dataset, source, tmp_path):
    s, f = [np.array([2.0, -4.0], np.float32)], [np.array([1.0, 10.0], np.float32)]
    got = shrink_perturb(s, f, 0.5, 0.1)[0]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([1.1, -1.0], np.float32))
    assert shrink_perturb(s, f)[0] is not s[0] and np.array_equal(shrink_perturb(s, f)[0], s[0])
    wide = dict(STILL, mlp_hidden_dims=(8, 8))
    with pytest.raises(ValueError, match=r"^warm_from=.* is invalid: its network has other "
                                         r"layer shapes .*allowed a cell of the same architecture"):
        train_and_evaluate(tiny_dataset, "direct_mlp", wide, LARGE, 0, tmp_path / "x",
                           training_config=_warm(), model_config=MODELS, ensemble_size=2,
                           warm_from=source, warm_mode="budget")
    with pytest.raises(ValueError, match="has 2 members; allowed a cell of 1"):
        train_and_evaluate(tiny_dataset, "direct_mlp", STILL, LARGE, 0, tmp_path / "y",
                           training_config=_warm(), model_config=MODELS, warm_from=source,
                           warm_mode="budget")
