"""Bad input to ``hf-budget run``: one line naming the field and what is allowed (after the
config file's path where the file's value is bad; a line each for several), exit 2,
nothing written.

Each case is a fresh ``hf-budget`` process (as a user would meet it), with its own
PREFECT_HOME and no PREFECT_API_URL. "Nothing written" is checked two ways: the
output folder does not exist afterwards (or, if the case made it, is unchanged), and
tmp_path holds exactly what it held before the run, apart from PREFECT_HOME.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "hf-budget"
HOME = "prefect-home"

# A YAML body that is valid except for the bad part keeps each case about one field.
BOX = "data_gen_config:\n  parameter_box:\n"


def case(id, args=(), yaml=None, field="", env=None, setup=None, out="out", max_s=None, shows=(),
         in_file=None):
    """One bad input: CLI ``args`` (``{tmp}`` substituted), optional YAML body written
    to ``bad.yaml``, the ``field`` the message must name, extra ``env``, a ``setup(tmp)`` that
    prepares the folder, the ``--output-dir`` (None: not passed), an optional time limit,
    further text the message must show and whether it names bad.yaml before the field
    (None: where a YAML body is given and the field is not the file itself)."""
    if in_file is None:
        in_file = yaml is not None and field != "config"
    return pytest.param(list(args), yaml, field, env or {}, setup, out, max_s, shows, in_file,
                        id=id)


def _afile(tmp: Path) -> None:
    (tmp / "afile").write_text("a regular file, not a folder\n")


def _empty_out(tmp: Path) -> None:
    (tmp / "out").mkdir()


CASES = [
    # --- the experiment grid, from the command line
    case("unknown-model-type", ["--model-types", "transformer"], field="model_types"),
    case("zero-budget", ["--hf-budgets", "0"], field="hf_budgets"),
    case("negative-budget", ["--hf-budgets", "-5"], field="hf_budgets"),
    case("duplicate-budgets", ["--hf-budgets", "50", "50"], field="hf_budgets"),
    case("budget-over-train-pool", ["--hf-budgets", "999999"], field="hf_budgets"),
    case("budget-too-small-to-validate", ["--hf-budgets", "2"], field="hf_budgets"),
    case("zero-seeds", ["--random-seeds", "0"], field="n_random_seeds"),
    case("zero-trials", ["--hyperparameter-trials", "0"], field="n_hyperparameter_trials"),
    case("unknown-tuning-method", ["--tuning-method", "annealing"], field="tuning_method"),
    case("zero-parallel-jobs", ["--parallel-jobs", "0"], field="parallel_jobs"),
    # --- a parameter the config file would outrank is refused, never silently ignored
    case("profile-outranked-by-config", ["--profile", "quick"], yaml="profile: full\nn_random_seeds: 2\n",
         field="profile", shows=["is not applied", "'full'"], in_file=False),
    # --- YAML fields
    case("rho-outside-(-1,1)", yaml=BOX + "    rho: [-1.2, 0.5]\n",
         field="data_gen_config.parameter_box.rho", shows=["[-1.2, 0.5]", "-0.99"]),
    case("beta-outside-[0,1]", yaml=BOX + "    beta: [0.3, 1.5]\n",
         field="data_gen_config.parameter_box.beta"),
    case("alpha-range-inverted", yaml=BOX + "    alpha: [0.5, 0.1]\n",
         field="data_gen_config.parameter_box.alpha"),
    case("patch-size-even", yaml="model_config:\n  patch_size: [4, 4]\n",
         field="model_config.patch_size"),
    case("patch-size-over-grid", yaml="model_config:\n  patch_size: [99, 99]\n",
         field="model_config.patch_size"),
    case("mc-paths-too-few", yaml="data_gen_config:\n  mc_paths: 100\n",
         field="data_gen_config.mc_paths"),
    case("test-fraction-over-1", yaml="data_gen_config:\n  test_fraction: 1.5\n",
         field="data_gen_config.test_fraction"),
    case("learning-rate-not-a-number", yaml="training_config:\n  learning_rate: fast\n",
         field="training_config.learning_rate"),
    case("misspelt-nested-key", yaml="training_config:\n  epocs: 5\n",
         field="training_config.epocs",
         shows=["did you mean epochs? allowed keys:", "learning_rate"]),
    case("misspelt-top-level-key", yaml="model_type: [mda_cnn]\n", field="model_type",
         shows=["did you mean model_types? allowed keys:"]),
    case("flag-name-as-key", yaml="random_seeds: 3\n", field="random_seeds",
         shows=["did you mean n_random_seeds (the config name of --random-seeds)?"]),
    case("flag-value-with-a-config-file", ["--random-seeds", "0"], yaml="n_random_seeds: 2\n",
         field="n_random_seeds=0", in_file=False),
    case("unknown-profile-in-yaml", yaml="profile: huge\n", field="profile"),
    # --- the allocation study (CPU-second budgets)
    case("cpu-budget-not-a-number", ["--hf-cpu-budgets", "5x"], field="hf_cpu_budgets",
         shows=["allowed CPU-seconds > 0", "(0, 100]"]),
    case("cpu-budget-over-100-percent", ["--hf-cpu-budgets", "150%"], field="hf_cpu_budgets"),
    case("cpu-budget-zero-in-yaml", yaml="hf_cpu_budgets: [0]\n", field="hf_cpu_budgets"),
    case("allocation-unknown", ["--allocations", "sobol", "--hf-cpu-budgets", "10"],
         field="allocations", shows=["spread", "surfaces"]),
    case("surfaces-without-cpu-budgets", ["--allocations", "surfaces"],
         yaml="hf_cpu_budgets: []\n", field="allocations", shows=["hf_cpu_budgets"]),
    case("paths-divisor-unknown", ["--allocations", "paths/3", "--hf-cpu-budgets", "10"],
         field="allocations", shows=["paths/D with D in [2, 4, 8, 16]"]),
    case("paths-with-too-few-paths", ["--allocations", "paths/16", "--hf-cpu-budgets", "10"],
         yaml="data_gen_config:\n  mc_paths: 1000\n", field="allocations",
         shows=["mc_paths >= 1600"]),
    case("paths-twice", ["--allocations", "paths", "paths/4", "--hf-cpu-budgets", "10"],
         field="allocations", shows=["paths is paths/4"]),
    # --- ensembles and adaptive rounds
    case("ensemble-size-zero", ["--ensemble-size", "0"], field="ensemble_size", shows=[">= 1"]),
    case("ensemble-size-too-large", ["--ensemble-size", "1000"], field="ensemble_size",
         shows=["<= 64"]),
    case("adaptive-start-unknown", ["--allocations", "adaptive/paths", "--hf-cpu-budgets", "10"],
         field="allocations", shows=["adaptive/S with S in ['surfaces', 'spread']"]),
    case("adaptive-spread-with-one-member", ["--allocations", "adaptive/spread",
                                             "--ensemble-size", "1"],
         field="ensemble_size", shows=["adaptive/spread", ">= 2"]),
    case("adaptive-with-one-member", ["--allocations", "adaptive", "--ensemble-size", "1"],
         field="ensemble_size", shows=["adaptive", ">= 2"]),
    case("adaptive-budgets-in-two-units", ["--allocations", "adaptive", "--hf-cpu-budgets",
                                           "5%", "30"], field="hf_cpu_budgets",
         shows=["one unit"]),
    # --- the config file itself
    case("yaml-is-a-list", yaml="- hf_budgets\n- model_types\n", field="config"),
    case("yaml-syntax-error", yaml="hf_budgets: [50, 100\nmodel_types: {\n", field="config"),
    case("config-file-missing", ["--config", "{tmp}/missing.yaml"], field="config"),
    case("config-is-a-folder", ["--config", "{tmp}/afolder"], field="config",
         setup=lambda tmp: (tmp / "afolder").mkdir()),
    case("config-not-text", ["--config", "{tmp}/blob.yaml"], field="config",
         setup=lambda tmp: (tmp / "blob.yaml").write_bytes(bytes(range(128, 256)))),
    # --- the output folder
    case("output-dir-under-a-file", field="output_dir", setup=_afile, out="afile/out"),
    case("output-dir-in-proc", field="output_dir", out="/proc/hfb"),
    case("skip-experiments-on-empty-folder", ["--skip-experiments"], field="output_dir",
         setup=_empty_out),
    # --- the Dask scheduler
    case("dask-address-no-scheme", ["--dask-address", "localhost"], field="dask_address"),
    case("dask-address-no-port", ["--dask-address", "tcp://host"], field="dask_address"),
    case("dask-address-bad-port", ["--dask-address", "tcp://127.0.0.1:99999"], field="dask_address"),
    case("dask-env-malformed", env={"DASK_SCHEDULER_ADDRESS": "not-an-address"},
         field="dask_address"),
    case("dask-scheduler-refused", ["--dask-address", "tcp://127.0.0.1:9"], field="dask_address",
         max_s=30),
    case("dask-scheduler-black-holed", ["--dask-address", "tcp://10.255.255.1:8786"],
         field="dask_address", max_s=30),
]


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` but PREFECT_HOME: kind, size and mtime."""
    snap = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if rel.parts[0] == HOME:
            continue
        st = p.lstat()
        snap[str(rel)] = (p.is_dir(), st.st_size if p.is_file() else None, st.st_mtime_ns)
    return snap


def _hf_budget(argv: list[str], tmp_path: Path, extra_env: dict | None = None):
    """``hf-budget *argv`` in ``tmp_path``, with a PREFECT_HOME there and no server or
    scheduler address; its CompletedProcess."""
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / HOME), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.update(extra_env or {})
    return subprocess.run([str(BIN), *argv], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


@pytest.mark.parametrize("args, yaml_text, field, extra_env, setup, out, max_s, shows, in_file",
                         CASES)
def test_bad_input_is_one_line_exit_2_nothing_written(args, yaml_text, field, extra_env, setup,
                                                      out, max_s, shows, in_file, tmp_path):
    argv = ["run", *[a.format(tmp=tmp_path) for a in args]]
    if yaml_text is not None:
        (tmp_path / "bad.yaml").write_text(yaml_text)
        argv += ["--config", str(tmp_path / "bad.yaml")]
    out_dir = None
    if out is not None:
        out_dir = Path(out) if Path(out).is_absolute() else tmp_path / out
        argv += ["--output-dir", str(out_dir)]
    if setup:
        setup(tmp_path)
    existed = out_dir is not None and out_dir.exists()
    before = _snapshot(tmp_path)

    t0 = time.monotonic()
    r = _hf_budget(argv, tmp_path, extra_env)
    seconds = time.monotonic() - t0

    shown = f"argv={argv}\nstdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert r.returncode == 2, shown
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, shown
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, shown
    line = lines[0]
    print(line)
    where = f"{tmp_path / 'bad.yaml'}: " if in_file else ""
    assert line.startswith(f"hf-budget: error: {where}{field}"), shown  # (the file,) the field
    assert "allowed" in line and all(text in line for text in shows), shown
    if max_s is not None:
        assert seconds < max_s, f"took {seconds:.1f} s (limit {max_s} s)\n{shown}"
    if out_dir is not None and not existed:
        assert not out_dir.exists(), shown
    assert _snapshot(tmp_path) == before, shown


def test_every_bad_field_of_a_config_file_in_one_error_exit_2_nothing_written(tmp_path):
    """A file with several bad fields: its path, then a line for each, in one error."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: quick\nrandom_seeds: 3\nn_random_seeds: 0\n"
                   "training_config:\n  learning_rate: -1\n")
    before = _snapshot(tmp_path)
    r = _hf_budget(["run", "--config", str(bad), "--output-dir", str(tmp_path / "out")], tmp_path)
    shown = f"stdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert r.returncode == 2, shown
    assert "Traceback" not in r.stderr + r.stdout and not r.stdout.strip(), shown
    assert r.stderr.splitlines() == [
        f"hf-budget: error: {bad}: 3 errors:",
        "  training_config.learning_rate=-1 is invalid: allowed > 0",
        "  n_random_seeds=0 is invalid: allowed >= 1",
        r.stderr.splitlines()[-1]], shown
    assert r.stderr.splitlines()[-1].startswith(
        "  random_seeds: unknown key; did you mean n_random_seeds (the config name of "
        "--random-seeds)? allowed keys: "), shown
    assert not (tmp_path / "out").exists(), shown
    assert _snapshot(tmp_path) == before, shown
