"""Summarise a study folder: per (model, budget) the RMSE distribution, failures, steps."""
import json, glob, sys, numpy as np, pandas as pd
rows = []
for f in glob.glob(sys.argv[1] + '/exp_*/metrics.json'):
    m = json.load(open(f))
    if m.get('status') != 'ok':
        continue
    hp = m['hyperparameters']
    spe = -(-m['n_train'] // hp['batch_size'])
    rows.append(dict(model=m['model_type'], b=m['budget'], s=m['seed'], rmse=m['rmse_bp'],
                     epochs=m['epochs_run'], best=m['best_epoch'], spe=spe,
                     steps=m['epochs_run'] * spe, best_step=(m['best_epoch'] or 0) * spe,
                     lr=hp['learning_rate'], bs=hp['batch_size']))
d = pd.DataFrame(rows)
out = []
for (m, b), g in d.groupby(['model', 'b']):
    med = g.rmse.median()
    fail = g[g.rmse > 2 * med]
    out.append(dict(model=m, b=b, n=len(g), gmean=round(float(np.exp(np.log(g.rmse).mean())), 1),
                    median=round(med, 1), min=round(g.rmse.min()), max=round(g.rmse.max()),
                    ratio_max=round(g.rmse.max() / med, 2), failures=len(fail),
                    failed_seeds=list(fail.s), steps_median=int(g.steps.median()),
                    best_step_median=int(g.best_step.median()),
                    fail_steps=list(fail.steps), lr=g.lr.iloc[0], bs=g.bs.iloc[0]))
print(pd.DataFrame(out).to_string())
if len(sys.argv) > 2:
    pd.DataFrame(out).to_csv(sys.argv[2], index=False)
