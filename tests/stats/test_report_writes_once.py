"""The report composes its sections in memory: every file it writes is written once, and
none is read back to make another (docs/DESIGN.md, the analysis layers).

Watched with CPython's audit hooks (``open`` and ``os.rename`` events, PEP 578), on a real
output folder with point and CPU-budget cells. The one reader of what the report wrote is
the archive, which copies the run's analysis into runs/<run>/."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from sabr.analysis.report import compose_report

OLD = Path(__file__).resolve().parents[1] / "data" / "old_output"

_events: list[tuple[str, str]] | None = None


def _hook(event, args):
    if _events is None:
        return
    if event == "open" and isinstance(args[0], (str, Path)):
        mode = args[1] or "r"
        _events.append(("write" if any(c in str(mode) for c in "wax+") else "read",
                        str(Path(args[0]).resolve())))
    elif event == "os.rename":
        _events.append(("rename", str(Path(args[1]).resolve())))


sys.addaudithook(_hook)


def test_each_report_file_is_written_once_and_never_read_back(tmp_path):
    global _events
    out = tmp_path / "out"
    shutil.copytree(OLD, out)
    planned = [(20, m, s) for m in ("residual_mlp", "mda_cnn") for s in (0, 1)] + [
        ("surfaces@40%", "mda_cnn", s) for s in (0, 1)]
    _events = []
    try:
        report = compose_report(out, "run1", planned=planned, previous=None)
    finally:
        events, _events = _events, None
    assert report["n_ok"] == 6 and report["cost"]["n_ok"] == 2      # both kinds of cell reported
    runs = str((out / "runs").resolve())
    # an atomic write is a temporary file renamed onto its name: the rename is the write
    written = [p for kind, p in events if kind == "rename" and not p.startswith(runs)]
    assert "analysis/summary.md" in "\n".join(written)
    assert "cost_results.csv" in "\n".join(written)
    twice = sorted({p for p in written if written.count(p) > 1})
    assert not twice, f"written more than once: {twice}"
    done: set[str] = set()
    for i, (kind, path) in enumerate(events):
        if kind == "rename":
            done.add(path)
        elif kind == "read" and path in done:
            # only the archive may read it: copying it into runs/<run>/; and the HTML report
            # a plot: embedding it in analysis/report.html (sabr.analysis.html_report)
            nxt = next((p for k, p in events[i + 1:] if k == "write"), "")
            embedded = (path.endswith(".png") and Path(nxt).parent.name == "analysis"
                        and Path(nxt).name.startswith(".report.") and nxt.endswith(".html"))
            assert embedded or (nxt.startswith(runs) and Path(nxt).name == Path(path).name), \
                f"{path} is read back after it was written"
