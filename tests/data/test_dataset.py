import json

import numpy as np
import pytest

from sabr.data.dataset import (DATA_FILE, META_FILE, DatasetError, GridSpec, MCSettings, assemble,
                               chunk_indices, compute_chunk, load_dataset, sample_thetas, split_thetas,
                               theta_seed)
from sabr.numerics.hagan import hagan_vol
from sabr.numerics.montecarlo import mc_surface
from sabr.numerics.time_grid import default_steps_per_year, step_counts



def test_sobol_thetas_fill_the_box(small_cfg):
    th = sample_thetas(256, small_cfg.parameter_box, 1)
    box = small_cfg.parameter_box
    lo = np.array([box.alpha[0], box.beta[0], box.nu[0], box.rho[0]])
    hi = np.array([box.alpha[1], box.beta[1], box.nu[1], box.rho[1]])
    assert th.shape == (256, 4) and np.all(th >= lo) and np.all(th <= hi)
    # a scrambled Sobol net: each quarter of every axis holds exactly 64 of 256 points
    quarter = np.floor((th - lo) / (hi - lo) * 4).astype(int)
    for j in range(4):
        assert np.bincount(quarter[:, j], minlength=4).tolist() == [64, 64, 64, 64]
    np.testing.assert_array_equal(th, sample_thetas(256, box, 1))
    assert not np.array_equal(th, sample_thetas(256, box, 2))


def test_split_is_by_theta_and_from_the_seed():
    test, train = split_thetas(100, 0.15, 3)
    assert test.size == 15 and train.size == 85
    assert np.intersect1d(test, train).size == 0
    np.testing.assert_array_equal(np.union1d(test, train), np.arange(100))
    assert not np.array_equal(test, split_thetas(100, 0.15, 4)[0])


def test_theta_seed_depends_only_on_master_and_index():
    assert theta_seed(7, 3) == theta_seed(7, 3)
    assert len({theta_seed(7, i) for i in range(100)}) == 100
    assert theta_seed(8, 3) != theta_seed(7, 3)


def test_chunking_does_not_change_any_number(small_cfg, tmp_path):
    thetas = sample_thetas(small_cfg.n_parameter_sets, small_cfg.parameter_box, 7)
    grid, mc = GridSpec.from_config(small_cfg), MCSettings.from_config(small_cfg)
    n = len(thetas)
    results = []
    for n_chunks in (2, 5):
        chunks = [compute_chunk(thetas[i], i, grid, mc, 7)
                  for i in chunk_indices(n, -(-n // n_chunks))]
        assert len(chunks) == n_chunks
        results.append(load_dataset(assemble(chunks[::-1], thetas, small_cfg,
                                             tmp_path / str(n_chunks))))
    a, b = results
    for name in ("lf", "hf", "hf_se", "strikes"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    assert a.content_hash == b.content_hash


def test_surfaces_are_hagan_and_monte_carlo(small_dataset):
    d = small_dataset
    i = 5
    alpha, beta, nu, rho = d.thetas[i]
    np.testing.assert_allclose(d.lf[i], hagan_vol(d.strikes[i], d.fwd, d.maturities[:, None],
                                                  alpha, beta, nu, rho), rtol=1e-14)
    cfg = d.meta["config"]
    hf, se = mc_surface(d.fwd, d.strikes[i], d.maturities, alpha, beta, nu, rho,
                        n_paths=cfg["mc_paths"], seed=theta_seed(cfg["master_seed"], i))
    assert hf.tobytes() == d.hf[i].tobytes() and se.tobytes() == d.hf_se[i].tobytes()
    assert d.shape == (20, 4, 7) and d.test_thetas.size == 3


def test_metadata_records_costs_and_hashes(small_dataset):
    m = small_dataset.meta
    assert len(m["hf_seconds_per_surface"]) == 20 and all(s > 0 for s in m["hf_seconds_per_surface"])
    d = small_dataset
    alpha, beta = d.thetas[0, :2]
    steps = step_counts(d.maturities, default_steps_per_year(d.fwd, alpha, beta)).sum()
    assert m["path_steps_per_surface"][0] == 2000 * steps
    assert len(m["code_fingerprint"]) == 16 and len(m["content_hash"]) == 64
    assert m["config"]["mc_paths"] == 2000 and m["mc"]["steps_per_year"].startswith("auto")
    assert 0 < m["noise_floor_bp"] < 500
    # CPU-seconds of each theta's run to each maturity: cumulative, the last one the run's total
    cpu = d.hf_cpu_seconds
    assert cpu.shape == (20, 4) and np.all(cpu > 0) and np.all(np.diff(cpu, axis=1) > 0)
    np.testing.assert_array_equal(cpu, np.array(m["hf_cpu_seconds"]))
    assert m["hf_cpu_seconds_total"] == pytest.approx(cpu[:, -1].sum())
    # CPU time of the run is at most its wall time (plus clock granularity)
    assert np.all(cpu[:, -1] <= np.array(m["hf_seconds_per_surface"]) + 0.01)
    assert m["hf_seconds_total"] == pytest.approx(sum(m["hf_seconds_per_surface"]))


def test_save_load_round_trip(small_dataset, make_small_config, tmp_path):
    d = small_dataset
    chunk = {"indices": np.arange(20), "strikes": d.strikes, "lf": d.lf, "hf": d.hf,
             "hf_se": d.hf_se, "seconds": np.ones(20), "path_steps": np.ones(20, int),
             "prefix_paths": d.prefix_paths, "hf_prefix": d.hf_prefix,
             "hf_se_prefix": d.hf_se_prefix, "hf_cpu_seconds_prefix": d.hf_cpu_seconds_prefix}
    out = assemble([chunk], d.thetas, make_small_config(), tmp_path)
    e = load_dataset(out)
    for name, arr in d.arrays().items():
        np.testing.assert_array_equal(getattr(e, name) if name != "fwd" else e.fwd, arr)
    # the content hash is a function of the numbers only: other (here: no) timings, same hash
    assert e.content_hash == d.content_hash
    assert e.hf_cpu_seconds.shape == (20, 4) and np.all(np.isnan(e.hf_cpu_seconds))
    cpu = np.cumsum(np.arange(1.0, 81.0).reshape(20, 4), axis=1)
    f = load_dataset(assemble([chunk | {"hf_cpu_seconds": cpu}], d.thetas, make_small_config(),
                              tmp_path / "timed"))
    np.testing.assert_array_equal(f.hf_cpu_seconds, cpu)
    assert f.content_hash == d.content_hash and f.meta["hf_cpu_seconds_total"] == cpu[:, -1].sum()
    np.testing.assert_array_equal(f.hf_cpu_seconds_prefix, d.hf_cpu_seconds_prefix)


def test_prefix_labels_are_hashed_and_a_chunk_without_them_gives_a_data_set_without(
        small_dataset, make_small_config, tmp_path):
    """The labels from the first paths are data (an edit changes the content hash); their
    timings are not. Chunks from before they were recorded assemble without them."""
    d = small_dataset
    assert d.prefix_paths.tolist() == [124, 250, 500, 1000] and d.hf_prefix.shape == (20, 4, 4, 7)
    base = {"indices": np.arange(20), "strikes": d.strikes, "lf": d.lf, "hf": d.hf,
            "hf_se": d.hf_se, "seconds": np.ones(20), "path_steps": np.ones(20, int)}
    edited = d.hf_prefix.copy()
    edited[3, 1, 2, 4] += 1e-4
    e = load_dataset(assemble([base | {"prefix_paths": d.prefix_paths, "hf_prefix": edited,
                                       "hf_se_prefix": d.hf_se_prefix,
                                       "hf_cpu_seconds_prefix": 2 * d.hf_cpu_seconds_prefix}],
                              d.thetas, make_small_config(), tmp_path / "edited"))
    assert e.content_hash != d.content_hash
    old = load_dataset(assemble([base], d.thetas, make_small_config(), tmp_path / "old"))
    assert old.hf_prefix is None and old.prefix_paths is None and old.hf_cpu_seconds_prefix is None
    assert old.content_hash != d.content_hash


def test_data_set_without_recorded_timings_loads_with_nan(small_dataset, tmp_path):
    src = tmp_path / "old"
    src.mkdir()
    d = small_dataset
    from sabr.io import atomic_save_npz
    atomic_save_npz(src / DATA_FILE, d.arrays())
    meta = {k: v for k, v in d.meta.items() if not k.startswith("hf_cpu")}
    (src / META_FILE).write_text(json.dumps(meta))
    e = load_dataset(src)
    assert e.content_hash == d.content_hash and np.isnan(e.hf_cpu_seconds).all()
    assert e.hf_cpu_seconds.shape == (20, 4)


def test_regions_use_each_surfaces_own_atm_vol(small_dataset):
    from sabr.numerics.grid import atm_vol, make_grid
    d = small_dataset
    pts = d.theta_points(np.arange(20), valid_only=False)
    th, m, _ = d.unravel(pts)
    alpha, beta, nu, rho = d.thetas[th].T
    own = hagan_vol(d.fwd, d.fwd, d.maturities[m], alpha, beta, nu, rho)
    np.testing.assert_allclose(atm_vol(d.fwd, d.maturities[m], alpha, beta, nu, rho), own,
                               rtol=0, atol=0)
    z = np.log(d.strikes.ravel()[pts] / d.fwd) / (own * np.sqrt(d.maturities[m]))
    np.testing.assert_allclose(d.moneyness(pts), z, rtol=1e-14)
    g = make_grid(d.fwd, *d.thetas[3], maturities=d.maturities, n_strikes=7)
    np.testing.assert_array_equal(d.regions(d.theta_points(np.array([3]), valid_only=False)),
                                  g.regions.ravel())


def _copy(src, dst):
    dst.mkdir()
    for name in (DATA_FILE, META_FILE):
        (dst / name).write_bytes((src / name).read_bytes())


@pytest.fixture()
def saved(small_dataset, make_small_config, tmp_path):
    d = small_dataset
    chunk = {"indices": np.arange(20), "strikes": d.strikes, "lf": d.lf, "hf": d.hf,
             "hf_se": d.hf_se, "seconds": np.ones(20), "path_steps": np.ones(20, int)}
    return assemble([chunk], d.thetas, make_small_config(), tmp_path / "orig")


def test_truncated_file_is_a_clear_error(saved, tmp_path):
    bad = tmp_path / "trunc"
    _copy(saved, bad)
    data = (bad / DATA_FILE).read_bytes()
    (bad / DATA_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        load_dataset(bad)


def test_tampered_content_fails_the_hash(saved, tmp_path):
    bad = tmp_path / "tampered"
    _copy(saved, bad)
    with np.load(bad / DATA_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["hf"] = arrays["hf"] + 1e-9
    np.savez_compressed(bad / DATA_FILE, **arrays)
    with pytest.raises(DatasetError, match="does not match its content hash"):
        load_dataset(bad)


def test_missing_metadata_means_incomplete(saved, tmp_path):
    bad = tmp_path / "partial"
    _copy(saved, bad)
    (bad / META_FILE).unlink()
    with pytest.raises(DatasetError, match="incomplete"):
        load_dataset(bad)


def test_corrupt_metadata(saved, tmp_path):
    bad = tmp_path / "meta"
    _copy(saved, bad)
    (bad / META_FILE).write_text("{not json")
    with pytest.raises(DatasetError, match="metadata.json is corrupt"):
        load_dataset(bad)


def test_assemble_refuses_missing_chunks(small_dataset, make_small_config, tmp_path):
    d = small_dataset
    chunk = {"indices": np.arange(10), "strikes": d.strikes[:10], "lf": d.lf[:10],
             "hf": d.hf[:10], "hf_se": d.hf_se[:10], "seconds": np.ones(10),
             "path_steps": np.ones(10, int)}
    with pytest.raises(DatasetError, match="cover 10 of 20"):
        assemble([chunk], d.thetas, make_small_config(), tmp_path)
    assert not (tmp_path / DATA_FILE).exists()


def test_no_pickle_in_the_archive(saved):
    with np.load(saved / DATA_FILE, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    json.loads((saved / META_FILE).read_text())
