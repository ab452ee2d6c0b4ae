"""How a run shows its progress: the ``hf-budget-progress`` artifact in the UI, one log
line per finished cell (``cell k/N ... ETA``, terminal and UI; sabr.analysis.timings.CellEta), and a progress bar under
the log lines when stderr is a terminal (tqdm; log lines are written above it)."""
from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from sabr.analysis.timings import CellEta, progress_line

__all__ = ["CellProgress"]


class CellProgress:
    """Context manager; :meth:`cell_done` once per finished cell, in finishing order."""

    def __init__(self, total: int, logger, bar: bool | None = None):
        self.total, self.done, self.log = total, 0, logger
        self.bar_wanted = sys.stderr.isatty() if bar is None else bar
        self.bar = None
        self._stack = ExitStack()

    def __enter__(self) -> CellProgress:
        self.started, self.eta = time.time(), CellEta(self.total)
        self.artifact = create_progress_artifact(progress=0.0, key="hf-budget-progress",
                                                 description="trained cells (%)")
        if self.bar_wanted:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
            self.bar = self._stack.enter_context(tqdm(
                total=self.total, unit="cell", desc="hf-budget", file=sys.stderr,
                dynamic_ncols=True, bar_format="{desc}: {n}/{total} cells |{bar}| "
                                               "{elapsed} elapsed, ETA {remaining}"))
            self._stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger()]))
        return self

    def cell_done(self, cell: tuple, state: str, result: dict | None) -> None:
        self.done += 1
        update_progress_artifact(self.artifact, progress=100.0 * self.done / self.total)
        now = time.time()
        self.log.info(progress_line(self.done, self.total, cell, state, result,
                                    now - self.started, self.eta.cell_done(state, result, now)))
        if self.bar is not None:
            self.bar.update(1)

    def __exit__(self, *exc) -> None:
        self._stack.close()
