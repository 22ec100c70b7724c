"""slm: service-level management analytics (SPEC §9 is the public API).

>>> import slm_lib as slm
>>> slm.nps([10, 9, 8, 3])
25.0
"""
from slm_lib import errors, journeys, nb, plots, synth
from slm_lib.calendar import BusinessCalendar
from slm_lib.clv import (BetaGeoBetaBinomModel, BetaGeoCovariateModel, BetaGeoModel, GammaGammaModel,
                         ModifiedBetaGeoModel, ParetoNBDModel, ShiftedBetaGeoCovariateModel, ShiftedBetaGeoModel,
                         calibration_holdout_split, clv_by_segment, compare_clv_models, compare_clv_sentences,
                         conditional_expectations, frequency_recency_matrix, holdout_errors, predictive_clv,
                         purchase_tracking, rfm_summary, survivor_counts)
from slm_lib.clv.contractual import cohort_survivors, contractual_clv, contractual_sentences
from slm_lib.clv.service import churn_data, dropout_data, dropout_sentences, service_churn, service_dropout
from slm_lib.cohorts import cohort_retention
from slm_lib.features import customer_features, historical_clv
from slm_lib.service_panel import monthly_service_panel
from slm_lib.forecast import VolumeForecast, erlang_c_staffing, forecast_volume
from slm_lib.io.dataset import Dataset
from slm_lib.io.imports import import_exports, read_export
from slm_lib.io.load import load_data, validate
from slm_lib.io.save import save_data
from slm_lib.journeys import (ChannelSwitching, PathsBeforeChurn, channel_switching, journey_sentences,
                              journey_stages, paths_before_churn, paths_sentences, repeat_contact_rate,
                              repeat_contacts, repeat_sentences, switching_sentences)
from slm_lib.metrics.backlog import backlog
from slm_lib.metrics.handling import csat_by_handling, handling_sentences
from slm_lib.metrics.gap import delivery_gap, gap_sentences
from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.metrics.reconcile import lifecycle_differences, reconcile_lifecycle
from slm_lib.metrics.groups import changes_by_group, mean_by_group, rate_by_group, scorecard
from slm_lib.metrics.sla import sla_compliance, sla_status
from slm_lib.metrics.survey import ces, compare_periods, csat, nps
from slm_lib.metrics.table import agent_table, metric_table
from slm_lib.metrics.tickets import (fcr_rate, first_response_time, reopen_rate, replies_per_ticket,
                                     resolution_rate, resolution_time, volume_by_channel)
from slm_lib.models import (AtRisk, ChurnHoldout, at_risk, brier_score, calibration_table, churn_holdout,
                            concordance_index, partial_effects, predicted_survival, roc_auc, ModelResult, churn_hazard_model, churn_model, clv_model, lagged_effects,
                            proportional_hazards_sentences, proportional_hazards_test)
from slm_lib.periods import month_starts
from slm_lib.summary import headline_kpis
from slm_lib.survival import churn_durations, logrank_sentence, logrank_test, survival_curves
from slm_lib.text import mask_pii, safe_comment, safe_comments
from slm_lib.voice import CommentThemes, comment_themes, sentiment, sentiment_trend

__version__ = "0.1.0"

__all__ = [
    "errors", "journeys", "nb", "plots", "synth", "Dataset", "load_data", "validate", "save_data", "read_export", "import_exports",
    "nps", "csat", "ces", "compare_periods",
    "first_response_time", "resolution_time", "BusinessCalendar", "sla_compliance", "sla_status",
    "fcr_rate", "reopen_rate", "resolution_rate", "replies_per_ticket", "volume_by_channel",
    "ticket_lifecycle", "backlog", "csat_by_handling", "handling_sentences", "reconcile_lifecycle",
    "lifecycle_differences",
    "metric_table", "agent_table", "LazyDataset", "open_dataset", "engine_metric_table", "engine_rfm_summary", "engine_cohort_retention", "engine_customer_features", "delivery_gap", "gap_sentences", "changes_by_group", "mean_by_group", "rate_by_group", "scorecard",
    "cohort_retention", "churn_durations", "survival_curves", "logrank_test", "logrank_sentence",
    "customer_features", "monthly_service_panel", "historical_clv", "rfm_summary",
    "cohort_survivors", "contractual_clv", "contractual_sentences", "BetaGeoModel", "GammaGammaModel", "ShiftedBetaGeoModel", "survivor_counts", "predictive_clv", "clv_by_segment", "frequency_recency_matrix",
    "calibration_holdout_split", "purchase_tracking", "conditional_expectations", "holdout_errors",
    "BetaGeoCovariateModel", "ShiftedBetaGeoCovariateModel", "dropout_data", "churn_data", "service_dropout",
    "service_churn", "dropout_sentences",
    "ModelResult", "churn_model", "churn_hazard_model", "at_risk", "AtRisk", "churn_holdout", "ChurnHoldout",
    "roc_auc", "concordance_index", "brier_score", "calibration_table", "predicted_survival", "partial_effects", "clv_model", "lagged_effects",
    "ParetoNBDModel", "ModifiedBetaGeoModel", "BetaGeoBetaBinomModel", "compare_clv_models", "compare_clv_sentences",
    "proportional_hazards_test", "proportional_hazards_sentences",
    "forecast_volume", "VolumeForecast", "erlang_c_staffing",
    "headline_kpis", "month_starts", "mask_pii", "safe_comment", "safe_comments",
    "sentiment", "sentiment_trend", "comment_themes", "CommentThemes",
    "repeat_contacts", "repeat_contact_rate", "channel_switching", "ChannelSwitching", "journey_stages",
    "paths_before_churn", "PathsBeforeChurn", "journey_sentences", "repeat_sentences", "switching_sentences",
    "paths_sentences",
]


#: Names re-exported from :mod:`slm_lib.engines`, imported on first use: the engines need ibis
#: (0.4 s to import), which the pandas engine, the notebooks on pandas and most commands never use.
_ENGINE_NAMES = ("LazyDataset", "engine_cohort_retention", "engine_customer_features", "engine_metric_table",
                 "engine_rfm_summary", "open_dataset")


def __getattr__(name: str):
    if name in _ENGINE_NAMES:
        from slm_lib import engines
        return getattr(engines, name)
    raise AttributeError(f"module 'slm_lib' has no attribute {name!r}")
