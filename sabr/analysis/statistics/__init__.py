"""The statistics layer: results frames or arrays in, plain results out; no files, no
markdown, no plots (docs/DESIGN.md, "The analysis in two layers").

``compare`` (cell summaries, paired tests with Holm), ``scaling`` (the primary exponent
fit on per-budget mean log MSE), ``fit`` (scaling table, exponent differences, a + floor
fit, descriptive cluster bootstrap), ``efficiency`` (budget for a target error, data
efficiency, Fieller intervals), ``testset`` (bootstrap over test thetas), ``ranking``
(rankings with P(rank 1), the Friedman test, cost-benefit). Everything is re-exported
here; the studies (sabr.analysis.studies) compose them.
"""
from .compare import (cell_summary, compare_models, finished_cells, geometric_mean_interval,
                      hedges_j, holm, pair_cells, pair_cells_strict, paired_test)
from .efficiency import (budget_for_target, budget_for_target_fit, data_efficiency,
                         data_efficiency_ratio, efficiency_table, invert_power_law)
from .fit import (cluster_bootstrap_powerlaw, exponent_differences, power_law_fit,
                  saturating_fit, scaling_table)
from .ranking import (MIN_SEEDS_P_RANK1, cost_benefit, default_target_rmse, friedman_test,
                      pareto_front, rank_models)
from .scaling import exponent_difference, scaling_exponent
from .testset import per_theta_sse, test_theta_bootstrap

__all__ = ["pareto_front", "cost_benefit", "default_target_rmse",
           "finished_cells", "geometric_mean_interval", "cell_summary", "pair_cells",
           "pair_cells_strict", "paired_test", "hedges_j", "holm", "compare_models", "rank_models",
           "friedman_test", "power_law_fit", "saturating_fit", "cluster_bootstrap_powerlaw",
           "scaling_table", "exponent_differences", "budget_for_target", "invert_power_law",
           "efficiency_table", "data_efficiency", "scaling_exponent", "exponent_difference",
           "budget_for_target_fit", "data_efficiency_ratio", "test_theta_bootstrap",
           "per_theta_sse", "MIN_SEEDS_P_RANK1"]
