import re

import pytest

from sabr.config import ConfigError, ExperimentConfig, load_config


def test_defaults_are_the_seed_numbers():
    c = ExperimentConfig()
    d, t, m = c.data_gen_config, c.training_config, c.models
    assert (d.n_parameter_sets, d.mc_paths, d.n_strikes, d.n_maturities, d.test_fraction) == (
        1000, 100_000, 21, 10, 0.15)
    assert (t.epochs, t.batch_size, t.learning_rate, t.validation_fraction,
            t.early_stopping_patience) == (200, 64, 3e-4, 0.2, 20)
    assert (m.patch_size, m.cnn_filters, m.mlp_hidden_dims) == ((9, 9), (32, 64, 128), (64, 64))
    assert c.hf_budgets == (50, 100, 200, 500, 1000) and c.n_random_seeds == 5
    assert ExperimentConfig.profile("full") == c


def test_yaml_round_trip_and_profile_base(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("profile: quick\nhf_budgets: [100, 50]\ntraining_config:\n  epochs: 3\n")
    c = load_config(p)
    assert c.hf_budgets == (50, 100) and c.training_config.epochs == 3
    assert c.data_gen_config.n_parameter_sets == 60           # from the quick profile
    q = tmp_path / "dump.yaml"
    import yaml
    q.write_text(yaml.safe_dump(c.model_dump(mode="json", by_alias=True)))
    assert ExperimentConfig.from_yaml(q) == c


def test_seed_style_yaml(tmp_path):
    p = tmp_path / "seed.yaml"
    p.write_text("name: my-exp\ndata_gen_config:\n  n_parameter_sets: 200\n  mc_paths: 50000\n"
                 "  hf_budget: 100\ntraining_config:\n  epochs: 50\n  batch_size: 32\n"
                 "  learning_rate: 0.001\nmodel_config:\n  patch_size: [5, 5]\n"
                 "  cnn_filters: [16, 32]\n  mlp_hidden_dims: [32]\n")
    c = ExperimentConfig.from_yaml(p)
    assert c.name == "my-exp" and c.models.patch_size == (5, 5)
    assert c.data_gen_config.mc_paths == 50_000 and c.training_config.epochs == 50


@pytest.mark.parametrize("overrides, start", [
    (dict(hf_budgets=[0, 50]), "hf_budgets=[0, 50] is invalid: allowed positive"),
    (dict(hf_budgets=[-5]), "hf_budgets=[-5] is invalid"),
    (dict(hf_budgets=[50, 50]), "hf_budgets=[50, 50] is invalid: allowed distinct"),
    (dict(hf_budgets=[20_000]), "hf_budgets: 20000 is larger than the train pool's 10710"),
    (dict(hf_budgets=[2]), "hf_budgets: 2 is too small"),
    (dict(model_types=["transformer"]), "model_types='transformer' is invalid: allowed one of"),
    (dict(tuning_method="annealing"), "tuning_method='annealing' is invalid: allowed one of"),
    (dict(n_random_seeds=0), "n_random_seeds=0 is invalid: allowed >= 1"),
    (dict(n_hyperparameter_trials=0), "n_hyperparameter_trials=0 is invalid: allowed >= 1"),
    (dict(parallel_jobs=0), "parallel_jobs=0 is invalid: allowed >= 1"),
    (dict(data_gen_config={"mc_paths": 500}), "data_gen_config.mc_paths=500 is invalid: allowed >= 1000"),
    (dict(data_gen_config={"mc_paths": 10_001}), "data_gen_config.mc_paths=10001 is invalid: allowed an even"),
    (dict(data_gen_config={"test_fraction": 1.0}), "data_gen_config.test_fraction=1.0 is invalid: allowed < 1"),
    (dict(data_gen_config={"parameter_box": {"rho": [-1.0, 0.5]}}), "data_gen_config.parameter_box.rho="),
    (dict(data_gen_config={"parameter_box": {"beta": [0.2, 1.3]}}), "data_gen_config.parameter_box.beta="),
    (dict(model_config={"patch_size": [8, 9]}), "model_config.patch_size=[8, 9] is invalid: allowed odd"),
    (dict(model_config={"patch_size": [41, 9]}), "model_config.patch_size: [41, 9] is larger"),
    (dict(model_config={"cnn_filters": []}), "model_config.cnn_filters=[] is invalid"),
    (dict(training_config={"learning_rate": 0}), "training_config.learning_rate=0 is invalid: allowed > 0"),
    (dict(training_config={"epochz": 3}), "training_config.epochz: unknown key; did you mean epochs?"),
    (dict(training_config={"xyzzy": 3}), "training_config.xyzzy: unknown key (misspelt?); allowed keys: batch_size"),
    (dict(hf_budgetz=[50]), "hf_budgetz: unknown key"),
])
def test_bad_values_give_one_line_naming_field_and_range(overrides, start):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.profile("quick", **overrides)
    msg = str(err.value)
    assert msg.startswith(start), msg
    assert "\n" not in msg


@pytest.mark.parametrize("text, start", [
    ("- 1\n- 2\n", "allowed a YAML mapping"),
    ("a: [1, 2\n", "not valid YAML"),
    ("profile: huge\n", "profile='huge' is invalid"),
])
def test_bad_yaml_files(tmp_path, text, start):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert start in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_with_overrides_revalidates():
    c = ExperimentConfig.profile("quick")
    assert c.with_overrides(n_random_seeds=3).n_random_seeds == 3
    with pytest.raises(ConfigError, match="n_random_seeds"):
        c.with_overrides(n_random_seeds=-1)


def test_hyperparameter_space_section(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("profile: quick\nhyperparameter_space:\n  learning_rates: [0.001, 0.01]\n"
                 "  cnn_filters: [[8, 16]]\n")
    c = load_config(p)
    assert c.hyperparameter_space.learning_rates == (0.001, 0.01)
    assert c.hyperparameter_space.cnn_filters == ((8, 16),)
    assert c.hyperparameter_space.batch_sizes == (64, 128)          # the quick profile's kept
    p.write_text("hyperparameter_space:\n  learning_rates: [0.001]\n")
    assert load_config(p).hyperparameter_space.batch_sizes == (32, 64, 128)   # seed default
    p.write_text("hyperparameter_space:\n  lerning_rates: [0.001]\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: hyperparameter_space\.lerning_rates: "
                                          r"unknown key; did you mean learning_rates\?"):
        load_config(p)
    p.write_text("hyperparameter_space:\n  dropout_rates: [0.5, 1.5]\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: hyperparameter_space\.dropout_rates="
                                          r"\[0\.5, 1\.5\] is invalid"):
        load_config(p)


def _error(path, text: str) -> ConfigError:
    """The ConfigError of loading a YAML file of ``text`` at ``path``."""
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value


@pytest.mark.parametrize("text, key, meant", [
    # a flag's name (any spelling) is the field the flag sets
    ("random_seeds: 3\n", "random_seeds", "n_random_seeds (the config name of --random-seeds)"),
    ("random-seeds: 3\n", "random-seeds", "n_random_seeds (the config name of --random-seeds)"),
    ("hyperparameter_trials: 3\n", "hyperparameter_trials",
     "n_hyperparameter_trials (the config name of --hyperparameter-trials)"),
    # else the closest key beside it, in the sections too
    ("n_random_seed: 3\n", "n_random_seed", "n_random_seeds"),
    ("training_config:\n  epocs: 5\n", "training_config.epocs", "epochs"),
    ("data_gen_config:\n  parameter_box:\n    nuu: [0.1, 0.2]\n",
     "data_gen_config.parameter_box.nuu", "nu"),
    ("hyperparameter_space:\n  learning_rate: [0.001]\n", "hyperparameter_space.learning_rate",
     "learning_rates"),
    ("cluster:\n  kind: slurm\n  slurm:\n    core: 2\n", "cluster.slurm.core", "cores"),
    # and a field of that name in another section
    ("epochs: 5\n", "epochs", "training_config.epochs"),
    ("model_config:\n  batch_size: 8\n", "model_config.batch_size",
     "patch_size or training_config.batch_size"),
    ("training_config:\n  n_random_seeds: 2\n", "training_config.n_random_seeds",
     "n_random_seeds (a top-level key)"),
])
def test_a_misspelt_key_says_what_it_probably_meant(tmp_path, text, key, meant):
    p = tmp_path / "c.yaml"
    msg = str(_error(p, "profile: quick\n" + text))
    assert msg.startswith(f"{p}: {key}: unknown key; did you mean {meant}? allowed keys: "), msg
    assert "\n" not in msg


def test_a_key_like_none_lists_the_allowed_ones(tmp_path):
    p = tmp_path / "c.yaml"
    assert str(_error(p, "training_config:\n  xyzzy: 5\n")) == (
        f"{p}: training_config.xyzzy: unknown key (misspelt?); allowed keys: batch_size, "
        "early_stopping_patience, epochs, learning_rate, max_batch_size, max_steps, "
        "max_steps_per_epoch, min_patience_steps, min_steps, min_tuning_steps, "
        "tf_inter_op_threads, tf_intra_op_threads, tuning_epochs, validation_fraction, "
        "warm_perturb, warm_shrink, warm_start")


def test_every_bad_field_of_a_file_is_in_one_error_naming_the_file(tmp_path):
    p = tmp_path / "two.yaml"
    p.write_text("profile: quick\nn_random_seeds: 0\ntraining_config:\n  learning_rate: -1\n")
    expected = (f"{p}: 2 errors:\n"
                "  training_config.learning_rate=-1 is invalid: allowed > 0\n"
                "  n_random_seeds=0 is invalid: allowed >= 1")
    for load in (load_config, ExperimentConfig.from_yaml):
        with pytest.raises(ConfigError) as err:
            load(p)
        assert str(err.value) == expected
        assert err.value.source == str(p) and len(err.value.problems) == 2
    # the search space words its own errors: every one of them is in the file's error too
    p.write_text("random_seeds: 3\nhyperparameter_space:\n  batch_sizes: [0]\n"
                 "  dropout_rate: [0.1]\n")
    lines = str(_error(p, p.read_text())).splitlines()
    assert lines[0] == f"{p}: 3 errors:", lines
    assert [line.split(":")[0].split("=")[0].strip() for line in lines[1:]] == [
        "hyperparameter_space.batch_sizes", "hyperparameter_space.dropout_rate", "random_seeds"]


def test_a_file_is_named_only_where_its_own_keys_are_bad(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("profile: quick\nn_random_seeds: 2\n")
    with pytest.raises(ConfigError) as err:          # the caller's value, not the file's
        load_config(p, n_random_seeds=0)
    assert str(err.value) == "n_random_seeds=0 is invalid: allowed >= 1"
    with pytest.raises(ConfigError) as err:          # no file: one line, as before
        ExperimentConfig.profile("quick", random_seeds=3)
    assert str(err.value).startswith("random_seeds: unknown key; did you mean n_random_seeds "
                                     "(the config name of --random-seeds)?")
    assert str(_error(p, "profile: huge\n")).startswith(f"{p}: profile='huge' is invalid")


def test_a_profile_the_config_file_would_outrank_is_refused_not_ignored(tmp_path):
    from sabr.config import resolve_config
    p = tmp_path / "c.yaml"
    p.write_text("profile: full\nn_random_seeds: 2\n")
    with pytest.raises(ConfigError, match=r"^profile='quick' is not applied: .*profile 'full'"):
        resolve_config("quick", p)
    assert resolve_config("full", p).n_random_seeds == 2          # agreeing: applied
    assert resolve_config(None, p).data_gen_config.n_parameter_sets == 1000
    p.write_text("n_random_seeds: 2\n")                          # no profile key: full
    with pytest.raises(ConfigError, match="is not applied"):
        resolve_config("quick", p)
    assert resolve_config(None, None).name == "hf-budget-quick"    # no file: quick


def test_the_allocation_study_runs_on_its_models_or_the_first_one_asked_for():
    from sabr.plan import planned_cost_cells, study_models
    quick = ExperimentConfig.profile("quick")
    assert quick.cost_model_types == ("mda_cnn",) and study_models(quick) == ["mda_cnn"]
    assert {m for _, m, _ in planned_cost_cells(quick)} == {"mda_cnn"}
    assert len(planned_cost_cells(quick)) == 2 * 2 * 2          # allocations x budgets x seeds
    both = ExperimentConfig.profile("quick", model_types=["residual_mlp", "mda_cnn"])
    assert study_models(both) == ["mda_cnn"]
    narrow = ExperimentConfig.profile("quick", model_types=["residual_mlp", "direct_mlp"])
    assert study_models(narrow) == ["residual_mlp"]             # no study model asked for
    every = quick.model_copy(update={"cost_model_types": None})
    assert study_models(every) == list(every.model_types)
    assert not planned_cost_cells(ExperimentConfig.profile("quick", hf_cpu_budgets=[],
                                                           allocations=["spread"]))
