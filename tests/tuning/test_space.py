"""HyperparameterSpace: the seed's defaults, per-model choices, one-line errors, YAML."""
import re
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from sabr.config import ConfigError, load_config
from sabr.learning.tuning import HyperparameterSpace, decode_widths, encode_widths


def test_defaults_are_the_seeds():
    s = HyperparameterSpace()
    assert s.learning_rates == (1e-4, 3e-4, 1e-3, 3e-3)
    assert s.batch_sizes == (32, 64, 128) and s.dropout_rates == (0.1, 0.2, 0.3)
    assert s.cnn_filters == ((32, 64), (32, 64, 128), (64, 128, 256))
    assert s.mlp_hidden_dims == ((64, 64), (128, 64), (128, 128, 64))


def test_keyword_construction_and_model_relevant_choices():
    s = HyperparameterSpace(learning_rates=[1e-3], batch_sizes=[16, 32], dropout_rates=[0.0],
                            cnn_filters=[[8]], mlp_hidden_dims=[[4, 4], [8]])
    assert s.choices("mda_cnn") == {"learning_rate": [1e-3], "batch_size": [16, 32],
                                    "dropout_rate": [0.0], "cnn_filters": ["8"],
                                    "mlp_hidden_dims": ["4-4", "8"]}
    assert "cnn_filters" not in s.choices("residual_mlp")
    assert "cnn_filters" not in s.choices("direct_mlp")
    assert "mlp_hidden_dims" not in s.choices("cnn_only")
    assert [s.grid_size(m) for m in ("mda_cnn", "residual_mlp", "cnn_only")] == [4, 4, 2]
    d = HyperparameterSpace()
    assert [d.grid_size(m) for m in ("mda_cnn", "residual_mlp", "direct_mlp", "cnn_only")] == \
        [324, 108, 108, 108]


@given(st.lists(st.integers(1, 4096), min_size=1, max_size=6))
def test_width_encoding_round_trips(widths):
    code = encode_widths(widths)
    assert isinstance(code, str) and decode_widths(code) == widths


@pytest.mark.parametrize("bad, start", [
    ({"lerning_rates": [1e-3]}, "hyperparameter_space.lerning_rates: unknown key"),
    ({"learning_rates": [-1e-3]}, "hyperparameter_space.learning_rates=[-0.001] is invalid"),
    ({"batch_sizes": []}, "hyperparameter_space.batch_sizes=[] is invalid"),
    ({"dropout_rates": [0.1, 1.0]}, "hyperparameter_space.dropout_rates=[0.1, 1.0] is invalid"),
    ({"cnn_filters": [[32, 0]]}, "hyperparameter_space.cnn_filters=[[32, 0]] is invalid"),
    ({"mlp_hidden_dims": [[64], [64]]}, "hyperparameter_space.mlp_hidden_dims="),
    ({"batch_sizes": ["many"]}, "hyperparameter_space.batch_sizes='many' is invalid"),
])
def test_bad_field_is_one_line_naming_it(bad, start):
    for make in (lambda: HyperparameterSpace(**bad), lambda: HyperparameterSpace.from_dict(bad)):
        with pytest.raises(ConfigError) as err:
            make()
        msg = str(err.value)
        assert msg.startswith(start) and "\n" not in msg, msg


def test_unknown_key_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed keys: batch_sizes, cnn_filters, dropout_rates, "
                                         "learning_rates, mlp_hidden_dims$"):
        HyperparameterSpace.from_dict({"learning_rate": [1e-3]})


def test_every_bad_field_is_reported_in_one_error():
    with pytest.raises(ConfigError) as err:
        HyperparameterSpace.from_dict({"batch_sizes": [0], "learning_rate": [1e-3]})
    assert str(err.value).splitlines() == [
        "2 errors:",
        "  hyperparameter_space.batch_sizes=[0] is invalid: allowed a non-empty list of "
        "distinct sizes in [1, 65536]",
        "  hyperparameter_space.learning_rate: unknown key; did you mean learning_rates? "
        "allowed keys: batch_sizes, cnn_filters, dropout_rates, learning_rates, mlp_hidden_dims"]


def test_from_yaml_section_or_whole_file(tmp_path):
    section = tmp_path / "experiment.yaml"
    section.write_text("profile: quick\nhyperparameter_space:\n  learning_rates: [0.001, 0.01]\n"
                       "  mlp_hidden_dims: [[16, 16], [32]]\n")
    s = HyperparameterSpace.from_yaml(section)
    assert s.learning_rates == (1e-3, 1e-2) and s.mlp_hidden_dims == ((16, 16), (32,))
    # unspecified: the profile's, as the experiment read from the same file has it
    assert s.batch_sizes == (64, 128) != HyperparameterSpace().batch_sizes
    assert s == load_config(section).hyperparameter_space
    full = tmp_path / "full.yaml"
    full.write_text("hyperparameter_space:\n  learning_rates: [0.001]\n")
    assert HyperparameterSpace.from_yaml(full).batch_sizes == HyperparameterSpace().batch_sizes
    whole = tmp_path / "space.yaml"
    whole.write_text("batch_sizes: [8]\n")
    assert HyperparameterSpace.from_yaml(whole).batch_sizes == (8,)
    bad = tmp_path / "bad.yaml"
    bad.write_text("hyperparameter_space:\n  dropout_rate: [0.1]\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(bad))}: hyperparameter_space.dropout_rate: "
                                          "unknown key; did you mean dropout_rates"):
        HyperparameterSpace.from_yaml(bad)
    with pytest.raises(ConfigError, match="no_such.yaml"):
        HyperparameterSpace.from_yaml(tmp_path / "no_such.yaml")


def test_tuning_never_imports_prefect():
    out = subprocess.run([sys.executable, "-c",
                          "import sys, sabr.learning.tuning; print('prefect' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
