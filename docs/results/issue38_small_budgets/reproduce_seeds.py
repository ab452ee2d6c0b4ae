"""mda_cnn b=100 seed 5 with the default hyperparameters (the pre-tuning-fix cell that ended at
650 bp), trained with and without the step floors, on the seed-scale data set."""
import json, sys, time
from sabr.config import ExperimentConfig
from sabr.data.dataset import load_dataset
from sabr.learning.models import default_hyperparameters
from sabr.learning.training import train_and_evaluate
cfg = ExperimentConfig.profile("full")
ds = load_dataset(sys.argv[1])
hp = default_hyperparameters(cfg.models, cfg.training_config)
out = {}
for seed in [int(s) for s in sys.argv[3].split(",")]:
    for name, tc in (("off", cfg.training_config.model_copy(update={"min_steps": 0, "min_patience_steps": 0})),
                     ("floors", cfg.training_config)):
        t = time.time()
        m = train_and_evaluate(ds, "mda_cnn", hp, 100, seed, f"{sys.argv[2]}/s{seed}_{name}",
                               training_config=tc, model_config=cfg.models)
        out[f"s{seed} {name}"] = dict(rmse=round(m["rmse_bp"], 1), epochs=m["epochs_run"],
                                      best=m["best_epoch"], steps=m.get("steps_run"),
                                      secs=round(time.time() - t, 1))
        print(f"s{seed} {name}", out[f"s{seed} {name}"], flush=True)
json.dump(out, open(f"{sys.argv[2]}/seed5.json", "w"), indent=1)
