"""One run per output folder: an advisory ``flock`` on ``<output_dir>/.hf-budget.lock``.

The kernel drops the lock when its holder exits, however it exits (``kill -9``
included), so a crashed run never leaves a stale lock behind. The lock file also
records who holds it (pid, host, start time), for the message a second run gets.
Within one process the lock is re-entrant: the CLI takes it before the flow
starts, and the flow's own ``output_lock`` is then a no-op.

``flock`` is local to one machine; on a network file system shared by several
hosts it may not exclude a run on another host.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError

__all__ = ["LOCK_FILE", "OutputBusy", "output_lock"]

LOCK_FILE = ".hf-budget.lock"
_held: dict[str, int] = {}          # resolved path -> re-entry depth, in this process
_guard = threading.Lock()


class OutputBusy(ConfigError):
    """Another run holds the output folder's lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return (f"pid {info['pid']} on {info['host']}, started "
                f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(info['started']))}")
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextmanager
def output_lock(output_dir: str | Path):
    """Hold the output folder's lock for the ``with`` block.

    Raises:
        OutputBusy: another process holds it (raised at once, never waits).
    """
    out = Path(output_dir).resolve()
    key = str(out)
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield out
        finally:
            with _guard:
                _held[key] -= 1
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(f"output_dir={key!r} is in use by another run ({_holder(path)}): "
                             f"allowed one run per output folder at a time; wait for it to "
                             f"finish or choose another output folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": time.time()}).encode(), 0)
        with _guard:
            _held[key] = 1
        try:
            yield out
        finally:
            with _guard:
                _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
