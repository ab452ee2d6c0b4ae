"""Benchmark: training throughput of each model and the wall time of one full-default cell.

On the quick profile's data set (21 x 10 grid, as in the full experiment) with the
*full* default architecture and training settings (cnn_filters 32/64/128,
batch 64, lr 3e-4), TF pinned to 1 intra- and 1 inter-op thread:

* throughput: training samples per second for each model, measured over
  ``--epochs`` epochs after a warm-up epoch, on budget 1000 (800 train points);
* one ``fit_model`` (validation included) of ``--epochs`` + 1 epochs with one
  ``tf.function`` call per batch (Keras' default) against one per epoch (what the
  project uses): seconds, the ratio, and whether the final validation loss is identical;
* one ``fit_model`` of ``--epochs`` + 1 epochs with tf.data's autotuning on (TensorFlow's
  default) against off (what the project uses), on one core as a worker runs (the other
  core runs the other worker): wall and CPU seconds, and whether the final validation loss
  is identical;
* one full-default cell: ``train_and_evaluate`` of ``--cell-model`` at budget 1000
  with 200 epochs max and patience 20 (early stopping decides the length).

    python tests/benchmarks/bench_training.py [--epochs 5] [--cell-model mda_cnn] [--skip-cell]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sabr.config import ExperimentConfig
from sabr.data.dataset import build_dataset, load_dataset
from sabr.learning.models import MODEL_BUILDERS, build_model, default_hyperparameters
from sabr.learning.training import configure_tensorflow, fit_model, prepare_cell_data, train_and_evaluate


def _pin(cores: set) -> None:
    """Every thread of this process (TensorFlow's started earlier too) on ``cores``: Linux
    sets affinity per thread."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except (ProcessLookupError, PermissionError):     # a thread that just ended
            pass


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--cell-model", default="mda_cnn")
    ap.add_argument("--skip-cell", action="store_true")
    ap.add_argument("--dataset", type=Path, default=None, help="an existing data set folder")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    full = ExperimentConfig()
    ds_dir = args.dataset or build_dataset(ExperimentConfig.profile("quick").data_gen_config,
                                           work / "data")
    ds = load_dataset(ds_dir)
    threads = configure_tensorflow(1, 1)
    import keras
    hp = default_hyperparameters(full.models, full.training_config)
    report = {"tf_threads": threads, "budget": args.budget, "throughput": {}}
    for model_type in sorted(MODEL_BUILDERS):
        data = prepare_cell_data(ds, model_type, args.budget, 0, full.models.patch_size)
        keras.utils.set_random_seed(0)
        model = build_model(model_type, full.models.patch_size, hp)
        fit_model(model, data, hp, epochs=1, patience=10 ** 6)             # warm-up / tracing
        t0 = time.perf_counter()
        model.fit(data.x["train"], data.y["train"], epochs=args.epochs,
                  batch_size=hp["batch_size"], verbose=0)
        secs = time.perf_counter() - t0
        n = data.points["train"].size
        report["throughput"][model_type] = {
            "samples_per_s": round(n * args.epochs / secs, 1), "n_params": int(model.count_params()),
            "seconds_per_epoch": round(secs / args.epochs, 4)}
        print(f"{model_type:13s} {n * args.epochs / secs:10.0f} samples/s  "
              f"{secs / args.epochs:.3f} s/epoch  {model.count_params():7d} params", flush=True)
    report["steps_per_execution"] = {}
    for model_type in sorted(MODEL_BUILDERS):      # one call per batch (Keras' default) vs per epoch
        data = prepare_cell_data(ds, model_type, args.budget, 0, full.models.patch_size)
        row = {}
        for label, spe in (("per_batch", 1), ("per_epoch", None)):
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            model = build_model(model_type, full.models.patch_size, hp, seed=0)
            t0 = time.perf_counter()
            h = fit_model(model, data, hp, epochs=args.epochs + 1, patience=10 ** 6,
                          steps_per_execution=spe)
            row[label] = {"seconds": round(time.perf_counter() - t0, 3),
                          "val_loss": h.history["val_loss"][-1]}
        row["speedup"] = round(row["per_batch"]["seconds"] / row["per_epoch"]["seconds"], 2)
        row["identical"] = row["per_batch"]["val_loss"] == row["per_epoch"]["val_loss"]
        report["steps_per_execution"][model_type] = row
        print(f"{model_type:13s} fit of {args.epochs + 1} epochs with validation: "
              f"{row['per_batch']['seconds']:.2f} s one call per batch, "
              f"{row['per_epoch']['seconds']:.2f} s one per epoch ({row['speedup']:.2f}x), "
              f"final val loss identical: {row['identical']}", flush=True)
    report["autotune"] = {}
    cores = os.sched_getaffinity(0)
    _pin({min(cores)})                   # one core, as each of the 2 workers has
    try:
        for model_type in sorted(MODEL_BUILDERS):
            data = prepare_cell_data(ds, model_type, args.budget, 0, full.models.patch_size)
            row = {}
            for label, on in (("autotune_on", True), ("autotune_off", False)):
                keras.backend.clear_session()
                keras.utils.set_random_seed(0)
                model = build_model(model_type, full.models.patch_size, hp, seed=0)
                t0, c0 = time.perf_counter(), time.process_time()
                h = fit_model(model, data, hp, epochs=args.epochs + 1, patience=10 ** 6,
                              autotune=on)
                row[label] = {"seconds": round(time.perf_counter() - t0, 3),
                              "cpu_seconds": round(time.process_time() - c0, 3),
                              "val_loss": h.history["val_loss"][-1]}
            row["speedup"] = round(row["autotune_on"]["seconds"] / row["autotune_off"]["seconds"], 2)
            row["identical"] = row["autotune_on"]["val_loss"] == row["autotune_off"]["val_loss"]
            report["autotune"][model_type] = row
            on, off = row["autotune_on"], row["autotune_off"]
            print(f"{model_type:13s} fit of {args.epochs + 1} epochs on one core: tf.data "
                  f"autotuning on {on['seconds']:.2f} s wall / {on['cpu_seconds']:.2f} CPU-s, "
                  f"off {off['seconds']:.2f} s / {off['cpu_seconds']:.2f} CPU-s "
                  f"({row['speedup']:.2f}x), final val loss identical: {row['identical']}",
                  flush=True)
    finally:
        _pin(cores)
    if not args.skip_cell:
        t0 = time.perf_counter()
        m = train_and_evaluate(ds, args.cell_model, hp, args.budget, 0, work / "cell",
                               training_config=full.training_config, model_config=full.models)
        wall = time.perf_counter() - t0
        report["full_cell"] = {"model_type": args.cell_model, "wall_seconds": round(wall, 2),
                               "train_seconds": round(m["train_seconds"], 2),
                               "epochs_run": m["epochs_run"], "rmse_bp": m["rmse_bp"],
                               "hagan_rmse_bp": m["hagan_rmse_bp"], "status": m["status"]}
        print(f"full-default cell ({args.cell_model}, budget {args.budget}, <= 200 epochs): "
              f"{wall:.1f} s wall, {m['epochs_run']} epochs, test RMSE {m['rmse_bp']:.1f} bp "
              f"(Hagan {m['hagan_rmse_bp']:.1f} bp)")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
