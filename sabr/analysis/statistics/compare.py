"""Small-sample statistics over seeds: per-cell summaries and paired tests with Holm.

One trained cell (model, budget, seed) is one observation; every test runs over
seeds on log(MSE) (docs/DESIGN.md section 7), so effects are ratios: an MSE ratio
exp(mean log difference) and an RMSE ratio, its square root. Errors are in vol
basis points (bp), MSE in bp^2. Pure numpy / scipy / pandas / statsmodels.

References: Student t intervals and the paired t test (``scipy.stats.ttest_1samp``,
``scipy.stats.ttest_rel``); Lakens (2013), Front. Psychol. 4:863, for d_z; Hedges
(1981), J. Educ. Stat. 6(2), for the small-sample factor J; Holm (1979),
Scand. J. Stat. 6(2) (``statsmodels.stats.multitest.multipletests``).
"""
from __future__ import annotations

import contextlib
import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ...budget_labels import cell_name

__all__ = ["finished_cells", "geometric_mean_interval", "corrected_mse", "corrected_rmse", "FLOOR_WORDS",
           "FAILURE_FACTOR", "training_failures",
           "cell_summary", "pair_cells",
           "pair_cells_strict", "paired_test", "hedges_j", "holm", "compare_models", "MIN_PAIRS"]

_ID = ["model_type", "budget", "seed"]


@contextlib.contextmanager
def _quiet():
    """Silence scipy's precision / division warnings for degenerate (identical) samples."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


SCORED_ON = ("dataset_hash", "test_hash")
"""What two cells, or two runs' cells, must share to be compared: the data set and the test
labels (sabr.analysis.studies.allocation, sabr.analysis.studies.history)."""

def _cell(r) -> str:
    return cell_name(r.model_type, r.budget, r.seed)


def finished_cells(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The usable seed-level observations of a results frame, and notes on what was dropped.

    Keeps rows with status 'ok' and a finite positive test MSE (bp^2). ``mse_bp2``
    missing or NaN falls back to ``rmse_bp ** 2``. Duplicate (model, budget, seed) rows
    keep the last one.

    Args:
        df: results frame (sabr.analysis.results.results_frame): one row per planned cell.
    Returns:
        (cells, notes): cells has the input's columns plus ``mse_bp2`` and ``log_mse``
        (natural log of bp^2), sorted by (model_type, budget, seed); notes are strings.
    """
    notes: list[str] = []
    if df is None or len(df) == 0 or "status" not in df.columns:
        return pd.DataFrame(columns=_ID + ["mse_bp2", "log_mse"]), ["no finished cells"]
    ok = df[df["status"] == "ok"].copy()
    mse = pd.to_numeric(ok["mse_bp2"], errors="coerce") if "mse_bp2" in ok else \
        pd.Series(np.nan, index=ok.index)
    if "rmse_bp" in ok:
        mse = mse.fillna(pd.to_numeric(ok["rmse_bp"], errors="coerce") ** 2)
    ok["mse_bp2"] = mse.astype(float)
    good = np.isfinite(ok["mse_bp2"].to_numpy()) & (ok["mse_bp2"].to_numpy() > 0)
    if (~good).any():
        notes.append("dropped 'ok' cells with a non-finite or non-positive MSE: "
                     + ", ".join(_cell(r) for r in ok[~good].itertuples()))
    ok = ok[good]
    dup = ok.duplicated(_ID, keep="last")
    if dup.any():
        notes.append("duplicate cells (kept the last row): "
                     + ", ".join(_cell(r) for r in ok[dup].itertuples()))
        ok = ok[~dup]
    ok["log_mse"] = np.log(ok["mse_bp2"].to_numpy())
    return ok.sort_values(_ID, ignore_index=True), notes


def geometric_mean_interval(mse: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean of MSE over seeds with a Student t interval on log(MSE).

    ``scipy.stats.ttest_1samp(log(mse), 0).confidence_interval(confidence)``,
    exponentiated: exp(mean +- t_{n-1} sd / sqrt(n)) of log(MSE). The RMSE interval
    is the square root of each end.

    Args:
        mse: (n,) per-seed test MSE in bp^2, positive.
    Returns:
        (gmean, lo, hi) in bp^2; lo and hi are NaN when n < 2.
    """
    y = np.log(np.asarray(mse, float))
    if y.size == 0:
        return math.nan, math.nan, math.nan
    gm = float(np.exp(y.mean()))
    if y.size < 2:
        return gm, math.nan, math.nan
    with _quiet():
        ci = stats.ttest_1samp(y, 0.0).confidence_interval(confidence_level=confidence)
    return gm, float(np.exp(ci.low)), float(np.exp(ci.high))


FLOOR_WORDS = "the test labels' root-mean-square error, from each run's independent half of the paths"
"""What the reports call the MC noise floor (sabr.learning.metrics)."""


FAILURE_FACTOR = 2.0
"""A seed whose test RMSE is more than this many times its (model, budget) cell's median
RMSE counts as a training failure (issue 38, item 1). Defined from the data: on the
seed-scale run's 20 seeds of mda_cnn at b=100 the two failed seeds sat at 2.5-2.7x the
median (the level of cnn_only, a model that ignores the point's parameters) and the 18
others within 0.69-1.32x of it. Failures stay in every statistic (the geometric mean and
its interval included); they are counted beside them, never dropped."""


def training_failures(rmse_bp) -> int:
    """Seeds of one cell whose RMSE exceeds FAILURE_FACTOR x the cell's median (count)."""
    r = np.asarray(rmse_bp, float)
    r = r[np.isfinite(r)]
    return int((r > FAILURE_FACTOR * np.median(r)).sum()) if r.size >= 3 else 0


def corrected_mse(mse_bp2, floor_bp) -> float:
    """The noise-corrected MSE of a set of cells (bp^2): the geometric mean of their
    measured MSE minus the mean of their noise floors squared (docs/METHODS.md, "Noise
    floor"); may be negative when the cells are within the noise. The one definition
    every table and sentence uses (issue 38): no cell is left out for being inside the
    noise, and on one test set the floor is one number, so it orders cells as their
    geometric-mean MSE does. NaN without a finite MSE or floor."""
    y = np.asarray(mse_bp2, float)
    f = np.asarray(floor_bp, float)
    y, f = y[np.isfinite(y) & (y > 0)], f[np.isfinite(f)]
    if not y.size or not f.size:
        return math.nan
    return float(np.exp(np.log(y).mean()) - np.mean(f ** 2))


def corrected_rmse(mse_bp2, floor_bp) -> float:
    """sqrt of the positive part of :func:`corrected_mse` (bp), NaN when it is NaN."""
    c = corrected_mse(mse_bp2, floor_bp)
    return math.sqrt(max(c, 0.0)) if np.isfinite(c) else math.nan


def _per_budget_reference(df: pd.DataFrame) -> pd.DataFrame:
    """Per budget: mean Hagan RMSE and MC noise floor (bp) over every row that has them."""
    cols = {c: pd.to_numeric(df[c], errors="coerce") if c in df else np.nan
            for c in ("hagan_rmse_bp", "noise_floor_bp")}
    ref = pd.DataFrame({"budget": df["budget"], **cols})
    return ref.groupby("budget", as_index=False).agg(
        hagan_rmse_bp=("hagan_rmse_bp", "mean"), noise_floor_bp=("noise_floor_bp", "mean"),
        hagan_rmse_bp_sd=("hagan_rmse_bp", "std"), n_hagan=("hagan_rmse_bp", "count"))


def _cost_and_noise_means(col) -> dict:
    """Per cell over seeds: the noise-corrected MSE and RMSE (:func:`corrected_mse`), the
    means of the HF data's cost."""
    return {"mse_corrected_bp2": corrected_mse(col("mse_bp2"), col("noise_floor_bp")),
            "rmse_corrected_bp": corrected_rmse(col("mse_bp2"), col("noise_floor_bp")),
            "n_hf_thetas_mean": col("n_hf_thetas").mean(),
            "hf_cpu_seconds_mean": col("hf_cpu_seconds").mean()}


def cell_summary(df: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per (model, budget) over seeds: n, mean/sd of RMSE and MAE, geometric-mean MSE with a t interval.

    Every planned (model, budget) gets a row, also when no seed finished (n = 0). One
    reference row per budget has model_type 'hagan': the Hagan (LF) baseline's RMSE on
    the test set (``hagan_rmse_bp``; deterministic, so no interval).

    Args:
        df: results frame (one row per planned cell).
        confidence: level of the interval (0.95).
    Returns:
        frame, one row per (model_type, budget), columns: n, n_failed, n_missing,
        rmse_bp_mean, rmse_bp_sd, rmse_bp_median, n_training_failures (seeds above
        FAILURE_FACTOR x the median: counted, kept in every statistic; 0 below 3 seeds), mae_bp_mean, mae_bp_sd (bp), mse_bp2_gmean, mse_bp2_lo,
        mse_bp2_hi (bp^2), rmse_bp_gmean, rmse_bp_lo, rmse_bp_hi (bp, square roots),
        log_mse_mean, log_mse_sd, train_seconds_mean, hagan_rmse_bp, noise_floor_bp (bp),
        is_reference, note; mse_corrected_bp2 and rmse_corrected_bp (:func:`corrected_mse`:
        the geometric-mean MSE minus the floor^2, bp^2 and its root in bp); and the means over
        finished seeds of n_hf_thetas and hf_cpu_seconds (the HF data's distinct thetas
        and Monte Carlo CPU-seconds, sabr.data.costs), NaN where the cells do not record them.
    """
    if len(df) == 0:
        return pd.DataFrame()
    cells, _ = finished_cells(df)
    ref = _per_budget_reference(df)
    rows = []
    planned = df[["model_type", "budget"]].drop_duplicates().sort_values(["model_type", "budget"])
    for m, b in planned.itertuples(index=False):
        c = cells[(cells.model_type == m) & (cells.budget == b)]
        allc = df[(df.model_type == m) & (df.budget == b)]
        n = len(c)
        gm, lo, hi = geometric_mean_interval(c["mse_bp2"].to_numpy(), confidence=confidence)
        note = []
        if n == 0:
            note.append("no finished seed")
        elif n == 1:
            note.append("one seed: no interval")
        n_failed = int((allc.status == "failed").sum())
        n_missing = int((allc.status == "missing").sum())
        if n_failed or n_missing:
            note.append(f"{n_failed} failed, {n_missing} missing")
        dropped = int((allc.status == "ok").sum()) - n
        if dropped:
            note.append(f"{dropped} 'ok' cell(s) without a finite MSE dropped")

        def col(name):
            return pd.to_numeric(c[name], errors="coerce") if name in c else pd.Series(dtype=float)
        rows.append({
            "model_type": m, "budget": b, "n": n, "n_failed": n_failed, "n_missing": n_missing,
            "rmse_bp_mean": col("rmse_bp").mean(), "rmse_bp_sd": col("rmse_bp").std(ddof=1),
            "rmse_bp_median": col("rmse_bp").median(),
            "n_training_failures": training_failures(col("rmse_bp")),
            "mae_bp_mean": col("mae_bp").mean(), "mae_bp_sd": col("mae_bp").std(ddof=1),
            "mse_bp2_gmean": gm, "mse_bp2_lo": lo, "mse_bp2_hi": hi,
            "rmse_bp_gmean": math.sqrt(gm), "rmse_bp_lo": math.sqrt(lo), "rmse_bp_hi": math.sqrt(hi),
            "log_mse_mean": c["log_mse"].mean(), "log_mse_sd": c["log_mse"].std(ddof=1),
            "train_seconds_mean": col("train_seconds").mean(), "is_reference": False,
            **_cost_and_noise_means(col), "note": "; ".join(note)})
    for r in ref.itertuples(index=False):
        h = float(r.hagan_rmse_bp)
        rows.append({"model_type": "hagan", "budget": r.budget, "n": 0,
                     "n_failed": 0, "n_missing": 0, "rmse_bp_mean": h,
                     "rmse_bp_sd": float(r.hagan_rmse_bp_sd), "mse_bp2_gmean": h * h,
                     "rmse_bp_gmean": h, "log_mse_mean": 2 * math.log(h) if h > 0 else math.nan,
                     "train_seconds_mean": 0.0, "is_reference": True,
                     "note": "reference: Hagan (LF) on the test set; deterministic, no interval"})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.merge(ref[["budget", "hagan_rmse_bp", "noise_floor_bp"]], on="budget", how="left")
    return out.sort_values(["budget", "is_reference", "model_type"], ignore_index=True)


def _hash_ok(x, y) -> bool:
    return isinstance(x, str) and isinstance(y, str) and x != "" and x == y


def pair_cells(df: pd.DataFrame, model_a: str, model_b: str,
               budget: int) -> tuple[pd.DataFrame, list[str], int]:
    """Seeds on which A and B can be paired at one budget: same seed, train_hash and test_hash.

    Cells whose hashes differ, or lack one, are refused (counted and noted); seeds where
    only one model finished are noted.

    Args:
        df: results frame (or finished_cells output).
    Returns:
        (pairs, notes, n_unpaired): pairs has columns seed, log_mse_a, log_mse_b, rmse_bp_a,
        rmse_bp_b, sorted by seed; n_unpaired counts seeds refused for their hashes.
    """
    cells, _ = finished_cells(df)
    cols = ["seed", "log_mse", "rmse_bp", "train_hash", "test_hash"]
    at = cells[(cells.model_type == model_a) & (cells.budget == budget)].reindex(columns=cols)
    bt = cells[(cells.model_type == model_b) & (cells.budget == budget)].reindex(columns=cols)
    m = at.merge(bt, on="seed", how="outer", suffixes=("_a", "_b"), indicator=True)
    notes = []
    only_a = sorted(m.loc[m._merge == "left_only", "seed"].tolist())
    only_b = sorted(m.loc[m._merge == "right_only", "seed"].tolist())
    if only_a or only_b:
        notes.append(f"b={budget}: no finished partner for seeds {model_a} only {only_a}, "
                     f"{model_b} only {only_b}")
    both = m[m._merge == "both"]
    same = np.array([_hash_ok(r.train_hash_a, r.train_hash_b) and _hash_ok(r.test_hash_a, r.test_hash_b)
                     for r in both.itertuples()], bool)
    bad = both[~same] if len(both) else both
    if len(bad):
        notes.append(f"b={budget}: refused to pair seeds {sorted(bad.seed.tolist())} of {model_a} vs "
                     f"{model_b}: train_hash or test_hash differs or is missing")
    good = both[same] if len(both) else both
    pairs = good[["seed", "log_mse_a", "log_mse_b", "rmse_bp_a", "rmse_bp_b"]].sort_values(
        "seed", ignore_index=True)
    return pairs, notes, int(len(bad))


def pair_cells_strict(df: pd.DataFrame, model_a: str, model_b: str, budget: int) -> pd.DataFrame:
    """pair_cells, but raise ValueError when any common seed's train_hash or test_hash differs."""
    pairs, notes, n_bad = pair_cells(df, model_a, model_b, budget)
    if n_bad:
        raise ValueError("cells cannot be paired (different training subset or test set): "
                         + "; ".join(n for n in notes if "refused" in n))
    return pairs


MIN_PAIRS = 3
"""Paired comparisons on fewer seeds are not tested: with 2 pairs the t test has 1 df, its
interval is 12.7 standard errors wide and a 'significant' verdict with 'wins 0/2' was seen."""


def hedges_j(n_pairs: int) -> float:
    """Hedges' small-sample factor for d_z: J = 1 - 3 / (4 (n - 1) - 1), n pairs (df = n - 1).

    Hedges' (1981) approximation of the exact gamma-function factor: J(3) = 4/7, J(5) = 0.8.
    J(2) = 0 (d_z cannot be unbiased from 2 pairs), so d_z is NaN below 3 pairs.
    """
    dof = n_pairs - 1
    return 1.0 - 3.0 / (4.0 * dof - 1.0) if dof >= 2 else math.nan


def paired_test(log_mse_a: np.ndarray, log_mse_b: np.ndarray, *, confidence: float = 0.95) -> dict:
    """Paired t test of A vs B on log MSE over seeds, with ratio intervals and effect size.

    ``scipy.stats.ttest_rel(log_mse_a, log_mse_b)``; differences d = log MSE_A - log MSE_B
    (negative: A better). Its ``confidence_interval()`` on mean(d) gives the MSE ratio A/B
    interval exp(.) and the RMSE ratio exp(./2). d_z = J mean(d) / sd(d) (sd with ddof 1),
    J = hedges_j(n); d_z_uncorrected = mean(d) / sd(d). wins_a = #{d < 0}, ties = #{d == 0}.

    Args:
        log_mse_a, log_mse_b: (n,) paired per-seed log test MSE (log of bp^2).
    Returns:
        dict: n_pairs, mean_log_diff, sd_log_diff, t, df, p, mse_ratio[_lo, _hi],
        rmse_ratio[_lo, _hi], d_z, d_z_uncorrected, hedges_j, wins_a, ties, kind
        ('ok', 'identical', 'constant offset', 'too few pairs'), note. Identical inputs keep
        ttest_rel's NaN t and p; a constant nonzero offset gives t = +-inf and p = 0.
    """
    d = np.asarray(log_mse_a, float) - np.asarray(log_mse_b, float)
    n = int(d.size)
    nan = math.nan
    out = dict(n_pairs=n, mean_log_diff=float(d.mean()) if n else nan,
               sd_log_diff=float(d.std(ddof=1)) if n > 1 else nan, t=nan, df=n - 1 if n > 1 else nan,
               p=nan, mse_ratio=float(np.exp(d.mean())) if n else nan, mse_ratio_lo=nan,
               mse_ratio_hi=nan, d_z=nan, d_z_uncorrected=nan, hedges_j=hedges_j(n),
               wins_a=int((d < 0).sum()), ties=int((d == 0).sum()), kind="ok", note="")
    if n < 2:
        out.update(kind="too few pairs", note=f"{n} pair(s): no test")
    else:
        with _quiet():
            res = stats.ttest_rel(log_mse_a, log_mse_b)
            ci = res.confidence_interval(confidence_level=confidence)
            dz = np.float64(d.mean()) / np.float64(d.std(ddof=1))
        out.update(t=float(res.statistic), p=float(res.pvalue), mse_ratio_lo=float(np.exp(ci.low)),
                   mse_ratio_hi=float(np.exp(ci.high)), d_z_uncorrected=float(dz),
                   d_z=float(dz * out["hedges_j"]) if n >= 3 else nan)
        if np.all(d == 0):
            out.update(kind="identical", note="identical log MSE on every seed: t and p are NaN")
        elif np.all(d == d[0]):
            out.update(kind="constant offset", note=f"constant log-MSE difference {d[0]:.4g}: sd 0, "
                                                    f"t = {out['t']}, p = {out['p']}")
        if n < MIN_PAIRS:           # a t on 1 df: p can be small by chance, a verdict is noise
            out.update(kind="too few pairs", t=nan, p=nan,
                       note=f"{n} pairs: no test ({MIN_PAIRS} or more are needed); "
                            "Hedges J = 0, d_z NaN")
    for k in ("", "_lo", "_hi"):
        out[f"rmse_ratio{k}"] = math.sqrt(out[f"mse_ratio{k}"]) if np.isfinite(out[f"mse_ratio{k}"]) \
            else out[f"mse_ratio{k}"]
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values over one family; NaN entries stay NaN and are not counted.

    ``statsmodels.stats.multitest.multipletests(p[finite], method="holm")[1]``, placed back in
    the input order. Args: p: (m,) raw p-values. Returns: (m,) adjusted p-values.
    """
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    fin = np.isfinite(p)
    if fin.any():
        out[fin] = multipletests(p[fin], method="holm")[1]
    return out


def compare_models(df: pd.DataFrame, *, pairs: list[tuple[str, str]] | None = None,
                   alpha: float = 0.05, confidence: float = 0.95) -> pd.DataFrame:
    """Paired comparisons of model A vs B at every budget, Holm-corrected over the whole family.

    The family is every (pair, budget) row with a finite p (identical or too-few-pair rows are
    not tests); p_holm = holm(p) over it (``multipletests(p, method="holm")``).
    Signs: mean_log_diff = mean(log MSE_A - log MSE_B), mse_ratio = MSE_A / MSE_B (geometric),
    so values < 1 (d_z < 0) favour A; wins = seeds where A's MSE is lower, 'k/n'.
    verdict: 'A better' / 'B better' (p_holm < alpha, by the sign of mean_log_diff),
    'no significant difference', 'identical', 'degenerate' (a constant nonzero offset on
    every seed: sd 0, t = +-inf, p = 0 is an artefact, not evidence), 'too few pairs',
    'unpaired' (no pair left after refusing cells with different hashes) or 'undetermined'
    (p NaN otherwise).

    Args:
        df: results frame. pairs: (model_a, model_b) to compare; default every pair of
            model_type values in sorted order.
    Returns:
        frame, one row per (model_a, model_b, budget): paired_test's fields, n_unpaired,
        wins ('k/n'), p_holm, family_size, verdict, rmse_bp_mean_a, rmse_bp_mean_b,
        hagan_rmse_bp, noise_floor_bp (bp), note.
    """
    models = sorted(df["model_type"].dropna().unique().tolist()) if len(df) else []
    pairs = list(itertools.combinations(models, 2)) if pairs is None else list(pairs)
    ref = _per_budget_reference(df).set_index("budget") if len(df) else None
    rows = []
    for a, b in pairs:
        budgets = sorted(df.loc[df.model_type.isin([a, b]), "budget"].unique().tolist())
        for n in budgets:
            pr, notes, n_bad = pair_cells(df, a, b, n)
            r = paired_test(pr["log_mse_a"].to_numpy(), pr["log_mse_b"].to_numpy(), confidence=confidence)
            status = "unpaired" if (n_bad and len(pr) == 0) else r["kind"]
            notes = ([r["note"]] if r["note"] else []) + notes
            rows.append({"model_a": a, "model_b": b, "budget": n, **r, "status": status,
                         "n_unpaired": n_bad, "wins": f"{r['wins_a']}/{r['n_pairs']}",
                         "rmse_bp_mean_a": pr["rmse_bp_a"].mean(), "rmse_bp_mean_b": pr["rmse_bp_b"].mean(),
                         "hagan_rmse_bp": ref.hagan_rmse_bp.get(n, math.nan),
                         "noise_floor_bp": ref.noise_floor_bp.get(n, math.nan), "note": "; ".join(notes)})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=_COMPARISON_COLUMNS)
    out["p_holm"] = holm(out["p"].to_numpy())
    out["family_size"] = int(np.isfinite(out["p"]).sum())
    out["verdict"] = [_verdict(r, alpha) for r in out.itertuples()]
    return out[_COMPARISON_COLUMNS]


_COMPARISON_COLUMNS = [
    "model_a", "model_b", "budget", "n_pairs", "n_unpaired", "status", "verdict", "mse_ratio",
    "mse_ratio_lo", "mse_ratio_hi", "rmse_ratio", "rmse_ratio_lo", "rmse_ratio_hi", "wins", "wins_a",
    "ties", "t", "df", "p", "p_holm", "family_size", "d_z", "d_z_uncorrected", "hedges_j",
    "mean_log_diff", "sd_log_diff", "rmse_bp_mean_a", "rmse_bp_mean_b", "hagan_rmse_bp",
    "noise_floor_bp", "note"]


def _verdict(r, alpha: float) -> str:
    if r.status in ("unpaired", "too few pairs", "identical"):
        return r.status
    if r.status == "constant offset":       # sd 0: t = inf is no evidence, not "better"
        return "degenerate"
    if not np.isfinite(r.p_holm):
        return "undetermined"
    if r.p_holm < alpha:
        return "A better" if r.mean_log_diff < 0 else "B better"
    return "no significant difference"
