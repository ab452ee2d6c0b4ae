"""Deep ensembles (issue 20): every cell can be M members; what the cell reports is the
members' mean, scored and calibrated against the MC truth; an adaptive cell's ensemble
scores the pool thetas it did not buy, and never a test theta."""
import json

import numpy as np
import pandas as pd
import pytest

from sabr.config import ExperimentConfig
from sabr.data.allocations.acquisition import first_round
from sabr.data.allocations import cell_allocation, pool_cpu_seconds
from sabr.learning.calibration import CALIBRATION_COLUMNS, calibration_split
from sabr.learning.models import default_hyperparameters
from sabr.learning.training import cell_seed, member_seed, train_and_evaluate

QUICK = ExperimentConfig.profile("quick")
HP = default_hyperparameters(QUICK.models, QUICK.training_config)
SHORT = QUICK.training_config.model_copy(update={"epochs": 4, "min_steps": 0,
                                                  "min_patience_steps": 0})
MODELS = QUICK.models.model_copy(update={"patch_size": (3, 3)})


def test_member_zero_keeps_the_cell_seed_and_the_others_differ():
    s = cell_seed(42, 200, 1, "mda_cnn")
    seeds = [member_seed(s, k) for k in range(8)]
    assert seeds[0] == s and len(set(seeds)) == 8
    assert seeds == [member_seed(s, k) for k in range(8)]          # reproducible


def test_the_spread_is_calibrated_on_thetas_early_stopping_never_sees():
    thetas = np.repeat([7, 3, 9, 1, 5], [4, 2, 3, 1, 2])       # validation points' thetas
    cal = calibration_split(thetas, seed=11)
    assert set(thetas[cal]).isdisjoint(thetas[~cal])           # split by theta
    assert len(set(thetas[cal])) == 2 and len(set(thetas[~cal])) == 3
    assert np.array_equal(cal, calibration_split(thetas, seed=11))          # reproducible
    picks = {tuple(sorted(set(thetas[calibration_split(thetas, seed=s)]))) for s in range(20)}
    assert len(picks) > 3                                      # the seed draws which half
    assert not calibration_split(np.array([4, 4, 4]), seed=1).any()   # one theta: none


def test_an_ensemble_cell_reports_the_mean_of_members_that_differ(tiny_dataset, tmp_path):
    single = train_and_evaluate(tiny_dataset, "residual_mlp", HP, 40, 0, tmp_path / "one",
                                training_config=SHORT, model_config=MODELS)
    ens = train_and_evaluate(tiny_dataset, "residual_mlp", HP, 40, 0, tmp_path / "three",
                             training_config=SHORT, model_config=MODELS, ensemble_size=3)
    assert ens["status"] == "ok" and set(CALIBRATION_COLUMNS) <= set(ens)
    assert ens["ensemble_size"] == 3
    saved = np.load(tmp_path / "three" / "predictions.npz")
    members = saved["sigma_members"]
    assert members.shape == (3, saved["points"].size)
    assert np.array_equal(saved["sigma"], members.mean(axis=0))
    # member 0 starts as the single model of the same cell (its seed: the same weights and
    # batches, so the same first epoch, bit for bit), but stops early on half of the
    # validation thetas only: the other half calibrates the spread; the others differ
    one = np.load(tmp_path / "one" / "predictions.npz")["sigma"]
    first = [pd.read_csv(tmp_path / d / "logs" / "history.csv").loss[0] for d in ("one", "three")]
    assert first[0] == first[1]
    assert not np.allclose(members[1], members[0]) and not np.allclose(members[2], members[0])
    val_thetas = np.unique(tiny_dataset.unravel(cell_allocation(
        tiny_dataset, 40, 0, validation_fraction=SHORT.validation_fraction).split.val)[0])
    assert ens["n_val"] == single["n_val"] and val_thetas.size >= 2
    assert ens["n_calibration_thetas"] == val_thetas.size // 2 and 0 < ens[
        "n_calibration_points"] < ens["n_val"]
    # the mean's error is at most the members' mean error (convexity of the RMSE)
    assert ens["rmse_bp"] <= ens["member_rmse_bp"] + 1e-9
    assert single["rmse_bp"] == pytest.approx(
        np.sqrt(np.mean((one - tiny_dataset.hf.ravel()[saved["points"]]) ** 2)) * 1e4)
    for k in (1, 2):
        assert (tmp_path / "three" / "models" / f"member_{k}.keras").is_file()
        assert (tmp_path / "three" / "logs" / f"history_member_{k}.csv").is_file()
    assert 0 <= ens["coverage_50"] <= ens["coverage_90"] <= 1
    assert ens["spread_scale"] > 0 and 0 <= ens["coverage_90_raw"] <= 1
    assert (ens["coverage_90"] >= ens["coverage_90_raw"]) == (ens["spread_scale"] >= 1)
    assert ens["width_90_bp"] > ens["width_50_bp"] > 0
    cfg = json.loads((tmp_path / "three" / "config.json").read_text())
    assert cfg["member_seeds"][0] == cfg["cell_seed"]


def test_an_adaptive_cell_scores_every_pool_theta_it_did_not_buy(tiny_dataset, tmp_path):
    ds = tiny_dataset
    budget = 0.3 * pool_cpu_seconds(ds)
    order = first_round(ds, 0, budget)
    m = train_and_evaluate(ds, "mda_cnn", HP, "adaptive@30%", 0, tmp_path,
                           training_config=SHORT, model_config=MODELS, ensemble_size=2,
                           order=order, score_pool=True)
    assert m["status"] == "ok" and m["n_hf_thetas"] == order.size
    scored = np.asarray(m["scores"]["thetas"])
    expected = np.setdiff1d(ds.train_thetas, order)
    assert np.array_equal(scored, expected)              # every pool theta not bought ...
    assert not np.intersect1d(scored, ds.test_thetas).size     # ... and no test theta
    dis = np.asarray(m["scores"]["disagreement"])
    assert np.all(np.isfinite(dis)) and np.all(dis > 0)
    assert "scores" not in json.loads((tmp_path / "metrics.json").read_text())
    with pytest.raises(ValueError, match="ensemble_size=1 is invalid: allowed >= 1 .>= 2 to "
                                         "score the pool"):
        train_and_evaluate(ds, "mda_cnn", HP, "adaptive@30%", 0, tmp_path / "x",
                           training_config=SHORT, model_config=MODELS, order=order,
                           score_pool=True)


def test_an_adaptive_spread_cell_scores_every_pool_point_it_did_not_buy_per_row(tiny_dataset,
                                                                               tmp_path):
    from sabr.data.allocations.acquisition_points import expand_order, first_spread_round, unbought_points
    ds = tiny_dataset
    order = first_spread_round(ds, 0, 0.4 * pool_cpu_seconds(ds))
    m = train_and_evaluate(ds, "mda_cnn", HP, "adaptive/spread@40%", 0, tmp_path,
                           training_config=SHORT, model_config=MODELS, ensemble_size=2,
                           order=order, score_pool=True)
    bought = expand_order(ds, 0, order)[0]
    assert m["status"] == "ok" and m["n_train"] + m["n_val"] == bought.size
    left = unbought_points(ds, bought)
    scored = np.asarray(m["scores"]["thetas"])
    assert np.array_equal(scored, np.unique(np.unravel_index(left, ds.shape)[0]))
    assert not np.intersect1d(scored, ds.test_thetas).size
    rows = np.asarray(m["scores"]["rows"])
    assert rows.shape == (scored.size, ds.shape[1])
    # a row with no point left to buy scores 0; one with points left scores > 0
    t, j, _ = np.unravel_index(left, ds.shape)
    has = np.zeros(rows.shape, bool)
    has[np.searchsorted(scored, t), j] = True
    assert np.all(rows[~has] == 0) and np.all(rows[has] > 0)
    assert json.loads((tmp_path / "config.json").read_text())["order"] == order


def test_a_warm_started_round_continues_from_the_previous_rounds_members(tiny_dataset, tmp_path):
    """With a learning rate of ~0 a warm round's members predict what round 1's members
    predicted (they start from those weights, in that scale); cold members do not."""
    from sabr.data.allocations.acquisition import next_round
    ds = tiny_dataset
    pool = pool_cpu_seconds(ds)
    first = first_round(ds, 0, 0.3 * pool)
    kw = dict(training_config=SHORT, model_config=MODELS, ensemble_size=2)
    r1 = train_and_evaluate(ds, "residual_mlp", HP, "adaptive@30%", 0, tmp_path / "r1",
                            order=first, score_pool=True, **kw)
    second = next_round(ds, first, 0.6 * pool, r1["scores"]["thetas"],
                        r1["scores"]["disagreement"])
    assert second.size > first.size
    still = dict(HP, learning_rate=1e-12)
    cold = train_and_evaluate(ds, "residual_mlp", still, "adaptive@60%", 0, tmp_path / "cold",
                              order=second, **kw)
    warm = train_and_evaluate(ds, "residual_mlp", still, "adaptive@60%", 0, tmp_path / "warm",
                              order=second, warm_from=tmp_path / "r1", **kw)
    assert r1["status"] == cold["status"] == warm["status"] == "ok"
    before = np.load(tmp_path / "r1" / "predictions.npz")["sigma_members"]
    after = np.load(tmp_path / "warm" / "predictions.npz")["sigma_members"]
    fresh = np.load(tmp_path / "cold" / "predictions.npz")["sigma_members"]
    assert np.allclose(after, before, rtol=0, atol=1e-6)
    assert not np.allclose(fresh, before, rtol=0, atol=1e-3)
    c1 = json.loads((tmp_path / "r1" / "config.json").read_text())
    cw = json.loads((tmp_path / "warm" / "config.json").read_text())
    assert cw["normaliser"] == c1["normaliser"] and cw["warm_from"] == "r1"
    with pytest.raises(ValueError, match="warm_from=.* has 2 members; allowed a round of 3"):
        train_and_evaluate(ds, "residual_mlp", HP, "adaptive@60%", 0, tmp_path / "x",
                           order=second, warm_from=tmp_path / "r1",
                           **{**kw, "ensemble_size": 3})
