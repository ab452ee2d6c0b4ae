"""Models, training, tuning and per-cell metrics.

Imports sabr.data, sabr.numerics and the shared top-level modules only.
"""
