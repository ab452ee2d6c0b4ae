"""The tuning-reuse check (tests/benchmarks/tuning_reuse_check.py) on two small synthetic
output folders: equal verdicts pass, a changed one is detected, the ratios are paired."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).parent
spec = importlib.util.spec_from_file_location("tuning_reuse_check", HERE / "tuning_reuse_check.py")
check_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_mod)

BUDGETS, MODELS, SEEDS = (50, 200, 500), ("mda_cnn", "direct_mlp"), range(4)


def _folder(root: Path, *, best_at_500="mda_cnn", significant=True, b_mda=(1.0, 0.8, 1.2),
            scale=1.0, tune_cpu=100.0, reused=False) -> Path:
    """An output folder as a finished run leaves the files the check reads."""
    (root / "analysis").mkdir(parents=True)
    rows = []
    for b in BUDGETS:
        for m in MODELS:
            for s in SEEDS:
                base = 100.0 if m == "mda_cnn" else 150.0
                rows.append({"budget": b, "model_type": m, "seed": s, "status": "ok",
                             "unit": "points",
                             "rmse_bp": base * (1 + 0.01 * s) * scale * (b / 50) ** -0.5})
    cost = [{"allocation": "surfaces", "hf_cpu_budget": "6%", "model_type": "mda_cnn",
             "seed": s, "status": "ok", "rmse_bp": 90.0 * scale * (1 + 0.02 * s)}
            for s in SEEDS]
    # as a run writes it: detailed_results.csv holds the CPU-budget rows too, budget empty
    pd.DataFrame(rows + [{**c, "budget": None, "unit": "cpu_fraction"} for c in cost]
                 ).to_csv(root / "detailed_results.csv", index=False)
    pd.DataFrame(cost).to_csv(root / "cost_results.csv", index=False)
    per_budget, comps = [], []
    for b in BUDGETS:
        best = best_at_500 if b == 500 else "mda_cnn"
        other = next(m for m in MODELS if m != best)
        per_budget += [{"budget": b, "model_type": best, "rank": 1.0},
                       {"budget": b, "model_type": other, "rank": 2.0}]
        a_better = best == "mda_cnn"          # model_a is mda_cnn
        comps.append({"model_a": "mda_cnn", "model_b": "direct_mlp", "budget": b,
                      "verdict": ("A better" if a_better else "B better")
                      if significant else "no significant difference"})
    (root / "analysis" / "model_rankings.json").write_text(json.dumps({"per_budget": per_budget}))
    pd.DataFrame(comps).to_csv(root / "analysis" / "model_comparisons.csv", index=False)
    pd.DataFrame([{"model_type": "mda_cnn", "b": b_mda[0], "b_lo": b_mda[1], "b_hi": b_mda[2]},
                  {"model_type": "direct_mlp", "b": 1.0, "b_lo": 0.9, "b_hi": 1.1}]
                 ).to_csv(root / "analysis" / "scaling.csv", index=False)
    pd.DataFrame([{"model_type": "mda_cnn", "budget": "6%", "allocation_a": "paths/4",
                   "allocation_b": "surfaces", "verdict": "no significant difference"}]
                 ).to_csv(root / "analysis" / "allocation_comparisons.csv", index=False)
    (root / "analysis" / "timings.json").write_text(json.dumps(
        {"stages": {"tune": {"cpu_s": tune_cpu, "tasks": 8, "computed": 8, "cached": 0}}}))
    sources = {f"b={b}": "b=200" if reused else f"b={b}" for b in BUDGETS}
    (root / "analysis" / "report.json").write_text(json.dumps({"tuning_sources": sources}))
    return root


def test_equal_verdicts_pass_and_the_saving_and_ratios_are_reported(tmp_path, capsys):
    per = _folder(tmp_path / "per")
    ref = _folder(tmp_path / "ref", scale=1.1, b_mda=(1.1, 0.9, 1.3), tune_cpu=40.0, reused=True)
    r = check_mod.check(per, ref)
    assert r["agree"] and r["changed"] == []
    assert r["tuning_cpu"]["saved_s"] == 60.0
    assert r["reused"] == {"b=50": "b=200", "b=500": "b=200"}
    ratios = pd.DataFrame(r["rmse_ratios"])
    assert len(ratios) == len(BUDGETS) * len(MODELS) + 1          # + surfaces@6%
    assert np.allclose(ratios.ratio, 1.1) and (ratios.n_pairs == len(SEEDS)).all()
    assert "surfaces@6%" in set(ratios.budget)
    assert check_mod.main(["--per-budget", str(per), "--reference", str(ref)]) == 0
    text = capsys.readouterr().out
    assert "verdicts agree" in text and "saved 60.0" in text and "b=50 <- b=200" in text


def test_the_paired_interval_is_scipys_t_on_the_log_ratios(tmp_path):
    per = _folder(tmp_path / "per")
    ref = _folder(tmp_path / "ref")
    d = pd.read_csv(ref / "detailed_results.csv")
    noise = np.array([1.0, 1.3, 0.9, 1.2])
    d["rmse_bp"] *= np.tile(noise, len(d) // len(noise))
    d.to_csv(ref / "detailed_results.csv", index=False)
    row = check_mod.rmse_ratios(per, ref).query("model_type == 'mda_cnn' and budget == '50'").iloc[0]
    logs = np.log(noise)
    half = stats.t.ppf(0.975, 3) * logs.std(ddof=1) / 2
    assert math.isclose(row.ratio, math.exp(logs.mean()))
    assert math.isclose(row.lo, math.exp(logs.mean() - half))
    assert math.isclose(row.hi, math.exp(logs.mean() + half))


def test_a_changed_verdict_is_detected(tmp_path, capsys):
    per = _folder(tmp_path / "per")
    flipped = _folder(tmp_path / "flipped", best_at_500="direct_mlp")
    r = check_mod.check(per, flipped)
    assert not r["agree"]
    assert r["changed"] == ["best model at 500: mda_cnn (significant) -> direct_mlp (significant)"]
    assert check_mod.main(["--per-budget", str(per), "--reference", str(flipped)]) == 1
    assert "verdicts CHANGED" in capsys.readouterr().out
    # a lead that stops being significant is a change; scaling intervals apart are one
    lost = _folder(tmp_path / "lost", significant=False)
    assert any(c.startswith("best model at 50:") for c in check_mod.check(per, lost)["changed"])
    apart = _folder(tmp_path / "apart", b_mda=(2.0, 1.5, 2.5))
    assert check_mod.check(per, apart)["changed"] == [
        "scaling exponent of mda_cnn: 1.000 [0.800, 1.200] -> 2.000 [1.500, 2.500] "
        "(intervals do not overlap)"]
    # a best model that differs while neither lead is significant is no changed verdict
    a = _folder(tmp_path / "a", significant=False)
    b = _folder(tmp_path / "b", significant=False, best_at_500="direct_mlp")
    assert check_mod.check(a, b)["agree"]
