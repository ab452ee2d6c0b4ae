"""One table of run options (sabr.options): the command line, the flow and the Python API."""
from __future__ import annotations

import inspect

import pytest

from sabr.config import ExperimentConfig
from sabr.errors import ConfigError
from sabr.model_types import MODEL_NAMES
from sabr.options import OVERRIDES, RUN_OPTIONS


def test_every_option_is_a_configuration_field_a_flow_parameter_and_a_flag():
    from flows.cli import _parser
    from flows.experiment import hf_budget
    fields = {f.alias or n for n, f in ExperimentConfig.model_fields.items()}
    assert set(OVERRIDES) <= fields
    params = set(inspect.signature(hf_budget.fn).parameters)
    assert params == set(OVERRIDES) | {"profile", "config_path", "dask_address", "skip_experiments",
                                       "config"}
    run = _parser()._subparsers._group_actions[0].choices["run"]
    flags = {a.dest: a for a in run._actions}
    for o in RUN_OPTIONS:
        assert flags[o.name].option_strings == [o.flag] and flags[o.name].default is None
    args = run.parse_args(["--random-seeds", "3", "--model-types", "mda_cnn", "cnn_only"])
    assert args.n_random_seeds == 3 and args.model_types == ["mda_cnn", "cnn_only"]
    # the help names every model of the registry, from the registry
    assert all(m in flags["model_types"].help for m in MODEL_NAMES)


def test_the_python_api_defaults_to_the_configuration_and_takes_every_option(tmp_path):
    from flows.orchestrator import ExperimentOrchestrator
    base = ExperimentConfig.profile("quick", n_random_seeds=4, n_hyperparameter_trials=7)
    orch = ExperimentOrchestrator(base, tmp_path / "out")
    assert orch.analysis_config() == orch.base_config
    assert orch.base_config.n_random_seeds == 4
    assert inspect.signature(orch.run_hf_budget_analysis).parameters["n_random_seeds"].default is None
    cfg = orch.analysis_config(allocations=["surfaces"], hf_cpu_budgets=["5%"], ensemble_size=3,
                               tuning_method="bayesian")
    assert (cfg.allocations, cfg.hf_cpu_budgets, cfg.ensemble_size, cfg.tuning_method) == (
        ("surfaces",), ("5%",), 3, "bayesian")
    with pytest.raises(ConfigError, match=r"^n_seeds is not an argument of run_hf_budget_analysis"):
        orch.analysis_config(n_seeds=3)
    with pytest.raises(ConfigError, match="set when the orchestrator is made"):
        orch.analysis_config(output_dir="elsewhere")
    with pytest.raises(ConfigError, match=r"^ensemble_size=0 is invalid: allowed >= 1$"):
        orch.analysis_config(ensemble_size=0)


def test_a_whole_configuration_is_used_as_given_and_refuses_what_it_would_not_apply(tmp_path):
    """The command line and the Python API validate once and hand the flow that configuration
    (preflight's ``config``); a deployment may pass one as a mapping, validated there."""
    from flows.preflight import preflight
    from sabr.errors import ConfigError
    cfg = ExperimentConfig.profile("quick", output_dir=str(tmp_path / "a"), n_random_seeds=3)
    assert preflight(config=cfg).config is cfg                    # not validated again
    as_dict = cfg.model_dump(mode="json", by_alias=True)
    assert preflight(config=as_dict).config == cfg
    for given in ({"profile": "quick"}, {"n_random_seeds": 2}, {"config_path": "x.yaml"}):
        with pytest.raises(ConfigError, match=rf"^{next(iter(given))}=.* is not applied with "
                                              r"config \(a whole configuration\)"):
            preflight(config=cfg, **given)
    with pytest.raises(ConfigError, match=r"^n_random_seeds=0 is invalid: .*"):
        preflight(config={**as_dict, "n_random_seeds": 0})
    with pytest.raises(ConfigError, match=r"^config=list is invalid: allowed a mapping"):
        preflight(config=[1])


def test_an_unknown_run_parameter_says_which_one_it_probably_meant(tmp_path):
    """preflight (the flow's and the Python API's checks) names every unknown parameter, and
    a flag's spelling suggests the parameter the flag sets."""
    from flows.preflight import preflight
    with pytest.raises(ConfigError) as err:
        preflight("quick", output_dir=str(tmp_path / "out"), random_seeds=3, hf_budget=[50])
    lines = str(err.value).splitlines()
    assert lines[0] == "2 errors:"
    assert lines[1].startswith("  hf_budget: unknown run parameter; did you mean hf_budgets? "
                               "allowed run parameters: allocations, ensemble_size, hf_budgets")
    assert lines[2].startswith("  random_seeds: unknown run parameter; did you mean n_random_seeds "
                               "(the config name of --random-seeds)?")
    assert not (tmp_path / "out").exists()
