"""Check: do the verdicts change when tuning is paid once, at a reference budget?

Issue 40, item 3 (ExperimentConfig.tuning_reference_budget / tuning_reference_cpu_budget,
docs/METHODS.md "Tuning at a reference budget"). Given two finished output folders of the
same configuration, one tuned per budget (the default) and one with the reference set, it
prints the verdicts of each and whether they agree:

* per point budget, the best model (rank 1 in analysis/model_rankings.json) and whether its
  lead over the runner-up is significant (its row of analysis/model_comparisons.csv, Holm
  adjusted); the verdict is the best model where its lead is significant, else "no
  significant lead", and it changes when that differs (a best model that differs while
  neither lead is significant is printed, not counted: the data did not decide it);
* per (model, CPU budget), each pair of allocations' verdict
  (analysis/allocation_comparisons.csv, where the run has an allocation study);
* per model, the scaling exponent b with its interval (analysis/scaling.csv) and whether
  the two intervals overlap (a verdict changes when they do not);
* per (model, budget), the test RMSE ratio reference / per-budget, the geometric mean of the
  per-seed ratios with a 95 % t interval on their logs (paired on seed; scipy.stats.t),
  from detailed_results.csv and cost_results.csv: descriptive, no verdict of its own;
* the tuning CPU-seconds of each folder (analysis/timings.json, stage ``tune``) and what
  the reference saved.

    python tests/benchmarks/tuning_reuse_check.py --per-budget <folder> --reference <folder> \
        [--json check.json]

Exit status 0 when every verdict agrees, 1 when one changed (listed under "changed").
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

SIGNIFICANT = ("A better", "B better")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _budget(v) -> str:
    """A budget as both folders' files name it: '200' for points, a label as it is."""
    try:
        return str(int(float(v)))
    except (TypeError, ValueError):
        return str(v)


def best_models(folder: Path) -> dict[str, dict]:
    """Per point budget: the best model, the runner-up and whether the lead is significant."""
    ranks = _read_json(folder / "analysis" / "model_rankings.json").get("per_budget", [])
    comp_path = folder / "analysis" / "model_comparisons.csv"
    comp = pd.read_csv(comp_path) if comp_path.is_file() else pd.DataFrame()
    out = {}
    by_budget: dict[str, list[dict]] = {}
    for row in ranks:
        by_budget.setdefault(_budget(row["budget"]), []).append(row)
    for b, rows in by_budget.items():
        rows = sorted(rows, key=lambda r: (r["rank"], r["model_type"]))
        best = rows[0]["model_type"]
        runner = rows[1]["model_type"] if len(rows) > 1 else None
        verdict = "only model"
        if runner is not None and not comp.empty:
            pair = comp[(comp.budget.map(_budget) == b)
                        & (((comp.model_a == best) & (comp.model_b == runner))
                           | ((comp.model_a == runner) & (comp.model_b == best)))]
            verdict = str(pair.verdict.iloc[0]) if len(pair) else "not compared"
            if verdict in SIGNIFICANT:
                winner = pair.model_a.iloc[0] if verdict == "A better" else pair.model_b.iloc[0]
                verdict = "significant" if winner == best else f"{winner} better"
        out[b] = {"best": best, "runner_up": runner, "lead": verdict,
                  "significant": verdict == "significant"}
    return out


def allocation_verdicts(folder: Path) -> dict[str, str]:
    """'<model> <budget> <allocation A> vs <allocation B>' -> its verdict."""
    path = folder / "analysis" / "allocation_comparisons.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path)
    return {f"{r.model_type} {r.budget} {r.allocation_a} vs {r.allocation_b}": str(r.verdict)
            for r in df.itertuples()}


def scaling(folder: Path) -> dict[str, tuple[float, float, float]]:
    """Per model: the scaling exponent b and its interval (NaN where the fit gives none)."""
    path = folder / "analysis" / "scaling.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path)
    return {r.model_type: (float(r.b), float(r.b_lo), float(r.b_hi)) for r in df.itertuples()}


def _overlap(x, y) -> bool | None:
    """Whether two (b, lo, hi) intervals overlap; None when either has no interval."""
    if not all(np.isfinite([x[1], x[2], y[1], y[2]])):
        return None
    return max(x[1], y[1]) <= min(x[2], y[2])


def cell_rmse(folder: Path) -> pd.DataFrame:
    """(model, budget, seed, rmse_bp) of every finished cell, point and CPU budgets."""
    frames = []
    det = folder / "detailed_results.csv"
    if det.is_file():
        d = pd.read_csv(det)
        if "unit" in d:                   # its CPU-budget rows are cost_results.csv's
            d = d[d.unit == "points"]
        frames.append(d.assign(budget=d.budget.map(_budget)))
    cost = folder / "cost_results.csv"
    if cost.is_file():
        c = pd.read_csv(cost)
        frames.append(c.assign(budget=c.allocation + "@" + c.hf_cpu_budget.astype(str)))
    if not frames:
        return pd.DataFrame(columns=["model_type", "budget", "seed", "rmse_bp"])
    df = pd.concat(frames, ignore_index=True)
    ok = df[(df.status == "ok") & np.isfinite(df.rmse_bp) & (df.rmse_bp > 0)]
    return ok[["model_type", "budget", "seed", "rmse_bp"]]


def rmse_ratios(per_budget: Path, reference: Path, level: float = 0.95) -> pd.DataFrame:
    """Per (model, budget): the geometric-mean RMSE ratio reference / per-budget over the
    seeds both finished, with a t interval on the per-seed log ratios."""
    a, b = cell_rmse(per_budget), cell_rmse(reference)
    pairs = a.merge(b, on=["model_type", "budget", "seed"], suffixes=("_per", "_ref"))
    rows = []
    for (m, bud), g in pairs.groupby(["model_type", "budget"], sort=True):
        logs = np.log(g.rmse_bp_ref.to_numpy() / g.rmse_bp_per.to_numpy())
        n = len(logs)
        mean = float(logs.mean())
        lo = hi = math.nan
        if n >= 2:
            half = stats.t.ppf(0.5 + level / 2, n - 1) * logs.std(ddof=1) / math.sqrt(n)
            lo, hi = math.exp(mean - half), math.exp(mean + half)
        rows.append({"model_type": m, "budget": bud, "n_pairs": n, "ratio": math.exp(mean),
                     "lo": lo, "hi": hi})
    rows.sort(key=lambda r: (r["model_type"], not r["budget"].isdigit(), r["budget"].zfill(12)))
    return pd.DataFrame(rows, columns=["model_type", "budget", "n_pairs", "ratio", "lo", "hi"])


def tuning_cpu(folder: Path) -> dict:
    """The tune stage of analysis/timings.json: CPU-seconds computed, tasks, cached."""
    tune = _read_json(folder / "analysis" / "timings.json").get("stages", {}).get("tune", {})
    return {"cpu_s": float(tune.get("cpu_s", math.nan)), "tasks": int(tune.get("tasks", 0)),
            "computed": int(tune.get("computed", 0)), "cached": int(tune.get("cached", 0))}


def check(per_budget: Path, reference: Path) -> dict:
    """Every verdict of both folders and which changed (see the module doc)."""
    per_budget, reference = Path(per_budget), Path(reference)
    changed = []
    best_a, best_b = best_models(per_budget), best_models(reference)
    best_rows = []
    for bud in sorted(set(best_a) | set(best_b), key=lambda s: (not s.isdigit(), s.zfill(12))):
        x, y = best_a.get(bud), best_b.get(bud)
        agree = x is not None and y is not None and _verdict(x) == _verdict(y)
        best_rows.append({"budget": bud, "per_budget": x, "reference": y, "agree": agree,
                          "same_best": bool(x and y and x["best"] == y["best"])})
        if not agree:
            changed.append(f"best model at {bud}: {_best_text(x)} -> {_best_text(y)}")
    alloc_a, alloc_b = allocation_verdicts(per_budget), allocation_verdicts(reference)
    alloc_rows = []
    for key in sorted(set(alloc_a) | set(alloc_b)):
        agree = alloc_a.get(key) == alloc_b.get(key)
        alloc_rows.append({"comparison": key, "per_budget": alloc_a.get(key),
                           "reference": alloc_b.get(key), "agree": agree})
        if not agree:
            changed.append(f"{key}: {alloc_a.get(key)} -> {alloc_b.get(key)}")
    sc_a, sc_b = scaling(per_budget), scaling(reference)
    sc_rows = []
    for m in sorted(set(sc_a) | set(sc_b)):
        x, y = sc_a.get(m), sc_b.get(m)
        overlap = _overlap(x, y) if x and y else False
        sc_rows.append({"model_type": m, "per_budget": x, "reference": y, "overlap": overlap})
        if overlap is False:
            changed.append(f"scaling exponent of {m}: {_b_text(x)} -> {_b_text(y)} "
                           f"(intervals do not overlap)")
    cpu_a, cpu_b = tuning_cpu(per_budget), tuning_cpu(reference)
    sources = _read_json(reference / "analysis" / "report.json").get("tuning_sources") or {}
    return {"per_budget": str(per_budget), "reference": str(reference),
            "reused": {b: t for b, t in sources.items() if b != t},
            "best_models": best_rows, "allocations": alloc_rows, "scaling": sc_rows,
            "rmse_ratios": rmse_ratios(per_budget, reference).to_dict(orient="records"),
            "tuning_cpu": {"per_budget": cpu_a, "reference": cpu_b,
                           "saved_s": cpu_a["cpu_s"] - cpu_b["cpu_s"]},
            "changed": changed, "agree": not changed}


def _verdict(x: dict) -> str:
    return x["best"] if x["significant"] else "no significant lead"


def _best_text(x) -> str:
    if x is None:
        return "absent"
    return f"{x['best']} ({'significant' if x['significant'] else x['lead']})"


def _b_text(x) -> str:
    if x is None:
        return "absent"
    b, lo, hi = x
    return f"{b:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite([lo, hi]).all() else f"{b:.3f} (no CI)"


def report_text(r: dict) -> str:
    lines = [f"per-budget tuning: {r['per_budget']}", f"reference tuning:  {r['reference']}"]
    if r["reused"]:
        lines.append("reference folder reused: " + ", ".join(
            f"{b} <- {t}" for b, t in r["reused"].items()))
    else:
        lines.append("WARNING: the reference folder's report.json records no reused tuning")
    lines += ["", "best model per budget (lead over the runner-up):"]
    for row in r["best_models"]:
        lines.append(f"  {row['budget']:>14}: {_best_text(row['per_budget']):<36} "
                     f"{_best_text(row['reference']):<36} "
                     + ("CHANGED" if not row["agree"] else "same" if row["same_best"] else
                        "same verdict (best model differs, neither lead significant)"))
    if r["allocations"]:
        lines += ["", "allocation comparisons:"]
        for row in r["allocations"]:
            lines.append(f"  {row['comparison']}: {row['per_budget']} | {row['reference']} "
                         f"{'same' if row['agree'] else 'CHANGED'}")
    lines += ["", "scaling exponent b [95 % CI]:"]
    for row in r["scaling"]:
        ov = {True: "overlap", False: "NO OVERLAP", None: "no interval to compare"}[row["overlap"]]
        lines.append(f"  {row['model_type']:>14}: {_b_text(row['per_budget'])} | "
                     f"{_b_text(row['reference'])}  {ov}")
    lines += ["", "test RMSE ratio reference / per-budget (geometric mean over seeds, 95 % t CI "
              "paired on seed):"]
    for row in r["rmse_ratios"]:
        ci = (f"[{row['lo']:.3f}, {row['hi']:.3f}]" if np.isfinite([row["lo"], row["hi"]]).all()
              else "(no CI)")
        lines.append(f"  {row['model_type']:>14} {row['budget']:>14}: {row['ratio']:.3f} {ci} "
                     f"({row['n_pairs']} seeds)")
    t = r["tuning_cpu"]
    lines += ["", f"tuning CPU-seconds: per-budget {t['per_budget']['cpu_s']:.1f} "
              f"({t['per_budget']['computed']} tunings computed, {t['per_budget']['cached']} "
              f"cached), reference {t['reference']['cpu_s']:.1f} "
              f"({t['reference']['computed']} computed, {t['reference']['cached']} cached): "
              f"saved {t['saved_s']:.1f}"]
    if t["per_budget"]["cached"] or t["reference"]["cached"]:
        lines.append("  (cached tunings count no CPU: run both from empty folders to compare)")
    lines += ["", "verdicts agree" if r["agree"] else
              "verdicts CHANGED:\n" + "\n".join(f"  {c}" for c in r["changed"])]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-budget", required=True, type=Path,
                    help="output folder of the run tuned per budget (the default)")
    ap.add_argument("--reference", required=True, type=Path,
                    help="output folder of the same configuration with a tuning reference")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    r = check(args.per_budget, args.reference)
    print(report_text(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=float))
    return 0 if r["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
