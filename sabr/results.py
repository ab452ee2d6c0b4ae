"""The seed's import path for results (``ResultsAggregator``, ``create_results_aggregator``, tables).

A thin re-export of :mod:`sabr.analysis.aggregator` and :mod:`sabr.analysis.results`;
project code imports those directly.
"""
from .analysis.aggregator import ResultsAggregator, create_results_aggregator
from .analysis.results import (METRIC_COLUMNS, performance_vs_budget, results_frame,
                               summary_statistics, write_tables)

__all__ = ["ResultsAggregator", "create_results_aggregator", "results_frame",
           "performance_vs_budget", "summary_statistics", "write_tables", "METRIC_COLUMNS"]
