"""Statistics over trained cells, result tables, the report, plots, run history and timings.

Imports the lower layers and the shared top-level modules only.
"""
