"""The default objective: trains on the budget's train points, scores validation, prunes; never test."""
import numpy as np
import optuna
import pytest

import sabr.learning.tuning
from sabr.data.budgets import budget_points
from sabr.learning.models import build_model
from sabr.learning.tuning import HyperparameterSpace, HyperparameterTuner, _pruning_callback

BUDGET = 40
SPACE = HyperparameterSpace(learning_rates=[1e-3, 3e-3], batch_sizes=[16], dropout_rates=[0.1],
                            mlp_hidden_dims=[[8, 8], [16]])


class FakeTrial:
    """Records reports; prunes whenever asked."""

    def __init__(self):
        self.reports = []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return True


def test_pruned_is_raised_through_keras_fit():
    import keras
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.ones((8, 2), np.float32)
    trial = FakeTrial()
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        model.fit(x, x[:, 0], validation_data=(x, x[:, 0]), epochs=5, verbose=0,
                  callbacks=[_pruning_callback(trial, scale=100.0)])
    (step, value), = trial.reports             # stopped after the first epoch
    assert step == 0 and value == pytest.approx(100.0 * model.evaluate(x, x[:, 0], verbose=0),
                                                rel=1e-5)


def test_default_objective_trains_on_train_scores_val_never_test(tiny_config, tiny_dataset,
                                                                 tmp_path, monkeypatch):
    seen = []
    real_fit = sabr.learning.tuning.fit_model

    def spy(model, cell, hp, **kw):
        hist = real_fit(model, cell, hp, **kw)
        seen.append((cell, hp, kw, hist.history))
        return hist

    monkeypatch.setattr(sabr.learning.tuning, "fit_model", spy)
    t = HyperparameterTuner(tiny_config, tiny_dataset, "residual_mlp", BUDGET, 1, space=SPACE,
                            study_dir=tmp_path)
    r = t.tune_hyperparameters("random", n_trials=2)
    assert r.status == "ok" and r.n_complete == 2 and len(seen) == 2

    split = budget_points(tiny_dataset, BUDGET, 1,
                          validation_fraction=tiny_config.training_config.validation_fraction)
    test = tiny_dataset.test_points()
    for cell, hp, kw, history in seen:
        assert np.array_equal(cell.points["train"], split.train)
        assert np.array_equal(cell.points["val"], split.val)
        assert set(cell.points) == {"train", "val"} and set(cell.x) == {"train", "val"}
        assert not np.intersect1d(split.all, test).size
        assert kw["epochs"] == tiny_config.training_config.tuning_epochs == 2
        assert len(history["val_loss"]) <= 2
    # score: the best validation MSE in bp^2 (normalised MSE x (target std x 1e4)^2)
    scale = (seen[0][0].normaliser.target_std * 1e4) ** 2
    scores = [min(h["val_loss"]) * scale for *_, h in seen]
    assert r.best_value == pytest.approx(min(scores), rel=1e-6) and 0 < r.best_value < 1e6
    # the best parameters build the model directly
    assert r.best_params["residual_mlp_hidden_dims"] == r.best_params["mlp_hidden_dims"]
    model = build_model("residual_mlp", tiny_config.models.patch_size, r.best_params)
    widths = [layer.units for layer in model.layers if layer.name.startswith("mlp_dense")]
    assert widths == r.best_params["mlp_hidden_dims"]


def test_pruned_trials_are_counted_and_reported(tiny_config, tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(optuna.pruners.MedianPruner, "prune", lambda self, study, trial: True)
    r = HyperparameterTuner(tiny_config, tiny_dataset, "residual_mlp", BUDGET, 0, space=SPACE,
                            study_dir=tmp_path).tune_hyperparameters("grid", n_trials=2)
    assert r.n_pruned == 2 and r.n_complete == 0 and r.status == "failed"
    assert list(r.trials["state"]) == ["PRUNED", "PRUNED"] and "2 pruned" in r.message
