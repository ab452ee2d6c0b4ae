"""Store a finished quick run as the baseline that tests/flow/test_numbers_kept.py holds
the code to: ``python tests/data/quick_baseline/store.py <output_dir>`` after
``hf-budget run --profile quick --output-dir <output_dir>``.

Writes here: the point-budget rows of detailed_results.csv, cost_results.csv, the data
set's measured Monte Carlo CPU-seconds (timings.npz), each CPU-budget cell's
hyperparameters (cost_hyperparameters.json) and each CPU-budget tuning's best validation
MSE (cost_tuning_best.json, bp^2, from its Optuna journal).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

HERE = Path(__file__).resolve().parent


def main(out: Path) -> None:
    df = pd.read_csv(out / "detailed_results.csv", dtype={"budget": "Int64"})
    df[df.unit == "points"].to_csv(HERE / "detailed_results.csv", index=False)
    (HERE / "cost_results.csv").write_text((out / "cost_results.csv").read_text())
    meta = json.loads((out / "data" / "metadata.json").read_text())
    with np.load(out / "data" / "surfaces.npz") as z:
        prefix = z["hf_cpu_seconds_prefix"]
    np.savez(HERE / "timings.npz", hf_cpu_seconds=np.asarray(meta["hf_cpu_seconds"], float),
             hf_cpu_seconds_prefix=prefix)
    used, best = {}, {}
    for f in sorted(out.glob("cost_*/config.json")):
        c = json.loads(f.read_text())
        used[f"{c['model_type']} {c['budget']} s={c['seed']}"] = c["hyperparameters"]
        label = c["budget"]
        if label not in best:
            journal = out / "tuning" / f"{c['model_type']}_{label.replace('/', '-')}" \
                / "optuna_journal.log"
            storage = optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(journal)))
            (name,) = optuna.get_all_study_names(storage)
            best[label] = optuna.load_study(study_name=name, storage=storage).best_value
    (HERE / "cost_hyperparameters.json").write_text(json.dumps(used, indent=1, sort_keys=True))
    (HERE / "cost_tuning_best.json").write_text(json.dumps(best, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
