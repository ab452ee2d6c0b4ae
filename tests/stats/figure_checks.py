"""Checks of matplotlib Figures before they are saved (issue 39: plots read without the code):
every drawn line, band, marker set and bar set named in a legend, log axes labelled with
plain numbers."""
from __future__ import annotations

import re

from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.lines import Line2D

PLAIN = re.compile(r"^\d+(\.\d+)?$")
"""A plain tick label: 50, 200, 0.5 (no 10^k mathtext, no '$', no exponent)."""


def legend_texts(fig) -> set[str]:
    """Every label shown in the figure's legends (axes legends and figure legends)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return {t.get_text() for leg in legends for t in leg.get_texts()}


def _has_data(artist) -> bool:
    if isinstance(artist, Line2D):
        return len(artist.get_xydata()) > 0
    if isinstance(artist, PathCollection):
        return len(artist.get_offsets()) > 0
    return len(artist.get_paths()) > 0


def legend_gaps(fig) -> list[str]:
    """The drawn data artists (Line2D, shaded PolyCollection, scatter PathCollection,
    LineCollection; an errorbar's parts through its container) whose label is private
    ('_child3', '_nolegend_') or not shown in any legend; [] when all are named."""
    shown, gaps = legend_texts(fig), []
    for ax in fig.axes:
        owner = {}
        for container in ax.containers:
            for part in container.get_children():
                owner[id(part)] = container.get_label()
        for artist in list(ax.lines) + list(ax.collections):
            if not isinstance(artist, (Line2D, PolyCollection, PathCollection, LineCollection)):
                continue
            if not _has_data(artist):
                continue
            label = owner.get(id(artist), artist.get_label()) or ""
            if label.startswith("_") or label not in shown:
                gaps.append(f"{type(artist).__name__} {label!r} on {ax.get_title()!r}")
    return gaps


def tick_labels(ax, which: str) -> tuple[list[str], list[str]]:
    """(major, minor) tick label texts of ax's x or y axis inside its view, as drawn."""
    if ax.figure.stale:                          # draw once: tick labels are set at draw time
        ax.figure.canvas.draw()
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    inside = lambda t: lo * (1 - 1e-9) <= t.get_loc() <= hi * (1 + 1e-9)  # noqa: E731
    major = [t.label1.get_text() for t in axis.get_major_ticks() if inside(t)]
    minor = [t.label1.get_text() for t in axis.get_minor_ticks() if inside(t)]
    return major, minor


def plain_log_axis_problems(ax, which: str, *, at_least: int = 2) -> list[str]:
    """Why ax's log axis is not labelled with at least ``at_least`` plain numbers (and no
    labelled minor ticks); [] when it is."""
    major, minor = tick_labels(ax, which)
    problems = [f"{which} label {m!r} is not a plain number" for m in major if not PLAIN.match(m)]
    if len([m for m in major if m]) < at_least:
        problems.append(f"{which}: only {major} labelled in view")
    problems += [f"{which} minor label {m!r}" for m in minor if m]
    return problems
