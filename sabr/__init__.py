"""hf-budget's pure numerics core: SABR parameters, Hagan (LF) and Monte Carlo (HF) vols.

Never imports Prefect; randomness enters only as seeds or numpy Generators.
"""
from .black import black_price, black_vega, implied_vol
from .grid import SurfaceGrid, make_grid
from .hagan import hagan_vol
from .montecarlo import MCResult, mc_prices, mc_smile, mc_surface
from .params import FUNAHASHI_BOX, ParameterBox, SabrParams

__all__ = [
    "FUNAHASHI_BOX", "MCResult", "ParameterBox", "SabrParams", "SurfaceGrid",
    "black_price", "black_vega", "hagan_vol", "implied_vol", "make_grid",
    "mc_prices", "mc_smile", "mc_surface",
]
