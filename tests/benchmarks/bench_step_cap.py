"""Benchmark: what the step budget of large cells costs in accuracy, and saves in CPU-seconds.

Issue 40, item 2 (sabr.learning.step_budget): a large cell trains at a batch grown so an
epoch is at most ``max_steps_per_epoch`` steps, with Adam's learning rate scaled by the
square root of the batch ratio (Malladi et al. 2022), and at most ``max_steps`` optimizer
steps. For a few large cells (``--models`` at the CPU budget ``--budget``, e.g. whole
surfaces at 18 % of the pool's Monte Carlo CPU-seconds: about 25k training points on the
1000-theta pool), each seed is trained twice with the same points, initialisation and
hyperparameters:

* ``capped``: the training section as configured (the rule on: the defaults, or
  ``--training`` overrides);
* ``uncapped``: the rule off (``max_steps = 0``, ``max_steps_per_epoch = 0``): the tuned
  batch and learning rate, ``--uncapped-epochs`` epochs at most, early stopping deciding
  the length (training to convergence, as before the rule).

Per model it prints the geometric-mean test RMSE ratio capped / uncapped with a 95 % t
interval on the per-seed log ratios (paired on seed; scipy.stats.t), the training
CPU-seconds of each arm (the process's CPU time over ``train_and_evaluate``: the fit,
and the data preparation and scoring both arms share) and what the cap saved, the steps
and epochs run, and how many capped fits ran to the cap. Cells are kept in ``--out``
(``<arm>/<model>/s<seed>``, each with ``cpu.json``): a rerun with the same ``--out``
continues where it stopped. ``report.json`` and ``cells.csv`` hold the figures.

    python tests/benchmarks/bench_step_cap.py --dataset <data set folder> --out <folder> \
        [--models mda_cnn direct_mlp] [--budget surfaces@18%] [--seeds 0 1 2 3 4] \
        [--jobs 2] [--hp tuned.json] [--training max_steps=10000 ...] [--uncapped-epochs 200]

``--tiny`` builds a 20-theta data set and bounds small enough for its cells to be
"large" (seconds; what tests/benchmarks/test_benchmarks_run.py runs).
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ARMS = ("capped", "uncapped")
TINY_TRAINING = {"epochs": 8, "early_stopping_patience": 3, "min_steps": 0,
                 "min_patience_steps": 0, "min_tuning_steps": 0, "max_steps": 8,
                 "max_steps_per_epoch": 2, "max_batch_size": 64}
TINY_HP = {"batch_size": 8, "learning_rate": 1e-3}


def _value(text: str):
    """A ``--training`` value: an int, a float or the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _settings(training: dict, profile: str):
    """(training section with the rule as configured, model section)."""
    from sabr.config import ExperimentConfig
    cfg = ExperimentConfig.profile(profile, training_config=training or None)
    return cfg.training_config, cfg.models


def _arm_training(tc, arm: str, uncapped_epochs: int):
    if arm == "capped":
        return tc
    return tc.model_copy(update={"max_steps": 0, "max_steps_per_epoch": 0,
                                 "epochs": int(uncapped_epochs)})


def _run_cell(job: dict) -> dict:
    """One (arm, model, seed): trained, or read back from its folder when done."""
    out = Path(job["out"])
    done = out / "cpu.json"
    if done.is_file() and (out / "metrics.json").is_file():
        m = json.loads((out / "metrics.json").read_text())
        return {**job, **json.loads(done.read_text()), "metrics": m}
    from sabr.config import ExperimentConfig
    from sabr.learning.models import default_hyperparameters
    from sabr.learning.training import train_and_evaluate
    cfg = ExperimentConfig.profile(job["profile"], training_config=job["training"] or None)
    tc = _arm_training(cfg.training_config, job["arm"], job["uncapped_epochs"])
    hp = {**default_hyperparameters(cfg.models, cfg.training_config), **job["hp"]}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    m = train_and_evaluate(job["dataset"], job["model"], hp, job["budget"], job["seed"], out,
                           training_config=tc, model_config=cfg.models)
    cost = {"cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.perf_counter() - wall0}
    done.write_text(json.dumps(cost))
    return {**job, **cost, "metrics": m}


def _interval(logs: list[float]) -> tuple[float, float, float]:
    """exp of the mean of ``logs`` and of its 95 % t interval (NaN bounds for one value)."""
    import numpy as np
    from scipy import stats
    x = np.asarray(logs, float)
    mean = float(x.mean())
    if x.size < 2:
        return math.exp(mean), math.nan, math.nan
    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def summarise(rows: list[dict]) -> dict:
    """Per model: the paired RMSE ratio capped / uncapped with its interval, CPU-seconds."""
    by = {}
    for r in rows:
        by.setdefault(r["model"], {}).setdefault(r["seed"], {})[r["arm"]] = r
    report = {}
    for model, seeds in sorted(by.items()):
        pairs = [(s["capped"], s["uncapped"]) for s in seeds.values()
                 if set(s) == set(ARMS) and all(s[a]["metrics"]["status"] == "ok" for a in ARMS)]
        logs = [math.log(c["metrics"]["rmse_bp"] / u["metrics"]["rmse_bp"]) for c, u in pairs]
        ratio, lo, hi = _interval(logs) if logs else (math.nan,) * 3
        cpu = {a: sum(p[i]["cpu_seconds"] for p in pairs) for i, a in enumerate(ARMS)}
        first = pairs[0][0]["metrics"] if pairs else {}
        report[model] = {
            "seeds": len(pairs), "n_train": sorted({p[0]["metrics"]["n_train"] for p in pairs}),
            "rmse_ratio": ratio, "rmse_ratio_lo": lo, "rmse_ratio_hi": hi,
            "rmse_bp": {a: [p[i]["metrics"]["rmse_bp"] for p in pairs] for i, a in enumerate(ARMS)},
            "cpu_seconds": cpu, "cpu_seconds_saved": cpu["uncapped"] - cpu["capped"],
            "cpu_ratio": cpu["capped"] / cpu["uncapped"] if cpu["uncapped"] else math.nan,
            "steps_run": {a: [p[i]["metrics"]["steps_run"] for p in pairs] for i, a in enumerate(ARMS)},
            "epochs_run": {a: [p[i]["metrics"]["epochs_run"] for p in pairs] for i, a in enumerate(ARMS)},
            "capped_batch_size": first.get("train_batch_size"),
            "capped_learning_rate": first.get("train_learning_rate"),
            "capped_max_steps": first.get("max_steps"),
            "stopped_at_step_cap": sum(bool(p[0]["metrics"].get("stopped_at_step_cap"))
                                       for p in pairs),
            "failed": sum(r["metrics"]["status"] != "ok" for s in seeds.values() for r in s.values()),
        }
    return report


def _print(report: dict, budget: str) -> None:
    print(f"| model | cells ({budget}) | n_train | RMSE capped / uncapped (95 % t, paired) | "
          "train CPU-s capped / uncapped | saved | steps capped / uncapped (median) | "
          "capped batch, lr | ran to the cap |")
    print("|---|---|---|---|---|---|---|---|---|")
    import statistics
    for model, r in report.items():
        med = {a: statistics.median(r["steps_run"][a]) if r["steps_run"][a] else math.nan
               for a in ARMS}
        print(f"| {model} | {r['seeds']} seeds | {r['n_train']} | {r['rmse_ratio']:.3f} "
              f"[{r['rmse_ratio_lo']:.3f}, {r['rmse_ratio_hi']:.3f}] | "
              f"{r['cpu_seconds']['capped']:.0f} / {r['cpu_seconds']['uncapped']:.0f} "
              f"(x{r['cpu_ratio']:.2f}) | {r['cpu_seconds_saved']:.0f} s | "
              f"{med['capped']:.0f} / {med['uncapped']:.0f} | {r['capped_batch_size']}, "
              f"{r['capped_learning_rate']:.3g} | {r['stopped_at_step_cap']}/{r['seeds']} |")
        print(f"rmse_ratio[{model}]={r['rmse_ratio']:.4f}")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, help="a data set folder (the 1000-theta pool)")
    ap.add_argument("--out", type=Path, default=None, help="cells and report (kept; resumable)")
    ap.add_argument("--models", nargs="+", default=["mda_cnn", "direct_mlp"])
    ap.add_argument("--budget", default="surfaces@18%", help="a CPU-budget cell label")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--profile", default="full", help="the training and model sections' base")
    ap.add_argument("--training", nargs="*", default=[], metavar="KEY=VALUE",
                    help="training_config overrides (both arms; the uncapped arm turns the rule off)")
    ap.add_argument("--hp", type=Path, default=None,
                    help="JSON of hyperparameters over the defaults (e.g. a tuning's best)")
    ap.add_argument("--uncapped-epochs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=1, help="cells at once (one core each)")
    ap.add_argument("--tiny", action="store_true", help="a 20-theta data set, seconds")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-step-cap-"))
    training = dict(kv.split("=", 1) for kv in args.training)
    training = {k: _value(v) for k, v in training.items()}
    hp = json.loads(args.hp.read_text()) if args.hp else {}
    dataset = args.dataset
    if args.tiny:
        from sabr.config import ExperimentConfig
        from sabr.data.dataset import build_dataset
        dataset = dataset or build_dataset(ExperimentConfig.profile(
            "quick", hf_budgets=[20], data_gen_config={
                "n_parameter_sets": 20, "mc_paths": 2000, "chunk_size": 10, "n_maturities": 4,
                "n_strikes": 7, "maturity_range": [0.5, 2.0], "master_seed": 3}
        ).data_gen_config, out / "data")
        training, hp = {**TINY_TRAINING, **training}, {**TINY_HP, **hp}
    if dataset is None:
        ap.error("--dataset is required (or --tiny)")
    _settings(training, args.profile)           # a bad override fails here, once
    jobs = [{"arm": arm, "model": model, "seed": seed, "budget": args.budget,
             "dataset": str(dataset), "profile": args.profile, "training": training, "hp": hp,
             "uncapped_epochs": args.uncapped_epochs,
             "out": str(out / arm / model / f"s{seed}")}
            for model in args.models for seed in args.seeds for arm in ARMS]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            rows = list(pool.map(_run_cell, jobs))
    else:
        rows = [_run_cell(j) for j in jobs]
    report = summarise(rows)
    import pandas as pd
    pd.DataFrame([{k: v for k, v in r.items() if k not in ("metrics", "training", "hp")}
                  | {c: r["metrics"].get(c) for c in (
                      "status", "n_train", "rmse_bp", "epochs_run", "steps_run",
                      "train_seconds", "train_batch_size", "train_learning_rate", "max_steps",
                      "step_cap_binds", "stopped_at_step_cap")}
                  for r in rows]).to_csv(out / "cells.csv", index=False)
    full = {"budget": args.budget, "dataset": str(dataset), "training": training, "hp": hp,
            "uncapped_epochs": args.uncapped_epochs, "wall_seconds": time.perf_counter() - t0,
            "models": report}
    (out / "report.json").write_text(json.dumps(full, indent=1, default=str))
    _print(report, args.budget)
    print(f"cells and report in {out} ({full['wall_seconds']:.0f} s wall)")
    return full


if __name__ == "__main__":
    main()
