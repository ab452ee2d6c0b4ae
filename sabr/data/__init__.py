"""The multi-fidelity data set: config-driven pool and surfaces, budgets and their HF cost, features.

Imports sabr.numerics and the shared top-level modules only.
"""
