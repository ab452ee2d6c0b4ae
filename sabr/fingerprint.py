"""Which code decides a result: a module's import graph and a fingerprint of its code.

A cached result must be invalidated when the code that made it changes, and only then.
Two halves (docs/DESIGN.md, "How a cell is cached"):

* :func:`imported_modules`: every module of the project's packages that a root module
  imports, transitively, read from the source (``import`` statements anywhere in a
  module, function bodies included, so lazy imports count; a package that loads its
  submodules through ``importlib.import_module`` counts all of them). Nothing is
  executed, so a cache lookup never pays for importing TensorFlow or numba. The set is
  derived, never written by hand, so it cannot leave out a module the next edit adds.
* :func:`code_fingerprint`: a digest of those modules' code as Python parses it, without
  comments, docstrings, line numbers or layout. An edit that changes no code (a comment, a
  reworded docstring, a reflowed line) keeps every key; any other edit changes it.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

__all__ = ["imported_modules", "code_fingerprint", "code_digest", "module_file"]


@lru_cache(maxsize=None)
def _package_dirs(top: str) -> tuple[Path, ...]:
    """The folders of the top-level package ``top`` (located, not imported); () for a
    top-level module that is no package (a plugin module of one file)."""
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ModuleNotFoundError(f"no package {top!r}")
    return tuple(Path(p) for p in spec.submodule_search_locations or ())


def module_file(name: str) -> Path | None:
    """The source file of the module or package ``name`` ('sabr.data.dataset'), found under
    its top-level package's folder (or a top-level module's own file); None if there is
    none."""
    top, *rest = name.split(".")
    if not rest and not _package_dirs(top):
        spec = importlib.util.find_spec(top)
        return Path(spec.origin) if spec.origin and spec.has_location else None
    for base in _package_dirs(top):
        path = base.joinpath(*rest)
        for candidate in (path / "__init__.py", path.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


def _is_package(name: str) -> bool:
    f = module_file(name)
    return f is not None and f.name == "__init__.py"


def _imports(name: str, tops: tuple[str, ...]) -> set[str]:
    """The modules of ``tops`` that module ``name``'s source imports (each with its
    parent packages, which Python runs first)."""
    path = module_file(name)
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(module: str) -> None:
        if module.split(".")[0] in tops and module_file(module) is not None:
            parts = module.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            add(module)
            for alias in node.names:            # 'from .data import budgets': a submodule
                add(f"{module}.{alias.name}")
        elif (isinstance(node, ast.Call) and _called_name(node.func) == "import_module"
              and path.name == "__init__.py"):
            for sub in path.parent.iterdir():   # loads its submodules by name: all of them
                if sub.suffix == ".py" and sub.name != "__init__.py":
                    add(f"{package}.{sub.stem}")
    found.discard(name)
    return found


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


@lru_cache(maxsize=None)
def imported_modules(roots: tuple[str, ...], tops: tuple[str, ...] = ("sabr",)) -> tuple[str, ...]:
    """The roots and every module of the packages ``tops`` they import, transitively, sorted.

    ``imported_modules(("tasks.modeling",))`` is the task module and every ``sabr`` module
    its code may run: what its stage's cache key fingerprints (tasks.common).
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if module_file(name) is None:
            raise ModuleNotFoundError(f"no source for module {name!r}")
        seen.add(name)
        todo.extend(_imports(name, tops) - seen)
    return tuple(sorted(seen))


class _StripDocstrings(ast.NodeTransformer):
    """Removes the docstring of every module, class and function."""

    def _strip(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def code_digest(name: str) -> str:
    """SHA-256 (hex) of module ``name``'s code: its syntax tree without docstrings, comments,
    line numbers or layout (``ast.dump``)."""
    path = module_file(name)
    if path is None:
        raise ModuleNotFoundError(f"no source for module {name!r}")
    stat = path.stat()
    return _file_digest(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """Parsed once per version of a file in a process (every task run asks for its key)."""
    tree = _StripDocstrings().visit(ast.parse(Path(path).read_bytes(), filename=path))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def code_fingerprint(modules: tuple[str, ...] | list[str]) -> str:
    """SHA-256 (hex, 16 chars) over the named modules' code digests, each with its name:
    editing a module's code, or the set of modules, changes it."""
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        h.update(f"{name}:{code_digest(name)}\n".encode())
    return h.hexdigest()[:16]
