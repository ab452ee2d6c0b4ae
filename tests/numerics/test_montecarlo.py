"""Monte Carlo engine against published tables, closed forms and its own identities."""
import tracemalloc

import numpy as np
import pytest
from scipy.stats import ncx2

from sabr.numerics.black import implied_vol
from sabr.numerics.montecarlo import CHUNK_PATHS, mc_prices, mc_smile, mc_surface

pytestmark = pytest.mark.slow


def test_lognormal_limit_gives_flat_smile_at_alpha():
    strikes = np.linspace(0.4, 2.2, 15)
    vols, ses = mc_smile(1.0, strikes, 5.0, 0.3, 1.0, 0.0, 0.5, n_paths=100_000, seed=3)
    assert np.all(ses > 0) and np.all(ses < 1e-3)   # under 10 bp: the check has teeth
    # the largest of 15 correlated z-scores: over seeds 0-19 the largest was 3.44 (this
    # seed's), the z-scores' sd 0.9-1.2 across strikes
    assert np.all(np.abs(vols - 0.3) <= 3.5 * ses)


@pytest.mark.parametrize("table", range(1, 10))
def test_antonov_spector_2012_mc_vols_at_T10(antonov_spector, table):
    g = antonov_spector[antonov_spector.case == f"AS2012-T{table}"]
    r = g.iloc[0]
    vols, ses = mc_smile(r.F0, g.K.values, r["T"], r.alpha, r.beta, r.nu, r.rho,
                         n_paths=100_000, seed=table)
    gap = np.abs(vols - g.ref_vol.values)
    assert np.all(np.isfinite(vols)) and len(g) == 20
    assert np.all(gap <= 3 * ses + 2e-4), (gap / ses).round(2)
    # and Monte Carlo sees what Hagan misses: far below the money Hagan is off by >> s.e.
    assert abs(vols[0] - g.hagan_vol.values[0]) > 10 * ses[0]


def test_benchop_set1_call_prices(benchop):
    r = benchop.iloc[0]
    strikes = benchop.K.values
    res = mc_prices(r.F0, strikes[None, :], [r["T"]], r.alpha, r.beta, r.nu, r.rho,
                    n_paths=200_000, seed=5)
    # OTM puts below F0 become calls by put-call parity (undiscounted: C = P + F - K)
    calls = res.prices[0] + np.where(res.is_call[0], 0.0, r.F0 - strikes)
    assert np.all(np.abs(calls - benchop.ref_call_price.values) <= 3 * res.price_stderr[0])
    assert np.all(res.price_stderr[0] < 3e-4)      # 0.15 % of the price: a real check


def _cev_call(fwd, strike, texp, sigma, beta):
    """Schroder (1989) CEV call with absorption at 0, via the noncentral chi-square."""
    x = fwd ** (2 * (1 - beta)) / ((1 - beta) ** 2 * sigma ** 2 * texp)
    y = strike ** (2 * (1 - beta)) / ((1 - beta) ** 2 * sigma ** 2 * texp)
    return fwd * ncx2.sf(y, 2 + 1 / (1 - beta), x) - strike * ncx2.cdf(x, 1 / (1 - beta), y)


@pytest.mark.parametrize("sigma, beta, steps_per_year", [
    (0.25, 0.3, None), (0.25, 0.7, None),
    (0.6, 0.3, 8),       # heavy absorption on a coarse step: the exact Bessel step near 0
])
def test_cev_limit_matches_schroder_closed_form(sigma, beta, steps_per_year):
    strikes = np.array([0.1, 0.2, 0.4, 0.7, 1.0, 1.4, 2.0])
    mats = np.array([1.0, 3.0, 10.0])
    k = np.tile(strikes, (3, 1))
    t = np.broadcast_to(mats[:, None], k.shape)
    is_call = k >= 1.0
    call = _cev_call(1.0, k, t, sigma, beta)
    exact = implied_vol(np.where(is_call, call, call - 1.0 + k), 1.0, k, t, is_call)
    vols, ses = mc_surface(1.0, k, mats, sigma, beta, 0.0, 0.0, n_paths=100_000,
                           steps_per_year=steps_per_year, seed=9)
    ok = np.isfinite(exact) & np.isfinite(vols)      # T = 1, K = 0.1: 9 sd out, no path gets there
    assert ok.sum() >= 18
    assert np.all(np.abs(vols - exact)[ok] <= 3 * ses[ok] + 2e-4)


def test_stderr_shrinks_as_one_over_sqrt_paths():
    strikes = np.linspace(0.5, 1.8, 9)
    _, se_small = mc_smile(1.0, strikes, 3.0, 0.3, 0.6, 0.5, -0.4, n_paths=25_000, seed=1)
    _, se_big = mc_smile(1.0, strikes, 3.0, 0.3, 0.6, 0.5, -0.4, n_paths=400_000, seed=2)
    ratio = se_small / se_big                      # sqrt(400k / 25k) = 4
    assert np.all((ratio > 3.4) & (ratio < 4.6)), ratio


def test_same_seed_same_bits_other_seed_other_numbers():
    strikes = np.array([[0.6, 1.0, 1.5], [0.5, 1.0, 1.8]])
    args = (1.0, strikes, [1.0, 2.0], 0.3, 0.5, 0.6, -0.3)
    a = mc_surface(*args, n_paths=2 * CHUNK_PATHS + 1000, seed=42)
    b = mc_surface(*args, n_paths=2 * CHUNK_PATHS + 1000, seed=42)
    c = mc_surface(*args, n_paths=2 * CHUNK_PATHS + 1000, seed=43)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(a[0], c[0])


def test_surface_equals_its_smiles_at_the_last_maturity():
    # one simulation serves every maturity: the surface's last row is the path set's T = 2 smile
    strikes = np.array([[0.7, 1.0, 1.4], [0.6, 1.0, 1.6]])
    vols, _ = mc_surface(1.0, strikes, [1.0, 2.0], 0.3, 0.5, 0.6, -0.3, n_paths=20_000,
                         steps_per_year=16, seed=4)
    smile, _ = mc_smile(1.0, strikes[1], 2.0, 0.3, 0.5, 0.6, -0.3, n_paths=20_000,
                        steps_per_year=16, seed=4)
    np.testing.assert_allclose(vols[1], smile, rtol=0, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_any_forward_level_by_homogeneity(beta):
    # SABR is homogeneous: (F, K, alpha) -> (l F, l K, l^(1-beta) alpha) leaves Black vols unchanged
    strikes = np.array([[0.5, 0.8, 1.0, 1.3, 2.0]])
    base = mc_surface(1.0, strikes, [4.0], 0.3, beta, 0.5, -0.5, n_paths=20_000, seed=8)
    for lam in (0.01, 250.0):
        scaled = mc_surface(lam, lam * strikes, [4.0], 0.3 * lam ** (1 - beta), beta, 0.5, -0.5,
                            n_paths=20_000, seed=8)
        np.testing.assert_allclose(scaled[0], base[0], rtol=1e-8)


def test_memory_is_bounded_by_the_chunk_not_paths_or_steps():
    strikes = np.tile(np.linspace(0.5, 2.0, 21), (10, 1))
    mats = np.arange(1.0, 11.0)
    tracemalloc.start()
    mc_surface(1.0, strikes, mats, 0.3, 0.6, 0.5, -0.4, n_paths=100_000,
               steps_per_year=100, seed=0)            # 100k paths x 1000 steps
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2 ** 20, peak / 2 ** 20       # far below the 1 GiB budget


def test_nu_zero_and_strong_correlation_are_finite():
    strikes = np.linspace(0.3, 2.0, 11)
    for nu, rho in ((0.0, 0.9), (0.9, -0.95), (2.0, 0.0)):
        vols, ses = mc_smile(1.0, strikes, 2.0, 0.4, 0.5, nu, rho, n_paths=40_000, seed=1)
        assert np.all(np.isfinite(vols)) and np.all(np.isfinite(ses))


def test_a_wing_no_path_reaches_is_nan_not_an_error():
    # F0 = 1, T = 2, rho = -0.95: no path of 10k gets anywhere near K = 50
    res = mc_prices(1.0, np.array([[1.0, 50.0]]), [2.0], 0.4, 0.5, 0.9, -0.95, n_paths=10_000, seed=1)
    assert res.prices[0, 1] == 0.0 and np.isnan(res.vols[0, 1]) and np.isnan(res.vol_stderr[0, 1])
    assert np.isfinite(res.vols[0, 0])


@pytest.mark.parametrize("kwargs, field", [
    (dict(n_paths=101), "n_paths"), (dict(n_paths=10), "n_paths"),
    (dict(steps_per_year=0), "steps_per_year"), (dict(fwd=0.0), "fwd"),
    (dict(strikes=np.array([[1.0, -1.0]])), "strikes"), (dict(rho=-1.0), "rho"),
    (dict(maturities=[2.0, 1.0], strikes=np.ones((2, 2))), "maturities"),
    (dict(strikes=np.ones((2, 3))), "strikes"), (dict(beta=-0.1), "beta"),
])
def test_bad_inputs_name_the_field(kwargs, field):
    args = dict(fwd=1.0, strikes=np.array([[0.9, 1.1]]), maturities=[1.0], alpha=0.3,
                beta=0.5, nu=0.4, rho=0.0, n_paths=1000)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{field}"):
        mc_surface(**args)


@pytest.mark.parametrize("fwd, alpha, beta, nu, rho", [
    (1.0, 0.3, 0.6, 0.5, -0.4),      # benchmark surface
    (1.0, 0.6, 0.3, 0.9, -0.75),     # box corner: many paths near F = 0 (exact Bessel step)
    (1.0, 0.3, 1.0, 0.5, 0.3),       # lognormal: log-space branch
    (0.05, 0.02, 0.0, 0.4, 0.2),     # normal SABR (c = 0), low forward
    (1.0, 0.4, 0.5, 0.0, 0.9),       # nu = 0: correlated part by Euler
])
def test_compiled_and_numpy_engines_agree_to_rounding(fwd, alpha, beta, nu, rho):
    # same scheme, same random numbers: only exp/expm1 rounding and summation order differ
    strikes = fwd * np.tile(np.exp(np.linspace(-1.0, 1.0, 9)), (4, 1))
    mats = np.array([0.5, 1.0, 3.0, 5.0])
    fast, ref = (mc_prices(fwd, strikes, mats, alpha, beta, nu, rho, n_paths=20_000, seed=11,
                           engine=e) for e in ("numba", "numpy"))
    np.testing.assert_allclose(fast.prices, ref.prices, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(fast.price_stderr, ref.price_stderr, rtol=1e-7, atol=1e-15)
    np.testing.assert_array_equal(np.isnan(fast.vols), np.isnan(ref.vols))
    assert np.nanmax(np.abs(fast.vols - ref.vols)) < 1e-10


def test_engines_agree_over_ten_years_where_the_near_zero_step_draws_large_poisson_counts():
    # the box corner to 10 y: paths near 0 take the exact Bessel step, whose Poisson means
    # exceed 10 here. numba's Generator.poisson differs from NumPy's for such means (it
    # did in this very case: up to 5 bp on a vol), so those draws must stay NumPy's.
    from sabr.numerics.grid import default_maturities, funahashi_strikes
    mats = default_maturities()
    strikes = funahashi_strikes(1.0, mats, 0.6, 0.3)
    fast, ref = (mc_prices(1.0, strikes, mats, 0.6, 0.3, 0.9, -0.75, n_paths=16_384, seed=3,
                           engine=e) for e in ("numba", "numpy"))
    assert mats[-1] == 10.0 and np.isfinite(ref.vols).mean() > 0.9
    assert np.nanmax(np.abs(fast.vols - ref.vols)) < 1e-10


def test_compiled_normals_are_numpys_numbers_from_the_same_state():
    from sabr.numerics.mc_kernels import draw_normals
    rng, ref = np.random.default_rng(17), np.random.default_rng(17)
    z1, z2 = np.empty(5000), np.empty(5000)
    for _ in range(3):              # the generator's state carries over between calls
        draw_normals(rng, z1, z2, 4000)
        assert z1[:4000].tobytes() == ref.standard_normal(4000).tobytes()
        assert z2[:4000].tobytes() == ref.standard_normal(4000).tobytes()
    assert rng.random() == ref.random()


def test_every_compiled_kernel_is_compiled_before_the_first_timed_run():
    # a kernel compiled (or loaded from numba's cache) inside a run would be charged to that
    # surface's CPU-seconds, the cost every allocation by CPU budget buys with
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "from numba.core.registry import CPUDispatcher\n"
            "from sabr.numerics import mc_kernels as k\n"
            "from sabr.numerics.montecarlo import _warm_up\n"
            "_warm_up('numba')\n"
            "names = [n for n in k.__all__ if isinstance(getattr(k, n), CPUDispatcher)]\n"
            "print(len(names), [n for n in names if not getattr(k, n).signatures])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split(maxsplit=1)
    assert int(out[0]) >= 8 and out[1].strip() == "[]", out


def test_an_unknown_engine_is_named():
    with pytest.raises(ValueError, match="^engine='fortran' is invalid: allowed one of"):
        mc_prices(1.0, np.array([[1.0]]), [1.0], 0.3, 0.5, 0.4, 0.0, n_paths=1000, engine="fortran")


def test_cpu_seconds_per_maturity_are_measured_and_cumulative():
    """cpu_seconds_to_maturity: increasing, ends at the call's CPU time, ~ a shorter run's cost."""
    import time
    from sabr.numerics.grid import default_maturities, funahashi_strikes
    mats = default_maturities()
    strikes = funahashi_strikes(1.0, mats, 0.3, 0.6)
    args = (1.0, strikes, mats, 0.3, 0.6, 0.4, -0.3)
    mc_prices(*args, n_paths=1000, seed=1)                   # compile / load the kernels
    for engine in ("numba", "numpy"):
        t0 = time.thread_time()
        res = mc_prices(*args, n_paths=40_000, seed=1, engine=engine)
        own = time.thread_time() - t0
        cum = res.cpu_seconds_to_maturity
        assert cum.shape == (10,) and np.all(np.diff(cum) > 0) and cum[0] > 0
        assert cum[-1] == pytest.approx(res.cpu_seconds, rel=1e-12)
        # the call also estimates and inverts its path prefixes after its clock stops (4 at
        # 40k paths, charged to them: prefix_cpu_seconds_to_maturity): 4-7 % of the call
        assert res.cpu_seconds <= own and res.cpu_seconds == pytest.approx(own, rel=0.12)
        # the steps are uniform in time here: a run to T is roughly T / 10 of the whole
        np.testing.assert_allclose(cum / cum[-1], mats / 10.0, atol=0.06)
        # a run that stops at T = 5 costs what the 10-year run charges to T = 5; each run
        # is a fraction of a second, and one pair alone came out 0.66-1.26 with other work
        # on the machine: the least of three of each, run in turn (0.99-1.03 measured)
        longs, shorts = [cum[4]], []
        for rep in range(3):
            short = mc_prices(1.0, strikes[:5], mats[:5], 0.3, 0.6, 0.4, -0.3, n_paths=40_000,
                              seed=1, engine=engine)
            shorts.append(short.cpu_seconds)
            assert short.vols.tobytes() == res.vols[:5].tobytes()   # the same paths, stopped early
            if rep < 2:
                longs.append(mc_prices(*args, n_paths=40_000, seed=1,
                                       engine=engine).cpu_seconds_to_maturity[4])
        assert min(shorts) == pytest.approx(min(longs), rel=0.25)


def test_prefix_paths_are_nested_halvings_of_at_least_min_paths():
    from sabr.numerics.montecarlo import prefix_paths
    assert prefix_paths(100_000) == (6250, 12500, 25000, 50000)
    assert prefix_paths(20_000) == (1250, 2500, 5000, 10000)
    assert prefix_paths(1000) == (124, 250, 500)        # 1000 / 16 is below MIN_PATHS
    assert prefix_paths(100) == ()


def test_labels_from_the_first_paths_are_estimates_with_their_own_errors():
    """A run's estimate from its first n/2^j paths prices the CEV closed form (nu = 0,
    Schroder 1989) within its own standard error, which is sqrt(2^j) times the whole
    run's: a Monte Carlo estimate with n/2^j paths, recorded at no extra simulation."""
    strikes = np.tile([0.4, 0.7, 1.0, 1.4, 2.0], (2, 1))
    mats = np.array([1.0, 3.0])
    res = mc_prices(1.0, strikes, mats, 0.25, 0.5, 0.0, 0.0, n_paths=160_000, seed=5)
    t = np.broadcast_to(mats[:, None], strikes.shape)
    call = _cev_call(1.0, strikes, t, 0.25, 0.5)
    is_call = strikes >= 1.0
    exact = implied_vol(np.where(is_call, call, call - 1.0 + strikes), 1.0, strikes, t, is_call)
    assert res.prefix_paths == (10_000, 20_000, 40_000, 80_000)
    for level, paths in enumerate(res.prefix_paths):
        vols, ses = res.prefix_vols[level], res.prefix_vol_stderr[level]
        assert np.all(np.abs(vols - exact) <= 3.5 * ses + 2e-4), (paths, vols - exact, ses)
        ratio = np.median(ses / res.vol_stderr)
        assert ratio == pytest.approx(np.sqrt(160_000 / paths), rel=0.12), (paths, ratio)


def test_a_prefix_costs_its_share_of_the_run():
    """prefix_cpu_seconds_to_maturity: cumulative per maturity, growing with the paths,
    below the whole run's, and about the prefix's share of the paths of it (plus the
    run's fixed cost; the median of three runs, thread CPU time being noisy)."""
    from sabr.numerics.grid import default_maturities, funahashi_strikes
    mats = default_maturities()
    strikes = funahashi_strikes(1.0, mats, 0.3, 0.6)
    args = (1.0, strikes, mats, 0.3, 0.6, 0.4, -0.3)
    mc_prices(*args, n_paths=1000, seed=1)                   # compile / load the kernels
    ratios = []
    for seed in range(3):
        res = mc_prices(*args, n_paths=64_000, seed=seed)
        cost = res.prefix_cpu_seconds_to_maturity
        assert cost.shape == (4, 10) and np.all(np.diff(cost, axis=1) > 0)
        assert np.all(np.diff(cost[:, -1]) > 0) and cost[-1, -1] < res.cpu_seconds
        ratios.append(cost[:, -1] / res.cpu_seconds)
    share = np.array(res.prefix_paths) / 64_000
    ratio = np.median(ratios, axis=0)
    print("paths share", share, "cost share", np.round(ratio, 3))
    assert np.all(ratio >= 0.7 * share) and np.all(ratio <= share + 0.12)


def test_a_garbage_collection_is_not_charged_to_a_surface():
    """The collector is off while a run is timed (as timeit does), and on again after."""
    import gc
    from sabr.numerics import montecarlo
    seen = []
    gc.callbacks.append(lambda phase, info: seen.append(phase))
    try:
        junk = [[i] for i in range(300_000)]      # enough new objects to trigger collections
        gc.collect()
        seen.clear()
        with montecarlo._collector_off():
            junk += [[i] for i in range(300_000)]
            inside = len(seen)                    # counted before anything runs after the block
        assert inside == 0 and gc.isenabled()
        junk += [[i] for i in range(300_000)]
        assert seen, "the collector did not run again after the timed run"
    finally:
        gc.callbacks.pop()
