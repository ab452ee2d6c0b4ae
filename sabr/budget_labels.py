"""How budgets are named and read, shared by the configuration, the flow and the data layer.

The allocation strategies' names (their functions: sabr.data.allocations.ALLOCATIONS,
which asserts it has exactly these), HF cost budgets as the configuration gives them
(Monte Carlo CPU-seconds, a percentage of the train pool's Monte Carlo CPU-seconds, or
Monte Carlo path-steps, the unit that is the same on every machine; docs/DESIGN.md, "What
HF data costs") and the labels cells carry ('surfaces@120s', 'surfaces@2.5Gps'). Imports
nothing of the layers.
"""
from __future__ import annotations

import math

__all__ = ["ALLOCATION_NAMES", "POINT_BUDGETS", "PATH_DIVISORS", "DEFAULT_PATH_DIVISOR",
           "MIN_PREFIX_PATHS", "ADAPTIVE_STARTS", "is_adaptive", "adaptive_start",
           "allocation_name", "parse_allocation", "parse_cpu_budget", "cpu_budget_label",
           "parse_hf_budget", "budget_unit", "BUDGET_UNITS", "PATH_STEP_PREFIXES",
           "CPU_BUDGET_FORMS",
           "cell_label", "parse_cell_label", "budget_name", "cell_name", "is_cell_label"]

ALLOCATION_NAMES: list[str] = ["spread", "surfaces", "random", "paths", "adaptive"]
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
    """'surfaces' -> ('surfaces', None) (and so 'spread', 'random'); 'paths/8' -> ('paths', 8);
    'paths' -> ('paths', 4);
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


BUDGET_UNITS = ("cpu_seconds", "fraction", "path_steps")
"""What an HF cost budget counts (:func:`parse_hf_budget`): Monte Carlo CPU-seconds, a
fraction of the train pool's Monte Carlo CPU-seconds, or Monte Carlo path-steps."""
PATH_STEP_PREFIXES = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12}
"""The multipliers a path-step budget may carry before its 'ps' ('2.5Gps' = 2.5e9 path-steps)."""
CPU_BUDGET_FORMS = ("CPU-seconds > 0 (120 or '120s'), a percentage of the pool's Monte Carlo "
                    "CPU-seconds in (0, 100] ('5%'), or Monte Carlo path-steps >= 1 (paths x "
                    "time steps, the same on every machine: '2.5e9ps', or with a k/M/G/T "
                    "prefix '2.5Gps')")
"""The forms an HF cost budget may take, as errors and the option's help name them."""


def parse_hf_budget(value) -> tuple[float, str]:
    """An HF cost budget as the configuration gives it: CPU-seconds (a number > 0, or
    '120s'), a percentage of the train pool's Monte Carlo CPU-seconds ('5%', in (0, 100]),
    or Monte Carlo path-steps ('2.5e9ps', '2500Mps', '2.5Gps': a number, an optional
    prefix of PATH_STEP_PREFIXES, then 'ps'; rounded to a whole number >= 1). Returns
    (amount, unit), unit one of BUDGET_UNITS: seconds, a fraction in (0, 1], or a count
    of path-steps; ValueError (one line) otherwise."""
    allowed = f"allowed {CPU_BUDGET_FORMS}"
    text = str(value).strip()
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is invalid: {allowed}")
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return pct / 100.0, "fraction"
        if text.endswith("ps"):
            body = text[:-2]
            scale = PATH_STEP_PREFIXES.get(body[-1:], 1) if body[-1:].isalpha() else 1
            number = float(body[:-1] if body[-1:].isalpha() else body)
            if body[-1:].isalpha() and body[-1:] not in PATH_STEP_PREFIXES:
                raise ValueError
            steps = round(number * scale) if math.isfinite(number) else 0
            if steps < 1:
                raise ValueError
            return float(steps), "path_steps"
        seconds = float(text[:-1] if text.endswith("s") else text)
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is invalid: {allowed}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{value!r} is invalid: {allowed}")
    return seconds, "cpu_seconds"


def parse_cpu_budget(value) -> tuple[float, bool]:
    """An HF cost budget (:func:`parse_hf_budget`) as (amount, is_fraction): a fraction in
    (0, 1] of the pool's CPU-seconds, else an amount in the budget's own unit (seconds, or
    path-steps for '...ps': :func:`budget_unit` tells them apart)."""
    amount, unit = parse_hf_budget(value)
    return amount, unit == "fraction"


def budget_unit(value) -> str:
    """What an HF cost budget (or a cell label 'surfaces@2.5Gps') counts: one of BUDGET_UNITS."""
    text = str(value)
    return parse_hf_budget(text.partition("@")[2] if "@" in text else text)[1]


def cpu_budget_label(value) -> str:
    """'120s', '5%' or '2.5Gps': how an HF cost budget is named in task names, folders and
    tables (path-steps with the largest prefix of PATH_STEP_PREFIXES that leaves at least
    1, to 15 significant digits: the label reads back as the same count)."""
    amount, unit = parse_hf_budget(value)
    if unit == "path_steps":
        prefix = max((p for p, f in PATH_STEP_PREFIXES.items() if amount >= f),
                     key=PATH_STEP_PREFIXES.get)
        return f"{format(amount / PATH_STEP_PREFIXES[prefix], '.15g')}{prefix}ps"
    return f"{amount * 100:g}%" if unit == "fraction" else f"{amount:g}s"


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
                         f"'<allocation>@<CPU budget>' such as 'surfaces@120s' or "
                         f"'surfaces@2.5Gps'")
    return allocation_name(allocation), cell_label(allocation, value).partition("@")[2]
