"""The task that buys one round of an ``adaptive`` cell's thetas (sabr.data.acquisition)."""
from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from sabr.budget_labels import parse_cell_label
from sabr.config import ExperimentConfig
from sabr.io import atomic_write_json

from .common import RETRIES, Clock, content_policy, retry_unless_deterministic

__all__ = ["acquire_round"]


@task(name="acquire", task_run_name="acquire surfaces r={round_} s={seed} ({model_type})",
      cache_policy=content_policy("acquire"), persist_result=True,
      retry_condition_fn=retry_unless_deterministic, **RETRIES)
def acquire_round(config_json: str, dataset: dict, model_type: str, label: str, seed: int,
                  round_: int, previous: dict | None, scored: dict | None,
                  out_dir: str) -> dict:
    """Round ``round_`` of (model, seed)'s ``adaptive`` cells: the thetas bought up to the
    budget of ``label`` ('adaptive@10%'). Round 1 takes the ``surfaces`` order's; a later
    round adds those the previous round's ensemble (``scored``: that round's training
    result, its ``scores``) disagrees on most per CPU-second. ``previous``: the previous
    round's result. Writes ``out_dir/round_<r>.json``; returns {"order", "round",
    "n_thetas", "n_bought", "hf_cpu_seconds", "budget_seconds"}."""
    import numpy as np

    from sabr.data.acquisition import first_round, next_round, theta_costs
    from sabr.data.allocations import resolve_cpu_budget
    from sabr.data.dataset import load_dataset
    clock = Clock()
    cfg = ExperimentConfig.model_validate_json(config_json)
    ds = load_dataset(dataset["path"])
    budget = resolve_cpu_budget(ds, parse_cell_label(label)[1])
    if previous is None:
        order = first_round(ds, seed, budget, cfg.training_config.validation_fraction)
        before = 0
    else:
        if not isinstance(scored, dict) or "scores" not in scored:
            raise ValueError(f"round {round_} of {model_type} s={seed} is invalid without the "
                             f"previous round's ensemble scores (its training failed)")
        scores = scored["scores"]
        before = len(previous["order"])
        order = next_round(ds, previous["order"], budget, scores["thetas"],
                           scores["disagreement"])
    spent = float(np.sum(theta_costs(ds, order)))
    result = {"order": [int(t) for t in order], "round": int(round_), "label": label,
              "n_thetas": int(len(order)), "n_bought": int(len(order) - before),
              "hf_cpu_seconds": spent, "budget_seconds": float(budget)}
    atomic_write_json(Path(out_dir) / f"round_{round_}.json", result)
    get_run_logger().info("%s s=%d round %d: %d thetas (+%d), %.1f of %.1f CPU-s", model_type,
                          seed, round_, result["n_thetas"], result["n_bought"], spent, budget)
    return {**result, "timing": clock.read()}
