"""The task that buys one round of an adaptive cell's thetas or points (sabr.data.allocations.acquisition,
sabr.data.allocations.acquisition_points)."""
from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from sabr.budget_labels import parse_cell_label
from sabr.io import atomic_write_json
from sabr.settings import CellSettings

from .common import RETRIES, Clock, content_policy, retry_unless_deterministic

__all__ = ["acquire_round"]


@task(name="acquire", task_run_name="acquire r={round_} s={seed} ({model_type} {label})",
      cache_policy=content_policy("acquire"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def acquire_round(settings_json: str, dataset: dict, model_type: str, label: str, seed: int,
                  round_: int, previous: dict | None, scored: dict | None, data_dir: str,
                  out_dir: str) -> dict:
    """Round ``round_`` of (model, seed)'s ``adaptive`` cells: the thetas bought up to the
    budget of ``label`` ('adaptive@10%', 'adaptive/spread@10%'). Round 1 takes the
    ``surfaces`` order's thetas (``spread``'s points); a later round adds what the previous
    round's ensemble (``scored``: that round's training result, its ``scores``) disagrees
    on most per CPU-second, or per path-step for a budget in path-steps ('adaptive@2Gps')
    (sabr.data.allocations.acquisition, sabr.data.allocations.acquisition_points).
    ``previous``: the previous round's result; ``settings_json``: sabr.settings.CellSettings
    as JSON (its validation fraction); the data set in ``data_dir``. Writes ``out_dir/round_<r>.json``; returns
    {"order", "round", "label", "n_thetas", "n_bought", "hf_cpu_seconds", "hf_path_steps",
    "budget", "unit" ('cpu_seconds' or 'path_steps', the budget's), "budget_seconds" (NaN
    for a budget in path-steps)}, and for adaptive/spread "n_points" (and from round 2
    "n_free_points", "n_rows_paid")."""
    import numpy as np

    from sabr.budget_labels import adaptive_start
    from sabr.data.allocations.acquisition import first_round, next_round, theta_costs
    from sabr.data.allocations.acquisition_points import expand_order, first_spread_round, next_spread_round
    from sabr.data.allocations import resolve_budget
    from sabr.data.costs import hf_cost
    from sabr.data.dataset import load_dataset
    clock = Clock()
    cfg = CellSettings.model_validate_json(settings_json)
    ds = load_dataset(data_dir)
    budget, unit = resolve_budget(ds, parse_cell_label(label)[1])
    vf = cfg.training_config.validation_fraction
    points = adaptive_start(label) == "spread"
    if previous is not None and (not isinstance(scored, dict) or "scores" not in scored):
        raise ValueError(f"round {round_} of {model_type} s={seed} is invalid without the "
                         f"previous round's ensemble scores (its training failed)")
    extra = {}
    if points:                  # adaptive/spread: the seed's points, then maturity rows
        if previous is None:
            order = first_spread_round(ds, seed, budget, vf, unit=unit)
        else:
            step = next_spread_round(ds, seed, previous["order"], budget,
                                     scored["scores"]["thetas"], scored["scores"]["rows"], vf,
                                     unit=unit)
            order = step["order"]
            extra = {"n_free_points": step["n_free"], "n_rows_paid": step["n_rows_paid"]}
        pts, _, cost = expand_order(ds, seed, order, vf, unit=unit)
        n = int(np.searchsorted(cost, budget * (1 + 1e-12), side="right"))   # as the cell counts
        before = 0 if previous is None else int(previous["n_points"])
        spent = hf_cost(ds, pts[:n])
        result = {"order": order, "n_points": n, "n_bought": n - before,
                  "n_thetas": int(np.unique(np.unravel_index(pts[:n], ds.shape)[0]).size)}
    else:                       # adaptive: whole surfaces
        if previous is None:
            order = first_round(ds, seed, budget, vf, unit=unit)
            before = 0
        else:
            before = len(previous["order"])
            order = next_round(ds, previous["order"], budget, scored["scores"]["thetas"],
                               scored["scores"]["disagreement"], unit=unit)
        spent = {"hf_cpu_seconds": float(np.sum(theta_costs(ds, order))),
                 "hf_path_steps": float(np.sum(theta_costs(ds, order, "path_steps")))}
        result = {"order": [int(t) for t in order], "n_thetas": int(len(order)),
                  "n_bought": int(len(order) - before)}
    result.update({"round": int(round_), "label": label,
                   "hf_cpu_seconds": float(spent["hf_cpu_seconds"]),
                   "hf_path_steps": float(spent["hf_path_steps"]), "budget": float(budget),
                   "unit": unit,
                   "budget_seconds": float(budget) if unit == "cpu_seconds" else float("nan"),
                   **extra})
    atomic_write_json(Path(out_dir) / f"round_{round_}.json", result)
    what = (f"{result['n_points']} points (+{result['n_bought']}"
            + (f", {extra['n_free_points']} of them already simulated" if extra else "")
            + f") on {result['n_thetas']} thetas" if points
            else f"{result['n_thetas']} thetas (+{result['n_bought']})")
    key, words = (("hf_cpu_seconds", "CPU-s") if unit == "cpu_seconds"
                  else ("hf_path_steps", "path-steps"))
    get_run_logger().info("%s s=%d round %d: %s, %.4g of %.4g %s", model_type, seed,
                          round_, what, result[key], budget, words)
    return {**result, "timing": clock.read()}
