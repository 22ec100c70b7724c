"""Customer lifetime value (SPEC §5, §9): RFM summaries, BG/NBD, Pareto/NBD, MBG/NBD, BG/BB,
Gamma-Gamma, sBG, validation and model comparison.

All the models are fitted by one maximum-likelihood engine (:mod:`slm_lib.clv.mle`)
that also gives observed-information standard errors and 95% intervals (``.summary``).
"""
from slm_lib.clv.bgbb import BetaGeoBetaBinomModel
from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.compare import compare_clv_models, compare_clv_sentences
from slm_lib.clv.gammagamma import GammaGammaModel
from slm_lib.clv.holdout import (calibration_holdout_split, conditional_expectations,
                                 holdout_errors, purchase_tracking)
from slm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from slm_lib.clv.paretonbd import ParetoNBDModel
from slm_lib.clv.predictive import predictive_clv
from slm_lib.clv.rfm import rfm_summary
from slm_lib.clv.sbg import ShiftedBetaGeoModel, survivor_counts

__all__ = [
    "BetaGeoModel", "BetaGeoBetaBinomModel", "GammaGammaModel", "ModifiedBetaGeoModel", "ParetoNBDModel",
    "ShiftedBetaGeoModel", "calibration_holdout_split", "compare_clv_models", "compare_clv_sentences",
    "conditional_expectations", "holdout_errors", "predictive_clv",
    "purchase_tracking", "rfm_summary", "survivor_counts",
]
