"""Models linking service experience to churn and value (SPEC §6).

Each model returns a :class:`ModelResult` with a tidy ``.table`` (term, role, unit, label,
estimate, std_error, ci_low, ci_high, p_value, effect in business units; also ``.summary``, the
name the CLV models share) and the statsmodels ``.result``; in JupyterLab a result shows itself
as a captioned table.
"""
from slm_lib.models._design import DEFAULT_REFERENCES, ModelResult
from slm_lib.models.at_risk import AtRisk, at_risk
from slm_lib.models.churn import churn_hazard_model, churn_model, default_churn_drivers
from slm_lib.models.cox_curves import partial_effects, predicted_survival, reference_profile
from slm_lib.models.evaluation import brier_score, calibration_table, concordance_index, roc_auc
from slm_lib.models.holdout import ChurnHoldout, churn_holdout, evaluate_churn
from slm_lib.models.lagged import lagged_effects, newey_west_maxlags
from slm_lib.models.proportional_hazards import proportional_hazards_sentences, proportional_hazards_test
from slm_lib.models.value import clv_model

__all__ = ["ModelResult", "DEFAULT_REFERENCES", "churn_model", "churn_hazard_model", "clv_model",
           "lagged_effects", "newey_west_maxlags", "proportional_hazards_test", "proportional_hazards_sentences",
           "default_churn_drivers", "roc_auc", "concordance_index", "brier_score", "calibration_table",
           "ChurnHoldout", "churn_holdout", "evaluate_churn", "AtRisk", "at_risk",
           "predicted_survival", "partial_effects", "reference_profile"]
