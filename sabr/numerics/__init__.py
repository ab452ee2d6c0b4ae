"""SABR numerics: parameters, Hagan (LF) and Black implied vols, the surface grid, Monte Carlo (HF).

Imports no other layer of sabr.
"""
import importlib

from .grid import SurfaceGrid, make_grid
from .hagan import hagan_vol
from .params import SabrParams

_LAZY = {"black_price": "black", "black_vega": "black", "implied_vol": "black",
         "MCResult": "montecarlo", "mc_prices": "montecarlo", "mc_smile": "montecarlo",
         "mc_surface": "montecarlo"}

__all__ = [
    "MCResult", "SabrParams", "SurfaceGrid",
    "black_price", "black_vega", "hagan_vol", "implied_vol", "make_grid",
    "mc_prices", "mc_smile", "mc_surface",
]


def __getattr__(name: str):
    """The Monte Carlo engine (numba) and Black (scipy.optimize) load on first use: a process
    that only reads data sets (the flow's own) never pays for them (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
