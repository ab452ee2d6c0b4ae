"""How budgets are named and read, shared by the configuration, the flow and the data layer.

The allocation strategies' names (their functions: sabr.data.allocations.ALLOCATIONS,
which asserts it has exactly these), CPU budgets as the configuration gives them (seconds,
or a percentage of the train pool's Monte Carlo cost; docs/DESIGN.md, "What HF data
costs") and the labels cells carry ('surfaces@120s'). Imports nothing of the layers.
"""
from __future__ import annotations

import math

__all__ = ["ALLOCATION_NAMES", "POINT_BUDGETS", "PATH_DIVISORS", "DEFAULT_PATH_DIVISOR",
           "MIN_PREFIX_PATHS", "ADAPTIVE_STARTS", "is_adaptive", "adaptive_start",
           "allocation_name", "parse_allocation", "parse_cpu_budget", "cpu_budget_label",
           "cell_label", "parse_cell_label", "budget_name", "cell_name", "is_cell_label"]

ALLOCATION_NAMES: list[str] = ["spread", "surfaces", "paths", "adaptive"]
"""The allocation strategies (sabr.data.allocations.ALLOCATIONS, which adds a strategy
registered later: sabr.data.allocations.register_allocation)."""
POINT_BUDGETS = ("spread",)
"""Strategies that also take point budgets (the seed's ``hf_budgets`` axis)."""
PATH_DIVISORS = (2, 4, 8, 16)
"""``paths/D`` labels whole surfaces from the first 1/D of each run's paths
(sabr.numerics.montecarlo.prefix_paths records n/2 ... n/16)."""
DEFAULT_PATH_DIVISOR = 4
"""What a bare ``paths`` means: ``paths/4``."""
MIN_PREFIX_PATHS = 100
"""Fewest paths of a prefix the Monte Carlo engine records (sabr.numerics.mc_result.MIN_PATHS)."""
ADAPTIVE_STARTS = ("surfaces", "spread")
"""What an ``adaptive`` allocation's first round buys and its later rounds add:
``adaptive`` (= ``adaptive/surfaces``) whole surfaces, ``adaptive/spread`` the seed's
spread points, then maturity rows of thetas (sabr.data.allocations.acquisition_points)."""


def parse_allocation(name) -> tuple[str, int | str | None]:
    """'surfaces' -> ('surfaces', None); 'paths/8' -> ('paths', 8); 'paths' -> ('paths', 4);
    'adaptive' and 'adaptive/surfaces' -> ('adaptive', None); 'adaptive/spread' ->
    ('adaptive', 'spread'). ValueError (one line) for an unknown strategy or variant."""
    text = str(name).strip()
    base, sep, variant = text.partition("/")
    allowed = (f"allowed one of {sorted(ALLOCATION_NAMES)}, paths as paths/D with D in "
               f"{list(PATH_DIVISORS)} (paths alone: paths/{DEFAULT_PATH_DIVISOR}), adaptive "
               f"as adaptive/S with S in {list(ADAPTIVE_STARTS)} (adaptive alone: "
               f"adaptive/surfaces)")
    if base not in ALLOCATION_NAMES or (sep and base not in ("paths", "adaptive")):
        raise ValueError(f"allocation={text!r} is invalid: {allowed}")
    if base == "adaptive":
        if sep and variant not in ADAPTIVE_STARTS:
            raise ValueError(f"allocation={text!r} is invalid: {allowed}")
        return base, None if variant in ("", "surfaces") else variant
    if base != "paths":
        return base, None
    if not sep:
        return base, DEFAULT_PATH_DIVISOR
    if not variant.isdigit() or int(variant) not in PATH_DIVISORS:
        raise ValueError(f"allocation={text!r} is invalid: {allowed}")
    return base, int(variant)


def is_adaptive(name) -> bool:
    """Whether an allocation (or a cell label 'adaptive/spread@5%') is an adaptive one (any
    other string, a name of no strategy included, is not)."""
    return isinstance(name, str) and name.partition("@")[0].partition("/")[0].strip() == "adaptive"


def adaptive_start(name) -> str:
    """'surfaces' or 'spread': what an adaptive allocation (or its cell label) starts from."""
    return parse_allocation(str(name).partition("@")[0])[1] or "surfaces"


def allocation_name(name) -> str:
    """The canonical name: 'paths' -> 'paths/4', 'adaptive/surfaces' -> 'adaptive'; others
    unchanged (checked)."""
    base, variant = parse_allocation(name)
    return base if variant is None else f"{base}/{variant}"


def is_cell_label(budget) -> bool:
    """Whether a cell's budget is a CPU-budget label ('surfaces@120s'), not a point count."""
    return isinstance(budget, str) and "@" in budget


def parse_cpu_budget(value) -> tuple[float, bool]:
    """A CPU budget as the configuration gives it: seconds (a number > 0, or '120s') or a
    percentage of the train pool's Monte Carlo cost ('5%', in (0, 100]). Returns (amount,
    is_fraction) with a fraction in (0, 1]; ValueError (one line) otherwise."""
    allowed = ("allowed CPU-seconds > 0 (120 or '120s') or a percentage of the pool's Monte "
               "Carlo cost in (0, 100] ('5%')")
    text = str(value).strip()
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is invalid: {allowed}")
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return pct / 100.0, True
        seconds = float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        raise ValueError(f"{value!r} is invalid: {allowed}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{value!r} is invalid: {allowed}")
    return seconds, False


def cpu_budget_label(value) -> str:
    """'120s' or '5%': how a CPU budget is named in task names, folders and tables."""
    amount, fraction = parse_cpu_budget(value)
    return f"{amount * 100:g}%" if fraction else f"{amount:g}s"


def cell_label(allocation: str, value) -> str:
    """A CPU-budget cell's budget as the flow names it: 'surfaces@120s', 'paths/4@5%'."""
    return f"{allocation_name(allocation)}@{cpu_budget_label(value)}"


def budget_name(budget) -> str:
    """How task names, log lines and folders name a cell's budget: 'b=200' for points,
    the label ('surfaces@120s') for a CPU budget."""
    return budget if is_cell_label(budget) else f"b={int(budget)}"


def cell_name(model_type: str, budget, seed) -> str:
    """How a cell is named everywhere (task runs, logs, reports, the ledger of sabr.cells):
    'mda_cnn b=200 s=1', 'mda_cnn surfaces@120s s=0'."""
    return f"{model_type} {budget_name(budget)} s={int(seed)}"


def parse_cell_label(label: str) -> tuple[str, str]:
    """'surfaces@120s' -> ('surfaces', '120s'); 'paths/8@5%' -> ('paths/8', '5%'), checked."""
    allocation, sep, value = str(label).partition("@")
    if not sep:
        raise ValueError(f"budget={label!r} is invalid: allowed a point count or "
                         f"'<allocation>@<CPU budget>' such as 'surfaces@120s'")
    return allocation_name(allocation), cell_label(allocation, value).partition("@")[2]
