"""The multi-fidelity data set: parameter pool, LF/HF surfaces, the test split; saved and verified.

Built once per configuration and reused by every budget, model and seed
(docs/DESIGN.md section 1):

1. ``sample_thetas``: n parameter sets from a scrambled Sobol sequence
   (Owen-scrambled, ``scipy.stats.qmc.Sobol``) scaled to the box.
2. ``split_thetas``: test / train pool *by theta*, from the master seed.
3. ``compute_chunk``: LF (Hagan) and HF (Monte Carlo) surfaces and HF
   standard errors for a chunk of thetas on each theta's Funahashi grid. Each
   theta's Monte Carlo seed derives from (master seed, theta index) only, so
   chunking never changes a number.
4. ``assemble``: chunks -> ``surfaces.npz`` + ``metadata.json`` (content hash,
   code fingerprint, MC settings, seconds and path-steps per surface, and the
   Monte Carlo CPU-seconds per surface and maturity, ``hf_cpu_seconds``: a run
   to maturity m, sabr.numerics.mc_result). The content hash covers the numbers in
   ``surfaces.npz`` only; timings live in ``metadata.json``, so a rerun that
   regenerates the same vols keeps the hash (and every cached model).
5. ``load_dataset``: reads them back (``allow_pickle=False``), verifies the hash and
   exposes the timings as ``Dataset.hf_cpu_seconds`` (NaN for older data sets) and the
   runs' path-steps as ``Dataset.hf_path_steps``: the machine-independent cost unit,
   n_paths x the time steps to each maturity of the engine's grid
   (sabr.numerics.time_grid), recorded at assembly and derived from the grid for data
   sets from before it was.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..settings import DataGenConfig, n_test_thetas
from ..fingerprint import code_fingerprint, imported_modules
from ..io import atomic_save_npz, atomic_write_json, hash_arrays
from ..numerics.grid import default_maturities, funahashi_strikes, moneyness, region_labels
from ..numerics.hagan import hagan_vol

__all__ = [
    "DatasetError",
    "dataset_problem",
    "Dataset",
    "label_noise_sq",
    "MCSettings",
    "GridSpec",
    "sample_thetas",
    "split_thetas",
    "theta_seed",
    "chunk_indices",
    "compute_chunk",
    "assemble",
    "build_dataset",
    "load_dataset",
    "DATA_FILE",
    "META_FILE",
    "cost_hash",
    "usable_dataset",
    "grid_path_steps",
]

DATA_FILE = "surfaces.npz"
META_FILE = "metadata.json"
_SPLIT_STREAM, _THETA_STREAM, _SOBOL_STREAM = 1, 2, 3
_ARRAYS = ("thetas", "maturities", "strikes", "lf", "hf", "hf_se", "test_thetas", "train_thetas")
_PREFIX_ARRAYS = ("prefix_paths", "hf_prefix", "hf_se_prefix")
"""HF labels from the first n/2^j paths of every run (hashed; absent in older data sets)."""
_PREFIX_CPU = "hf_cpu_seconds_prefix"
"""Their Monte Carlo CPU-seconds (N, L, M): timings, so kept out of the hash."""


class DatasetError(ValueError):
    """A data set file is missing, corrupt, truncated or does not match its hash."""


@dataclass(frozen=True)
class GridSpec:
    """The surface grid shared by every theta: forward, maturities, strikes per maturity."""

    fwd: float
    maturities: tuple[float, ...]
    n_strikes: int

    @classmethod
    def from_config(cls, cfg: DataGenConfig) -> "GridSpec":
        mats = default_maturities(cfg.n_maturities, *cfg.maturity_range)
        return cls(float(cfg.fwd), tuple(float(t) for t in mats), int(cfg.n_strikes))

    def strikes(self, alpha: float, beta: float) -> np.ndarray:
        """Shape (n_maturities, n_strikes): Funahashi's rule for this theta."""
        return funahashi_strikes(self.fwd, np.array(self.maturities), alpha, beta, self.n_strikes)


@dataclass(frozen=True)
class MCSettings:
    """Monte Carlo settings for the HF surfaces."""

    n_paths: int
    steps_per_year: float | None     # None: the engine's default_steps_per_year per theta

    @classmethod
    def from_config(cls, cfg: DataGenConfig) -> "MCSettings":
        spy = None if cfg.steps_per_year is None else float(cfg.steps_per_year)
        return cls(int(cfg.mc_paths), spy)


@dataclass(frozen=True)
class Dataset:
    """LF/HF surfaces for every theta of the pool, with the test split.

    Attributes (N thetas, M maturities, K strikes):
        thetas: (N, 4) alpha, beta, nu, rho.
        maturities: (M,) years; fwd: the forward F0.
        strikes, lf, hf, hf_se: (N, M, K); vols are decimals. hf may hold NaN where a
            far-wing price had no implied vol: such points are never used.
        test_thetas, train_thetas: sorted theta indices of the test set and train pool.
        meta: the metadata written beside the arrays (hashes, config, costs).
        hf_cpu_seconds: (N, M) Monte Carlo CPU-seconds of theta's run to maturity m
            (cumulative in m; docs/DESIGN.md "What HF data costs"); NaN where not
            recorded (data sets from before it was), None if not given. Not hashed.
        prefix_paths: (L,) ascending path counts n/2^j of the nested prefixes of every
            run (sabr.numerics.montecarlo.prefix_paths); hf_prefix, hf_se_prefix
            (N, L, M, K): the HF vols and standard errors from those first paths;
            hf_cpu_seconds_prefix (N, L, M): what a run with only those paths costs, to
            maturity m (not hashed). None for data sets built before they were recorded.
        hf_path_steps: (N, M) Monte Carlo path-steps (paths x time steps) of theta's run to
            maturity m: the machine-independent cost of the same runs (cumulative in m;
            :func:`grid_path_steps`); NaN where unknown, None if not given. Not hashed: the
            labels' hash and the configuration fix it.
    """

    thetas: np.ndarray
    maturities: np.ndarray
    strikes: np.ndarray
    lf: np.ndarray
    hf: np.ndarray
    hf_se: np.ndarray
    test_thetas: np.ndarray
    train_thetas: np.ndarray
    fwd: float
    meta: dict = field(default_factory=dict)
    hf_cpu_seconds: np.ndarray | None = None
    prefix_paths: np.ndarray | None = None
    hf_prefix: np.ndarray | None = None
    hf_se_prefix: np.ndarray | None = None
    hf_cpu_seconds_prefix: np.ndarray | None = None
    hf_path_steps: np.ndarray | None = None

    @property
    def hf_path_steps_prefix(self) -> np.ndarray | None:
        """(N, L, M) path-steps of a run with only the first ``prefix_paths[L]`` paths, to
        maturity m: p / n of the whole run's, exactly (the same steps on fewer paths); None
        without prefixes or path-steps."""
        n = self.meta.get("mc", {}).get("n_paths") if isinstance(self.meta, dict) else None
        if self.prefix_paths is None or self.hf_path_steps is None or not n:
            return None
        steps = np.asarray(self.hf_path_steps, float) / float(n)       # steps to maturity m
        return steps[:, None, :] * np.asarray(self.prefix_paths, float)[None, :, None]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.lf.shape

    @property
    def content_hash(self) -> str:
        return self.meta.get("content_hash") or hash_arrays(self.arrays())

    @property
    def cost_hash(self) -> str:
        """The hash of the measured CPU-seconds (:func:`cost_hash`), computed from the arrays
        loaded (so an edited metadata.json cannot misstate it)."""
        cpu = self.hf_cpu_seconds if self.hf_cpu_seconds is not None else np.full(1, np.nan)
        return cost_hash(cpu, self.hf_cpu_seconds_prefix)

    def arrays(self) -> dict[str, np.ndarray]:
        prefix = {name: getattr(self, name) for name in _PREFIX_ARRAYS
                  if getattr(self, name) is not None}
        return {name: getattr(self, name) for name in _ARRAYS} | prefix | {"fwd": np.array(self.fwd)}

    @property
    def valid(self) -> np.ndarray:
        """(N, M, K) bool: points with finite LF, HF and HF standard error."""
        return np.isfinite(self.lf) & np.isfinite(self.hf) & np.isfinite(self.hf_se)

    def theta_points(self, thetas: np.ndarray, *, valid_only: bool = True) -> np.ndarray:
        """Flat point indices (theta * M * K + m * K + k) of every grid point of ``thetas``."""
        n, m, k = self.shape
        pts = (np.asarray(thetas)[:, None] * (m * k) + np.arange(m * k)[None, :]).ravel()
        return pts[self.valid.ravel()[pts]] if valid_only else pts

    def test_points(self) -> np.ndarray:
        return self.theta_points(self.test_thetas)

    def unravel(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(theta, maturity index, strike index) of flat point indices."""
        return np.unravel_index(np.asarray(points), self.shape)

    def moneyness(self, points: np.ndarray) -> np.ndarray:
        """Standardised moneyness z of flat point indices (sabr.numerics.grid.moneyness: the
        point's own surface's Hagan ATM vol at its maturity), shape (n,)."""
        th, m, _ = self.unravel(points)
        strikes = self.strikes.ravel()[np.asarray(points)][:, None]
        return moneyness(strikes, self.fwd, self.maturities[m], *self.thetas[th].T)[:, 0]

    def label_noise_sq(self) -> np.ndarray | None:
        """(N, M, K) each HF label's squared error, estimated from its run's own replicate
        (decimals^2; :func:`label_noise_sq`); None for a data set without prefixes or its
        path count.

        A run's estimate from its first p paths is an independent estimate with p paths of
        its own (sabr.numerics.montecarlo.prefix_paths), and the full estimate pools it with
        the other n - p paths, so E[(hf - hf_p)^2] = var_p - var_n = var_n (n/p - 1) (to
        first order: each run fits its own control-variate coefficient). With p = n/2 this
        is the full label's error variance, one degree of freedom per point: noisy point by
        point, unbiased on average (docs/METHODS.md, "Noise floor"). Unlike a sample standard
        error it does not understate the error where the forward's heavy right tail leaves
        few paths to show it (near beta = 1: Andersen and Piterbarg 2007, "Moment
        explosions in stochastic volatility models", Finance Stoch. 11)."""
        n = self.meta.get("mc", {}).get("n_paths") if isinstance(self.meta, dict) else None
        if self.hf_prefix is None or self.prefix_paths is None or not n:
            return None
        return label_noise_sq(self.hf, self.hf_prefix, self.prefix_paths, n)

    def regions(self, points: np.ndarray) -> np.ndarray:
        """'ITM' / 'ATM' / 'OTM' per point (cut-offs in sabr.numerics.grid), shape (n,)."""
        return region_labels(self.moneyness(points))


# ---------------------------------------------------------------- sampling and split
def sample_thetas(n: int, box, seed: int) -> np.ndarray:
    """n parameter sets from a scrambled Sobol sequence scaled to ``box``.

    Args:
        n: number of sets; box: has (lo, hi) attributes alpha, beta, nu, rho.
        seed: master seed.
    Returns:
        (n, 4) array of (alpha, beta, nu, rho).
    """
    from scipy.stats import qmc          # imported here: scipy.stats takes 0.7 s to import
    lo = np.array([box.alpha[0], box.beta[0], box.nu[0], box.rho[0]], dtype=float)
    hi = np.array([box.alpha[1], box.beta[1], box.nu[1], box.rho[1]], dtype=float)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SOBOL_STREAM]))
    sampler = qmc.Sobol(d=4, scramble=True, rng=rng)
    with warnings.catch_warnings():     # n need not be a power of 2 for our use
        warnings.simplefilter("ignore", UserWarning)
        unit = sampler.random(n)
    span = hi - lo
    return lo + unit * span


def split_thetas(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split theta indices 0..n-1 into (test, train pool), both sorted, from the master seed."""
    n_test = n_test_thetas(n, test_fraction)
    if not 0 < n_test < n:
        raise ValueError(f"test_fraction={test_fraction} is invalid for {n} parameter sets: "
                         f"allowed a split leaving both sets non-empty")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_STREAM]))
    perm = rng.permutation(n)
    return np.sort(perm[:n_test]), np.sort(perm[n_test:])


def theta_seed(master_seed: int, index: int) -> int:
    """Monte Carlo seed of theta ``index``: depends on nothing but (master seed, index)."""
    ss = np.random.SeedSequence([int(master_seed), _THETA_STREAM, int(index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def chunk_indices(n: int, chunk_size: int) -> list[np.ndarray]:
    """Theta indices 0..n-1 cut into consecutive chunks of at most ``chunk_size``."""
    return [np.arange(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


# ---------------------------------------------------------------- surfaces
def compute_chunk(thetas: np.ndarray, indices: Sequence[int], grid: GridSpec, mc: MCSettings,
                  master_seed: int, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """LF and HF surfaces for a chunk of thetas.

    Args:
        thetas: (n, 4) the chunk's parameter sets; indices: their indices in the pool.
        grid, mc: grid and Monte Carlo settings; master_seed: the experiment's seed.
        progress: optional callback(done, total) after each surface.
    Returns:
        dict of arrays: indices (n,), strikes, lf, hf, hf_se (n, M, K), seconds (n,)
        (wall), path_steps (n,), hf_cpu_seconds (n, M): the Monte Carlo CPU-seconds of
        each theta's run to each maturity (sabr.numerics.mc_result), the HF cost of each
        surface; prefix_paths (L,), hf_prefix, hf_se_prefix (n, L, M, K) and
        hf_cpu_seconds_prefix (n, L, M): the same from the first n/2^j paths of each run;
        machine (0-d str): whose CPU-seconds they are (sabr.numerics.mc_result.timing_machine).
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    indices = np.asarray(indices, dtype=np.int64)
    if thetas.shape != (indices.size, 4):
        raise ValueError(f"thetas of shape {thetas.shape} is invalid: allowed ({indices.size}, 4)")
    mats = np.array(grid.maturities)
    n, m, k = len(indices), mats.size, grid.n_strikes
    out = {name: np.empty((n, m, k)) for name in ("strikes", "lf", "hf", "hf_se")}
    out["seconds"] = np.empty(n)
    out["path_steps"] = np.empty(n, dtype=np.int64)
    out["hf_cpu_seconds"] = np.empty((n, m))
    from ..numerics.montecarlo import prefix_paths
    levels = prefix_paths(mc.n_paths)
    out["prefix_paths"] = np.array(levels, dtype=np.int64)
    out["hf_prefix"] = np.empty((n, len(levels), m, k))
    out["hf_se_prefix"] = np.empty((n, len(levels), m, k))
    out["hf_cpu_seconds_prefix"] = np.empty((n, len(levels), m))
    for i, (theta, idx) in enumerate(zip(thetas, indices)):
        alpha, beta, nu, rho = (float(x) for x in theta)
        strikes = grid.strikes(alpha, beta)
        t0 = time.perf_counter()
        from ..numerics.montecarlo import mc_prices   # numba: only where surfaces are made
        res = mc_prices(grid.fwd, strikes, mats, alpha, beta, nu, rho, n_paths=mc.n_paths,
                        steps_per_year=mc.steps_per_year, seed=theta_seed(master_seed, idx))
        out["seconds"][i] = time.perf_counter() - t0
        out["path_steps"][i] = res.n_paths * res.n_steps
        out["hf_cpu_seconds"][i] = res.cpu_seconds_to_maturity
        out["strikes"][i] = strikes
        out["lf"][i] = hagan_vol(strikes, grid.fwd, mats[:, None], alpha, beta, nu, rho)
        out["hf"][i] = res.vols
        out["hf_se"][i] = res.vol_stderr
        out["hf_prefix"][i] = res.prefix_vols
        out["hf_se_prefix"][i] = res.prefix_vol_stderr
        out["hf_cpu_seconds_prefix"][i] = res.prefix_cpu_seconds_to_maturity
        if progress is not None:
            progress(i + 1, n)
    out["indices"] = indices
    from ..numerics.mc_result import timing_machine
    out["machine"] = np.array(timing_machine())
    return out


def grid_path_steps(thetas, maturities, fwd: float, n_paths: int,
                    steps_per_year: float | None) -> np.ndarray:
    """(N, M) int64 path-steps of each theta's Monte Carlo run to each maturity, from the
    engine's time grid (sabr.numerics.time_grid.path_steps_to_maturity): what the runs
    cost in a unit that is the same on every machine."""
    from ..numerics.time_grid import path_steps_to_maturity
    return np.array([path_steps_to_maturity(fwd, maturities, a, b, n_paths, steps_per_year)
                     for a, b in np.asarray(thetas, float)[:, :2]], dtype=np.int64
                    ).reshape(len(thetas), np.size(maturities))


def assemble(chunks: Iterable[dict], thetas: np.ndarray, cfg: DataGenConfig,
             out_dir: str | Path) -> Path:
    """Put computed chunks together and save ``surfaces.npz`` + ``metadata.json`` atomically.

    Args:
        chunks: outputs of :func:`compute_chunk` covering every theta exactly once.
        thetas: (N, 4) the whole pool; cfg: the data section of the config.
        out_dir: folder to write into (created if missing).
    Returns:
        the folder holding the data set.
    Raises:
        DatasetError if the chunks do not cover the pool exactly once.
    """
    thetas = np.asarray(thetas, dtype=float)
    n = len(thetas)
    chunks = sorted(chunks, key=lambda c: int(c["indices"][0]) if len(c["indices"]) else -1)
    idx = np.concatenate([c["indices"] for c in chunks]) if chunks else np.array([], int)
    if not np.array_equal(np.sort(idx), np.arange(n)):
        missing = np.setdiff1d(np.arange(n), idx)
        raise DatasetError(f"chunks cover {idx.size} of {n} parameter sets "
                           f"(missing {missing[:5].tolist()}, duplicates "
                           f"{idx.size - np.unique(idx).size}); allowed each exactly once")
    order = np.argsort(idx)
    cat = {name: np.concatenate([c[name] for c in chunks])[order]
           for name in ("strikes", "lf", "hf", "hf_se", "seconds", "path_steps")}
    grid, mc = GridSpec.from_config(cfg), MCSettings.from_config(cfg)
    cat["hf_cpu_seconds"] = np.concatenate(    # chunks from before it was recorded: NaN
        [np.asarray(c["hf_cpu_seconds"], float) if "hf_cpu_seconds" in c
         else np.full((len(c["indices"]), len(grid.maturities)), np.nan) for c in chunks])[order]
    path_steps = grid_path_steps(thetas, grid.maturities, grid.fwd, mc.n_paths, mc.steps_per_year)
    test, train = split_thetas(n, cfg.test_fraction, cfg.master_seed)
    arrays = {"thetas": thetas, "maturities": np.array(grid.maturities),
              "strikes": cat["strikes"], "lf": cat["lf"], "hf": cat["hf"], "hf_se": cat["hf_se"],
              "test_thetas": test, "train_thetas": train, "fwd": np.array(grid.fwd)}
    arrays |= _prefix_arrays(chunks, order)
    content_hash = hash_arrays(arrays)
    valid = np.isfinite(cat["hf"]) & np.isfinite(cat["hf_se"])
    meta = {
        "content_hash": content_hash,
        "code_fingerprint": code_fingerprint(imported_modules((__name__,))),
        "config": cfg.model_dump(mode="json"),
        "mc": {"n_paths": mc.n_paths,
               "steps_per_year": mc.steps_per_year or f"auto ({_default_steps()} x clip((sigma_ATM/0.3)^2, 1, 4))",
               "scheme": "Lamperti/Heun, exact vol, bridge absorption, antithetic + CV"},
        "shape": list(cat["lf"].shape),
        "n_test_thetas": int(test.size),
        "n_train_thetas": int(train.size),
        "n_invalid_points": int((~valid).sum()),
        "hf_seconds_total": float(cat["seconds"].sum()),
        "hf_seconds_per_surface": cat["seconds"].tolist(),
        "hf_cpu_seconds_total": float(cat["hf_cpu_seconds"][:, -1].sum()),
        "hf_cpu_seconds": cat["hf_cpu_seconds"].tolist(),
        "path_steps_per_surface": cat["path_steps"].tolist(),
        "hf_path_steps": path_steps.tolist(),
        "hf_path_steps_total": int(path_steps[:, -1].sum()),
        "hf_timed_on": sorted({str(c["machine"]) if "machine" in c else "not recorded"
                               for c in chunks}),
        "noise_floor_se_bp": float(np.sqrt(np.nanmean(cat["hf_se"][test] ** 2)) * 1e4),
    }
    out_dir = Path(out_dir)
    if "hf_prefix" in arrays:
        meta["prefix_paths"] = arrays["prefix_paths"].tolist()
        arrays = arrays | {_PREFIX_CPU: np.concatenate([c[_PREFIX_CPU] for c in chunks])[order]}
    meta["cost_hash"] = cost_hash(cat["hf_cpu_seconds"], arrays.get(_PREFIX_CPU))
    noise = label_noise_sq(cat["hf"][test], arrays["hf_prefix"][test], arrays["prefix_paths"],
                           mc.n_paths) if "hf_prefix" in arrays else None
    meta["noise_floor_bp"] = (float(np.sqrt(np.nanmean(noise)) * 1e4) if noise is not None
                              else meta["noise_floor_se_bp"])
    atomic_save_npz(out_dir / DATA_FILE, arrays)
    atomic_write_json(out_dir / META_FILE, meta)    # written last: its presence marks completion
    return out_dir


def label_noise_sq(hf: np.ndarray, hf_prefix: np.ndarray, prefix_paths, n_paths: int
                   ) -> np.ndarray | None:
    """Each HF label's squared error from its run's largest prefix p (``Dataset.
    label_noise_sq``): (hf - hf_p)^2 / (n/p - 1), shape of ``hf``; None without prefixes.

    Args:
        hf: (N, M, K) full estimates; hf_prefix: (N, L, M, K) the prefixes' estimates;
        prefix_paths: (L,) their ascending path counts; n_paths: the full run's paths.
    """
    if not len(prefix_paths):
        return None
    p = float(prefix_paths[-1])
    return (hf - hf_prefix[:, -1]) ** 2 / (float(n_paths) / p - 1.0)


def cost_hash(hf_cpu_seconds, hf_cpu_seconds_prefix=None) -> str:
    """SHA-256 of a data set's measured Monte Carlo CPU-seconds (whole runs and prefixes):
    what a CPU-budget cell's split depends on beside the content hash, which leaves these
    timings out. ``Dataset.cost_hash`` gives it for a loaded data set."""
    arrays = {"hf_cpu_seconds": np.asarray(hf_cpu_seconds, float)}
    if hf_cpu_seconds_prefix is not None:
        arrays[_PREFIX_CPU] = np.asarray(hf_cpu_seconds_prefix, float)
    return hash_arrays(arrays)


def _prefix_arrays(chunks: list[dict], order: np.ndarray) -> dict:
    """The prefix-path labels of every chunk, in pool order; none if any chunk lacks them
    (a chunk file from before they were recorded)."""
    if not chunks or any("hf_prefix" not in c for c in chunks):
        return {}
    paths = {tuple(np.asarray(c["prefix_paths"]).tolist()) for c in chunks}
    if len(paths) != 1:
        raise DatasetError(f"chunks hold labels at different path prefixes {sorted(paths)}; "
                           f"allowed one Monte Carlo setting per data set")
    return {"prefix_paths": np.asarray(chunks[0]["prefix_paths"], np.int64),
            "hf_prefix": np.concatenate([c["hf_prefix"] for c in chunks])[order],
            "hf_se_prefix": np.concatenate([c["hf_se_prefix"] for c in chunks])[order]}


def _default_steps() -> int:
    from ..numerics.montecarlo import DEFAULT_STEPS_PER_YEAR
    return DEFAULT_STEPS_PER_YEAR


def dataset_problem(path: str | Path, cfg: DataGenConfig) -> str | None:
    """Why the data set in ``path`` cannot be used for ``cfg`` (None if it can).

    Absent, incomplete, corrupt, truncated, not matching its content hash, or
    generated with another data configuration: each gives a one-line reason.
    """
    return usable_dataset(path, cfg)[0]


def usable_dataset(path: str | Path, cfg: DataGenConfig) -> tuple[str | None, Dataset | None]:
    """``(problem, data set)``: the data set in ``path`` loaded and verified once, with
    None for the problem (:func:`dataset_problem`), or the problem and None."""
    path = Path(path)
    if not (path / META_FILE).exists() and not (path / DATA_FILE).exists():
        return "absent", None
    try:
        data = load_dataset(path)
    except DatasetError as err:
        return str(err), None
    if data.meta.get("config") != cfg.model_dump(mode="json"):
        return f"data set {str(path)!r} was generated with another data_gen_config", None
    return None, data


def build_dataset(cfg: DataGenConfig, out_dir: str | Path, *,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Sample, compute every chunk in this process, assemble. (The flow maps chunks instead.)"""
    thetas = sample_thetas(cfg.n_parameter_sets, cfg.parameter_box, cfg.master_seed)
    grid, mc = GridSpec.from_config(cfg), MCSettings.from_config(cfg)
    chunks, done = [], 0
    for idx in chunk_indices(len(thetas), cfg.chunk_size):
        chunks.append(compute_chunk(thetas[idx], idx, grid, mc, cfg.master_seed))
        done += idx.size
        if progress is not None:
            progress(done, len(thetas))
    return assemble(chunks, thetas, cfg, out_dir)


def load_dataset(path: str | Path, *, verify: bool = True) -> Dataset:
    """Load a data set folder written by :func:`assemble`.

    Raises:
        DatasetError: missing files, a corrupt or truncated archive, or a content hash
        that differs from the metadata's.
    """
    path = Path(path)
    data_file, meta_file = path / DATA_FILE, path / META_FILE
    if not data_file.is_file() or not meta_file.is_file():
        raise DatasetError(f"data set {str(path)!r} is incomplete: expected {DATA_FILE} and "
                           f"{META_FILE} (was generation interrupted?)")
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"data set {str(path)!r}: {META_FILE} is corrupt ({err})") from None
    try:
        with np.load(data_file, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in (*_ARRAYS, "fwd")}
            arrays |= {name: npz[name] for name in _PREFIX_ARRAYS if name in npz.files}
            prefix_cpu = npz[_PREFIX_CPU] if _PREFIX_CPU in npz.files else None
    except Exception as err:   # zipfile.BadZipFile, EOFError, ValueError, KeyError, zlib.error
        raise DatasetError(f"data set {str(data_file)!r} is corrupt or truncated "
                           f"({type(err).__name__}: {err}); delete the folder to regenerate it") from None
    if verify:
        actual = hash_arrays(arrays)
        if actual != meta.get("content_hash"):
            raise DatasetError(f"data set {str(data_file)!r} does not match its content hash "
                               f"(expected {meta.get('content_hash')}, got {actual}); "
                               f"delete the folder to regenerate it")
    fwd = float(arrays.pop("fwd"))
    n, m = arrays["lf"].shape[:2]
    cpu = meta.get("hf_cpu_seconds")
    cpu = np.full((n, m), np.nan) if cpu is None else np.asarray(cpu, dtype=float)
    if cpu.shape != (n, m):
        raise DatasetError(f"data set {str(path)!r}: {META_FILE} hf_cpu_seconds has shape "
                           f"{cpu.shape}; expected ({n}, {m})")
    return Dataset(**arrays, fwd=fwd, meta=meta, hf_cpu_seconds=cpu,
                   hf_cpu_seconds_prefix=prefix_cpu,
                   hf_path_steps=_path_steps(meta, arrays, fwd, path))


def _path_steps(meta: dict, arrays: dict, fwd: float, path: Path) -> np.ndarray:
    """(N, M) path-steps as recorded; for a data set from before they were, derived from its
    configuration's grid (:func:`grid_path_steps`) when that reproduces the path-steps its
    runs recorded per surface, else NaN (a path-step budget is then refused)."""
    n, m = arrays["lf"].shape[:2]
    if meta.get("hf_path_steps") is not None:
        steps = np.asarray(meta["hf_path_steps"], dtype=float)
        if steps.shape != (n, m):
            raise DatasetError(f"data set {str(path)!r}: {META_FILE} hf_path_steps has shape "
                               f"{steps.shape}; expected ({n}, {m})")
        return steps
    cfg = meta.get("config") or {}
    try:
        spy = cfg.get("steps_per_year")
        steps = grid_path_steps(arrays["thetas"], arrays["maturities"], fwd,
                                int(cfg["mc_paths"]), None if spy is None else float(spy))
    except (KeyError, TypeError, ValueError):
        return np.full((n, m), np.nan)
    runs = meta.get("path_steps_per_surface")
    if runs is None or not np.array_equal(np.asarray(runs, float), steps[:, -1]):
        return np.full((n, m), np.nan)
    return steps.astype(float)
