"""analysis/report.html: the summary with every plot inline, one self-contained file, as a
browser shows it (headless Chromium: every image loads, the page is not blank).

The report is composed from a real output folder (tests/data/old_output: point and
CPU-budget cells), so its plots are the ones a run draws."""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sabr.analysis.report import compose_report

OLD = Path(__file__).resolve().parents[1] / "data" / "old_output"
INSTALL = "apt-get install -y chromium"      # the README's test command runs it when missing
PNG = b"\x89PNG\r\n\x1a\n"

# appended to a copy of the page: once it has loaded, writes what the browser made of its
# images into the DOM, which --dump-dom prints
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length,
    text: document.body.innerText.trim().length,
    height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail(f"no chromium on PATH: the HTML report's test opens the report in it; "
                f"install it with `{INSTALL}` (as root)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("html-report") / "out"
    shutil.copytree(OLD, out)
    planned = [(20, m, s) for m in ("residual_mlp", "mda_cnn") for s in (0, 1)] + [
        ("surfaces@40%", "mda_cnn", s) for s in (0, 1)]
    rep = compose_report(out, "run1", planned=planned, previous=None)
    rep.pop("aggregator")
    return rep


def _headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium's headless mode (--no-sandbox: CI runs as root), a profile of its own."""
    return subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox",
                           "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def _probe(chromium: str, page: Path, tmp: Path) -> dict:
    probed = tmp / f"probe-{page.name}"
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    r = _headless(chromium, tmp / "profile", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout, re.S)
    assert r.returncode == 0 and found, (r.returncode, r.stderr[-2000:])
    return json.loads(found.group(1))


def test_the_report_is_one_file_with_every_plot_inline(report):
    page = Path(report["report_html"])
    assert page.name == "report.html" and page.parent.name == "analysis" and page.is_file()
    assert report["files"]["report_html"] == str(page)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>hf-budget results" in text
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', text)
    assert len(srcs) == len(report["plots"]) >= 5
    for src in srcs:                  # nothing outside the file: each image a PNG data URI
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(data, validate=True).startswith(PNG)
    for plot in report["plots"]:      # each with a caption naming its file
        assert f"(<code>plots/{Path(plot).name}</code>)</figcaption>" in text
    # the summary's tables are tables, its "Plots: <paths>" line the Plots section
    assert text.count("<table>") >= 3 and "|---|" not in text
    assert "<h2>Plots</h2>" in text and "Plots: " not in text
    assert str(page.parent.parent) not in text       # no absolute path of the run's files
    # the archive of the run holds it too
    assert (Path(report["run_dir"]) / "analysis" / "report.html").read_text() == text


def test_chromium_loads_every_image_and_the_page_is_not_blank(report, chromium, tmp_path):
    alone = tmp_path / "mailed"            # the file by itself, as a recipient gets it
    alone.mkdir()
    page = alone / "report.html"
    shutil.copyfile(report["report_html"], page)
    seen = _probe(chromium, page, tmp_path)
    assert seen["images"] == len(report["plots"]) and seen["loaded"] == seen["images"], seen
    assert seen["text"] > 2000, seen
    # the probe sees a broken image: a PNG data URI that is not a PNG
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><p>x</p>'
                      '<img src="data:image/png;base64,aGVsbG8="></body></html>')
    control = _probe(chromium, broken, tmp_path)
    assert control["images"] == 1 and control["loaded"] == 0, control
    # a screenshot of the whole page: text, tables and the plots' colours, not one colour
    shot = tmp_path / "report.png"
    height = min(max(seen["height"], 800), 16000)
    r = _headless(chromium, tmp_path / "profile", f"--screenshot={shot}",
                  f"--window-size=1280,{height}", page.as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    from PIL import Image
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (height, 1280)
    flat = pixels.reshape(-1, 3)
    assert len(np.unique(flat, axis=0)) > 100                     # not blank
    dark = (flat.max(axis=1) < 100).mean()
    coloured = (flat.max(axis=1) - flat.min(axis=1) > 80).mean()   # the plots' lines and maps
    assert dark > 0.002 and coloured > 0.002, (dark, coloured)
    print(f"report.html {Path(report['report_html']).stat().st_size / 1e3:.0f} kB, "
          f"{seen['images']} images loaded; screenshot {shot} ({height} px): "
          f"{dark:.1%} dark, {coloured:.1%} coloured pixels")
