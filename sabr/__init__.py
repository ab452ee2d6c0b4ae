"""hf-budget's domain core, in layers; imports go one way (pyproject.toml [tool.importlinter]).

``sabr.analysis`` -> ``sabr.learning`` -> ``sabr.data`` -> ``sabr.numerics``: a layer
may import the layers below it and the shared top-level modules (``config``, ``space``,
``errors``, ``io``, ``lock``), never one above. Those top-level modules import no layer.
``sabr.stats``, ``sabr.tuning`` and ``sabr.results`` are the seed's import paths,
kept as thin re-exports for user code; nothing inside the project imports them.

Never imports Prefect or Dask; randomness enters only as seeds or numpy Generators.
"""
