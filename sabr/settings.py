"""The configuration's sections, each a small typed value the inner layers read.

``sabr.config`` assembles them into the whole ``ExperimentConfig`` (the grid, loading,
profiles, one-line errors); ``sabr.data`` and ``sabr.learning`` import this module only,
so a stage's cached results depend on the sections it reads, never on the rest of the
configuration module (docs/DESIGN.md, "How a cell is cached").

The stage views (:class:`CellSettings`, :class:`TuningSettings`) are what the tuning and
training tasks receive: only the sections that decide their results. Reading any other
section of a view is an AttributeError, so a task's configuration input, which is its
cache key's configuration part, cannot leave out something the stage reads.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .model_types import MODEL_NAMES
from .plugins import load_plugins
from .space import HyperparameterSpace

__all__ = ["TUNING_METHODS", "MIN_MC_PATHS", "n_test_thetas",
           "ParameterBoxConfig", "DataGenConfig", "TrainingConfig", "ModelConfig",
           "CellSettings", "TuningSettings", "WARM_FIELDS"]

TUNING_METHODS = ("random", "grid", "bayesian")
"""The allowed tuning methods; each has its sampler in sabr.learning.tuning's
TUNING_METHOD_REGISTRY (asserted there)."""


def _registered_model(name: str) -> str:
    """A name of the model-type registry as it is when the value is validated (a plugin's
    model types included, sabr.plugins)."""
    if name not in MODEL_NAMES:
        names = [repr(n) for n in MODEL_NAMES]
        raise ValueError(f"allowed one of {', '.join(names[:-1])} or {names[-1]}")
    return name


ModelName = Annotated[str, AfterValidator(_registered_model)]
TuningMethod = Literal[TUNING_METHODS]
MIN_MC_PATHS = 1_000


def n_test_thetas(n: int, test_fraction: float) -> int:
    """How many of n parameter sets are held out for testing: round(test_fraction n), at least 1."""
    return max(1, round(test_fraction * n))


class StrictSection(BaseModel):
    """A configuration section: unknown keys are errors, values frozen, defaults validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _range(lo: float, hi: float):
    """Validator body for a (lower, upper) pair inside [lo, hi]."""
    def check(value: tuple[float, float]) -> tuple[float, float]:
        a, b = value
        if not (lo <= a <= b <= hi):
            raise ValueError(f"allowed lower <= upper within [{lo}, {hi}]")
        return value
    return check


class ParameterBoxConfig(StrictSection):
    """Ranges that parameter sets are drawn from (Funahashi 2022 box by default)."""

    alpha: tuple[float, float] = (0.05, 0.6)
    beta: tuple[float, float] = (0.3, 0.9)
    nu: tuple[float, float] = (0.05, 0.9)
    rho: tuple[float, float] = (-0.75, 0.75)

    _alpha = field_validator("alpha")(_range(1e-4, 5.0))
    _beta = field_validator("beta")(_range(0.0, 1.0))
    _nu = field_validator("nu")(_range(0.0, 5.0))
    _rho = field_validator("rho")(_range(-0.99, 0.99))


class DataGenConfig(StrictSection):
    """How the LF/HF data set is generated (docs/DESIGN.md section 1)."""

    n_parameter_sets: int = Field(1000, ge=8, le=1_000_000)
    mc_paths: int = Field(100_000, ge=MIN_MC_PATHS, le=100_000_000)
    steps_per_year: float | None = Field(None, gt=0, le=10_000)
    parameter_box: ParameterBoxConfig = ParameterBoxConfig()
    fwd: float = Field(1.0, gt=0)
    n_strikes: int = Field(21, ge=3, le=201)
    n_maturities: int = Field(10, ge=1, le=100)
    maturity_range: tuple[float, float] = (1.0, 10.0)
    test_fraction: float = Field(0.15, gt=0, lt=1)
    master_seed: int = Field(42, ge=0, lt=2 ** 32)
    chunk_size: int = Field(25, ge=1, le=100_000)
    hf_budget: int | None = Field(None, ge=1)   # the seed's single-budget field; a run overrides it

    _maturity = field_validator("maturity_range")(_range(1e-3, 100.0))

    @field_validator("mc_paths")
    @classmethod
    def _even_paths(cls, v: int) -> int:
        if v % 2:
            raise ValueError("allowed an even number (antithetic pairs)")
        return v

    @property
    def n_test(self) -> int:
        return n_test_thetas(self.n_parameter_sets, self.test_fraction)

    @property
    def n_train_pool(self) -> int:
        return self.n_parameter_sets - self.n_test

    @property
    def points_per_surface(self) -> int:
        return self.n_strikes * self.n_maturities


class TrainingConfig(StrictSection):
    """How one cell is trained."""

    epochs: int = Field(200, ge=1, le=100_000)
    batch_size: int = Field(64, ge=1, le=65_536)
    learning_rate: float = Field(3e-4, gt=0, le=1.0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    early_stopping_patience: int = Field(20, ge=1)
    tuning_epochs: int = Field(30, ge=1, le=100_000)
    # Floors in optimizer steps (batches), so a small budget is not cut short (issue 38):
    # at b=50 an epoch is one or two steps, and 200 epochs with a patience of 20 gave it
    # 200-400 steps against b=1000's 1400-5000. The epoch cap and the patience rise to
    # reach them (sabr.learning.training.step_floors); large budgets are unchanged.
    min_steps: int = Field(2000, ge=0, le=10_000_000)
    min_patience_steps: int = Field(200, ge=0, le=10_000_000)
    min_tuning_steps: int = Field(300, ge=0, le=10_000_000)
    # Large cells (issue 40, item 2; sabr.learning.step_budget.effective_training): where an
    # epoch at the tuned batch would exceed max_steps_per_epoch steps, the batch grows to
    # ceil(n_train / max_steps_per_epoch) (at most max_batch_size) and Adam's learning rate
    # by the square root of the batch ratio (Malladi et al. 2022); every fit then takes at
    # most max_steps optimizer steps (the epoch cap falls; it outranks the floors). 0: no
    # cap / no batch scaling. The seed design's cells (<= 800 training points) are unchanged.
    max_steps: int = Field(10_000, ge=0, le=100_000_000)
    max_steps_per_epoch: int = Field(100, ge=0, le=10_000_000)
    max_batch_size: int = Field(1024, ge=1, le=65_536)
    tf_intra_op_threads: int = Field(1, ge=0, le=256)
    tf_inter_op_threads: int = Field(1, ge=0, le=256)
    # Warm starts (issue 41, item 1; docs/METHODS.md, "Warm starts"): 'previous_budget'
    # starts a cell from the weights of the same model and seed at the next smaller budget
    # of its allocation (sabr.plan.warm_sources), shrunk and perturbed as in Ash & Adams
    # (2020): w0 = warm_shrink * w_source + warm_perturb * w_fresh_init
    # (sabr.learning.warm.shrink_perturb). 1 and 0: the source's weights as they are.
    warm_start: Literal["none", "previous_budget"] = "none"
    warm_shrink: float = Field(1.0, gt=0, le=1)
    warm_perturb: float = Field(0.0, ge=0, le=1)

    @field_validator("max_steps")
    @classmethod
    def _cap_above_floors(cls, v: int, info) -> int:
        floor = max(info.data.get("min_steps", 0), info.data.get("min_tuning_steps", 0))
        if 0 < v < floor:
            raise ValueError(f"allowed 0 (no cap) or an integer in [{floor}, 100000000] "
                             f"(at least min_steps and min_tuning_steps)")
        return v

    @field_validator("warm_shrink", "warm_perturb")
    @classmethod
    def _only_when_warm(cls, v: float, info) -> float:
        plain = 1.0 if info.field_name == "warm_shrink" else 0.0
        if v != plain and info.data.get("warm_start", "none") == "none":
            raise ValueError(f"allowed {plain:g} while warm_start is 'none' (it would not be "
                             f"applied); set warm_start: previous_budget to shrink and perturb")
        return v


WARM_FIELDS = ("warm_start", "warm_shrink", "warm_perturb")
"""TrainingConfig's warm-start fields (sabr.learning.warm): read by a cell's training only."""


class ModelConfig(StrictSection):
    """Architecture defaults (tuning may override the fields it searches)."""

    patch_size: tuple[int, int] = (9, 9)
    cnn_filters: tuple[int, ...] = (32, 64, 128)
    mlp_hidden_dims: tuple[int, ...] = (64, 64)
    residual_mlp_hidden_dims: tuple[int, ...] = (32, 32, 32, 32, 32)
    dropout_rate: float = Field(0.2, ge=0, lt=1)

    @field_validator("patch_size")
    @classmethod
    def _odd_patch(cls, v: tuple[int, int]) -> tuple[int, int]:
        if any(p < 1 or p % 2 == 0 for p in v):
            raise ValueError("allowed odd sizes >= 1, e.g. [9, 9]")
        return v

    @field_validator("cnn_filters", "mlp_hidden_dims", "residual_mlp_hidden_dims")
    @classmethod
    def _widths(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(w < 1 or w > 4096 for w in v):
            raise ValueError("allowed a non-empty list of widths in [1, 4096]")
        return v


class WithSections(StrictSection):
    """A model holding sections (``model_config`` among them) and ``plugins``: the plugins
    are imported before the rest is validated (sabr.plugins), so their names are allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              populate_by_name=True, protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _load_plugins(cls, data):
        if isinstance(data, dict):
            load_plugins(data.get("plugins"))
        return data

    @property
    def models(self) -> ModelConfig:
        """The ``model_config`` section (pydantic reserves the attribute name)."""
        return self.model_config_


class CellSettings(WithSections):
    """What training one cell reads of the configuration: ``training_config`` and
    ``model_config`` (the train stage's configuration input and key), and the ``plugins``
    that register model types or strategies, imported when this is parsed (in a task's
    process: sabr.plugins)."""

    training_config: TrainingConfig = TrainingConfig()
    model_config_: ModelConfig = Field(ModelConfig(), alias="model_config")
    plugins: tuple[str, ...] = ()

    @classmethod
    def of(cls, cfg) -> "CellSettings":
        """This view of an ExperimentConfig (or of a wider view)."""
        return cls.model_validate({name: cfg.models if name == "model_config_" else getattr(cfg, name)
                                   for name in cls.model_fields})


class TuningSettings(CellSettings):
    """What tuning one (budget, model) reads: :class:`CellSettings` plus the search space,
    the method and the number of trials."""

    hyperparameter_space: HyperparameterSpace = HyperparameterSpace()
    tuning_method: TuningMethod = "random"
    n_hyperparameter_trials: int = Field(15, ge=1, le=10_000)

    @classmethod
    def of(cls, cfg) -> "TuningSettings":
        """This view of an ExperimentConfig, its training section's warm-start fields at
        their defaults: a tuning trains cold whatever they say, so turning warm starts on
        or off retrains cells but never retunes."""
        view = super().of(cfg)
        cold = {k: TrainingConfig.model_fields[k].default for k in WARM_FIELDS}
        return view.model_copy(update={"training_config": view.training_config.model_copy(
            update=cold)})

