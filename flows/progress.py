"""How a run shows its progress: the ``hf-budget-progress`` artifact in the UI (trained
cells), one ``hf-budget-adaptive-s<seed>`` artifact per seed of an ``adaptive`` run (its
rounds trained), one log line per finished data chunk, tuning, acquisition and cell
(``data k/N ... ETA``, ``tuning k/N ...``, ``acquire k/N ...``, ``cell k/N ... ETA``;
terminal and UI; sabr.analysis.timings), and a progress bar over all of them under the
log lines when stderr is a terminal (tqdm)."""
from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from sabr.analysis.timings import CellEta, acquire_line, data_line, progress_line, tuning_line

__all__ = ["RunProgress"]


class RunProgress:
    """Context manager; :meth:`done` once per finished task, in finishing order."""

    def __init__(self, n_chunks: int, n_tunings: int, n_cells: int, logger,
                 bar: bool | None = None, n_acquisitions: int = 0, rounds=(),
                 rounds_per_seed: int = 0):
        self.n = {"data": n_chunks, "tuning": n_tunings, "cell": n_cells,
                  "acquire": n_acquisitions}
        self.rounds, self.rounds_per_seed = list(rounds), rounds_per_seed
        self.k = dict.fromkeys(self.n, 0)
        self.log = logger
        self.bar_wanted = sys.stderr.isatty() if bar is None else bar
        self.bar = None
        self._stack = ExitStack()

    def __enter__(self) -> RunProgress:
        self.started = time.time()
        self.eta = {"data": CellEta(self.n["data"]), "cell": CellEta(self.n["cell"])}
        self.artifact = create_progress_artifact(progress=0.0, key="hf-budget-progress",
                                                 description="trained cells (%)")
        self.seed_artifacts, self.seed_rounds = {}, {}
        if self.bar_wanted:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
            self.bar = self._stack.enter_context(tqdm(
                total=sum(self.n.values()), unit="task", desc="hf-budget", file=sys.stderr,
                dynamic_ncols=True, bar_format="{desc}: {n}/{total} tasks |{bar}| "
                                               "{elapsed} elapsed, ETA {remaining}"))
            self._stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger()]))
        return self

    def done(self, kind: str, what: tuple, state: str, result: dict | None) -> None:
        """A task finished: ``kind`` data (what = (first, last)), tuning ((budget, model))
        or cell ((budget, model, seed)); ``result`` its return value if it completed."""
        self.k[kind] += 1
        k, n, now = self.k[kind], self.n[kind], time.time()
        if kind == "data":
            line = data_line(k, n, *what, state, now - self.started,
                             self.eta["data"].cell_done(state, result, now))
        elif kind == "tuning":
            line = tuning_line(k, n, *what, state, result)
        elif kind == "acquire":
            line = acquire_line(k, n, *what, state, result)
        else:
            update_progress_artifact(self.artifact, progress=100.0 * k / n)
            if what[0] in self.rounds:
                self._adaptive_done(what)
            line = progress_line(k, n, what, state, result, now - self.started,
                                 self.eta["cell"].cell_done(state, result, now))
        self.log.info(line)
        if self.bar is not None:
            self.bar.update(1)

    def _adaptive_done(self, cell: tuple) -> None:
        """One more ``adaptive`` round of seed ``cell[2]`` trained (of its models' rounds)."""
        seed = cell[2]
        if seed not in self.seed_artifacts:
            self.seed_artifacts[seed] = create_progress_artifact(
                progress=0.0, key=f"hf-budget-adaptive-s{seed}",
                description=f"adaptive rounds trained, seed {seed} (%)")
        self.seed_rounds[seed] = self.seed_rounds.get(seed, 0) + 1
        update_progress_artifact(self.seed_artifacts[seed], progress=min(
            100.0, 100.0 * self.seed_rounds[seed] / max(self.rounds_per_seed, 1)))

    def __exit__(self, *exc) -> None:
        self._stack.close()
