"""A worker's TensorFlow process (tasks/isolation.py): it is replaced once it has grown, so
the memory it held goes back; errors come back as they were raised; it dies with its worker."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tasks.isolation import rss_mib, run_in_child

ROOT = Path(__file__).resolve().parents[2]
_held: list[bytearray] = []


def hold(mib: int) -> int:
    """Keep ``mib`` MiB alive in this process (as a leaking library would); its pid."""
    block = bytearray(mib * 2 ** 20)
    block[::4096] = b"x" * len(block[::4096])          # touch every page: resident
    _held.append(block)
    return os.getpid()


def fail() -> None:
    raise ValueError("learning_rate=inf is invalid: allowed (0, 1]")


def test_the_process_is_replaced_after_a_task_that_leaves_it_above_the_limit():
    before = rss_mib()
    first, stats = run_in_child(hold, 50, recycle_mib=10_000)
    again, stats2 = run_in_child(hold, 50, recycle_mib=10_000)
    assert first == again != os.getpid()            # one child, kept while small
    assert stats["new_child"] and not stats2["new_child"]   # the run's timings count starts
    assert stats["overhead_s"] > stats2["overhead_s"] >= 0  # a start costs (TensorFlow's import)
    assert stats2["rss_mib"] >= stats["rss_mib"] + 45 and stats2["pid"] == first
    grown, stats3 = run_in_child(hold, 50, recycle_mib=stats2["rss_mib"] + 10)
    assert grown == first and stats3["rss_mib"] > stats2["rss_mib"] + 10   # over: replaced
    assert stats3["shutdown_s"] > stats2["shutdown_s"]     # its replacement is timed too
    fresh, stats4 = run_in_child(hold, 1, recycle_mib=10_000)
    assert fresh != first and stats4["new_child"]
    assert stats4["rss_mib"] < stats3["rss_mib"] - 100     # the 150 MiB held went with it
    assert rss_mib() < before + 20                          # none of it was ever here
    assert stats4["cpu_s"] >= 0 and stats4["peak_rss_mib"] >= stats4["rss_mib"] - 1
    room, _ = run_in_child(hold, 1, recycle_mib=stats4["rss_mib"] + 100, room_mib=50)
    assert room == fresh                                 # room enough: the same process
    tuned, _ = run_in_child(hold, 1, recycle_mib=stats4["rss_mib"] + 100, room_mib=150)
    assert tuned != fresh                                # not enough: a fresh one first


def test_an_error_comes_back_as_raised_and_the_process_stays_usable():
    with pytest.raises(ValueError, match="learning_rate=inf is invalid"):
        run_in_child(fail, recycle_mib=10_000)
    pid, _ = run_in_child(hold, 1, recycle_mib=10_000)
    assert pid != os.getpid()


def test_the_process_exits_when_its_worker_is_killed(tmp_path):
    """A worker killed with SIGKILL (by its nanny, or a user) leaves no TensorFlow process."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(Path(__file__).parent)!r}]
        from tasks.isolation import run_in_child
        from test_isolation import hold
        if __name__ == "__main__":
            pid, _ = run_in_child(hold, 1, recycle_mib=10_000)
            print(pid, flush=True)
            time.sleep(600)
    """))
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(worker.stdout.readline())
    assert _alive(child)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    deadline = time.time() + 5
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the TensorFlow process outlived its worker by 5 s"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
