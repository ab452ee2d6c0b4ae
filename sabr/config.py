"""Experiment configuration: loading and validation (docs/DESIGN.md section 3).

The YAML has the seed's sections ``data_gen_config``, ``training_config`` and
``model_config`` (their schemas: sabr.settings) plus the experiment grid at the top level
(``hf_budgets``, ``model_types``, ...), on top of a named profile (sabr.profiles). Every
model forbids unknown keys, so a misspelt key fails loudly and says what it probably meant
(the closest key, the field a flag of that name sets). Errors are :class:`ConfigError` (a
``ValueError``): a line per bad field naming it, the value and what is allowed, every bad
field of a file in one error that names the file. What a validated configuration runs is
derived in sabr.plan.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .budget_labels import (ADAPTIVE_STARTS, ALLOCATION_NAMES, MIN_PREFIX_PATHS, PATH_DIVISORS,
                            POINT_BUDGETS, allocation_name, budget_unit, cpu_budget_label,
                            is_adaptive, parse_allocation)
from .cluster import ClusterConfig
from .errors import ConfigError, unknown_key
from .model_types import MODEL_NAMES
from .options import RUN_OPTIONS
from .profiles import PROFILES
from .settings import (TUNING_METHODS, DataGenConfig, ModelConfig, ModelName,
                       ParameterBoxConfig, TrainingConfig, TuningMethod, WithSections,
                       n_test_thetas)
from .space import HyperparameterSpace

DEFAULT_ENSEMBLE_SIZE = 5
"""Members of an ensemble when ``ensemble_size`` is unset in a run that needs one
(sabr.plan.ensemble_members)."""
MODEL_TYPES = MODEL_NAMES
"""The allowed model names: the seed's name for the model-type registry's keys
(sabr.model_types.MODEL_NAMES, where the registry itself is MODEL_TYPES)."""

__all__ = [
    "ConfigError",
    "ParameterBoxConfig",
    "DataGenConfig",
    "TrainingConfig",
    "ModelConfig",
    "ClusterConfig",
    "ExperimentConfig",
    "MODEL_TYPES",
    "TUNING_METHODS",
    "PROFILES",
    "load_config",
    "n_test_thetas",
    "DEFAULT_ENSEMBLE_SIZE",
    "resolve_config",
]

class ExperimentConfig(WithSections):
    """The whole experiment: data, training, models and the grid of (budget, model, seed)."""

    name: str = "hf-budget"
    data_gen_config: DataGenConfig = DataGenConfig()
    training_config: TrainingConfig = TrainingConfig()
    model_config_: ModelConfig = Field(ModelConfig(), alias="model_config")
    hf_budgets: tuple[int, ...] = (50, 100, 200, 500, 1000)
    allocations: tuple[str, ...] = ("spread",)
    """Allocation strategies (sabr.budget_labels.ALLOCATION_NAMES) run at every
    ``hf_cpu_budgets`` entry; the point budgets ``hf_budgets`` are always the seed's
    ``spread`` design."""
    hf_cpu_budgets: tuple[str, ...] = ()
    """HF budgets in Monte Carlo CPU-seconds ('120s', or 120), as a percentage of the
    train pool's whole Monte Carlo CPU-seconds ('5%'), or in Monte Carlo path-steps, the
    unit that is the same on every machine ('2.5e9ps', '2.5Gps'); stored as labels ('120s',
    '5%', '2.5Gps'; sabr.budget_labels.parse_hf_budget)."""
    model_types: tuple[ModelName, ...] = Field(default_factory=lambda: tuple(MODEL_NAMES))
    cost_model_types: tuple[ModelName, ...] | None = None
    """The models of the allocation study (``hf_cpu_budgets``): those of ``model_types``
    that are in this list; when none is (a narrower ``--model-types``), the first of
    ``model_types``; None: all of ``model_types`` (sabr.plan.study_models)."""
    ensemble_size: int | None = Field(None, ge=1, le=64)
    """Members of every cell's deep ensemble (sabr.learning.training): None means 5 in a run
    with the ``adaptive`` allocation (it needs an ensemble, and its cells are compared with
    the others' like for like) and 1 otherwise (sabr.plan.ensemble_members)."""
    ensemble_cells: Literal["all", "adaptive"] = "all"
    """Which cells are ensembles of ``ensemble_size`` members: ``all`` (every cell, so the
    allocation study compares ensembles with ensembles), or ``adaptive`` (only the adaptive
    allocations' rounds, which need one to buy where it disagrees; every other cell is a
    single model, and the allocation study scores the adaptive cells as single models too:
    their members' mean test MSE, sabr.analysis.studies.allocation.study_cells). Refused
    without an adaptive allocation (it would not be applied)."""
    adaptive_warm_start: bool = True
    """Whether an ``adaptive`` round's members start from the previous round's weights
    (and normaliser) instead of a fresh initialisation. Measured (README, "Ensembles and
    adaptive allocation"): warm rounds' MSE 0.76x the cold ones' (paired, p = 0.16, 9
    pairs) in 25 % less training time, so on by default."""
    n_random_seeds: int = Field(5, ge=1, le=1000)
    n_hyperparameter_trials: int = Field(15, ge=1, le=10_000)
    tuning_method: TuningMethod = "random"
    tuning_reference_budget: int | None = None
    """Tune each model of the seed's grid once, at this point budget (one of ``hf_budgets``),
    and train every point budget's cells with that tuning; None (the default): a tuning per
    (model, budget). Off by default until the measured check (docs/METHODS.md, "Tuning at a
    reference budget") shows the verdicts do not change. Only which tuning a cell takes
    changes: a cell's key holds its tuned hyperparameters, so its cells retrain."""
    tuning_reference_cpu_budget: str | None = None
    """The allocation study's counterpart: each (allocation, model) is tuned once, at
    '<allocation>@<this budget>' (one of ``hf_cpu_budgets``, given as they are: 120, '5%',
    '2.5Gps'), and its cells at every CPU budget train with it; adaptive rounds take
    their start allocation's ('surfaces@<this budget>'); None (the default): a tuning per
    (allocation, CPU budget, model) (sabr.plan.tuning_of)."""
    output_dir: str = "results"
    parallel_jobs: int = Field(2, ge=1, le=1024)
    max_hours: float | None = Field(None, gt=0, le=100_000)
    """A run whose estimated wall time (``hf-budget plan``, sabr.estimate) exceeds this many
    hours refuses to start, with one line giving the estimate; None (the default): no limit.
    Decides no result, so no cache key holds it."""
    worker_recycle_mib: int = Field(900, ge=256, le=1_048_576)
    """A worker's TensorFlow process is replaced after a task that leaves it above this many
    MiB resident (tasks/isolation.py); decides no result, so no cache key holds it."""
    hyperparameter_space: HyperparameterSpace = HyperparameterSpace()
    cluster: ClusterConfig = ClusterConfig()
    """Where the workers run: ``local`` (``parallel_jobs`` processes on this machine, the
    default) or ``slurm`` (Slurm jobs through dask-jobqueue, adapted to the work): see
    sabr.cluster. Decides no result, so no cache key holds it."""
    plugins: tuple[str, ...] = ()
    """Modules of your own that register model types or allocation strategies, imported
    before the rest is validated (sabr.plugins)."""

    @field_validator("hf_budgets")
    @classmethod
    def _budgets(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("allowed a non-empty list of positive integers")
        if any(b < 1 for b in v):
            raise ValueError("allowed positive integers")
        if len(set(v)) != len(v):
            raise ValueError("allowed distinct values (no duplicates)")
        return tuple(sorted(v))

    @field_validator("allocations")
    @classmethod
    def _allocations(cls, v):
        allowed = (f"{sorted(ALLOCATION_NAMES)}, paths as paths/D with D in "
                   f"{list(PATH_DIVISORS)}, adaptive as adaptive/S with S in "
                   f"{list(ADAPTIVE_STARTS)}")
        if not v:
            raise ValueError(f"allowed a non-empty subset of {allowed}")
        names = []
        for a in v:
            try:
                names.append(allocation_name(a))
            except ValueError:
                raise ValueError(f"allowed a subset of {allowed} ({a!r} is not one)") from None
        if len(set(names)) != len(names):
            raise ValueError("allowed distinct values (no duplicates; paths is paths/4, "
                             "adaptive is adaptive/surfaces)")
        return tuple(names)

    @field_validator("hf_cpu_budgets", mode="before")
    @classmethod
    def _cpu_budgets(cls, v):
        if v is None:
            return ()
        if isinstance(v, (str, int, float)):
            v = [v]
        labels = []
        for value in v:
            try:
                labels.append(cpu_budget_label(value))
            except ValueError as err:
                raise ValueError(str(err).partition("is invalid: ")[2]
                                 + f"; {value!r} is not") from None
        if len(set(labels)) != len(labels):
            raise ValueError("allowed distinct values (no duplicates)")
        return tuple(labels)

    @field_validator("tuning_reference_cpu_budget", mode="before")
    @classmethod
    def _reference_cpu_budget(cls, v):
        if v is None:
            return None
        try:
            return cpu_budget_label(v)
        except ValueError as err:
            raise ValueError(str(err).partition("is invalid: ")[2]
                             + f"; {v!r} is not") from None

    @field_validator("model_types")
    @classmethod
    def _models(cls, v):
        if not v:
            raise ValueError(f"allowed a non-empty subset of {list(MODEL_NAMES)}")
        if len(set(v)) != len(v):
            raise ValueError("allowed distinct values (no duplicates)")
        return v

    @field_validator("cost_model_types")
    @classmethod
    def _cost_models(cls, v):
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("allowed a non-empty list of distinct models, or null (all of "
                             "model_types)")
        return v

    @model_validator(mode="after")
    def _fits(self) -> "ExperimentConfig":
        d = self.data_gen_config
        pool = d.n_train_pool * d.points_per_surface
        big = max(self.hf_budgets)
        if big > pool:
            raise ValueError(f"hf_budgets: {big} is larger than the train pool's {pool} points "
                             f"({d.n_train_pool} parameter sets x {d.points_per_surface}); "
                             f"allowed <= {pool}")
        small = min(self.hf_budgets)
        vf = self.training_config.validation_fraction
        if math.floor(small * vf) < 1 or small - math.ceil(small * vf) < 1:
            raise ValueError(f"hf_budgets: {small} is too small to hold a validation share of "
                             f"{vf}; allowed >= {math.ceil(1 / min(vf, 1 - vf))}")
        cpu_only = [a for a in self.allocations if a not in POINT_BUDGETS]
        if cpu_only and not self.hf_cpu_budgets:
            raise ValueError(f"allocations: {cpu_only[0]!r} spends CPU-second budgets and "
                             f"hf_cpu_budgets is empty; allowed with hf_cpu_budgets set "
                             f"(seconds such as 120, a percentage of the pool such as '5%', or "
                             f"path-steps such as '2.5Gps')")
        self._check_tuning_references()
        self._check_warm_start()
        adaptive = [a for a in self.allocations if is_adaptive(a)]
        if self.ensemble_cells == "adaptive" and not adaptive:
            raise ValueError(f"ensemble_cells: 'adaptive' makes the adaptive allocations' rounds "
                             f"ensembles and allocations {list(self.allocations)} has none, so "
                             f"it would not be applied; allowed 'all', or an adaptive allocation")
        if adaptive:
            if self.ensemble_size == 1:
                raise ValueError(f"ensemble_size: 1 is too small for allocations {adaptive[0]!r} (its "
                                 "rounds buy where an ensemble disagrees); allowed >= 2, or "
                                 f"unset for {DEFAULT_ENSEMBLE_SIZE}")
            units = {budget_unit(c) for c in self.hf_cpu_budgets}
            if len(units) > 1:
                raise ValueError(f"hf_cpu_budgets: {list(self.hf_cpu_budgets)} mixes units "
                                 f"(seconds, percentages, path-steps), so allocations "
                                 f"{adaptive[0]!r} cannot order its rounds; allowed all in one "
                                 f"unit, e.g. ['1%', '2%'] or ['1Gps', '2Gps']")
        for a in self.allocations:
            base, divisor = parse_allocation(a)
            if base == "paths" and 2 * round(d.mc_paths / (2 * divisor)) < MIN_PREFIX_PATHS:
                raise ValueError(f"allocations: {a!r} labels with {d.mc_paths} / {divisor} Monte "
                                 f"Carlo paths, fewer than {MIN_PREFIX_PATHS}; allowed with "
                                 f"data_gen_config.mc_paths >= {MIN_PREFIX_PATHS * divisor}")
        ph, pw = self.models.patch_size
        if ph > 2 * d.n_maturities + 1 or pw > 2 * d.n_strikes + 1:
            raise ValueError(f"model_config.patch_size: {[ph, pw]} is larger than the grid allows; "
                             f"allowed at most [{2 * d.n_maturities + 1}, {2 * d.n_strikes + 1}]")
        return self

    def _check_tuning_references(self) -> None:
        """A tuning reference must be one of the run's budgets of its axis."""
        ref = self.tuning_reference_budget
        if ref is not None and ref not in self.hf_budgets:
            raise ValueError(f"tuning_reference_budget: {ref} is not one of hf_budgets; allowed "
                             f"one of {list(self.hf_budgets)}, or unset (a tuning per budget)")
        ref = self.tuning_reference_cpu_budget
        if ref is not None and ref not in self.hf_cpu_budgets:
            allowed = (f"one of {list(self.hf_cpu_budgets)}" if self.hf_cpu_budgets
                       else "unset (hf_cpu_budgets is empty)")
            raise ValueError(f"tuning_reference_cpu_budget: {ref!r} is not one of "
                             f"hf_cpu_budgets; allowed {allowed}"
                             + (", or unset (a tuning per budget)" if self.hf_cpu_budgets
                                else ""))

    def _check_warm_start(self) -> None:
        """``previous_budget`` copies a cell's weights into the next budget's network, so a
        chain of budgets must share one architecture: one tuning for them all (the tuning
        references), or a search space with one choice for each width the run tunes."""
        if self.training_config.warm_start == "none":
            return
        from .space import RELEVANT_PARAMETERS, WIDTH_PARAMETERS
        chains = []
        if len(self.hf_budgets) > 1 and self.tuning_reference_budget is None:
            chains.append(("tuning_reference_budget", self.model_types))
        units = [budget_unit(c) for c in self.hf_cpu_budgets]
        if (any(units.count(u) > 1 for u in units) and self.tuning_reference_cpu_budget is None
                and any(not is_adaptive(a) for a in self.allocations)):
            study = [m for m in self.model_types if m in (self.cost_model_types or self.model_types)]
            chains.append(("tuning_reference_cpu_budget", study or self.model_types[:1]))
        space = self.hyperparameter_space
        for reference, models in chains:
            varied = sorted({p for m in models for p in RELEVANT_PARAMETERS[m]
                             if p in WIDTH_PARAMETERS and len(getattr(space, p)) > 1})
            if varied:
                raise ValueError(
                    f"training_config.warm_start: 'previous_budget' copies weights between "
                    f"budgets, and a tuning per budget may give each budget other layer widths "
                    f"(hyperparameter_space.{varied[0]} has "
                    f"{len(getattr(space, varied[0]))} choices); allowed with {reference} set, "
                    f"or one choice of {' and '.join(varied)}")

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "ExperimentConfig":
        """Load a YAML file (see :func:`load_config`)."""
        return load_config(path, **overrides)

    @classmethod
    def profile(cls, name: str, **overrides: Any) -> "ExperimentConfig":
        """A named profile (``quick`` or ``full``) with optional top-level overrides."""
        if name not in PROFILES:
            raise ConfigError(f"profile={name!r} is invalid: allowed one of {sorted(PROFILES)}")
        return _applied(_validate(_merge(PROFILES[name], overrides)), _given(overrides))

    def with_overrides(self, **overrides: Any) -> "ExperimentConfig":
        """A copy with top-level or nested (dict) fields replaced, validated again."""
        return _validate(_merge(self.model_dump(by_alias=True), overrides))


def _merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_PYDANTIC_WORDING = (
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"allowed >= \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"allowed <= \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"allowed > \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"allowed < \1"),
    (re.compile(r"^Input should be (.+ or .+)$"), r"allowed one of \1"),
    (re.compile(r"^Input should be (a valid [^,]+), .+$"), r"allowed \1"),
    (re.compile(r"^Input should be (.+)$"), r"allowed \1"),
)


def _section_model(field) -> type[BaseModel] | None:
    """The model of a section field, also where it is optional (``slurm: SlurmConfig | None``)."""
    models = [a for a in (field.annotation, *get_args(field.annotation))
              if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if models else None


def _model_at(path: list[str]) -> type[BaseModel] | None:
    """The model that holds ``path``'s last key (None: not a section)."""
    model: type[BaseModel] | None = ExperimentConfig
    for key in path[:-1]:
        field = next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)
        model = _section_model(field) if field else None
        if model is None:
            return None
    return model


def _known_keys(path: list[str]) -> list[str]:
    """Field names (YAML spelling) of the model that holds ``path``'s last key."""
    model = _model_at(path)
    return sorted(f.alias or n for n, f in model.model_fields.items()) if model else []


def _field_paths(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every field of ``model`` and of its sections: name -> dotted path (the first of a
    name, shallowest first)."""
    found: dict[str, str] = {}
    sections = []
    for n, f in model.model_fields.items():
        name = f.alias or n
        found.setdefault(name, prefix + name)
        if section := _section_model(f):
            sections.append((section, f"{prefix}{name}."))
    for section, below in sections:
        for name, path in _field_paths(section, below).items():
            found.setdefault(name, path)
    return found


def _unknown_key(path: list[str]) -> str:
    """The line for an unknown key at ``path``: what it probably meant (sabr.errors.unknown_key)
    among the keys beside it, the command line's flags at the top and the other sections'
    fields."""
    parent = ".".join(path[:-1])
    elsewhere = {name: p if "." in p else f"{p} (a top-level key)"
                 for name, p in _field_paths(ExperimentConfig).items()
                 if p.rpartition(".")[0] != parent}
    flags = {o.flag: o.name for o in RUN_OPTIONS} if len(path) == 1 else None
    return unknown_key(".".join(path), path[-1], _known_keys(path), flags=flags,
                       elsewhere=elsewhere)


def _describe(e: dict) -> list[str]:
    """The lines of one of pydantic's errors: field path, value, what is allowed (several
    where a section words its own errors, sabr.space)."""
    inner = e.get("ctx", {}).get("error")
    if isinstance(inner, ConfigError):      # a nested model that words its own errors
        return list(inner.problems)
    path = [str(p) for p in e["loc"] if not isinstance(p, int)]
    loc = ".".join(path) or "config"
    msg = e["msg"].removeprefix("Value error, ")
    for pattern, repl in _PYDANTIC_WORDING:
        if pattern.match(msg):
            msg = pattern.sub(repl, msg)
            break
    if e["type"] == "extra_forbidden":
        return [_unknown_key(path)]
    if e["type"] == "missing":
        return [f"{loc}: required field missing"]
    if msg.startswith(("hf_budgets:", "model_config.", "allocations:", "cost_model_types:",
                       "ensemble_size:", "hf_cpu_budgets:", "plugins:",
                       "tuning_reference_budget:", "tuning_reference_cpu_budget:",
                       "training_config.warm_start:")):
        return [msg]
    value = e.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    return [f"{loc}={shown} is invalid: {msg}"]


def _validate(data: dict, source: str | None = None, overridden: dict | None = None
              ) -> ExperimentConfig:
    """``data`` validated; ConfigError with every problem pydantic found, naming ``source``
    (the config file) unless each problem is in a top-level field ``overridden`` sets."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        tops = {str(e["loc"][0]) if e["loc"] else "" for e in errors}
        named = source if source and not tops <= set(overridden or {}) else None
        raise ConfigError(*[line for e in errors for line in _describe(e)], source=named) from None


_ALLOWED_FILE = "allowed a readable YAML file of experiment settings"


def load_config(path: str | Path, *, profile: str | None = None, **overrides: Any) -> ExperimentConfig:
    """Load an ``ExperimentConfig`` from YAML (``yaml.safe_load``), then apply overrides.

    A ``profile: quick|full`` key at the top selects a base profile that the file's
    other keys override (none: ``full``). A ``profile`` argument is never silently
    outranked: it must name the file's profile, or ConfigError says why not.

    Raises:
        ConfigError: missing/unreadable file, YAML that is not a mapping, or an invalid field.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config={str(path)!r} is invalid: no such file; {_ALLOWED_FILE}") from None
    except (OSError, UnicodeDecodeError) as err:
        why = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else err.strerror or err
        raise ConfigError(f"config={str(path)!r} is invalid: cannot read ({why}); "
                          f"{_ALLOWED_FILE}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config={str(path)!r} is invalid: not valid YAML{where}; "
                          f"allowed a YAML mapping of sections, e.g. 'training_config: "
                          f"{{epochs: 5}}'") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config={str(path)!r} is invalid: allowed a YAML mapping of sections, "
                          f"got {type(data).__name__}")
    source = str(path)
    name = data.pop("profile", "full")
    if name not in PROFILES:
        raise ConfigError(f"profile={name!r} is invalid: allowed one of {sorted(PROFILES)}",
                          source=source)
    if profile is not None and profile != name:
        raise ConfigError(f"profile={profile!r} is not applied: config={str(path)!r} is built on "
                          f"profile {name!r} and outranks it; allowed profile={name!r} or no "
                          f"profile with this file (edit the file's 'profile:' key to change it)")
    given = _given(overrides)
    cfg = _validate(_merge(_merge(PROFILES[name], data), overrides), source, given)
    return _applied(cfg, {**data, **given}, source, given)


def config_from_dict(data: dict) -> ExperimentConfig:
    """A whole configuration given as a mapping (a deployment's ``config`` parameter, a run's
    config.json): validated as it is, no profile beneath it. ConfigError if invalid."""
    if not isinstance(data, dict):
        raise ConfigError(f"config={type(data).__name__} is invalid: allowed a mapping of "
                          f"sections, as a run's config.json holds")
    return _applied(_validate(data), data)


def _given(overrides: dict) -> dict:
    """The overrides that set something (None means "as configured")."""
    return {k: v for k, v in overrides.items() if v is not None}


def _applied(cfg: ExperimentConfig, given: dict, source: str | None = None,
             overridden: dict | None = None) -> ExperimentConfig:
    """``cfg``, unless ``given`` (the keys a file or a caller set, beyond the profile) holds a
    field this run would not apply: ConfigError then, naming ``source`` (the config file)
    unless the field is one ``overridden`` sets. ``parallel_jobs`` sizes the local cluster
    only; on Slurm the workers are ``cluster.slurm.adapt``'s jobs."""
    if cfg.cluster.kind != "local" and given.get("parallel_jobs") is not None:
        raise ConfigError(f"parallel_jobs={given['parallel_jobs']!r} is not applied with "
                          f"cluster.kind={cfg.cluster.kind!r} (the workers are Slurm jobs of "
                          f"cluster.slurm.cores each, between cluster.slurm.adapt.min_jobs and "
                          f"max_jobs); allowed unset",
                          source=None if "parallel_jobs" in (overridden or {}) else source)
    return cfg


def resolve_config(profile: str | None = None, config_path: str | Path | None = None,
                   **overrides: Any) -> ExperimentConfig:
    """The YAML file if given (its ``profile:`` key picks the base; a ``profile`` given too
    must agree with it), else the named profile (default ``quick``); non-None ``overrides``
    on top. ConfigError if invalid. Imports nothing heavy, so the CLI can reject bad input
    before Prefect loads."""
    if config_path:
        return load_config(config_path, profile=profile, **overrides)
    return ExperimentConfig.profile(profile or "quick", **overrides)
