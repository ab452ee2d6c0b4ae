"""The plan of a run, made once from the validated configuration (docs/DESIGN.md section 3).

:func:`make_plan` derives everything a run does: its cells (each a sabr.cells.Cell with
its folder from the output folder's ledger, its task run name, its Dask priority and the
tuning it takes its hyperparameters from), its tunings, and the adaptive rounds chained
per (model, seed) with their acquisitions. The flow submits what the plan says and holds
no policy of its own. No Prefect, no Dask: a plan is plain values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .budget_labels import (adaptive_start, allocation_name, budget_name, is_adaptive,
                            is_cell_label, parse_cell_label, parse_cpu_budget, parse_hf_budget)
from .cells import Cell, CellLedger
from .config import DEFAULT_ENSEMBLE_SIZE, ExperimentConfig
from .model_types import MODEL_TYPES

__all__ = ["Plan", "PlannedCell", "Tuning", "Acquisition", "make_plan", "planned_cells",
           "planned_cost_cells", "study_models", "ensemble_members", "cell_members", "adaptive_rounds",
           "longest_first", "tuning_of", "tuning_for", "tuning_sources", "tuning_reuse_line", "DEFAULT_ENSEMBLE_SIZE", "TUNE_PRIORITY",
           "TRAIN_PRIORITY", "warm_sources", "submission_order", "warm_start_line"]

TUNE_PRIORITY, TRAIN_PRIORITY = 2_000_000, 1_000_000
"""Dask priorities: a worker runs the tunings queued on it before its trainings (a tuning
gates its cells), each longest first, so a run ends on short cells and no core idles long
at the end; an adaptive round's tasks come before both (a round gates the next)."""


def planned_cells(cfg: ExperimentConfig) -> list[tuple[int, str, int]]:
    """Every (budget, model, seed) of the seed's grid, budgets, then models, then seeds."""
    return [(b, m, s) for b in cfg.hf_budgets for m in cfg.model_types
            for s in range(cfg.n_random_seeds)]


def planned_cost_cells(cfg: ExperimentConfig) -> list[tuple[str, str, int]]:
    """Every (CPU-budget label, model, seed) of the allocation study, label
    '<allocation>@<budget>' ('surfaces@120s'): by budget as given, then allocation, model
    and seed."""
    return [(f"{a}@{c}", m, s) for c in cfg.hf_cpu_budgets for a in cfg.allocations
            for m in study_models(cfg) for s in range(cfg.n_random_seeds)]


def ensemble_members(cfg: ExperimentConfig) -> int:
    """Every cell's ensemble size M (ExperimentConfig.ensemble_size): unset means
    :data:`DEFAULT_ENSEMBLE_SIZE` in a run with an adaptive allocation, else 1."""
    if cfg.ensemble_size is not None:
        return int(cfg.ensemble_size)
    return DEFAULT_ENSEMBLE_SIZE if any(is_adaptive(a) for a in cfg.allocations) else 1


def cell_members(cfg: ExperimentConfig, budget) -> int:
    """The ensemble size of a cell of ``budget`` (a point count or a CPU-budget label):
    :func:`ensemble_members`, or 1 for a cell outside the adaptive allocations when
    ``ensemble_cells`` is 'adaptive'."""
    if cfg.ensemble_cells == "adaptive" and not (
            is_cell_label(budget) and is_adaptive(parse_cell_label(budget)[0])):
        return 1
    return ensemble_members(cfg)


def adaptive_rounds(cfg: ExperimentConfig, allocation: str | None = None) -> list[str]:
    """The CPU-budget labels of an adaptive allocation's rounds, smallest first ([] if the
    run has none); ``allocation`` None: every adaptive allocation's, one after the other
    ('adaptive@2%', ..., 'adaptive/spread@2%', ...)."""
    names = [a for a in cfg.allocations if is_adaptive(a)
             and (allocation is None or a == allocation_name(allocation))]
    budgets = sorted(cfg.hf_cpu_budgets, key=lambda c: parse_cpu_budget(c)[0])
    return [f"{a}@{c}" for a in names for c in budgets]


def study_models(cfg: ExperimentConfig) -> list[str]:
    """The allocation study's models: those of model_types in cost_model_types (all when
    it is None); when none is, the first of model_types."""
    models = [m for m in cfg.model_types if m in (cfg.cost_model_types or cfg.model_types)]
    return models or list(cfg.model_types[:1])


def warm_sources(cfg: ExperimentConfig) -> dict[tuple, tuple]:
    """With training_config.warm_start 'previous_budget' (sabr.learning.warm), where each
    cell starts from: {(budget, model, seed): (smaller budget, model, seed)}, the next
    smaller budget of the same allocation; {} with 'none'.

    Point budgets: the next smaller of ``hf_budgets`` (a budget's points are the first of
    the seed's order, so the smaller budget's train and validation points are among the
    larger's: sabr.data.budgets). CPU budgets: per allocation other than the adaptive ones
    (their rounds have their own warm start, adaptive_warm_start), the next smaller of
    ``hf_cpu_budgets`` in the same unit (seconds, percentages and path-steps are chains of
    their own); every strategy's splits are nested across budgets (sabr.data.allocations).
    The smallest budget of each chain trains cold."""
    if cfg.training_config.warm_start != "previous_budget":
        return {}
    chains = [(sorted(set(cfg.hf_budgets)), cfg.model_types)]
    units: dict[str, list] = {}
    for c in cfg.hf_cpu_budgets:
        units.setdefault(parse_hf_budget(c)[1], []).append(c)
    for a in cfg.allocations:
        if is_adaptive(a):
            continue
        for budgets in units.values():
            ordered = sorted(budgets, key=lambda c: parse_hf_budget(c)[0])
            chains.append(([f"{a}@{c}" for c in ordered], study_models(cfg)))
    return {(b, m, s): (before, m, s) for budgets, models in chains
            for before, b in zip(budgets, budgets[1:])
            for m in models for s in range(cfg.n_random_seeds)}


def submission_order(cells) -> list:
    """PlannedCells in their order, each moved after the cell it warm-starts from (an
    adaptive round's previous round, a warm cell's smaller budget): the flow submits a
    task after the tasks whose results it takes."""
    by_cell = {p.cell: p for p in cells}
    seen, out = set(), []

    def visit(p):
        if p.cell in seen:
            return
        seen.add(p.cell)
        if p.warm_from in by_cell:
            visit(by_cell[p.warm_from])
        out.append(p)

    for p in cells:
        visit(p)
    return out


def longest_first(cells):
    """(budget, model[, seed]) tuples ordered by expected cost: largest budget, then the
    slower model, then seed. CPU-budget cells ('surfaces@5%', 'spread@120s') come after
    the point budgets, percentages before seconds, each largest first."""
    rank = {m: t.cost_rank for m, t in MODEL_TYPES.items()}   # measured cost per cell
    return sorted(cells, key=lambda c: (*_budget_rank(c[0]), rank.get(c[1], len(rank)),
                                        *c[2:]))


def _budget_rank(budget) -> tuple:
    if is_cell_label(budget):
        allocation, value = parse_cell_label(budget)
        amount, fraction = parse_cpu_budget(value)
        return (1 if fraction else 2, -amount, allocation)
    return (0, -int(budget), "")


def tuning_of(budget, reference: int | None = None, cpu_reference: str | None = None):
    """Which tuning a cell's hyperparameters come from: its own (budget, model)'s, except

    * that an adaptive round takes the tuning of the allocation it starts from at its
      budget (``surfaces``' for ``adaptive``, ``spread``'s for ``adaptive/spread``): its
      points are chosen by models trained on the earlier rounds, so no replicate of them
      exists to tune on before the run, and its first round's points are that allocation's;
    * with a tuning reference (ExperimentConfig.tuning_reference_budget, ``reference``, and
      tuning_reference_cpu_budget, ``cpu_reference``), that a point budget's cell takes the
      reference budget's tuning, and a CPU-budget cell its allocation's at the reference CPU
      budget; the adaptive rule applies first (adaptive@X takes surfaces@<cpu_reference>).
    """
    if is_cell_label(budget):
        allocation, value = parse_cell_label(budget)
        if is_adaptive(allocation):
            allocation = adaptive_start(budget)
        return f"{allocation}@{cpu_reference if cpu_reference is not None else value}"
    return reference if reference is not None else budget


def tuning_for(cfg: ExperimentConfig, budget):
    """:func:`tuning_of` with ``cfg``'s tuning references."""
    return tuning_of(budget, cfg.tuning_reference_budget, cfg.tuning_reference_cpu_budget)


@dataclass(frozen=True)
class Tuning:
    """One tuning of (budget, model): its folder of Optuna journals (relative to the output
    folder), task run name and priority."""

    budget: int | str
    model_type: str
    folder: str
    run_name: str
    priority: int


@dataclass(frozen=True)
class Acquisition:
    """Round ``round`` of an adaptive allocation for (model, seed): which data it buys."""

    label: str
    model_type: str
    seed: int
    round: int
    folder: str
    run_name: str


@dataclass(frozen=True)
class PlannedCell:
    """A cell as the run trains it. ``tuning``: the (budget, model) whose hyperparameters it
    takes. An adaptive round also has its ``acquisition``, ``previous`` (the round before,
    whose acquisition and scores it follows), ``warm_from`` (the cell whose members it
    continues) and ``score_pool`` (it scores the pool for the next round). Any other cell
    has a ``warm_from`` with training_config.warm_start 'previous_budget' (its next smaller
    budget's cell, :func:`warm_sources`; None for the smallest)."""

    cell: Cell
    folder: str
    run_name: str
    priority: int
    tuning: tuple
    acquisition: Acquisition | None = None
    previous: Cell | None = None
    warm_from: Cell | None = None
    score_pool: bool = False

    @property
    def id(self) -> tuple:
        """(budget, model, seed): how the report and the progress lines name it."""
        return (self.cell.budget, self.cell.model_type, self.cell.seed)


@dataclass(frozen=True)
class Plan:
    """What a run does, in the order it is submitted: ``tunings``, the ``cells`` that need
    nothing but their tuning, then ``rounds`` (adaptive cells, each after its acquisition).
    ``report_cells``: the (budget, model, seed) of every cell, the seed's grid and the
    allocation study's, as the report's one table lists them."""

    tunings: tuple[Tuning, ...]
    cells: tuple[PlannedCell, ...]
    rounds: tuple[PlannedCell, ...]
    report_cells: list = field(default_factory=list)
    members: int = 1
    round_labels: tuple[str, ...] = ()
    rounds_per_seed: int = 0

    def all_cells(self) -> tuple[PlannedCell, ...]:
        return self.cells + self.rounds


def _tuning_folder(model_type: str, budget) -> str:
    """'tuning/mda_cnn_b200' (the seed's cells), 'tuning/mda_cnn_paths-4@5%'."""
    name = budget_name(budget)
    return f"tuning/{model_type}_{name.replace('=', '').replace('/', '-')}"


def make_plan(cfg: ExperimentConfig, ledger: CellLedger) -> Plan:
    """The plan of ``cfg``'s run; each cell's folder from ``ledger`` (new cells are given
    theirs, numbered in the grid's order: the caller saves the ledger)."""
    members = ensemble_members(cfg)
    point, cost = planned_cells(cfg), planned_cost_cells(cfg)
    cells = {c: Cell(c[1], c[0], c[2], cell_members(cfg, c[0])) for c in [*point, *cost]}
    folder = {c: ledger.folder(cell) for c, cell in cells.items()}   # the grid's order
    needed = dict.fromkeys((tuning_for(cfg, b), m) for b, m, _ in [*point, *cost])
    # the tuning that gates the most member fits first (a shared tuning, e.g. surfaces' that
    # adaptive's rounds take too, gates many), then the longest first
    gated: dict = {}
    for c, cell in cells.items():
        key = (tuning_for(cfg, c[0]), c[1])
        gated[key] = gated.get(key, 0) + cell.members
    order = sorted(longest_first(list(needed)), key=lambda t: -gated.get(t, 0))
    tunings = tuple(
        Tuning(b, m, _tuning_folder(m, b), f"tune {m} {budget_name(b)}", TUNE_PRIORITY - rank)
        for rank, (b, m) in enumerate(order))
    labels = adaptive_rounds(cfg)
    independent = [c for c in [*point, *cost] if c[0] not in labels]
    sources = {c: w for c, w in warm_sources(cfg).items() if c in cells and w in cells}
    priority = {c: TRAIN_PRIORITY - rank for rank, c in enumerate(longest_first(independent))}
    for _ in range(len(sources)):   # a warm source before the cells that wait for it
        changed = False
        for c, w in sources.items():
            if priority[w] <= priority[c]:
                priority[w], changed = priority[c] + 1, True
        if not changed:
            break
    planned = tuple(
        PlannedCell(cells[c], folder[c], f"train {c[1]} {budget_name(c[0])} s={c[2]}",
                    priority[c], (tuning_for(cfg, c[0]), c[1]),
                    warm_from=cells[sources[c]] if c in sources else None)
        for c in longest_first(independent))
    rounds = []
    for allocation in dict.fromkeys(label.partition("@")[0] for label in labels):
        chain = adaptive_rounds(cfg, allocation)
        what = "points" if adaptive_start(allocation) == "spread" else "surfaces"
        for m in study_models(cfg):
            for s in range(cfg.n_random_seeds):
                for r, label in enumerate(chain, start=1):
                    before = cells[(chain[r - 2], m, s)] if r > 1 else None
                    acq = Acquisition(label, m, s, r,
                                      f"{allocation.replace('/', '-')}/{m}_s{s}",
                                      f"acquire {what} r={r} s={s} ({m})")
                    rounds.append(PlannedCell(
                        cells[(label, m, s)], folder[(label, m, s)],
                        f"train {m} ensemble r={r} s={s} ({label})", TRAIN_PRIORITY + 1,
                        (tuning_for(cfg, label), m), acquisition=acq, previous=before,
                        warm_from=before if cfg.adaptive_warm_start else None,
                        score_pool=r < len(chain)))
    return Plan(tunings, planned, tuple(rounds), [*point, *cost], members, tuple(labels),
                len(labels) * len(study_models(cfg)))


def tuning_sources(plan: Plan) -> dict[str, str]:
    """Which tuning each budget of ``plan`` trains with, by name: {'b=50': 'b=200',
    'surfaces@6%': 'surfaces@10%', ...}, every budget of its cells (its own name where it
    takes its own tuning); the report says so (sabr.analysis.markdown.tuning_note)."""
    cells = sorted(plan.all_cells(), key=lambda p: (is_cell_label(p.cell.budget),
                                                    0 if is_cell_label(p.cell.budget)
                                                    else int(p.cell.budget)))
    return {budget_name(p.cell.budget): budget_name(p.tuning[0]) for p in cells}


def tuning_reuse_line(cfg: ExperimentConfig) -> str | None:
    """The plan's line on tunings reused across budgets (None: a tuning per budget)."""
    parts = []
    if cfg.tuning_reference_budget is not None:
        parts.append(f"each model once at b={cfg.tuning_reference_budget}, reused at every "
                     f"point budget (tuning_reference_budget)")
    if cfg.tuning_reference_cpu_budget is not None and cfg.hf_cpu_budgets:
        parts.append(f"each (allocation, model) once at {cfg.tuning_reference_cpu_budget}, "
                     f"reused at every CPU budget (tuning_reference_cpu_budget)")
    return "  tuning: " + "; ".join(parts) if parts else None


def warm_start_line(cfg: ExperimentConfig) -> str | None:
    """The plan's line on warm starts (None: training_config.warm_start 'none')."""
    tc = cfg.training_config
    if tc.warm_start == "none":
        return None
    n = len(warm_sources(cfg))
    rule = ("weights as they are" if tc.warm_shrink == 1 and tc.warm_perturb == 0 else
            f"shrink {tc.warm_shrink:g}, perturb {tc.warm_perturb:g}")
    return (f"  warm starts: {n} cells start from the same model and seed at the next smaller "
            f"budget ({rule}; training_config.warm_start), each after it")
