"""Customer lifetime value (SPEC §5, §9): RFM summaries, BG/NBD, Pareto/NBD, MBG/NBD, BG/BB,
Gamma-Gamma, sBG, validation and model comparison.

All the models are fitted by one maximum-likelihood engine (:mod:`slm_lib.clv.mle`) that
also gives observed-information standard errors and 95% intervals (``.summary``). Drop-out
(BG/NBD) and churn (sBG) may depend on customer covariates such as the service received
(:mod:`slm_lib.clv.linked`, :mod:`slm_lib.clv.service`).
"""
from slm_lib.clv.bgbb import BetaGeoBetaBinomModel
from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.bgnbd_covariates import BetaGeoCovariateModel
from slm_lib.clv.compare import compare_clv_models, compare_clv_sentences
from slm_lib.clv.gammagamma import GammaGammaModel
from slm_lib.clv.holdout import (calibration_holdout_split, conditional_expectations,
                                 holdout_errors, purchase_tracking)
from slm_lib.clv.matrices import frequency_recency_matrix
from slm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from slm_lib.clv.paretonbd import ParetoNBDModel
from slm_lib.clv.predictive import clv_by_segment, predictive_clv
from slm_lib.clv.rfm import rfm_summary
from slm_lib.clv.sbg import ShiftedBetaGeoModel, survivor_counts
from slm_lib.clv.sbg_covariates import ShiftedBetaGeoCovariateModel, cohort_lifetimes

__all__ = [
    "BetaGeoModel", "BetaGeoBetaBinomModel", "BetaGeoCovariateModel", "GammaGammaModel", "ModifiedBetaGeoModel",
    "ParetoNBDModel", "ShiftedBetaGeoCovariateModel", "ShiftedBetaGeoModel", "calibration_holdout_split",
    "clv_by_segment", "cohort_lifetimes", "compare_clv_models", "compare_clv_sentences",
    "conditional_expectations", "frequency_recency_matrix", "holdout_errors", "predictive_clv",
    "purchase_tracking", "rfm_summary", "survivor_counts",
]
