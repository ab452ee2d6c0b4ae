"""Cache keys that cannot go stale: the code a stage's key holds is read from its imports.

sabr.fingerprint derives each stage's modules from the source (tasks.common.stage_modules);
these tests hold that set against what a stage really imports when it runs, and the
fingerprint against edits that do and do not change code.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sabr.fingerprint import code_digest, code_fingerprint, imported_modules
from tasks.common import STAGE_ROOTS, stage_modules

REPO = Path(__file__).resolve().parents[2]


def _package(tmp_path, name: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = tmp_path / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))


def test_imports_are_followed_through_functions_relative_imports_and_packages(tmp_path):
    _package(tmp_path, "pkg_graph", {
        "__init__.py": "",
        "entry.py": """
            from .sub import helper
            def run():
                from pkg_graph.lazy import thing      # a lazy import counts
                from . import sibling
            """,
        "sub/__init__.py": "",
        "sub/helper.py": "import json\nfrom ..deep.leaf import x\n",
        "deep/__init__.py": "",
        "deep/leaf.py": "x = 1\n",
        "lazy.py": "thing = 2\n",
        "sibling.py": "",
        "unused.py": "",
    })
    found = imported_modules(("pkg_graph.entry",), ("pkg_graph",))
    assert set(found) == {"pkg_graph", "pkg_graph.entry", "pkg_graph.sub", "pkg_graph.sub.helper",
                          "pkg_graph.deep", "pkg_graph.deep.leaf", "pkg_graph.lazy",
                          "pkg_graph.sibling"}


def test_a_package_that_loads_submodules_by_name_brings_all_of_them(tmp_path):
    _package(tmp_path, "pkg_lazy", {
        "__init__.py": "import importlib\ndef __getattr__(n):\n"
                       "    return importlib.import_module('.engine', __name__)\n",
        "engine.py": "", "other.py": "", "user.py": "from pkg_lazy import engine_fn\n",
    })
    assert set(imported_modules(("pkg_lazy.user",), ("pkg_lazy",))) == {
        "pkg_lazy", "pkg_lazy.user", "pkg_lazy.engine", "pkg_lazy.other"}


def test_the_fingerprint_ignores_comments_docstrings_and_layout_but_not_code(tmp_path):
    _package(tmp_path, "pkg_edit", {"__init__.py": "", "m.py": '''
        """Module doc."""
        def f(a, b):
            """Doc."""
            return a + b   # add
        '''})
    path, before = tmp_path / "pkg_edit" / "m.py", code_digest("pkg_edit.m")
    path.write_text('"""Another doc."""\n# a comment\n\n\ndef f(a,\n      b):\n    return a + b\n')
    assert code_digest("pkg_edit.m") == before
    path.write_text("def f(a, b):\n    return a - b\n")
    assert code_digest("pkg_edit.m") != before
    assert code_fingerprint(["pkg_edit.m"]) != code_fingerprint(["pkg_edit.m", "pkg_edit"])


def test_every_stage_holds_the_modules_its_task_and_entry_import(tmp_path):
    """Run each stage's work in a fresh process (the task's function; tuning and training
    as their TensorFlow process runs them) and compare the sabr modules loaded with the
    modules its cache key fingerprints."""
    script = textwrap.dedent("""
        import json, logging, sys
        import numpy as np
        stage, data_dir = sys.argv[1], sys.argv[2]
        cfg = json.dumps({"n_parameter_sets": 12, "mc_paths": 2000, "chunk_size": 6,
                           "n_maturities": 4, "n_strikes": 7, "maturity_range": [0.5, 2.0]})
        if stage in ("generate", "assemble"):
            import tasks.data as t
            t.get_run_logger = lambda: logging.getLogger("test")
            rec = t.generate_chunk.fn(cfg, 0, 5, data_dir)
            if stage == "assemble":
                rec2 = t.generate_chunk.fn(cfg, 6, 11, data_dir)
                t.assemble_dataset.fn(cfg, [rec, rec2], data_dir)
        elif stage == "acquire":
            import tasks.acquisition as t
            t.get_run_logger = lambda: logging.getLogger("test")
            t.acquire_round.fn("{}", {}, "mda_cnn", "adaptive@20%", 0, 1, None, None, data_dir,
                               data_dir + "/acq")
        else:
            import tasks.modeling
            from sabr.settings import ModelConfig, TrainingConfig
            tc = TrainingConfig(epochs=1, tuning_epochs=1, min_steps=0, min_patience_steps=0,
                                min_tuning_steps=0)
            mc = ModelConfig(patch_size=(3, 3), cnn_filters=(4,), mlp_hidden_dims=(8,))
            if stage == "train":
                from sabr.learning.training import train_and_evaluate
                train_and_evaluate(data_dir, "mda_cnn", {"learning_rate": 1e-3, "batch_size": 32,
                                   "dropout_rate": 0.1, "cnn_filters": [4], "mlp_hidden_dims": [8]},
                                   "surfaces@50%", 0, data_dir + "/cell", training_config=tc,
                                   model_config=mc, ensemble_size=2, score_pool=True)
            else:
                from sabr.learning.tuning import run_tuning
                from sabr.settings import TuningSettings
                s = TuningSettings(training_config=tc, model_config=mc, n_hyperparameter_trials=1)
                run_tuning(s.model_dump_json(by_alias=True), data_dir, "mda_cnn", 20,
                           data_dir + "/tuning")
        print(json.dumps(sorted(m for m in sys.modules if m == "sabr" or m.startswith("sabr."))))
    """)
    data_dir = tmp_path / "data"
    env_cwd = {"cwd": REPO, "capture_output": True, "text": True, "timeout": 300}
    build = subprocess.run([sys.executable, "-c", script, "assemble", str(data_dir)], **env_cwd)
    assert build.returncode == 0, build.stderr[-2000:]
    for stage in STAGE_ROOTS:
        r = subprocess.run([sys.executable, "-c", script, stage, str(tmp_path / stage)
                            if stage in ("generate", "assemble") else str(data_dir)], **env_cwd)
        assert r.returncode == 0, (stage, r.stderr[-2000:])
        loaded = set(json.loads(r.stdout.strip().splitlines()[-1]))
        assert loaded, stage
        assert loaded <= set(stage_modules(stage)), (stage, loaded - set(stage_modules(stage)))
    # and the configuration module is in none of them: its wording and profiles decide nothing
    assert all("sabr.config" not in stage_modules(s) for s in STAGE_ROOTS)


@pytest.mark.parametrize("module", ["sabr.data.allocations.row_orders", "sabr.data.allocations.acquisition_points",
                                    "sabr.settings", "sabr.numerics.montecarlo"])
def test_the_modules_the_old_hand_kept_lists_left_out_are_in_the_training_key(module):
    assert module in stage_modules("train") and module in stage_modules("tune")


def test_the_fingerprint_of_a_stage_locates_modules_without_running_them():
    """A cache lookup must not pay for importing TensorFlow (seconds per worker)."""
    code = ("import sys; from tasks.common import stage_modules; "
            "from sabr.fingerprint import code_fingerprint; "
            "code_fingerprint(stage_modules('train')); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'numba', 'sabr.learning.models', "
            "'sabr.numerics.montecarlo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO)
    assert out.stdout.strip() == "[]"
    with pytest.raises(ModuleNotFoundError):
        code_fingerprint(["sabr.no_such_module"])
