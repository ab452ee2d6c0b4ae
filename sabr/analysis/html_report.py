"""``analysis/report.html``: the run's summary with its plots inline, one self-contained file.

:func:`write_html_report` converts the summary's markdown (``analysis/summary.md``) with
Python-Markdown (its ``tables`` extension) and embeds every plot as a base64 ``data:`` URI,
so the page needs nothing beside it: it can be mailed, attached or opened from an archive.
The summary's ``Plots: <paths>`` line becomes a "Plots" section, one captioned figure per
plot, at the place of that line (without one: before a glossary, else at the end); images
the markdown itself embeds (``![alt](path)``) are inlined where they stand and not repeated.
"""
from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path

import markdown as md

from ..io import atomic_write_text

__all__ = ["write_html_report", "render_html", "caption", "REPORT_HTML"]

REPORT_HTML = "analysis/report.html"

# a line listing the plot files: "Plots: plots/a.png, /abs/plots/b.png"
_PLOTS_LINE = re.compile(r"^Plots:[ \t]*(\S[^\n]*\.(?:png|svg|jpe?g))[ \t]*$", re.M | re.I)
_MARK = "HFBUDGETPLOTSSECTION"
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
_ACRONYMS = {"rmse": "RMSE", "mse": "MSE", "hf": "HF", "lf": "LF", "cpu": "CPU", "mc": "MC",
             "bp": "bp", "atm": "ATM", "cnn": "CNN", "mlp": "MLP"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       background: #fff; max-width: 75rem; margin: 2rem auto; padding: 0 1.5rem;
       line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #e5e5e5; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f3f3f3; padding: 0 .2rem; border-radius: 3px; }
figure { margin: 1.5rem 0; }
figure img, p img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figcaption { font-size: .9rem; color: #555; margin-top: .3rem; }
"""


def write_html_report(out_dir: str | Path, markdown: str, plots) -> Path:
    """Write ``<out_dir>/analysis/report.html`` from the summary's ``markdown`` and the
    run's ``plots`` (PNG paths, each embedded); returns its path."""
    out = Path(out_dir)
    path = out / REPORT_HTML
    atomic_write_text(path, render_html(markdown, plots, base=out))
    return path


def render_html(markdown: str, plots, *, base: Path | None = None) -> str:
    """The report page as one string: ``markdown`` as HTML, every image a ``data:`` URI.

    Args:
        markdown: the summary (its first ``# `` heading is the page's title).
        plots: paths of the plots to show in the "Plots" section (missing files are named,
            not shown as broken images).
        base: the output folder: relative image paths are looked up there too.
    """
    listed = _PLOTS_LINE.findall(markdown)
    text = _PLOTS_LINE.sub(_MARK, markdown, count=1)
    text = _PLOTS_LINE.sub("", text)
    if _MARK not in text:
        glossary = re.search(r"^## Glossary\b", text, re.M | re.I)
        at = glossary.start() if glossary else len(text)
        text = text[:at] + "\n\n" + _MARK + "\n\n" + text[at:]
    body = md.markdown(text, extensions=["tables"], output_format="html")
    inline: set[Path] = set()

    def embed(m: re.Match) -> str:
        found = _find(m.group(2), plots, base)
        if found is None:
            return m.group(0)
        inline.add(found.resolve())
        return m.group(1) + _data_uri(found) + m.group(3)

    body = _IMG_SRC.sub(embed, body)
    wanted = [*plots, *(p.strip() for line in listed for p in line.split(","))]
    figures, missing, seen = [], [], set(inline)
    for p in wanted:
        found = _find(str(p), plots, base)
        if found is None:
            missing.append(str(p))
            continue
        if found.resolve() in seen:
            continue
        seen.add(found.resolve())
        figures.append(_figure(found, base))
    section = ""
    if figures or missing:
        section = "<h2>Plots</h2>\n" + "\n".join(figures)
        if missing:
            section += ("\n<p>Not found: " + ", ".join(f"<code>{html.escape(m)}</code>"
                                                       for m in sorted(set(missing))) + "</p>")
    body = body.replace(f"<p>{_MARK}</p>", section).replace(_MARK, section)
    heading = re.search(r"^# (.+)$", markdown, re.M)
    title = heading.group(1).strip() if heading else "hf-budget results"
    if base is not None:
        title += f" ({Path(base).resolve().name})"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def caption(path: str | Path) -> str:
    """A plot's caption from its file name: 'rmse_vs_budget.png' -> 'RMSE vs budget'."""
    words = re.split(r"[_\-\s]+", Path(path).stem)
    words = [_ACRONYMS.get(w.lower(), w) for w in words if w]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _figure(path: Path, base: Path | None) -> str:
    name = path.name
    if base is not None:
        try:
            name = str(path.resolve().relative_to(Path(base).resolve()))
        except ValueError:
            pass
    cap = html.escape(caption(path))
    return (f"<figure>\n<img src=\"{_data_uri(path)}\" alt=\"{cap}\">\n"
            f"<figcaption>{cap} (<code>{html.escape(name)}</code>)</figcaption>\n</figure>")


def _find(ref: str, plots, base: Path | None) -> Path | None:
    """The file an image reference names: as given, in ``plots`` by name, or under ``base``
    (as a relative path, in analysis/ or in plots/)."""
    if ref.startswith("data:"):
        return None
    ref = ref.removeprefix("file://")
    candidates = [Path(ref)]
    candidates += [Path(p) for p in plots if Path(p).name == Path(ref).name]
    if base is not None:
        base = Path(base)
        candidates += [base / ref, base / "analysis" / ref, base / "plots" / Path(ref).name]
    return next((c for c in candidates if c.is_file()), None)


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
