"""constraints.txt pins what CI and the deployment install: every dependency, and this
environment is the pinned one."""
from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"not an exact pin: {line!r}"
            pins[_canonical(name)] = ver
    return pins


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = meta["dependencies"] + meta["optional-dependencies"]["test"]
    pins = _pins()
    for req in wanted:
        name = _canonical(re.split(r"[<>=!\[ ;]", req, maxsplit=1)[0])
        assert name in pins, f"{name} (from {req!r}) is not pinned in constraints.txt"
        try:
            installed = version(name)
        except PackageNotFoundError:
            raise AssertionError(f"{name} is pinned but not installed") from None
        assert installed == pins[name], f"{name} {installed} installed, {pins[name]} pinned"
