"""A small demonstration: low-fidelity (Hagan 2002) against high-fidelity (Monte Carlo) smiles.

Until the experiment flow exists this is the product's main job: one parameter
set's surface on the default grid, printed as a table of Hagan vols, Monte
Carlo vols with standard errors, and their gap in basis points.
"""
from __future__ import annotations

import time


from .grid import make_grid
from .hagan import hagan_vol
from .montecarlo import mc_prices
from .params import SabrParams

__all__ = ["smile_table"]


def smile_table(params: SabrParams, *, fwd: float = 1.0, maturities=(1.0, 5.0, 10.0),
                n_paths: int = 100_000, seed: int = 0) -> tuple[list[dict], float]:
    """Hagan vs Monte Carlo on the Funahashi grid of ``params``.

    Returns:
        (rows, seconds): one dict per (T, K) with keys T, K, z, region, hagan, mc,
        se, gap_bp (= (hagan - mc) in bp); and the Monte Carlo wall time.
    """
    grid = make_grid(fwd, params.alpha, params.beta, params.nu, params.rho, maturities=maturities)
    t0 = time.perf_counter()
    res = mc_prices(fwd, grid.strikes, grid.maturities, params.alpha, params.beta,
                    params.nu, params.rho, n_paths=n_paths, seed=seed)
    seconds = time.perf_counter() - t0
    lf = hagan_vol(grid.strikes, fwd, grid.maturities[:, None], params.alpha, params.beta,
                   params.nu, params.rho)
    rows = []
    for j, texp in enumerate(grid.maturities):
        for i, strike in enumerate(grid.strikes[j]):
            rows.append(dict(T=float(texp), K=float(strike), z=float(grid.z[j, i]),
                             region=str(grid.regions[j, i]), hagan=float(lf[j, i]),
                             mc=float(res.vols[j, i]), se=float(res.vol_stderr[j, i]),
                             gap_bp=float((lf[j, i] - res.vols[j, i]) * 1e4)))
    return rows, seconds


def format_table(rows: list[dict], every: int = 2) -> str:
    """Plain-text table of ``smile_table`` rows (every ``every``-th strike)."""
    head = f"{'T':>5} {'K':>7} {'z':>6} {'region':>6} {'Hagan':>8} {'MC':>8} {'s.e.bp':>7} {'gap bp':>7}"
    lines = [head, "-" * len(head)]
    last_t = None
    for n, r in enumerate(rows):
        if r["T"] != last_t:
            last_t, k = r["T"], 0
        if k % every == 0:
            lines.append(f"{r['T']:5.1f} {r['K']:7.4f} {r['z']:6.2f} {r['region']:>6} "
                         f"{r['hagan']:8.4f} {r['mc']:8.4f} {r['se'] * 1e4:7.2f} {r['gap_bp']:7.1f}")
        k += 1
    return "\n".join(lines)
