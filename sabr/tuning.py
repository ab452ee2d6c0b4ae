"""The seed's import path for tuning (``HyperparameterTuner``, ``HyperparameterSpace``, ...).

A thin re-export of :mod:`sabr.learning.tuning` (and :mod:`sabr.space`); project code
imports those directly.
"""
from .learning.tuning import *  # noqa: F401,F403
from .learning.tuning import __all__  # noqa: F401
