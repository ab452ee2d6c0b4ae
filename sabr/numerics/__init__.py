"""SABR numerics: parameters, Hagan (LF) and Black implied vols, the surface grid, Monte Carlo (HF).

Imports no other layer of sabr.
"""
from .black import black_price, black_vega, implied_vol
from .grid import SurfaceGrid, make_grid
from .hagan import hagan_vol
from .montecarlo import MCResult, mc_prices, mc_smile, mc_surface
from .params import SabrParams

__all__ = [
    "MCResult", "SabrParams", "SurfaceGrid",
    "black_price", "black_vega", "hagan_vol", "implied_vol", "make_grid",
    "mc_prices", "mc_smile", "mc_surface",
]
