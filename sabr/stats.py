"""The seed's import path for the statistics (``sabr.stats.scaling_exponent``, ``analyse``, ...).

A thin re-export of :mod:`sabr.analysis.stats`; project code imports sabr.analysis.* directly.
"""
from .analysis.stats import *  # noqa: F401,F403
from .analysis.stats import __all__  # noqa: F401
