"""The glossary at the end of analysis/summary.md: every term the summary uses, defined once.

One notation throughout (docs/METHODS.md): b is an HF budget in points ('b=500'), gamma the
learning-curve exponent of MSE ~ b^-gamma, theta one SABR parameter set. A term is listed
only when the summary uses it (its pattern is found in the text).
"""
from __future__ import annotations

import re

from .answer import GAMMA
from .statistics.compare import FAILURE_FACTOR, MIN_PAIRS

__all__ = ["TERMS", "glossary_markdown"]

TERMS: list[tuple[str, str, str]] = [
    # (term, regular expression that finds it in the summary, definition)
    ("b", r"\bb=\d|HF budget", "HF budget: the number of high-fidelity training points of a "
     "cell (b=500: 500 points, implied vols at one strike and maturity of one theta)."),
    (GAMMA, GAMMA, f"learning-curve exponent: MSE ~ b^-{GAMMA} (RMSE ~ b^-{GAMMA}/2), fitted "
     "by least squares to the per-budget mean log MSE; larger is faster improvement."),
    ("theta", r"\btheta", "one SABR parameter set (alpha, beta, nu, rho) and its implied-vol "
     "surface on the strike and maturity grid."),
    ("HF / LF", r"\bHF\b|\bLF\b", "high fidelity: Monte Carlo implied vols (expensive, noisy "
     "at the Monte Carlo noise floor); low fidelity: Hagan's expansion (cheap, biased)."),
    ("Hagan", r"Hagan", "the Hagan et al. (2002) asymptotic implied-vol expansion, the "
     "low-fidelity input and the baseline. Its error grows with nu^2 T (the expansion is in "
     "small T nu^2): on the default box (maturities 1-10 years, nu up to 0.9) it is hundreds "
     "of bp, most of it at long maturities."),
    ("cell", r"\bcells?\b", "one model trained at one HF budget (or one allocation and CPU "
     "budget) with one seed."),
    ("seed", r"\bseeds?\b", "one draw of the training randomness (initialisation, batch "
     "order, the budget's points): a cell's replicate. Intervals over seeds measure it."),
    ("tuning replicate", r"tuning replicate", "an extra seed on which the hyperparameters of "
     "a (model, budget) are tuned; it is never reported, so tuning does not see the seeds "
     "it is judged on."),
    ("bp", r"\bbp\b", "basis point of implied volatility: 0.0001 (1 vol point is 100 bp)."),
    ("noise floor", r"noise floor|noise-corrected|[Cc]orrected",
     "the RMS Monte Carlo error of the test labels themselves, estimated from each run's "
     "independent half of its paths: a model cannot be measured below it."),
    ("corrected RMSE", r"[Cc]orrected", "sqrt(geometric-mean MSE over seeds minus the noise "
     "floor^2): the error against the true surface rather than the noisy labels."),
    ("failed seed", r"[Ff]ailed", f"a seed whose RMSE is above {FAILURE_FACTOR:g}x its cell's "
     "median: counted, kept in every statistic, never dropped."),
    ("seed CI", r"seed (95 % )?CI|seed interval", "t interval over seeds of the log MSE: the "
     "training randomness only, on this one test set."),
    ("test-theta CI", r"test-theta", "BCa bootstrap over the test thetas: the test set's draw "
     "only."),
    ("combined CI", r"combined", "both draws at once (variances added on log RMSE, "
     "Satterthwaite degrees of freedom): the interval to quote for a model's RMSE."),
    ("uninformative", r"uninformative|†", f"an interval from fewer than {MIN_PAIRS} seeds: "
     "correct but too wide to decide anything (a t quantile on 1 df is 12.7)."),
    ("Holm", r"Holm", "Holm's step-down correction of p-values over one family of tests (every "
     "model pair at every budget): the chance of any false 'significant' stays at alpha."),
    ("paired comparison", r"[Pp]aired|compared", "model A against B on the same seeds (same "
     f"points, same test set): a t test on the per-seed log MSE differences; with fewer than "
     f"{MIN_PAIRS} pairs there is no test."),
    ("sign test / wins", r"sign test|\bwins\b", "the seeds on which the best model beats the "
     "runner-up, and the exact two-sided binomial test of that count."),
    ("lack-of-fit p", r"[Ll]ack-of-fit", "whether the per-budget means lie off the power law "
     "by more than the seeds' scatter explains (small p: the line misses)."),
    ("c (fitted floor)", r"floor c\b|fitted floor", f"the floor of the saturating fit MSE = "
     f"a b^-{GAMMA} + c: the error no HF budget removes (noise floor plus model bias)."),
    ("Fieller", r"Fieller", "the interval of a ratio of estimated quantities (here: the budget "
     "at which a fitted line reaches a target), unbounded when the slope is not significant."),
    ("d_z", r"\bd_z\b", "standardised paired effect: mean log-MSE difference over its sd, "
     "Hedges-corrected."),
    ("P(rank 1)", r"P\(rank 1\)", "share of seed bootstrap resamples in which a model ranks "
     "first: descriptive, not the probability that it is best."),
    ("allocation", r"[Aa]llocation", "how an HF budget is spent on points of the pool: "
     "spread, surfaces, random, paths/D, adaptive."),
    ("spread", r"\bspread\b", "the original study's design, and the allocation of every "
     "point budget b: a cell's points are the first b of its seed's random order, spread "
     "over thetas, maturities and strikes."),
    ("surfaces", r"surfaces", "whole surfaces (every grid point of a theta) for as many "
     "thetas as the budget pays for, thetas in a space-filling order."),
    ("random", r"\brandom@|\| random \||/ random\b|\brandom \(cheapest\)", "as surfaces, "
     "thetas in a plain random order (a different one per seed): the baseline adaptive is "
     "judged against beside surfaces."),
    ("paths/D", r"paths/\d", "as surfaces, each labelled from the first 1/D of its Monte "
     "Carlo paths: about D times the thetas for the money, each noisier."),
    ("adaptive", r"adaptive", "rounds of purchases chosen by an ensemble's disagreement "
     "(deep active learning), starting from surfaces or spread points."),
    ("CPU budget", r"CPU budget|@\d|\d%", "an HF budget in Monte Carlo CPU-seconds ('120s') "
     "or as a share of the whole train pool's Monte Carlo cost ('5%')."),
    ("HF CPU-s", r"CPU-s", "Monte Carlo CPU-seconds of the HF data a cell uses. A theta's "
     "run prices its whole surface at once, so a cell pays for every theta it touches: point "
     "budgets that touch the same thetas cost nearly the same."),
    ("standing", r"standing", "measured: interpolated inside the allocation's tested CPU "
     "budgets; upper bound: met at its smallest budget already; extrapolated: a fit outside "
     "them, never stated as an answer."),
    ("calibrated", r"[Cc]alibrat", "an ensemble's spread interval covers the truth as often "
     "as it claims, judged on validation thetas kept apart from early stopping."),
]


def glossary_markdown(markdown: str) -> str:
    """'## Glossary' with the TERMS that ``markdown`` uses, '' when it uses none."""
    used = [(term, text) for term, pattern, text in TERMS if re.search(pattern, markdown)]
    if not used:
        return ""
    return "\n## Glossary\n\n" + "".join(f"- **{t}**: {d}\n" for t, d in used)
