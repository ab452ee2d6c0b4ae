"""The studies: each reads the results frame (sabr.analysis.results) and returns its
section of the report (tables, markdown, plots) using the statistics layer
(sabr.analysis.statistics); the report (sabr.analysis.report) composes them and writes
summary.md once (docs/DESIGN.md, "The analysis in two layers").

``budget`` (how accuracy grows with HF points: every statistic of the rows in points),
``allocation`` (what a Monte Carlo CPU budget buys, per strategy), ``calibration`` (the
ensembles' predictive intervals), ``history`` (this run against the previous one).
"""
