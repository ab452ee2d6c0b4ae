"""The ``hf-budget`` command line.

    hf-budget run [--profile quick|full|cost] [--config FILE] [--hf-budgets 50 100 ...]
                  [--model-types mda_cnn ...] [--hyperparameter-trials N] [--random-seeds N]
                  [--parallel-jobs N] [--output-dir DIR] [--tuning-method random|grid|bayesian]
                  [--allocations spread surfaces paths adaptive adaptive/spread] [--hf-cpu-budgets 120 5% ...]
                  [--ensemble-size M]
                  [--dask-address tcp://host:port] [--skip-experiments]
    hf-budget plan [the flags and --config of run]
    hf-budget analyze --output-dir DIR
    hf-budget demo [--alpha A --beta B --nu N --rho R --fwd F --paths N --seed S]

``plan`` prints what ``run`` with the same flags would do, computing nothing (no Prefect,
no Dask, no TensorFlow): per stage the tasks planned and already done in the output folder,
and the estimated CPU-hours and wall time on its workers (sabr.estimate), and, for a
folder holding a finished run, that run's measured wall time beside its estimate.
``run`` runs the ``hf-budget`` flow (Prefect's ephemeral server if no PREFECT_API_URL
is set: no setup) in a child process of its own process group, which this process
supervises: Ctrl-C or SIGTERM stops the run within seconds, workers included, exit
130 / 143 with one line (flows/stopping.py). Bad input prints one line naming the
field and what is allowed (a misspelt key: what it probably meant; a config file: its
path first, then every bad field, a line each) and exits 2, before anything is computed
or written.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sabr.options import OVERRIDES, RUN_OPTIONS


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hf-budget", description=(
        "Multi-fidelity SABR: how model accuracy grows with high-fidelity (Monte Carlo) data."))
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the experiment (the hf-budget Prefect flow)")
    plan = sub.add_parser("plan", help="print what run would do and its estimated cost, "
                                       "computing nothing")
    for p in (run, plan):
        p.add_argument("--profile", choices=["quick", "full", "cost"], default=None,
                       help="base configuration; with --config it must be the file's own "
                            "(unset: quick, or the file's)")
        p.add_argument("--config", dest="config_path", default=None,
                       help="experiment YAML file (e.g. deployments/prod.yaml)")
        for o in RUN_OPTIONS:            # one table: sabr.options
            p.add_argument(o.flag, dest=o.name, type=o.type, nargs="+" if o.many else None,
                           default=None, metavar=o.metavar,
                           help=f"{o.help} (unset: the configuration's)")
    run.add_argument("--dask-address", default=None, metavar="ADDRESS",
                     help="existing Dask scheduler, e.g. tcp://127.0.0.1:8786 "
                          "(unset: $DASK_SCHEDULER_ADDRESS or a local cluster)")
    run.add_argument("--skip-experiments", action="store_true",
                     help="only aggregate the cells already in --output-dir")

    an = sub.add_parser("analyze", help="aggregate existing results in an output folder")
    an.add_argument("--output-dir", required=True, metavar="DIR",
                    help="a results folder holding finished cells (exp_*/metrics.json)")

    demo = sub.add_parser("demo", help="print Hagan (LF) vs Monte Carlo (HF) smiles for one parameter set",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_argument("--alpha", type=float, default=0.3, help="SABR alpha (initial vol), > 0")
    demo.add_argument("--beta", type=float, default=0.6, help="SABR beta (CEV exponent), in [0, 1]")
    demo.add_argument("--nu", type=float, default=0.5, help="SABR nu (vol of vol), >= 0")
    demo.add_argument("--rho", type=float, default=-0.4, help="SABR rho (correlation), in (-1, 1)")
    demo.add_argument("--fwd", type=float, default=1.0, help="forward, > 0")
    demo.add_argument("--paths", type=int, default=100_000, help="Monte Carlo paths")
    demo.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    return ap


def _run_params(args) -> dict:
    """The flow's parameters from the command line (None: as configured)."""
    return {"profile": args.profile, "config_path": args.config_path,
            "dask_address": args.dask_address, "skip_experiments": args.skip_experiments,
            **{k: getattr(args, k) for k in OVERRIDES}}


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.command == "demo":
        return _demo(ap, args)
    if args.command == "plan":
        return _plan(ap, args)
    from flows.stopping import IN_CHILD, Stopped, stop_on_signals, supervise, watch_supervisor
    if args.command == "run" and not args.skip_experiments:
        if not os.environ.get(IN_CHILD):     # the run in a process group of its own
            return supervise(argv)
        watch_supervisor()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")        # Prefect's client telemetry (and its notice)
    # Prefect gives its ephemeral server 20 s to start; on 2 busy cores it took longer
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")   # no cluster start-up chatter
    from flows.preflight import preflight
    from sabr.errors import ConfigError
    if args.command == "analyze":
        args = argparse.Namespace(**{**dict.fromkeys(OVERRIDES), "output_dir": args.output_dir},
                                  profile=None, config_path=None, dask_address=None,
                                  skip_experiments=True)
    params = _run_params(args)
    plan = None
    try:
        with stop_on_signals():
            return _run(params, plan := preflight(**params))
    except Stopped as stop:              # workers stopped, lock released (flows/stopping.py)
        where = (f"; finished cells are kept in {plan.output_dir}: the same command resumes"
                 if plan and not plan.skip_experiments else "")
        print(f"hf-budget: stopped by {stop}{where}", file=sys.stderr)
        return stop.exit_code
    except ConfigError as err:           # a busy folder found by the flow's lock lands here too
        ap.exit(2, f"hf-budget: error: {err}\n")


def _run(params: dict, plan) -> int:
    """Run (or only analyse) the planned experiment; 0 when every cell finished."""
    if plan.skip_experiments:            # analysis needs no orchestration
        from flows.analysis import aggregate_existing
        report = aggregate_existing(plan.output_dir)
        if report.get("report_html"):
            print(f"hf-budget: report: {report['report_html']} (tables in {plan.output_dir})")
        return 0
    import flows.runner
    from flows.experiment import ExperimentFailed, hf_budget
    flows.runner.GUARDED_MAIN = True     # this entry point never starts a run on import
    try:
        # the configuration preflight validated: the flow does not resolve it again
        summary = hf_budget(config=plan.config, dask_address=plan.dask_address)
    except ExperimentFailed as err:
        print(f"hf-budget: {err}", file=sys.stderr)
        return 1
    # the last lines: the count, the answer, the report (the files are in summary["files"])
    print(f"hf-budget: {summary['n_ok']} of {summary['n_cells']} cells finished")
    answer = summary.get("headline") or ([summary["answer"]] if summary.get("answer") else [])
    for line in answer:
        print(f"hf-budget: {line}")
    if summary.get("report_html"):
        print(f"hf-budget: report: {summary['report_html']} (tables in {plan.output_dir})")
    return 0


def _plan(ap, args) -> int:
    """Print the plan of ``run`` with these flags (sabr.estimate); nothing is written."""
    from flows.runner import planned_workers
    from sabr.config import resolve_config
    from sabr.errors import ConfigError
    from sabr.estimate import plan_text
    try:
        cfg = resolve_config(args.profile, args.config_path,
                             **{k: getattr(args, k) for k in OVERRIDES})
        print(plan_text(cfg, Path(cfg.output_dir).resolve(), planned_workers(cfg)))
    except ConfigError as err:
        ap.exit(2, f"hf-budget: error: {err}\n")
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
