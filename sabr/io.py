"""Atomic file writes, JSON conversion and content hashes (code fingerprints: sabr.fingerprint).

Every file the project writes goes to a hidden temporary name (starting with ".")
in the target folder and is renamed over the final name (``os.replace`` is atomic on
POSIX), so a reader or a crash never sees a half-written file under a final name.
``atomic_path`` is that rule; the ``atomic_*`` writers and every other writer use it.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "atomic_save_npz", "to_json", "hash_arrays", "hash_bytes"]


@contextmanager
def atomic_path(path: str | Path):
    """Yield a hidden temporary name beside ``path``; on success rename it over ``path``.

    For writers that want a file name (Keras, matplotlib, a symlink): the temporary
    name starts with "." (readers and the crash tests skip such names) and keeps the
    suffix (writers that infer the format from it). On an error it is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def to_json(obj: Any, *, finite: bool = True) -> Any:
    """``obj`` as plain JSON types, recursively: dicts (str keys), lists, str, int, float, bool, None.

    numpy scalars and arrays become Python numbers and lists, tuples lists, paths
    strings. With ``finite`` (what files hold, strict JSON) NaN becomes None and
    +inf / -inf the strings "inf" / "-inf": an infinite value is a result (a t statistic
    of a constant offset, a budget that is never reached), not a missing one, so it
    stays distinguishable from NaN (docs/DESIGN.md section 7). ``finite=False`` keeps NaN
    and inf as floats (in-memory results).
    """
    if isinstance(obj, dict):
        return {str(k): to_json(v, finite=finite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_json(v, finite=finite) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if finite and isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON (:func:`to_json`: NaN as null, +-inf as "inf" / "-inf"), atomically."""
    text = json.dumps(to_json(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """``numpy.savez_compressed`` to ``path`` atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def hash_bytes(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def hash_arrays(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of the arrays, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
