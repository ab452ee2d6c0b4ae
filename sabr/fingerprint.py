"""Fingerprints of the code that produced a result, for cache keys and metadata.

A cached result must be invalidated when the numerics that made it change; the
fingerprint is a SHA-256 over the source text of the named ``sabr`` modules.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["code_fingerprint", "DATA_MODULES"]

_ROOT = Path(__file__).resolve().parent

DATA_MODULES = ("params", "hagan", "black", "grid", "montecarlo", "mc_result", "mc_kernels", "dataset")
"""Modules whose code determines the generated surfaces."""


@lru_cache(maxsize=None)
def code_fingerprint(modules: tuple[str, ...] = DATA_MODULES) -> str:
    """SHA-256 (hex, 16 chars) of the source of ``sabr.<module>`` for each module named."""
    h = hashlib.sha256()
    for name in sorted(modules):
        h.update(name.encode())
        h.update((_ROOT / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]
