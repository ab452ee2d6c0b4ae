"""One run per output folder: an advisory ``flock`` on ``<output_dir>/.hf-budget.lock``.

The kernel drops the lock when its holder exits, however it exits (``kill -9``
included), so a crashed run never leaves a stale lock behind. The lock file also
records who holds it (pid, host, start time), for the message a second run gets.
A run takes it once (the flow, or ``hf-budget analyze``); ``check_free`` lets the
command line refuse a busy folder before it starts anything, without holding it.

``flock`` is local to one machine; on a network file system shared by several
hosts it may not exclude a run on another host.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError

__all__ = ["LOCK_FILE", "OutputBusy", "output_lock", "check_free"]

LOCK_FILE = ".hf-budget.lock"


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
        OutputBusy: another holder has it (raised at once, never waits), a second
            ``output_lock`` of the same folder in this process included.
    """
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(f"output_dir={str(out)!r} is in use by another run ({_holder(path)}): "
                             f"allowed one run per output folder at a time; wait for it to "
                             f"finish or choose another output folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": time.time()}).encode(), 0)
        try:
            yield out
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def check_free(output_dir: str | Path) -> None:
    """OutputBusy if another run holds the folder's lock now (a probe: nothing is held after)."""
    if (Path(output_dir) / LOCK_FILE).is_file():
        with output_lock(output_dir):
            pass
