"""Predictive CLV of subscription customers from their own churn data (SPEC §5).

Survivor counts follow :func:`slm_lib.cohorts.cohort_retention` (``mode="contractual"``):
cohort = signup month (in ``tz``, UTC by default); survivors at the start of period ``k`` = members not churned
before the start of month ``cohort + k``. So period 0 is the whole cohort and survivors at
period ``k >= 1`` equal the ``active`` count of ``cohort_retention`` at age ``k - 1``;
period 1 is the (partial) signup month. A cell is kept only when the start of month
``cohort + k`` is at or before ``as_of`` (later cells are right-censored and excluded),
and cohorts still signing up at ``as_of`` are left out.

Left truncation. Data rarely reach back to the first signup: customers who left before
the records begin were never stored. ``observed_from`` (default: the start of the month of
the first non-signup event in the data: a churn, ticket, survey or payment) marks where
the records begin; a cohort signed up earlier enters at the period of that month, and
:meth:`ShiftedBetaGeoModel.fit` conditions it on survival to that period. The default errs
on the safe side: truncating a cohort whose early churn was in fact complete only gives up
a little information, while treating unrecorded early churn as "nobody left" biases the fit
(on simulated sBG data, alpha 1.5 is estimated as about 1.0). Pass ``observed_from`` when
the records are known to be complete from an earlier date.

Predictive CLV per group (:func:`contractual_clv`) fits one sBG per group to all its
cohorts, then values the customers active at ``as_of``: a customer of cohort ``c`` has
made ``K = month(as_of) - c`` renewals (month starts survived), so its discounted expected
residual lifetime is ``DERL(d, n = K + 1)`` (future month starts, the next one undiscounted;
the current month is already paid), averaged over the group's active customers.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.clv.sbg import ShiftedBetaGeoModel
from slm_lib.config import CONFIDENCE
from slm_lib.errors import (ConfigError, DataValidationError, InsufficientDataError, MissingTableError,
                            ModelFitError)
from slm_lib.io.dataset import Dataset, active_customers
from slm_lib.periods import NAT_ORDINAL, check_freq, period_labels, period_ordinals, period_starts, utc_instant
from slm_lib.wording import feature_label, format_estimate, format_number, interval_decimals

__all__ = ["cohort_survivors", "contractual_clv", "observation_start"]

#: Months of revenue before ``as_of`` that define the monthly margin.
MARGIN_MONTHS = 3
#: The group of the customers whose ``by`` value is missing.
MISSING_GROUP = "(missing)"


def observation_start(ds: Dataset, tz: str = "UTC") -> pd.Timestamp:
    """Start of the month (in ``tz``) of the first non-signup event: a churn, ticket, survey or payment.

    Taken as the moment the records begin: earlier churn is assumed unrecorded.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> c = empty_frame("customers")
    >>> c.loc[0] = ["a", pd.Timestamp("2020-01-05", tz="UTC"), "smb", None, pd.Timestamp("2024-03-09", tz="UTC")]
    >>> str(observation_start(Dataset(customers=c)).date())
    '2024-03-01'
    """
    on_engine = getattr(ds, "engine_first_activity", None)  # a LazyDataset (slm_lib.engines) finds it itself
    if on_engine is not None:
        first = on_engine()
    else:
        found = [s.min() for s in (ds.customers["churned_at"], ds.tickets["created_at"],
                                   ds.surveys["submitted_at"], ds.revenue["paid_at"]) if s.notna().any()]
        first = min(found) if found else ds.customers["signup_at"].min()
    if pd.isna(first):
        raise InsufficientDataError("observation_start: the data set holds no timestamps")
    return _month_start(first, tz)


def _month_start(instant: pd.Timestamp, tz: str) -> pd.Timestamp:
    """The start (in ``tz``) of the calendar month in ``tz`` holding ``instant``."""
    return period_starts(period_ordinals(pd.Series([instant]), "M", tz), "M", tz).tz_convert(tz)[0]


def _group_labels(values: Any) -> np.ndarray:
    """The ``by`` values as group labels (str), :data:`MISSING_GROUP` where missing."""
    values = pd.Series(values, dtype=object)
    return values.where(values.notna(), MISSING_GROUP).astype(str).to_numpy()


def _check_by(ds: Dataset, by: str | None) -> None:
    if ds.customers is None:   # a LazyDataset without a customers table
        raise MissingTableError("contractual CLV: the data set has no 'customers' table")
    columns = list(ds.customers.columns)
    if by is not None and by not in columns:
        raise ConfigError(f"by: customers has no column {by!r}; available: {columns}")


def _cohort_lives(ds: Dataset, as_of: pd.Timestamp, freq: str, by: str | None, tz: str) -> pd.DataFrame:
    """Customers signed up before ``as_of`` counted by ``group``, ``cohort`` and ``life`` (``n``).

    ``life``: the period of the churn before ``as_of`` minus the cohort (NAT_ORDINAL when
    not churned before it). A LazyDataset counts them on its engine
    (:func:`slm_lib.engines.customers.cohort_lives`).
    """
    _check_by(ds, by)
    on_engine = getattr(ds, "engine_cohort_lives", None)
    if on_engine is not None:
        return on_engine(as_of=as_of, freq=freq, by=by, tz=tz)
    customers = ds.customers.loc[ds.customers["signup_at"] < as_of]
    cohort = period_ordinals(customers["signup_at"], freq, tz)
    churn = customers["churned_at"].where(customers["churned_at"] < as_of)
    life = np.where(churn.notna(), period_ordinals(churn, freq, tz) - cohort, NAT_ORDINAL)
    group = customers[by].to_numpy() if by else np.full(len(customers), "all")
    frame = pd.DataFrame({"group": group, "cohort": cohort, "life": life})
    return frame.groupby(["group", "cohort", "life"], dropna=False).size().rename("n").reset_index()


def cohort_survivors(ds: Dataset, as_of: Any, freq: str = "M", by: str | None = None,
                     observed_from: Any = None, tz: str = "UTC") -> pd.DataFrame:
    """Survivors at the start of each observed period, per signup cohort (and group).

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Uses ``customers.signup_at``, ``churned_at`` (and ``by``); a LazyDataset counts the
        customers by group, cohort and months survived on its engine.
    as_of : timestamp
        Observation end (naive = UTC). Only churn before ``as_of`` counts.
    freq : str, default "M"
        Calendar period of cohorts and ages (as :func:`slm_lib.cohorts.cohort_retention`).
    by : str, optional
        A customers column (e.g. ``"segment"``): cohorts are split by it (customers without
        a value form the group :data:`MISSING_GROUP`).
    observed_from : timestamp, optional
        When the records begin (default :func:`observation_start`); earlier cohorts are
        left-truncated: their first row is the period containing ``observed_from``.
    tz : str
        Time zone of the calendar periods (the report's).

    Returns
    -------
    pandas.DataFrame
        Tidy: ``[<by>,] cohort, period, survivors`` with ``period`` from each cohort's first
        observed period to its last (``period(as_of) - cohort``).

    Raises
    ------
    InsufficientDataError
        No cohort whose signup period ended by ``as_of``.
    ConfigError
        Unknown ``freq`` or ``by`` column, ``observed_from`` after ``as_of``.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> c = empty_frame("customers")
    >>> ts = lambda s: pd.Timestamp(s, tz="UTC")
    >>> c.loc[0] = ["a", ts("2024-01-03"), "smb", None, ts("2024-02-10")]
    >>> c.loc[1] = ["b", ts("2024-01-09"), "smb", None, pd.NaT]
    >>> cohort_survivors(Dataset(customers=c), "2024-04-01", observed_from="2024-01-01")["survivors"].tolist()
    [2, 2, 1, 1]
    >>> cohort_survivors(Dataset(customers=c), "2024-04-01")["period"].tolist()   # records begin with the churn
    [1, 2, 3]
    """
    as_of = utc_instant(as_of, "as_of")
    start = observation_start(ds, tz) if observed_from is None else utc_instant(observed_from, "observed_from")
    pfreq = check_freq(freq)
    a_ord, obs_ord = (int(period_ordinals(pd.Series([t]), pfreq, tz)[0]) for t in (as_of, start))
    if obs_ord > a_ord:
        raise ConfigError(f"observed_from={start} is after as_of={as_of}")
    lives = _cohort_lives(ds, as_of, pfreq, by, tz)
    lives = lives.loc[lives["cohort"].to_numpy() < a_ord]   # the signup period has ended by as_of
    if lives.empty:
        raise InsufficientDataError(f"cohort_survivors: no cohort signed up before the {pfreq} period of "
                                    f"as_of={as_of} has ended")
    cohort = lives["cohort"].to_numpy(dtype=np.int64)
    life = lives["life"].to_numpy(dtype=np.int64)          # alive at the start of period k iff k <= life
    key = pd.MultiIndex.from_arrays([_group_labels(lives["group"]), cohort])
    cells, pos = np.unique(np.asarray(key.codes).T, axis=0, return_inverse=True)
    pos = pos.ravel()
    first = np.maximum(obs_ord - cohort, 0)
    last = a_ord - cohort
    n_cells, width = len(cells), int(last.max()) + 2
    # exits[cell, j]: members no longer alive from period j on (life + 1), capped at width - 1
    exits = np.zeros((n_cells, width))
    np.add.at(exits, (pos, np.clip(life + 1, 0, width - 1)), lives["n"].to_numpy(dtype=np.float64))
    size = exits.sum(axis=1)
    alive = size[:, None] - np.cumsum(exits, axis=1)        # alive at the start of period k
    cell_first = np.zeros(n_cells, dtype=int)
    cell_last = np.zeros(n_cells, dtype=int)
    cell_first[pos], cell_last[pos] = first, last
    lengths = np.where(alive[np.arange(n_cells), cell_first] > 0, cell_last - cell_first + 1, 0)
    row = np.repeat(np.arange(n_cells), lengths)          # cohorts empty on entry carry no information
    period = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + cell_first[row]
    cohort_ord = key.levels[1].to_numpy()[cells[:, 1]]
    out = pd.DataFrame({
        "cohort": period_labels(cohort_ord[row], pfreq),
        "period": period.astype("int64"),
        "survivors": alive[row, period].round().astype("int64"),
    })
    if by:
        out.insert(0, by, key.levels[0].to_numpy()[cells[row, 0]])
    return out


def _active(ds: Dataset, as_of: pd.Timestamp, by: str | None, tz: str) -> pd.DataFrame:
    _check_by(ds, by)
    c = active_customers(ds, as_of, ["customer_id", "signup_at", *([by] if by else [])])
    a_ord = int(period_ordinals(pd.Series([as_of]), "M", tz)[0])
    renewals = a_ord - period_ordinals(c["signup_at"], "M", tz)
    window = np.clip(np.minimum(renewals, MARGIN_MONTHS), 0, None)  # months of the window as a customer
    group = _group_labels(c[by]) if by else np.full(len(c), "all")
    return pd.DataFrame({"customer_id": c["customer_id"].to_numpy(), "group": group,
                         "renewals": renewals, "window_months": window})


def _monthly_margin(ds: Dataset, active: pd.DataFrame, as_of: pd.Timestamp, tz: str) -> pd.Series:
    """Net revenue per customer-month of the active customers, over the MARGIN_MONTHS months before as_of."""
    month_start = _month_start(as_of, tz)
    lo = month_start - pd.DateOffset(months=MARGIN_MONTHS)
    paid = _payment_totals(ds, lo, month_start)
    amount = active["customer_id"].map(paid).fillna(0.0)
    totals = pd.DataFrame({"group": active["group"], "amount": amount, "months": active["window_months"]})
    sums = totals.groupby("group")[["amount", "months"]].sum()
    return sums["amount"] / sums["months"].where(sums["months"] > 0)


def _payment_totals(ds: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Net amount paid in ``[start, end)`` per customer (a LazyDataset sums on its engine)."""
    on_engine = getattr(ds, "engine_payment_totals", None)
    if on_engine is not None:
        return on_engine(start=start, end=end)
    pay = ds.revenue.loc[(ds.revenue["paid_at"] >= start) & (ds.revenue["paid_at"] < end)]
    return pay.groupby("customer_id")["amount"].sum()


def _fit_group(frame: pd.DataFrame, label: str, min_cohorts: int,
               min_churn: int) -> tuple[ShiftedBetaGeoModel, int]:
    spans = frame.groupby("cohort")["period"].agg(["min", "max"])
    informative = int((spans["max"] > spans["min"]).sum())
    ordered = frame.sort_values(["cohort", "period"])
    drops = -ordered.groupby("cohort")["survivors"].diff().fillna(0).sum()
    if informative < min_cohorts or drops < min_churn:
        raise InsufficientDataError(
            f"contractual_clv: group {label}: {informative} cohort(s) observed over 2+ periods and "
            f"{int(drops)} churn event(s); need at least {min_cohorts} and {min_churn}")
    try:
        return ShiftedBetaGeoModel().fit(frame[["cohort", "period", "survivors"]]), int(drops)
    except ModelFitError as exc:
        raise ModelFitError(f"contractual_clv: group {label}: {exc}") from exc


def contractual_clv(ds: Dataset, as_of: Any, by: str | None = "segment", discount_rate: float = 0.01,
                    margin: float | None = None, margin_share: float = 1.0, n_draws: int = 2000,
                    seed: int = 0, min_cohorts: int = 3, min_churn: int = 10,
                    observed_from: Any = None, tz: str = "UTC") -> pd.DataFrame:
    """Predictive CLV of the active subscription customers, per group, from a monthly sBG.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        ``customers`` (signup, churn, ``by``) and ``revenue``. On an engine only per-cohort
        counts, the active customers' rows and per-customer payment totals are collected
        (:mod:`slm_lib.engines.customers`); the fits are the pandas engine's.
    as_of : timestamp
        Valuation date (naive = UTC), ideally a month start.
    by : str or None, default "segment"
        Customers column to group by; None for one group ``"all"``.
    discount_rate : float, default 0.01
        Monthly discount rate.
    margin : float, optional
        Absolute monthly margin per customer; overrides the revenue-based margin.
    margin_share : float, default 1.0
        Share (0, 1] of net revenue that is margin (e.g. 0.3 for a 30 % gross margin); used
        only when ``margin`` is None. The revenue-based figure is net revenue (refunds
        included) of the group's active customers over the 3 calendar months before the
        month of ``as_of``, per customer-month as a customer in those months.
    n_draws, seed : int
        Parametric-bootstrap draws of (alpha, beta) for the CLV interval (parameter
        uncertainty only).
    min_cohorts, min_churn : int
        A group needs this many cohorts observed over 2+ periods and churn events.
    observed_from : timestamp, optional
        When records begin (see :func:`cohort_survivors`).
    tz : str
        Time zone of the calendar months (the report's).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``<by>, n_customers`` (active at ``as_of``), ``n_cohorts,
        churn_events, alpha, beta, retention_next`` (mean probability of still being a
        customer at the next month start) and its interval ``retention_low, retention_high``,
        ``expected_remaining_months`` (undiscounted mean further month starts; NaN when
        alpha <= 1, see ``note``), ``derl, margin,
        clv, clv_low, clv_high`` (per active customer, 95 % interval), ``total_clv,
        total_low, total_high`` (n_customers x clv) and ``note``.

    Raises
    ------
    InsufficientDataError
        A group with too few cohorts or churn events (named), or no active customers at all.
    ModelFitError
        The sBG fit of a group fails (named).

    Examples
    --------
    >>> from slm_lib.synth import generate
    >>> out = contractual_clv(generate(customers=800, months=12, seed=3), "2025-11-01", by=None, n_draws=200)
    >>> out[["n_customers", "clv"]].gt(0).all(axis=None)
    np.True_
    """
    as_of = utc_instant(as_of, "as_of")
    if margin is None and not 0 < margin_share <= 1:
        raise ConfigError(f"margin_share: must be in (0, 1], got {margin_share}")
    if margin is not None and margin_share != 1.0:
        raise ConfigError("contractual_clv: give either margin (absolute) or margin_share, not both")
    if discount_rate < 0:
        raise DataValidationError(f"discount_rate: must be >= 0, got {discount_rate}")
    surv = cohort_survivors(ds, as_of, "M", by, observed_from, tz)
    active = _active(ds, as_of, by, tz)
    per_month = (_monthly_margin(ds, active, as_of, tz) * margin_share) if margin is None else None
    col = by or "group"
    groups = surv[by].unique() if by else np.array(["all"])
    rows = []
    for g in groups:  # one sBG per group (a handful), not a loop over rows
        frame = surv[surv[by] == g] if by else surv
        fit, events = _fit_group(frame, f"{col}={str(g)!r}", min_cohorts, min_churn)
        mine = active.loc[active["group"] == g, "renewals"].to_numpy()
        p = fit.params_
        m = float(margin) if margin is not None else float(per_month.get(g, np.nan))
        row = {col: g, "n_customers": len(mine), "n_cohorts": frame["cohort"].nunique(),
               "churn_events": events,
               "alpha": p["alpha"], "beta": p["beta"]}
        if len(mine):
            value = fit.contractual_clv(m, discount_rate, mine + 1, n_draws=n_draws, seed=seed)
            remaining = float(np.mean(fit.residual_lifetime(mine + 1)))
            levels, count = np.unique(mine + 1, return_counts=True)
            draws = fit.result_.draw(n_draws, seed)          # same draws as the CLV interval
            per_draw = fit.retention_rate(levels[None, :], {"alpha": draws[:, :1], "beta": draws[:, 1:]})
            lo, hi = np.quantile(per_draw @ (count / count.sum()), [0.5 - CONFIDENCE / 2, 0.5 + CONFIDENCE / 2])
            row.update(retention_next=float(np.mean(fit.retention_rate(mine + 1))),
                       retention_low=lo, retention_high=hi,
                       expected_remaining_months=remaining if np.isfinite(remaining) else np.nan,
                       derl=value["derl"], margin=m, clv=value["clv"], clv_low=value["ci_low"],
                       clv_high=value["ci_high"])
            row["note"] = ("" if np.isfinite(remaining) else
                           "alpha <= 1: undiscounted expected lifetime is infinite; only the discounted DERL is finite")
        else:
            row["note"] = "no active customers at as_of"
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("retention_next", "retention_low", "retention_high", "expected_remaining_months", "derl",
              "margin", "clv", "clv_low", "clv_high"):
        out[c] = out.get(c, pd.Series(np.nan, index=out.index)).astype(float)
    for total, per in (("total_clv", "clv"), ("total_low", "clv_low"), ("total_high", "clv_high")):
        out[total] = out["n_customers"] * out[per]
    order = [col, "n_customers", "n_cohorts", "churn_events", "alpha", "beta", "retention_next",
             "retention_low", "retention_high", "expected_remaining_months", "derl", "margin", "clv",
             "clv_low", "clv_high", "total_clv", "total_low", "total_high", "note"]
    return out[order]


def contractual_sentences(table: pd.DataFrame) -> list[str]:
    """One plain-words sentence per group of :func:`contractual_clv`.

    Values are rounded to what their interval supports (:func:`slm_lib.wording.format_estimate`);
    a group without active customers or without a CLV says why.

    Examples
    --------
    >>> t = pd.DataFrame({"segment": ["smb"], "n_customers": [1172], "retention_next": [0.977], "clv": [1680.0],
    ...                   "clv_low": [1547.0], "clv_high": [2035.0], "total_clv": [1.97e6]})
    >>> contractual_sentences(t)[0]
    'Segment smb: 1,172 active customers, 97.7% expected to renew next month; each is worth about 1,680 (95% CI 1,550 to 2,040) from here on, about 1,970,000 for the group.'
    """
    group = table.columns[0]
    out = []
    for r in table.to_dict("records"):
        who = "All customers" if group == "group" else f"{feature_label(group)[0].capitalize()} {r[group]}"
        if not (r["n_customers"] > 0 and np.isfinite(r["clv"])):
            out.append(f"{who}: no CLV estimate ({r.get('note') or 'no active customers'}).")
            continue
        n = r["n_customers"]
        total = format_number(r["total_clv"], interval_decimals(n * r["clv_low"], n * r["clv_high"]))
        out.append(f"{who}: {n:,} active customers, {r['retention_next']:.1%} expected to renew next month; each is "
                   f"worth about {format_estimate(r['clv'], r['clv_low'], r['clv_high'], signed=False)} from here "
                   f"on, about {total} for the group.")
    return out
