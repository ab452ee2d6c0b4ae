"""The ``hf-budget`` command line.

    hf-budget run [--profile quick|full] [--config FILE] [--hf-budgets 50 100 ...]
                  [--model-types mda_cnn ...] [--hyperparameter-trials N] [--random-seeds N]
                  [--parallel-jobs N] [--output-dir DIR] [--tuning-method random|grid|bayesian]
                  [--dask-address tcp://host:port] [--skip-experiments]
    hf-budget analyze --output-dir DIR
    hf-budget demo [--alpha A --beta B --nu N --rho R --fwd F --paths N --seed S]

``run`` runs the ``hf-budget`` flow in this process (Prefect's ephemeral server if
no PREFECT_API_URL is set: no setup). Bad input prints one line naming the field
and what is allowed and exits 2, before anything is computed or written.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hf-budget", description=(
        "Multi-fidelity SABR: how model accuracy grows with high-fidelity (Monte Carlo) data."))
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the experiment (the hf-budget Prefect flow)")
    run.add_argument("--profile", choices=["quick", "full"], default=None,
                     help="base configuration (default: quick, unless --config is given)")
    run.add_argument("--config", dest="config_path", default=None, help="experiment YAML file")
    run.add_argument("--hf-budgets", type=int, nargs="+", default=None)
    run.add_argument("--model-types", nargs="+", default=None)
    run.add_argument("--hyperparameter-trials", dest="n_hyperparameter_trials", type=int, default=None)
    run.add_argument("--random-seeds", dest="n_random_seeds", type=int, default=None)
    run.add_argument("--parallel-jobs", type=int, default=None)
    run.add_argument("--output-dir", default=None)
    run.add_argument("--tuning-method", default=None)
    run.add_argument("--dask-address", default=None,
                     help="existing Dask scheduler, e.g. tcp://127.0.0.1:8786 "
                          "(default: $DASK_SCHEDULER_ADDRESS or a local cluster)")
    run.add_argument("--skip-experiments", action="store_true",
                     help="only aggregate the cells already in --output-dir")

    an = sub.add_parser("analyze", help="aggregate existing results in an output folder")
    an.add_argument("--output-dir", required=True)

    demo = sub.add_parser("demo", help="print Hagan (LF) vs Monte Carlo (HF) smiles for one parameter set")
    demo.add_argument("--alpha", type=float, default=0.3)
    demo.add_argument("--beta", type=float, default=0.6)
    demo.add_argument("--nu", type=float, default=0.5)
    demo.add_argument("--rho", type=float, default=-0.4)
    demo.add_argument("--fwd", type=float, default=1.0)
    demo.add_argument("--paths", type=int, default=100_000)
    demo.add_argument("--seed", type=int, default=0)
    return ap


def _check_writable(path: Path) -> None:
    """The output folder exists or can be made, and a file can be written in it."""
    from sabr.errors import ConfigError
    from sabr.io import atomic_write_text
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = atomic_write_text(path / ".write-test", "")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"output_dir={str(path)!r} is invalid: allowed a folder this user can "
                          f"create and write ({err.strerror or err})") from None


def _validated_run_args(args) -> dict:
    """Resolve and validate everything before the flow starts (ConfigError on bad input)."""
    from flows.runner import check_reachable, validate_dask_address
    from sabr.config import resolve_config       # not flows.experiment: no Prefect import yet
    params = {k: getattr(args, k) for k in (
        "config_path", "hf_budgets", "model_types", "n_hyperparameter_trials", "n_random_seeds",
        "parallel_jobs", "output_dir", "tuning_method", "dask_address", "skip_experiments")}
    params["profile"] = args.profile or "quick"
    if args.config_path and args.profile:
        params["config_path"] = args.config_path       # the file wins; profile: key inside it
    cfg = resolve_config(params["profile"], params["config_path"],
                         **{k: params[k] for k in ("hf_budgets", "model_types",
                                                   "n_hyperparameter_trials", "n_random_seeds",
                                                   "parallel_jobs", "output_dir", "tuning_method")})
    address = validate_dask_address(args.dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS"))
    if address:
        check_reachable(address)
    if args.skip_experiments and not any(Path(cfg.output_dir).glob("exp_*/metrics.json")):
        from sabr.errors import ConfigError
        raise ConfigError(f"output_dir={cfg.output_dir!r} is invalid for --skip-experiments: "
                          f"allowed a folder holding finished cells (exp_*/metrics.json)")
    _check_writable(Path(cfg.output_dir))      # last: the only check that may create something
    return params, Path(cfg.output_dir).resolve()


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.command == "demo":
        return _demo(ap, args)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sabr.errors import ConfigError
    if args.command == "analyze":
        args = argparse.Namespace(profile=None, config_path=None, hf_budgets=None, model_types=None,
                                  n_hyperparameter_trials=None, n_random_seeds=None,
                                  parallel_jobs=None, output_dir=args.output_dir,
                                  tuning_method=None, dask_address=None, skip_experiments=True)
    from sabr.lock import output_lock
    with ExitStack() as held:
        try:
            params, out = _validated_run_args(args)
            held.enter_context(output_lock(out))   # a second run on this folder stops here
        except ConfigError as err:
            ap.exit(2, f"hf-budget: error: {err}\n")
        if args.skip_experiments:                 # analysis needs no orchestration
            from flows.analysis import aggregate_existing
            aggregate_existing(out)
            return 0
        from flows.experiment import ExperimentFailed, hf_budget
        try:
            summary = hf_budget(**params)
        except ExperimentFailed as err:
            print(f"hf-budget: {err}", file=sys.stderr)
            return 1
    print(f"hf-budget: {summary['n_ok']} of {summary['n_cells']} cells finished; "
          f"tables: {', '.join(summary['files'].values())}")
    return 0


def _demo(ap, args) -> int:
    from sabr.numerics.demo import format_table, smile_table
    from sabr.numerics.params import SabrParams
    try:
        params = SabrParams(args.alpha, args.beta, args.nu, args.rho)
        print(f"SABR alpha={params.alpha} beta={params.beta} nu={params.nu} rho={params.rho}, "
              f"F0={args.fwd}: simulating {args.paths} paths ...", file=sys.stderr, flush=True)
        rows, seconds = smile_table(params, fwd=args.fwd, n_paths=args.paths, seed=args.seed)
    except ValueError as err:
        ap.exit(2, f"hf-budget: error: {err}\n")
    print(format_table(rows))
    gaps = [abs(r["gap_bp"]) for r in rows]
    print(f"\nMonte Carlo: {args.paths} paths in {seconds:.2f} s; "
          f"max |Hagan - MC| = {max(gaps):.1f} bp; "
          f"RMS MC s.e. = {(sum(r['se'] ** 2 for r in rows) / len(rows)) ** 0.5 * 1e4:.2f} bp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
