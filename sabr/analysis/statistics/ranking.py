"""Rankings and cost-benefit of a results frame (the statistics layer: frames in, plain
results out, no files; docs/DESIGN.md section 7).

Rankings with P(rank 1) from a paired seed bootstrap and the Friedman test over budget
blocks (Friedman (1937) JASA 32(200)); the cost-benefit table with its Pareto front; the
default target RMSE.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .compare import _per_budget_reference, _quiet, finished_cells

__all__ = ["rank_models", "sign_test", "friedman_test", "pareto_front", "cost_benefit", "default_target_rmse",
           "MIN_SEEDS_P_RANK1"]

MIN_SEEDS_P_RANK1 = 5       # fewer complete seeds: P(rank 1) is NaN (a bootstrap over too few)


def _complete_blocks(cells: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """(budget, seed) x model table of log MSE, keeping blocks with every model finished."""
    wide = cells[cells.model_type.isin(models)].pivot_table(
        index=["budget", "seed"], columns="model_type", values="log_mse", aggfunc="first")
    return wide.reindex(columns=models).dropna()


def sign_test(cells: pd.DataFrame, model: str, other: str | None) -> dict:
    """``model`` against ``other`` on the seeds where both finished (one budget's cells):
    the seeds it wins (lower MSE), the untied pairs, and the exact two-sided sign test's p
    (``scipy.stats.binomtest``, p = 1/2; Conover (1999) Practical Nonparametric Statistics
    3.4). The labels do not enter a two-sided test, so picking the better model from the same
    seeds first keeps its level; with n pairs no p is below 2^(1 - n) (0.0625 for 5 seeds).
    NaN without ``other`` or an untied pair."""
    out = {"next_model": other, "wins_vs_next": math.nan, "n_vs_next": 0,
           "sign_p_vs_next": math.nan}
    if other is None:
        return out
    pair = _complete_blocks(cells, [model, other]).to_numpy()
    wins, losses = int((pair[:, 0] < pair[:, 1]).sum()), int((pair[:, 0] > pair[:, 1]).sum())
    out.update(wins_vs_next=wins, n_vs_next=wins + losses)
    if wins + losses:
        out["sign_p_vs_next"] = float(stats.binomtest(wins, wins + losses, 0.5).pvalue)
    return out


def rank_models(df: pd.DataFrame, *, n_boot: int = 2000, rng: np.random.Generator,
                min_seeds: int = MIN_SEEDS_P_RANK1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-budget ranks by mean log MSE, P(rank 1) by a paired bootstrap over seeds, mean ranks.

    At each budget models are ranked by mean log MSE over their finished seeds
    (``scipy.stats.rankdata``, ties averaged; rank 1 best). Each model is tested against
    the next in that order by the seeds it wins (:func:`sign_test`): what the report says
    of the best model. P(rank 1), descriptive only (with two tied models and 5 seeds it
    reaches 0.95 far more often than 5 %: tests/benchmarks/coverage.py): resample the seeds
    where every model finished, with replacement, the same draw for all models; a tie for
    first shares the credit. With fewer than ``min_seeds`` complete seeds such a bootstrap
    has too few clusters to be read as a probability (2 seeds: 3 distinct resamples), so
    p_rank1 is NaN with a note (Efron & Tibshirani 1993 ch. 6 on the bootstrap's need for
    many resampled units). Models are those with at least one finished cell; mean rank
    over budgets uses only budgets where each of them has at least one finished seed.

    Args:
        df: results frame. n_boot: bootstrap resamples. rng: numpy Generator.
        min_seeds: complete seeds needed for P(rank 1) (default MIN_SEEDS_P_RANK1 = 5).
    Returns:
        (per_budget, overall): per_budget rows (budget, model_type): n, log_mse_mean,
        rmse_bp_gmean (bp), rank, p_rank1, n_complete_seeds, next_model, wins_vs_next,
        n_vs_next, sign_p_vs_next, hagan_rmse_bp, noise_floor_bp, note; overall rows
        (model_type): mean_rank, n_budgets, note.
    """
    cells, _ = finished_cells(df)
    models = sorted(cells["model_type"].unique().tolist())
    ref = _per_budget_reference(df).set_index("budget") if len(df) else None
    rows, full_budgets = [], []
    for b in sorted(df["budget"].unique().tolist()) if len(df) else []:
        c = cells[cells.budget == b]
        mean = c.groupby("model_type")["log_mse"].mean().reindex(models)
        have = mean.notna().to_numpy()
        ranks = np.full(len(models), np.nan)
        ranks[have] = stats.rankdata(mean.to_numpy()[have])
        wide = _complete_blocks(c, models)
        p1 = np.full(len(models), np.nan)
        note = ""
        if have.all():
            full_budgets.append(b)
        else:
            note = "models without a finished seed: " + ", ".join(np.array(models)[~have])
        if have.all() and 0 < len(wide) < min_seeds:
            note = (f"P(rank 1) not computed: a bootstrap over {len(wide)} complete seed(s) "
                    f"(< {min_seeds}) is not a probability")
        elif len(wide) and have.all():
            y = wide.to_numpy().T                                  # (models, seeds)
            idx = rng.integers(0, y.shape[1], size=(n_boot, y.shape[1]))
            means = y[:, idx].mean(axis=-1)                        # (models, n_boot)
            first = means == means.min(axis=0)
            p1 = (first / first.sum(axis=0)).mean(axis=1)
        elif have.all():
            note = "no seed where every model finished: P(rank 1) undefined"
        order = [models[i] for i in np.argsort(np.where(have, ranks, np.inf), kind="stable")
                 if have[i]]
        for i, m in enumerate(models):
            nxt = order[order.index(m) + 1] if m in order[:-1] else None
            rows.append({"budget": b, "model_type": m, "n": int((c.model_type == m).sum()),
                         "log_mse_mean": mean.iloc[i], "rmse_bp_gmean": math.exp(mean.iloc[i] / 2),
                         "rank": ranks[i], "p_rank1": p1[i], "n_complete_seeds": len(wide),
                         **sign_test(c, m, nxt),
                         "hagan_rmse_bp": ref.hagan_rmse_bp.get(b, math.nan),
                         "noise_floor_bp": ref.noise_floor_bp.get(b, math.nan), "note": note})
    per = pd.DataFrame(rows)
    if per.empty:
        return per, pd.DataFrame(columns=["model_type", "mean_rank", "n_budgets", "note"])
    use = per[per.budget.isin(full_budgets)]
    overall = use.groupby("model_type", as_index=False).agg(mean_rank=("rank", "mean"))
    overall = pd.DataFrame({"model_type": models}).merge(overall, how="left")
    overall["n_budgets"] = len(full_budgets)
    skipped = sorted(set(per.budget) - set(full_budgets))
    overall["note"] = f"budgets {skipped} left out: not every model finished there" if skipped else ""
    return per, overall


def friedman_test(df: pd.DataFrame) -> dict:
    """Friedman test of equal model performance with budgets as blocks (Friedman 1937).

    Seeds of one budget share the tuned hyperparameters and a seed's budgets are nested, so
    (budget, seed) blocks are not independent; the blocks here are budgets. A budget's value
    for a model is its mean log MSE over the seeds where every model finished (complete,
    paired blocks; budgets without such a seed are left out). ``scipy.stats.friedmanchisquare``
    needs >= 3 models and >= 2 budgets, else NaN and a note. Budgets still share the data set
    and a seed's nested points, so the p-value is indicative. Ranks: 1 = lowest MSE.

    Returns:
        dict: statistic, pvalue, n_blocks (budgets), n_models, models, mean_rank_in_blocks
        ({model: mean rank over budgets}), blocks ('budget'), note.
    """
    cells, _ = finished_cells(df)
    models = sorted(cells["model_type"].unique().tolist())
    seeds = _complete_blocks(cells, models) if models else pd.DataFrame()
    wide = seeds.groupby(level="budget").mean() if len(seeds) else pd.DataFrame()
    out = dict(statistic=math.nan, pvalue=math.nan, n_blocks=int(len(wide)), n_models=len(models),
               models=models, mean_rank_in_blocks={}, blocks="budget", note="")
    if len(wide):
        r = stats.rankdata(wide.to_numpy(), axis=1).mean(axis=0)
        out["mean_rank_in_blocks"] = {m: float(v) for m, v in zip(models, r)}
    if len(models) < 3:
        out["note"] = f"Friedman test needs >= 3 models, have {len(models)}"
    elif len(wide) < 2:
        out["note"] = (f"Friedman test needs >= 2 budgets with a seed where every model finished, "
                       f"have {len(wide)}")
    else:
        with _quiet():
            res = stats.friedmanchisquare(*wide.to_numpy().T)
        out.update(statistic=float(res.statistic), pvalue=float(res.pvalue))
        if not np.isfinite(out["statistic"]):
            out["note"] = "all models tied in every budget: statistic undefined"
    return out


def pareto_front(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Points not dominated in (cost, error), both to be minimised.

    Point i is dominated when some j has cost_j <= cost_i and error_j <= error_i with at
    least one strict; equal points do not dominate each other. NaN points are never on
    the front and dominate nothing.

    Args: cost: (k,) e.g. seconds. error: (k,) e.g. RMSE in bp.
    Returns: (k,) bool, True on the front.
    """
    c, e = np.asarray(cost, float), np.asarray(error, float)
    ok = np.isfinite(c) & np.isfinite(e)
    cj, ej = c[ok][None, :], e[ok][None, :]
    ci, ei = c[ok][:, None], e[ok][:, None]
    dominated = ((cj <= ci) & (ej <= ei) & ((cj < ci) | (ej < ei))).any(axis=1)
    out = np.zeros(c.shape, bool)
    out[ok] = ~dominated
    return out


def cost_benefit(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean test RMSE against cost per (model, budget), with the Pareto front.

    cost_seconds = hf_cpu_seconds + train_seconds_mean, where hf_cpu_seconds is the mean
    over seeds of the cell's HF Monte Carlo CPU-seconds: the runs of the distinct thetas
    its budget (train + validation) uses, each to the longest maturity used
    (sabr.data.costs.hf_cost; docs/DESIGN.md "What HF data costs"). A cell whose results do
    not record it (older metrics) gets NaN cost, stays off the front and is noted. Only
    model rows compete for the front (the Hagan reference's RMSE is a column, at cost 0
    it would trivially be on it).

    Args:
        summary: cell_summary output (columns hf_cpu_seconds_mean, n_hf_thetas_mean,
            train_seconds_mean, rmse_bp_mean, ...).
    Returns:
        frame (model_type, budget, n, rmse_bp_mean (bp), n_hf_thetas_mean, hf_cpu_seconds
        (CPU-s), train_seconds_mean (s), cost_seconds, pareto (bool), hagan_rmse_bp,
        noise_floor_bp, note), sorted by cost.
    """
    cols = ["model_type", "budget", "n", "rmse_bp_mean", "n_hf_thetas_mean", "hf_cpu_seconds",
            "train_seconds_mean", "cost_seconds", "pareto", "hagan_rmse_bp", "noise_floor_bp",
            "note"]
    if len(summary) == 0:
        return pd.DataFrame(columns=cols)
    s = summary[(~summary.is_reference) & (summary.n > 0)].copy()
    for c in ("hf_cpu_seconds_mean", "n_hf_thetas_mean"):
        s[c] = pd.to_numeric(s[c], errors="coerce") if c in s else np.nan
    s["hf_cpu_seconds"] = s["hf_cpu_seconds_mean"]
    s["cost_seconds"] = s["hf_cpu_seconds"] + s["train_seconds_mean"]
    s["pareto"] = pareto_front(s["cost_seconds"].to_numpy(), s["rmse_bp_mean"].to_numpy())
    s["note"] = np.where(s["hf_cpu_seconds"].notna(), "",
                         "HF CPU-seconds not recorded for this cell: no cost")
    return s[cols].sort_values(["cost_seconds", "model_type"], ignore_index=True)


def default_target_rmse(df: pd.DataFrame) -> float:
    """Default target test RMSE (bp): twice the median MC noise floor over finished cells (NaN if none)."""
    cells, _ = finished_cells(df)
    if "noise_floor_bp" not in cells or cells.empty:
        return math.nan
    v = pd.to_numeric(cells["noise_floor_bp"], errors="coerce").dropna()
    return float(2 * v.median()) if len(v) else math.nan
