"""Static safety checks over the shipped code: no unsafe deserialisation, no bind to every interface.

Scans every .py under sabr/, tasks/, flows/ and deployments/ with ``ast`` (so comments and
strings do not count), and every configuration file there and at the top of the repository
for a hard-coded 0.0.0.0. Each failure lists the offending file:line.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CODE_DIRS = ("sabr", "tasks", "flows", "deployments")
CONFIG_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".json", ".sh", ".env"}

YAML_ALLOWED = {"safe_load", "safe_load_all", "safe_dump", "safe_dump_all", "YAMLError",
                "MarkedYAMLError", "SafeLoader", "SafeDumper", "CSafeLoader", "CSafeDumper"}
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}


def _sources() -> list[Path]:
    files = [p for d in CODE_DIRS if (REPO / d).is_dir() for p in sorted((REPO / d).rglob("*.py"))]
    assert any(p.parts[-2] == "sabr" for p in files), "found no code to scan"
    return files


def _trees():
    for path in _sources():
        yield path.relative_to(REPO), ast.parse(path.read_text(), filename=str(path))


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def test_yaml_is_only_read_and_written_safely():
    bad = []
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml" \
                    and node.attr not in YAML_ALLOWED:
                bad.append(f"{rel}:{node.lineno}: yaml.{node.attr} (only yaml.safe_load/safe_dump)")
            if isinstance(node, ast.ImportFrom) and node.module == "yaml":
                names = [a.name for a in node.names if a.name not in YAML_ALLOWED]
                if names:
                    bad.append(f"{rel}:{node.lineno}: from yaml import {', '.join(names)}")
    assert not bad, "unsafe YAML use:\n" + "\n".join(bad)


def test_every_np_load_refuses_pickles():
    bad, seen = [], 0
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "load" and _dotted(node.func.value) in ("np", "numpy"):
                seen += 1
                ok = any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                         and k.value.value is False for k in node.keywords)
                if not ok:
                    bad.append(f"{rel}:{node.lineno}: {_dotted(node.func)}(...) without "
                               f"allow_pickle=False")
            if isinstance(node, ast.ImportFrom) and node.module == "numpy" \
                    and any(a.name == "load" for a in node.names):
                bad.append(f"{rel}:{node.lineno}: from numpy import load (call np.load with "
                           f"allow_pickle=False instead)")
    assert not bad, "np.load that could unpickle:\n" + "\n".join(bad)
    assert seen, "no np.load found: is the scan looking at the right files?"


def test_no_pickle_deserialisation():
    bad = []
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad += [f"{rel}:{node.lineno}: import {a.name}" for a in node.names
                        if a.name.split(".")[0] in UNSAFE_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
                bad.append(f"{rel}:{node.lineno}: from {node.module} import ...")
            elif isinstance(node, ast.Attribute):
                name = _dotted(node)
                if name in ("joblib.load", "pickle.load", "pickle.loads") \
                        or node.attr in ("read_pickle", "unsafe_load"):
                    bad.append(f"{rel}:{node.lineno}: {name or node.attr}")
    assert not bad, "pickle-based loading (arbitrary code on load):\n" + "\n".join(bad)


def test_nothing_binds_every_interface():
    files = [p for d in CODE_DIRS if (REPO / d).is_dir() for p in sorted((REPO / d).rglob("*"))
             if p.is_file() and p.suffix in CONFIG_SUFFIXES]
    files += [p for p in sorted(REPO.iterdir())
              if p.is_file() and (p.suffix in CONFIG_SUFFIXES or p.name.startswith("Dockerfile"))]
    assert any(p.name == "prefect.yaml" for p in files), "prefect.yaml not scanned"
    bad = [f"{p.relative_to(REPO)}:{i}: {line.strip()}"
           for p in files for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
           if "0.0.0.0" in line]
    assert not bad, "hard-coded bind to every interface (use 127.0.0.1):\n" + "\n".join(bad)
