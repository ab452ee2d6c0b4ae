"""HF cost of a set of points (sabr.data.costs.hf_cost): distinct thetas, each run to its longest maturity."""
import numpy as np
import pytest

from sabr.data.budgets import budget_points
from sabr.data.costs import hf_cost
from sabr.data.dataset import Dataset


def _tiny(cpu, steps=None):
    """A 3-theta, 3-maturity, 2-strike data set whose only meaningful fields are the costs."""
    n, m, k = 3, 3, 2
    z = np.ones((n, m, k))
    return Dataset(thetas=np.full((n, 4), 0.3), maturities=np.array([1.0, 2.0, 3.0]), strikes=z,
                   lf=z, hf=z, hf_se=z, test_thetas=np.array([2]), train_thetas=np.array([0, 1]),
                   fwd=1.0, hf_cpu_seconds=cpu, hf_path_steps=steps)


CPU = np.array([[1.0, 2.0, 3.0],       # theta 0: CPU-seconds of its run to maturity 0, 1, 2
                [10.0, 20.0, 30.0],
                [100.0, 200.0, 300.0]])


STEPS = np.array([[4e3, 8e3, 12e3],    # path-steps of the same runs (another unit, same rule)
                  [5e3, 10e3, 15e3],
                  [6e3, 12e3, 18e3]])


def test_hand_computed_cost():
    d = _tiny(CPU, STEPS)
    pts = lambda *tmk: np.ravel_multi_index(np.array(tmk).T, d.shape)   # noqa: E731
    # theta 0 up to maturity 1 (two points, one at m = 0), theta 1 to maturity 2: 2 + 30
    assert hf_cost(d, pts((0, 0, 0), (0, 1, 1), (1, 2, 0))) == {
        "n_hf_thetas": 2, "hf_cpu_seconds": 32.0, "hf_path_steps": 8e3 + 15e3}
    # a second point of a theta at a shorter maturity adds nothing; duplicates neither
    assert hf_cost(d, pts((1, 2, 0), (1, 0, 1), (1, 2, 0))) == {
        "n_hf_thetas": 1, "hf_cpu_seconds": 30.0, "hf_path_steps": 15e3}
    # every point of every theta: the whole pool's runs
    assert hf_cost(d, np.arange(18)) == {"n_hf_thetas": 3, "hf_cpu_seconds": 333.0,
                                         "hf_path_steps": 45e3}
    assert hf_cost(d, np.array([], int)) == {"n_hf_thetas": 0, "hf_cpu_seconds": 0.0,
                                             "hf_path_steps": 0.0}


def test_cost_unknown_without_timings():
    out = hf_cost(_tiny(None), np.array([0, 7]))
    assert out["n_hf_thetas"] == 2 and np.isnan(out["hf_cpu_seconds"])
    out = hf_cost(_tiny(np.full((3, 3), np.nan)), np.array([0]))
    assert out["n_hf_thetas"] == 1 and np.isnan(out["hf_cpu_seconds"])


@pytest.mark.parametrize("seed", [0, 1])
def test_spread_budget_buys_one_run_per_point(full_pool, seed):
    # while b <= pool thetas every point comes from its own theta, i.e. its own MC run
    d = full_pool
    pool = d.train_thetas.size
    assert np.all(np.isfinite(d.hf_cpu_seconds)) and np.all(np.diff(d.hf_cpu_seconds, axis=1) >= 0)
    previous = 0.0
    for b in (50, 100, 200, 400, pool):
        split = budget_points(d, b, seed)
        cost = hf_cost(d, split.all)
        assert cost["n_hf_thetas"] == b
        th, m, _ = d.unravel(split.all)
        assert cost["hf_cpu_seconds"] == pytest.approx(d.hf_cpu_seconds[th, m].sum(), rel=1e-12)
        assert cost["hf_cpu_seconds"] >= previous                 # nested budgets cost more
        previous = cost["hf_cpu_seconds"]
    # beyond the pool's thetas points share runs: every pool theta, no more
    assert hf_cost(d, budget_points(d, 1000, seed).all)["n_hf_thetas"] == pool
