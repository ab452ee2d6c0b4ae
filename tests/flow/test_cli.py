"""The hf-budget command line, each call a fresh process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent / "hf-budget"


def _run(args, tmp_path, home, timeout=900):
    env = dict(os.environ, PREFECT_HOME=str(home),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=tmp_path)


@pytest.mark.slow
def test_quick_profile_from_a_fresh_process(quick_local_run, prefect_home):
    r, out, tmp_path = quick_local_run.result, quick_local_run.out, quick_local_run.cwd
    print(f"quick run: {quick_local_run.wall_s:.0f} s")
    assert r.returncode == 0, r.stderr[-3000:]
    # the seed's 24 cells and the allocation study's 8 (surfaces, paths/4 at 5 % and 10 %)
    assert "32 of 32 cells finished" in r.stdout
    # one count everywhere: the terminal, summary.md, run_status.json
    assert "32 of 32 cells finished." in (out / "analysis" / "summary.md").read_text()
    assert json.loads((out / "run_status.json").read_text())["cells"] == 32
    # the last lines: the count, the answer (best model, exponents, largest budget, the few
    # seeds' caution, the cost study), the report's path; no list of files
    tail = r.stdout.strip().splitlines()[-7:]
    assert tail[0] == "hf-budget: 32 of 32 cells finished", tail
    assert tail[1].startswith("hf-budget: Best model per HF budget"), tail
    assert tail[2].startswith("hf-budget: How fast each model improves (MSE ~ b^-γ"), tail
    assert tail[3].startswith("hf-budget: What the largest budget buys: at b=500"), tail
    assert tail[4].startswith("hf-budget: Caution: 2 seeds: intervals uninformative"), tail
    assert re.match(r"^hf-budget: What accuracy costs: For mda_cnn, .* spread points need\)?\.$",
                    tail[5]), tail
    assert re.match(r"^hf-budget: report: \S+/analysis/report\.html \(tables in \S+\)$", tail[6])
    assert len(tail[6]) < 200 and "detailed_results.csv" not in r.stdout
    assert (out / "analysis" / "report.html").is_file()
    # a terminal a person can read: one line per finished cell, no noise, under 88 lines
    # (80 before the run's plan, 8 lines, was logged at its start)
    text = r.stdout + r.stderr
    lines = text.splitlines()
    print(f"quick run: {len(lines)} lines in the terminal")
    assert len(lines) < 88, text
    assert "plan of hf-budget-quick" in text and "cost model: " in text, text
    assert "still alive" not in text, text       # every worker closed before its nanny's 4 s
    progress = re.findall(r"cell (\d+)/32 \S+ (?:b=\d+|\S+@\S+) s=\d+: [\d.]+ bp \(Hagan [\d.]+\) "
                          r"\[Completed\] [\d:]+ elapsed, ETA (?:[\d:?]+|done)", text)
    assert sorted(map(int, progress)) == list(range(1, 33)), text
    assert len(re.findall(r"cell \d+/32 mda_cnn (?:surfaces|paths/4)@(?:6|10)% s=", text)) == 8
    data = re.findall(r"data (\d)/6: surfaces \d+-\d+ \[Completed\] ", text)
    tunings = re.findall(r"tuning (\d+)/16 \S+ (?:b=\d+|\S+@\S+): best validation RMSE [\d.]+ bp; ",
                         text)
    assert sorted(map(int, data)) == list(range(1, 7)), text
    assert sorted(map(int, tunings)) == list(range(1, 17)), text
    for noise in ("E0000", "retracing", "Traceback", " tasks |"):
        assert noise not in text, (noise, text)
    every = pd.read_csv(out / "detailed_results.csv")          # every cell, one table
    assert len(every) == 32 and set(every.status) == {"ok"}
    df = every[every.unit == "points"]
    assert len(df) == 24
    cost = pd.read_csv(out / "cost_results.csv")
    assert len(cost) == 8 and set(cost.status) == {"ok"} and set(cost.model_type) == {"mda_cnn"}
    # the quick experiment learns: the residual models beat Hagan at the largest budget
    big = df[(df.budget == 500) & df.model_type.isin(["mda_cnn", "residual_mlp"])]
    assert (big.rmse_bp < big.hagan_rmse_bp).all()
    a = _run(["analyze", "--output-dir", str(out)], tmp_path, prefect_home(tmp_path / "prefect-home"),
             timeout=120)
    assert a.returncode == 0 and "32 of 32 cells finished" in a.stdout


@pytest.mark.slow
def test_a_terminal_gets_a_progress_bar_under_the_cell_lines(make_tiny_config, tmp_path,
                                                            prefect_home):
    """stderr a terminal (a pseudo-terminal here): a tqdm bar that ends at N/N tasks, with
    each cell's line written whole above it."""
    import fcntl
    import pty
    import struct
    import termios
    env = dict(os.environ, PREFECT_HOME=str(prefect_home(tmp_path / "prefect-home")),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 columns
    proc = subprocess.Popen([str(BIN), "run", "--config", str(make_tiny_config()),
                             "--output-dir", str(tmp_path / "out")], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    chunks = []
    try:
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:          # EIO: every writer of the terminal has closed it
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
        os.close(primary)
    tty = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert proc.returncode == 0, tty[-3000:]
    assert "4 of 4 cells finished" in out.decode()
    bars = re.findall(r"hf-budget: (\d)/8 tasks \|", tty)    # 2 chunks, 2 tunings, 4 cells
    assert bars and bars[-1] == "8" and "0" in bars, tty[-3000:]
    shown = [_overlay(line) for line in tty.replace("\r\n", "\n").split("\n")]
    for k in range(1, 5):                        # each cell line whole, on a line of its own
        assert any(re.search(rf"cell {k}/4 \S+ b=20 s=\d: [\d.]+ bp .* ETA ", l) and
                   "tasks |" not in l for l in shown), (k, shown)


def _overlay(line: str) -> str:
    """What a terminal shows for ``line``: each carriage return writes over from column 0."""
    screen: list[str] = []
    for part in line.split("\r"):
        screen[:len(part)] = part
    return "".join(screen).rstrip()
