"""Run the hf-budget flow on a Slurm cluster through dask-jobqueue (an example to adapt).

    pip install dask-jobqueue
    export PREFECT_API_URL=http://prefect.example.org:4200/api   # a server the nodes reach
    python deployments/slurm_cluster.py --jobs 16 --interface ib0 \
        --config deployments/prod.yaml --output-dir /shared/hf-budget/prod

What it does: starts a ``SLURMCluster`` whose every Slurm job is one single-threaded
Dask worker (TensorFlow pinned to one thread, like the local cluster), scales it to
``--jobs`` workers, waits for them, then runs the same ``hf-budget`` flow as the CLI
with ``dask_address`` set to that scheduler: nothing in the flow changes.

What the cluster must give the flow:
* ``output_dir`` on a file system every node mounts at the same path: the workers
  write the data set, the cells and the cached task results (``.prefect-results``)
  there, and a rerun reads them back;
* the same code and environment on every node (this repository and its venv on the
  shared file system, or a container);
* a Prefect server reachable from the nodes (``PREFECT_API_URL``): the workers report
  their task runs to it. The ephemeral server of a laptop run will not do.

The scheduler here binds to ``--interface`` (the nodes must reach it), unlike the local
cluster, which binds to 127.0.0.1; pick the cluster's private interface.
"""
from __future__ import annotations

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8, help="Slurm jobs = Dask workers")
    ap.add_argument("--memory", default="4GiB", help="memory per job")
    ap.add_argument("--walltime", default="04:00:00")
    ap.add_argument("--queue", default=None, help="Slurm partition")
    ap.add_argument("--account", default=None)
    ap.add_argument("--interface", default=None, help="network interface of the scheduler, e.g. ib0")
    ap.add_argument("--config", default="deployments/prod.yaml")
    ap.add_argument("--output-dir", required=True, help="a folder every node mounts")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        print("slurm_cluster: error: PREFECT_API_URL is not set: allowed the URL of a Prefect "
              "server the compute nodes can reach", file=sys.stderr)
        return 2
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    from flows.experiment import hf_budget

    prologue = [f"export PREFECT_API_URL={api}", "export TF_NUM_INTRAOP_THREADS=1",
                "export TF_NUM_INTEROP_THREADS=1", "export OMP_NUM_THREADS=1",
                "export TF_CPP_MIN_LOG_LEVEL=2", "export PREFECT_SERVER_ANALYTICS_ENABLED=false",
                "export DASK_DISTRIBUTED__WORKER__DAEMON=False",
                f"cd {os.getcwd()}"]
    with SLURMCluster(cores=1, processes=1, memory=args.memory, walltime=args.walltime,
                      queue=args.queue, account=args.account, interface=args.interface,
                      job_script_prologue=prologue) as cluster:
        cluster.scale(jobs=args.jobs)
        with Client(cluster) as client:
            client.wait_for_workers(args.jobs, timeout=3600)
            summary = hf_budget(config_path=args.config, output_dir=args.output_dir,
                                dask_address=cluster.scheduler_address,
                                parallel_jobs=args.jobs)
    print(f"hf-budget: {summary['n_ok']} of {summary['n_cells']} cells finished "
          f"on {args.jobs} Slurm workers; results in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
