"""Service experience as a driver of drop-out and churn in the CLV models: from a Dataset in one call.

Design (no leakage): the service a customer received is measured at ``as_of`` over the
lookback window (:func:`slm_lib.features.customer_features`: median first response, SLA
breach share, last NPS answer, ...) for the customers active then, and their behaviour
is followed **after** ``as_of``:

- :func:`dropout_data` / :func:`service_dropout` (non-contractual, BG/NBD): purchases (positive
  payments) from ``as_of`` to ``observation_end`` summarised per customer
  (:func:`slm_lib.clv.rfm.rfm_summary`: frequency, recency, T from the first purchase after
  ``as_of``), with the service features as time-invariant drop-out covariates
  (:class:`slm_lib.clv.bgnbd_covariates.BetaGeoCovariateModel`). Customers who buy nothing
  after ``as_of`` are not in the BG/NBD (it starts at a first purchase).
- :func:`churn_data` / :func:`service_churn` (contractual, sBG): months survived since the
  signup month, left-truncated at ``as_of`` (``entered``: the renewals already made) and
  right-censored at the end of the horizon
  (:class:`slm_lib.clv.sbg_covariates.ShiftedBetaGeoCovariateModel`).

Customers with a missing covariate (no ticket in the window has no median first response)
are left out of the fit and counted (``n_dropped_``), as in :func:`slm_lib.models.churn_model`.
:func:`dropout_sentences` words the odds ratios.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd_covariates import BetaGeoCovariateModel
from slm_lib.clv.rfm import purchase_rfm
from slm_lib.clv.sbg_covariates import ShiftedBetaGeoCovariateModel
from slm_lib.errors import InsufficientDataError
from slm_lib.features import customer_features, window_offset
from slm_lib.io.dataset import Dataset, active_customers
from slm_lib.models._design import describe_term
from slm_lib.periods import period_ordinals, utc_instant
from slm_lib.wording import effect_sentence, format_estimate, is_clear


def dropout_data(ds: Dataset, as_of: Any, observation_end: Any = None, lookback: str = "3M",
                 time_unit: str = "W") -> pd.DataFrame:
    """Purchases after ``as_of`` (RFM) and service features before it, one row per customer.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        ``customers``, ``revenue`` (payments; refunds, amount <= 0, are not purchases),
        ``tickets`` and ``surveys``. On an engine the features and the purchases' RFM come
        back per customer (:func:`slm_lib.clv.rfm.purchase_rfm`).
    as_of : timestamp
        When the service features are measured (naive = UTC); purchases are counted from it.
    observation_end : timestamp, optional
        Last day of purchases (inclusive); default the last payment day.
    lookback : str, default "3M"
        Window of the service features.
    time_unit : str, default "W"
        Unit of recency and T.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer_id: ``frequency, recency, T, monetary_value`` and the
        :data:`slm_lib.features.FEATURE_COLUMNS` service columns.

    Raises
    ------
    InsufficientDataError
        No active customer at ``as_of`` buys after it.

    Examples
    --------
    >>> from slm_lib.synth import generate
    >>> d = dropout_data(generate(customers=300, months=12, seed=1), "2025-05-01")
    >>> d[["frequency", "recency", "T", "median_frt_h"]].notna().any().all()
    np.True_
    """
    as_of = utc_instant(as_of, "as_of")
    features = customer_features(ds, as_of, lookback=lookback, horizon="1D").set_index("customer_id")
    rfm = purchase_rfm(ds, start=as_of, customers=features.index, observation_end=observation_end,
                       time_unit=time_unit)
    if rfm.empty:
        raise InsufficientDataError(f"dropout_data: no customer active at {as_of} paid after it")
    service = features.drop(columns=["as_of", "churned", "revenue_horizon", "duration_days", "event"])
    return rfm.join(service, how="left")


def service_dropout(ds: Dataset, drivers: Sequence[str], as_of: Any, observation_end: Any = None,
                    lookback: str = "3M", time_unit: str = "W", units: Mapping[str, float | str] | None = None,
                    references: Mapping[str, str] | None = None) -> BetaGeoCovariateModel:
    """BG/NBD with drop-out driven by service features, fitted on :func:`dropout_data`.

    Purchases must vary in timing from customer to customer: monthly subscription payments
    (as in :func:`slm_lib.synth.generate`) are too regular for the BG/NBD, whose fit then
    fails with a :class:`ModelFitError` naming parameters that run off to infinity; use
    :func:`service_churn` for those.

    Returns
    -------
    BetaGeoCovariateModel
        Fitted; ``.dropout_effects`` (odds ratios per stated unit), ``.summary``, and
        ``.data_`` (the frame it was fitted on).
    """
    data = dropout_data(ds, as_of, observation_end, lookback, time_unit)
    model = BetaGeoCovariateModel(drivers, units, references).fit(
        data["frequency"], data["recency"], data["T"], data.reset_index())
    model.data_ = data
    return model


def churn_data(ds: Dataset, as_of: Any, horizon: str = "6M", lookback: str = "3M") -> pd.DataFrame:
    """Monthly renewals of the customers active at ``as_of``, followed over ``horizon``, with service features.

    A customer signed up in month ``c`` has made ``entered = month(as_of) - c`` renewals at
    ``as_of`` (a month start), and ``renewals = month(churned_at) - c`` with ``churned`` if
    she left in ``(as_of, as_of + horizon]``, else ``month(as_of + horizon) - c`` (censored).

    Returns
    -------
    pandas.DataFrame
        customer_id, renewals, churned, entered and the service columns of
        :func:`slm_lib.features.customer_features`.

    Examples
    --------
    >>> from slm_lib.synth import generate
    >>> d = churn_data(generate(customers=300, months=12, seed=1), "2025-05-01", horizon="3M")
    >>> bool((d["entered"] <= d["renewals"]).all() and d["churned"].any())
    True
    """
    as_of = utc_instant(as_of, "as_of")
    features = customer_features(ds, as_of, lookback=lookback, horizon=horizon)
    end = as_of + window_offset(horizon)

    def month(ts: Any) -> np.ndarray:   # UTC calendar months
        return period_ordinals(pd.Series(ts).reset_index(drop=True), "M")

    customers = active_customers(ds, as_of, ["customer_id", "signup_at", "churned_at"]).set_index(
        "customer_id").reindex(features["customer_id"])
    cohort = month(customers["signup_at"])
    last = np.where(features["churned"], month(customers["churned_at"]), month([end])[0])
    out = features.drop(columns=["as_of", "duration_days", "event"]).copy()
    out["entered"] = month([as_of])[0] - cohort
    out["renewals"] = np.maximum(last - cohort, out["entered"])
    return out


def service_churn(ds: Dataset, drivers: Sequence[str], as_of: Any, horizon: str = "6M", lookback: str = "3M",
                  units: Mapping[str, float | str] | None = None, references: Mapping[str, str] | None = None,
                  linked: Sequence[str] = ("alpha",)) -> ShiftedBetaGeoCovariateModel:
    """sBG with monthly churn driven by service features, fitted on :func:`churn_data`.

    By default only ``alpha`` is linked to the covariates (``linked``): customers followed
    from ``as_of`` are mostly long-standing, where the churn probability of the next period
    is about ``alpha_i / (beta + t)``, so the odds ratio reads as a hazard ratio, and the
    separate ``alpha`` and ``beta`` effects are poorly identified in a short horizon.

    Returns
    -------
    ShiftedBetaGeoCovariateModel
        Fitted; ``.churn_effects`` (odds ratios of the mean monthly churn probability per
        stated unit), ``.summary`` and ``.data_``.

    Examples
    --------
    >>> from slm_lib.synth import generate
    >>> m = service_churn(generate(customers=1500, months=12, seed=1), ["sla_breach_share"], "2025-05-01")
    >>> m.churn_effects["label"].tolist()
    ['SLA breach share (per +1)']
    """
    data = churn_data(ds, as_of, horizon, lookback)
    model = ShiftedBetaGeoCovariateModel(drivers, units, references, linked).fit(
        data["renewals"], data["churned"], data, entered=data["entered"])
    model.data_ = data
    return model


def dropout_sentences(model: BetaGeoCovariateModel | ShiftedBetaGeoCovariateModel) -> list[str]:
    """One plain-words sentence per covariate of a fitted drop-out or churn covariate model.

    Examples
    --------
    >>> from slm_lib.synth import generate
    >>> m = service_churn(generate(customers=1500, months=12, seed=1), ["sla_breach_share"], "2025-05-01")
    >>> dropout_sentences(m)[0].startswith("Each +1 of SLA breach share")
    True
    """
    contractual = isinstance(model, ShiftedBetaGeoCovariateModel)
    table = model.churn_effects if contractual else model.dropout_effects
    outcome = "monthly churn" if contractual else "dropping out after a purchase"
    out = []
    for _, r in table.iterrows():
        ratio = format_estimate(r["odds_ratio"], r["ci_low"], r["ci_high"], signed=False)
        out.append(effect_sentence(describe_term(r, model.design_.terms), f"multiplies the odds of {outcome} by",
                                   outcome, f"{ratio}, n = {int(r['n']):,} customers",
                                   is_clear(r["ci_low"], r["ci_high"], 1.0), "odds ratio"))
    return out
