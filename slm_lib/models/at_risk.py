"""Customers at risk: churn probability per customer, the drivers behind it, and what the customer is worth.

:func:`at_risk` at an instant ``as_of`` (no data after it are used):

1. **model**: the Logit churn model (:func:`slm_lib.models.churn_model`) fitted on the
   customer features at ``as_of - k * horizon`` (``k = 1 .. train_periods``); every training
   outcome window ends at or before ``as_of``;
2. **score**: each customer active at ``as_of`` gets ``P(churn in (as_of, as_of + horizon])``
   with a 95% interval (delta method on the linear predictor); customers missing a driver
   (e.g. no ticket in the lookback) cannot be scored and are counted in ``n_unscored``;
3. **drivers**: a driver's contribution is ``b (x - reference)`` on the log-odds scale, the
   reference being the training mean of a numeric driver and the reference level of a
   categorical one; ``top_drivers`` names the (up to three) positive ones, largest first,
   with the labels of the model tables and the odds multiplier ``exp(contribution)``;
   ``outside_training`` flags the numeric drivers whose value lies outside the range of
   the fitted rows (the score extrapolates there);
4. **value**: BG/NBD and Gamma-Gamma on the payments before ``as_of`` (refunds left out)
   give ``p_alive`` and the predicted CLV over ``clv_horizon`` weeks (1% a month discount);
5. **holdout**: the same model fitted one window earlier and judged on the window ending at
   ``as_of`` (:func:`slm_lib.models.holdout.evaluate_churn`), for its AUC with interval.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit

from slm_lib.clv import BetaGeoModel, GammaGammaModel, predictive_clv
from slm_lib.clv.rfm import purchase_rfm
from slm_lib.errors import InsufficientDataError, SlmError
from slm_lib.features import customer_features
from slm_lib.io.dataset import Dataset
from slm_lib.models._design import Z, design_rows, reference_row
from slm_lib.models.churn import churn_model, default_churn_drivers
from slm_lib.models.holdout import ChurnHoldout, evaluate_churn, linear_predictor, split_instants
from slm_lib.periods import utc_instant
from slm_lib.wording import format_estimate, format_number

__all__ = ["AtRisk", "at_risk"]

_NS = pd.Timedelta(1, "ns")


@dataclass
class AtRisk:
    """Result of :func:`at_risk`.

    ``table``: the ``top`` customers by churn probability: ``rank, customer_id, segment,
    churn_probability, ci_low, ci_high, top_drivers, outside_training, p_alive, clv, clv_low,
    clv_high``. ``outside_training`` names the numeric drivers whose value lies outside the
    range the model was fitted on, with the value and that range ('' when none): such a
    probability extrapolates the fitted curve (a value beyond the data can give nearly 100%).
    ``drivers``: every scored customer's driver contributions (``customer_id, term, label,
    contribution`` in log-odds). ``holdout``: the time-split check; ``auc`` its AUC row.
    """

    table: pd.DataFrame
    drivers: pd.DataFrame
    holdout: ChurnHoldout | None
    as_of: pd.Timestamp
    horizon: str
    n_active: int
    n_unscored: int
    clv_note: str = ""

    @property
    def auc(self) -> pd.Series | None:
        """The holdout AUC: ``value, std_error, ci_low, ci_high, n, events`` (None without a holdout)."""
        if self.holdout is None:
            return None
        return self.holdout.metrics.set_index("metric").loc["auc"]

    def sentences(self) -> list[str]:
        """The result in words (customer ids only; no customer text)."""
        t = self.table
        out = [f"Of {self.n_active:,} customers active on {self.as_of:%Y-%m-%d}, the {len(t):,} most at risk have a "
               f"mean churn probability of {100 * t['churn_probability'].mean():.1f}% within {self.horizon} of that day "
               f"(highest: {t['customer_id'].iloc[0]}, {100 * t['churn_probability'].iloc[0]:.1f}%)."
               if len(t) else f"No customer active on {self.as_of:%Y-%m-%d} could be scored."]
        if self.n_unscored:
            out.append(f"{self.n_unscored:,} customers could not be scored: a driver is missing for them "
                       "(typically no ticket in the lookback window).")
        auc = self.auc
        if auc is not None:
            out.append(f"Judged on the window ending {self.as_of:%Y-%m-%d} (a model fitted before it), the model ranks "
                       f"a churner above a stayer {format_estimate(auc['value'], auc['ci_low'], auc['ci_high'], signed=False)}"
                       f" of the time (AUC; 0.5 = chance; n = {int(auc['n']):,}, {int(auc['events']):,} churned).")
        outside = int((t["outside_training"] != "").sum()) if len(t) else 0
        if outside:
            out.append(f"{outside:,} of them have a driver value outside the range the model was fitted on "
                       "(outside_training): their probability extrapolates the model, and one near 100% says the "
                       "value lies beyond the data, not that churn is certain.")
        if len(t) and t["clv"].notna().any():
            out.append(f"Their predicted value over the next year is {t['clv'].sum():,.0f} in all "
                       f"(median {t['clv'].median():,.0f} per customer).")
        if len(t):
            first = t["top_drivers"].str.split(";").str[0].str.replace(r" \(odds .*$", "", regex=True)
            common = first[first != ""].value_counts()
            if len(common):
                out.append(f"The most common first driver among them is {common.index[0]} ({common.iloc[0]:,} customers).")
        return out + ([self.clv_note] if self.clv_note else [])


def _contributions(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Per customer and driver source: ``b (x - reference)`` summed over the source's terms (long format)."""
    design = model.design
    X = design_rows(design, features)
    ref = reference_row(design)
    params = pd.Series(np.asarray(model.result.params, dtype=float), index=design.X.columns)
    labels = model.table.set_index("term")["label"]
    rows = []
    for t in design.terms:
        if t.role != "driver":
            continue
        contrib = params[t.name] * (X[t.name] - ref[t.name])
        label = labels[t.name] if t.level is not None else labels[t.name].split(" (per ")[0]
        rows.append(pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "term": t.name,
                                  "label": label, "contribution": contrib.to_numpy(),
                                  "active": (X[t.name].to_numpy() != 0) | (t.level is None)}))
    long = pd.concat(rows, ignore_index=True)
    # a categorical driver speaks for the level the customer has (the others contribute 0)
    return long.loc[long["active"]].drop(columns="active").reset_index(drop=True)


def _outside_training(model: Any, features: pd.DataFrame) -> pd.Series:
    """Per row of ``features``: the numeric drivers outside the range of the rows the model was fitted on.

    ``"median first response 412 (fitted 0.2 to 180)"``, joined by ``"; "`` ('' when none):
    a score there extrapolates the fitted curve, which is why it can come out near 0 or 1.
    """
    design = model.design
    X = design_rows(design, features)
    labels = model.table.set_index("term")["label"]
    out = pd.Series("", index=features.index)
    for t in design.terms:
        if t.role != "driver" or t.level is not None:
            continue
        fitted = design.X[t.name]
        lo, hi = fitted.min(), fitted.max()
        outside = (X[t.name] < lo) | (X[t.name] > hi)
        text = (labels[t.name].split(" (per ")[0] + " " + features[t.source].map(lambda v: f"{v:.3g}")
                + f" (fitted {lo * t.scale:.3g} to {hi * t.scale:.3g})")
        out = out.where(~outside, out.where(out == "", out + "; ") + text)
    return out


def _top_text(long: pd.DataFrame, k: int = 3) -> pd.Series:
    up = long.loc[long["contribution"] > 0].sort_values(["customer_id", "contribution"], ascending=[True, False])
    up = up.groupby("customer_id", sort=False).head(k)
    odds = np.exp(up["contribution"]).map(lambda r: format_number(r, 0 if r >= 100 else 2))
    text = up["label"] + " (odds ×" + odds + ")"
    return text.groupby(up["customer_id"], sort=False).agg("; ".join)


def _value(ds: Dataset, as_of: pd.Timestamp, customers: pd.Series, clv_horizon: float) -> tuple[pd.DataFrame, str]:
    """P(alive) and predicted CLV per customer from the payments before ``as_of``."""
    rfm = purchase_rfm(ds, end=as_of, observation_end=as_of - _NS, time_unit="W")
    empty = pd.DataFrame(index=pd.Index(customers, name="customer_id"),
                         columns=["p_alive", "clv", "clv_low", "clv_high"], dtype=float)
    if rfm.empty:
        return empty, "No payments before the instant: P(alive) and CLV are not shown."
    try:
        rfm = rfm.loc[rfm["T"] > 0]   # first paid on the last day: no time observed, not valued
        bg = BetaGeoModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
        repeat = rfm.loc[rfm["frequency"] > 0]
        gg = GammaGammaModel().fit(repeat["frequency"], repeat["monetary_value"])
        clv = predictive_clv(bg, gg, rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"],
                             horizon=clv_horizon)
    except SlmError as err:   # e.g. regular subscription payments, which are not the repeat buying BG/NBD describes
        reason = re.sub(r"\s*\(\{[^)]*\}\)", "", str(err)).split(";")[0]   # without the parameter dump and advice
        return empty, (f"P(alive) and CLV are not shown: the BG/NBD and Gamma-Gamma models could not be fitted to the "
                       f"payments before {as_of:%Y-%m-%d} ({reason}). Regular subscription payments are better valued "
                       "with the contractual (sBG) CLV.")
    out = clv.rename(columns={"probability_alive": "p_alive", "ci_low": "clv_low", "ci_high": "clv_high"})
    return out[["p_alive", "clv", "clv_low", "clv_high"]].reindex(pd.Index(customers, name="customer_id")), ""


def at_risk(ds: Dataset, as_of: Any, horizon: str = "1M", top: int = 100, lookback: str = "3M",
            train_periods: int = 12, drivers: Iterable[str] | None = None,
            controls: Iterable[str] = ("tenure_years", "segment"), units: Mapping[str, float | str] | None = None,
            clv_horizon: float = 52, holdout: bool = True) -> AtRisk:
    """The customers most likely to churn after ``as_of``, why, and what they are worth.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Canonical tables; nothing at or after ``as_of`` is used (module docstring). On an
        engine the features and the purchases' RFM come back per customer; the models are
        the pandas engine's.
    as_of : timestamp
        The instant of the scores (e.g. the start of the month after the report month).
    horizon, lookback : str
        Churn window after ``as_of`` and feature lookback (``customer_features``).
    top : int
        Customers in ``table``.
    train_periods : int
        Training windows before ``as_of``.
    drivers, units : optional
        Default :func:`slm_lib.models.churn.default_churn_drivers`.
    controls : sequence of str
        Adjusted for, not listed as drivers.
    clv_horizon : float
        Weeks of predicted CLV.
    holdout : bool
        Also judge the model on the window ending at ``as_of`` (AUC).

    Returns
    -------
    AtRisk

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> r = at_risk(synth.generate(customers=1500, months=14, seed=3), "2025-12-01", top=5, train_periods=9)
    >>> list(r.table.columns)[:5], len(r.table)
    (['rank', 'customer_id', 'segment', 'churn_probability', 'ci_low'], 5)
    """
    instant = utc_instant(as_of)
    if drivers is None:
        drivers, default_units = default_churn_drivers(ds)
        units = default_units if units is None else units
    drivers, controls = list(drivers), list(controls)
    panel = customer_features(ds, split_instants(instant, horizon, train_periods + 1), lookback=lookback,
                              horizon=horizon)
    times = np.sort(panel["as_of"].unique())
    needed = 3 if holdout else 2   # the scored instant, training windows and (holdout) the window judged
    if len(times) < needed or utc_instant(times[-1]) != instant:
        raise InsufficientDataError(
            f"at_risk: customers active at {len(times)} of the {train_periods + 1} instants up to "
            f"{instant:%Y-%m-%d} (the last of them needed); {needed} are needed to "
            f"{'train, judge and score' if holdout else 'train and score'} the churn model")
    now, last = panel["as_of"] == times[-1], panel["as_of"] == times[-2]
    train = panel.loc[~now]
    check = evaluate_churn(train.loc[~last], train.loc[last], drivers, controls, units) if holdout else None
    model = churn_model(train, drivers, controls, units=units)

    current = panel.loc[now].reset_index(drop=True)
    eta, se = linear_predictor(model, current)
    scored = np.isfinite(eta)
    current = current.loc[scored].assign(churn_probability=expit(eta[scored]), ci_low=expit(eta[scored] - Z * se[scored]),
                                         ci_high=expit(eta[scored] + Z * se[scored]))
    long = _contributions(model, current)
    current["top_drivers"] = current["customer_id"].map(_top_text(long)).fillna("")
    current["outside_training"] = _outside_training(model, current)
    current = current.sort_values(["churn_probability", "customer_id"], ascending=[False, True]).head(top)
    value, note = _value(ds, instant, current["customer_id"], clv_horizon)
    table = current[["customer_id", "segment", "churn_probability", "ci_low", "ci_high", "top_drivers",
                     "outside_training"]].reset_index(
        drop=True).join(value.reset_index(drop=True))
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return AtRisk(table, long, check, instant, horizon, int(now.sum()), int((~scored).sum()), note)
