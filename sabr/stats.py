"""The seed's import path for the statistics (``sabr.stats.scaling_exponent``, ``analyse``, ...).

A thin re-export of :mod:`sabr.analysis.statistics` and of the budget study's ``analyse``
(:mod:`sabr.analysis.studies.budget`); project code imports those directly.
"""
from .analysis.statistics import *  # noqa: F401,F403
from .analysis.statistics import __all__ as _statistics
from .analysis.studies.budget import analyse, analyse_tables  # noqa: F401

__all__ = ["analyse", "analyse_tables", *_statistics]
