"""Customer feature tables at an ``as_of`` instant (SPEC §5).

With :mod:`slm_lib.service_panel` (the monthly aggregates), the only module that windows time.
At an instant ``as_of``:

* **active customers**: ``signup_at < as_of`` and (``churned_at`` null or ``churned_at > as_of``);
* **lookback window** ``W = [as_of - lookback, as_of)``; only records dated strictly before
  ``as_of`` enter a feature (no leakage):

  - ``tickets``: tickets created in W;
  - ``median_frt_h``: median first response time (hours) of tickets created in W whose first
    response came before ``as_of`` (a ticket answered later has no FRT yet); NaN if none;
  - ``sla_breach_share``: first-response SLA over tickets created in W, judged at ``as_of``
    (breached = answered late, or unanswered at ``as_of`` with its clock past the target;
    achieved = answered in time before ``as_of``; pending excluded), breached / (breached +
    achieved); NaN if none decided. Targets default to ``config.DEFAULT_SLA_TARGETS``;
  - ``reopen_share``: tickets created in W and resolved at ``as_of`` that had been reopened
    before it, over those tickets. With ticket events both come from the events before
    ``as_of`` (the status in force and the reopen timestamps, :mod:`slm_lib.metrics.lifecycle`),
    so a reopen after ``as_of`` is unknown, as it should be. A ticket without events falls
    back on its own fields: resolved_at before ``as_of`` and ``reopens > 0`` (a count without
    timestamps: the one place a later reopen can leak in);
  - ``median_requester_wait_h``: median requester wait (time in new, open and on_hold, in
    hours, business hours with a calendar) of the tickets created in W, from their events
    before ``as_of``; an open ticket's wait so far (its clock runs to ``as_of``). NaN without
    ticket events;
  - ``handoff_share``: tickets created in W that had been handed off (assigned to a different
    agent after the first assignment) before ``as_of``, over the tickets created in W with
    events, whatever their status (being passed around while waiting counts). NaN without
    ticket events;
  - ``mean_csat``, ``mean_ces``: mean score of surveys submitted in W; ``last_nps_category``:
    promoter (9-10) / passive (7-8) / detractor (0-6) of the latest NPS answer in W (of two
    submitted at the same instant, the larger ``response_id``: the same on every engine,
    whatever the row order), "none" if there is none;
  - with ``text_features=True`` or ``themes=``: ``comments``, ``mean_comment_sentiment`` and
    ``theme_<name>_share`` of the survey answers with a comment submitted in W
    (:mod:`slm_lib.comment_features`: where the themes come from, their names);
  - ``tenure_days``, ``tenure_years`` (365.25-day years) at ``as_of``; ``historical_clv``:
    revenue (refunds included) paid before ``as_of``;
* **horizon** (outcomes): ``churned`` = ``churned_at`` in ``(as_of, as_of + horizon]``;
  ``revenue_horizon`` = sum of payments in ``[as_of, as_of + horizon)``; ``duration_days`` /
  ``event`` = days from ``as_of`` to churn, censored at the end of the horizon (Cox model).

Window lengths: a ``pandas.DateOffset``/``Timedelta``, a fixed string (``"90D"``, ``"12h"``)
or calendar months/years as ``"3M"``, ``"3MS"``, ``"1Y"`` (``"3M"`` means three *calendar*
months, i.e. ``pd.DateOffset(months=3)``, not a month-end anchor).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from slm_lib.comment_features import DEFAULT_THEMES, CommentFeatures, ThemeSource
from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.lifecycle import lifecycle
from slm_lib.metrics.sla import BREACHED, ACHIEVED, sla_status_codes
from slm_lib.metrics.survey import nps_category
from slm_lib.metrics.tickets import elapsed_hours
from slm_lib.periods import utc_instant

__all__ = ["customer_features", "historical_clv", "window_offset", "FEATURE_COLUMNS"]

FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id", "as_of", "segment", "tenure_days", "tenure_years", "tickets", "median_frt_h",
    "sla_breach_share", "reopen_share", "median_requester_wait_h", "handoff_share", "mean_csat", "last_nps_category", "mean_ces", "historical_clv",
    "churned", "revenue_horizon", "duration_days", "event")

_CALENDAR = re.compile(r"^\s*(\d*)\s*(M|MS|ME|Y|YS|YE|A)\s*$", re.IGNORECASE)
_DAY = pd.Timedelta(days=1)
_NS = pd.Timedelta(1, "ns")
#: Per-customer ticket counts behind the shares: SLA breached and decided, reopened and resolved.
_COUNTS: tuple[str, ...] = ("breached", "decided", "reopened", "resolved")


def window_offset(spec: str | pd.DateOffset | pd.Timedelta) -> pd.DateOffset | pd.Timedelta:
    """Turn a window length into something that can be added to a timestamp.

    Examples
    --------
    >>> pd.Timestamp("2024-05-31") - window_offset("3M")
    Timestamp('2024-02-29 00:00:00')
    >>> window_offset("90D")
    Timedelta('90 days 00:00:00')
    """
    if isinstance(spec, (pd.DateOffset, pd.Timedelta)):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"window length {spec!r}: give a string like '90D' or '3M', or a pandas offset")
    match = _CALENDAR.match(spec)
    if match:
        n = int(match.group(1) or 1)
        return pd.DateOffset(years=n) if match.group(2).upper()[0] in "YA" else pd.DateOffset(months=n)
    try:
        delta = pd.Timedelta(spec)
    except ValueError:
        raise ConfigError(f"window length {spec!r} is neither a duration ('90D') nor calendar months ('3M')") from None
    if delta <= pd.Timedelta(0):
        raise ConfigError(f"window length {spec!r} must be positive")
    return delta


def historical_clv(revenue: pd.DataFrame, as_of: Any, customer_col: str = "customer_id",
                   date_col: str = "paid_at", amount_col: str = "amount",
                   customers: Iterable[str] | None = None) -> pd.Series:
    """Revenue per customer paid on or before ``as_of`` (inclusive), refunds netted.

    Parameters
    ----------
    revenue : pandas.DataFrame
        The canonical ``revenue`` table (``customer_id, paid_at, amount``; refunds negative).
    as_of : datetime-like
        Cut-off instant; a payment at exactly ``as_of`` counts, later ones do not. A naive
        value is read as UTC when ``paid_at`` is time-zone aware.
    customer_col, date_col, amount_col : str
        Column names.
    customers : iterable of str, optional
        Customers to report; those without payments up to ``as_of`` get 0. Default: every
        customer with a payment up to ``as_of``.

    Returns
    -------
    pandas.Series
        ``historical_clv`` (float) indexed by customer id, sorted.

    Examples
    --------
    >>> rev = pd.DataFrame({"customer_id": ["a", "a", "b", "a"],
    ...                     "paid_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                                                "2024-03-02"], utc=True),
    ...                     "amount": [10.0, -2.5, 7.0, 99.0]})
    >>> historical_clv(rev, "2024-03-01", customers=["a", "b", "c"]).tolist()
    [7.5, 7.0, 0.0]
    """
    missing = [c for c in (customer_col, date_col, amount_col) if c not in revenue]
    if missing:
        raise DataValidationError(f"revenue: column(s) {missing} not found; available: {list(revenue.columns)}")
    paid = pd.to_datetime(revenue[date_col], format="ISO8601")
    cut = pd.Timestamp(as_of)
    if paid.dt.tz is not None:
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    elif cut.tzinfo is not None:
        cut = cut.tz_convert("UTC").tz_localize(None)
    amount = pd.to_numeric(revenue[amount_col], errors="raise").astype(float)
    keep = (paid <= cut).to_numpy()
    out = amount[keep].groupby(revenue[customer_col][keep].to_numpy()).sum()
    out.index.name = customer_col
    if customers is not None:
        out = out.reindex(pd.Index(list(customers), name=customer_col), fill_value=0.0)
    return out.sort_index().astype(float).rename("historical_clv")


def _windows(as_of: Any, lookback: Any, horizon: Any) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """``(as_of, as_of - lookback, as_of + horizon)`` as UTC instants.

    Calendar offsets (``"3M"``) are applied on the wall clock of an aware ``as_of``'s time
    zone (a Berlin month start plus one month is the next Berlin month start), naive values
    in UTC.
    """
    instant = utc_instant(as_of)
    given = pd.Timestamp(as_of)
    local = instant.tz_convert(given.tz) if given.tzinfo is not None else instant
    return instant, (local - lookback).tz_convert("UTC"), (local + horizon).tz_convert("UTC")


def _by_customer(frame: pd.DataFrame, value: str, how: str, index: np.ndarray) -> pd.Series:
    """Aggregate ``value`` per customer position ``_pos``, aligned with ``index`` (positions)."""
    return frame.groupby("_pos", sort=False)[value].agg(how).reindex(index)


def _event_features(events: pd.DataFrame, tk: pd.DataFrame, as_of: pd.Timestamp,
                    calendar: Any) -> dict[str, np.ndarray]:
    """Per ticket of ``tk`` (created in the window): resolved and reopened by ``as_of``, requester wait, handed off.

    From the events strictly before ``as_of`` for the tickets that have some (module
    docstring); a ticket without events keeps its fields' resolution and reopens, and NaN.
    """
    resolved = (tk["resolved_at"] < as_of).to_numpy()
    out = {"resolved": resolved, "reopened": resolved & (tk["reopens"] > 0).to_numpy(),
           "requester_wait_h": np.full(len(tk), np.nan), "handed_off": np.full(len(tk), np.nan)}
    known = events.loc[(events["at"] < as_of).to_numpy()] if len(events) else events
    if len(known) and len(tk):
        lc = lifecycle(Dataset(tickets=tk, ticket_events=known), calendar, as_of)
        has, values = lc.keep, lc.per_ticket
        out["resolved"] = np.where(has, values["resolved"], resolved)
        out["reopened"] = np.where(has, values["resolved"] & (values["reopens"] > 0), out["reopened"])
        out["requester_wait_h"] = np.where(has, lc.hours("requester_wait"), np.nan)
        out["handed_off"] = np.where(has, values["handoffs"] > 0, np.nan)
    return {name: value.astype(float) for name, value in out.items()}


def _one_as_of(ds: Dataset, as_of: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp, targets: dict,
               calendar: Any, text: CommentFeatures | None) -> pd.DataFrame:
    """Features at one instant; ``ds`` tables carry ``_pos``, the row of their customer in ``ds.customers``."""
    cust = ds.customers
    active = ((cust["signup_at"] < as_of) & ~(cust["churned_at"] <= as_of)).to_numpy()
    ids = np.flatnonzero(active)
    out = cust.loc[active, ["customer_id", "segment", "signup_at", "churned_at"]].reset_index(drop=True)

    def mine(frame: pd.DataFrame) -> np.ndarray:
        pos = frame["_pos"].to_numpy()
        return (pos >= 0) & active[np.maximum(pos, 0)]

    tk = ds.tickets
    tk = tk.loc[(tk["created_at"] >= start) & (tk["created_at"] < as_of) & mine(tk)]
    answered = tk["first_response_at"] < as_of
    tk = tk.assign(
        frt_h=np.where(answered, elapsed_hours(tk["created_at"], tk["first_response_at"].where(answered), calendar),
                       np.nan),
        # judged an instant before as_of so that an event stamped exactly at as_of is not yet known
        sla=sla_status_codes(tk, {"first_response": targets["first_response"]}, as_of - _NS, calendar)["first_response"])
    tk = tk.assign(breached=(tk["sla"] == BREACHED).astype(float),
                   decided=np.isin(tk["sla"], (BREACHED, ACHIEVED)).astype(float),
                   **_event_features(ds.ticket_events, tk, as_of, calendar))
    sums = tk.groupby("_pos", sort=False)[list(_COUNTS)].sum().reindex(ids)
    out["tickets"] = tk.groupby("_pos", sort=False).size().reindex(ids, fill_value=0).to_numpy()
    out["median_frt_h"] = _by_customer(tk, "frt_h", "median", ids).to_numpy()
    out[list(_COUNTS)] = sums.to_numpy()
    out["median_requester_wait_h"] = _by_customer(tk, "requester_wait_h", "median", ids).to_numpy()
    out["handoff_share"] = _by_customer(tk, "handed_off", "mean", ids).to_numpy()

    sv = ds.surveys
    sv = sv.loc[(sv["submitted_at"] >= start) & (sv["submitted_at"] < as_of) & mine(sv)]
    out["mean_csat"] = _by_customer(sv.loc[sv["type"] == "csat"], "score", "mean", ids).to_numpy()
    out["mean_ces"] = _by_customer(sv.loc[sv["type"] == "ces"], "score", "mean", ids).to_numpy()
    nps = sv.loc[sv["type"] == "nps"].sort_values(["submitted_at", "response_id"], kind="stable")
    out["last_nps"] = _by_customer(nps, "score", "last", ids).to_numpy(float)
    if text is not None:
        out = out.assign(**text.window(sv, ids))

    rv = ds.revenue.loc[mine(ds.revenue)]
    # strictly before as_of (historical_clv counts a payment at its cut-off instant)
    out["historical_clv"] = historical_clv(rv, as_of - _NS, customers=out["customer_id"]).reindex(
        out["customer_id"]).to_numpy(float)
    ahead = rv.loc[(rv["paid_at"] >= as_of) & (rv["paid_at"] < end)]
    out["revenue_horizon"] = _by_customer(ahead, "amount", "sum", ids).fillna(0.0).to_numpy()
    return feature_rows(out, as_of, end, text)


def feature_rows(out: pd.DataFrame, as_of: pd.Timestamp, end: pd.Timestamp,
                 text: CommentFeatures | None) -> pd.DataFrame:
    """The feature rows at ``as_of`` from one row per active customer of per-customer aggregates.

    ``out`` holds customer_id, segment, signup_at, churned_at, tickets, median_frt_h, the
    counts :data:`_COUNTS` (NaN without tickets), median_requester_wait_h, handoff_share,
    mean_csat, mean_ces, ``last_nps`` (score of the latest NPS answer, NaN if none),
    historical_clv, revenue_horizon and the text columns. The shares, the NPS category,
    tenure and the horizon outcomes are computed here for every engine (one formula).
    """
    out = out.reset_index(drop=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["sla_breach_share"] = (out["breached"] / out["decided"].where(out["decided"] > 0)).to_numpy(float)
        out["reopen_share"] = (out["reopened"] / out["resolved"].where(out["resolved"] > 0)).to_numpy(float)
    out["last_nps_category"] = pd.Series(nps_category(out["last_nps"].to_numpy(float)), dtype="str")
    out["as_of"] = as_of
    out["tenure_days"] = (as_of - out["signup_at"]) / _DAY
    out["tenure_years"] = out["tenure_days"] / 365.25
    churned = (out["churned_at"] > as_of) & (out["churned_at"] <= end)
    out["churned"] = churned.to_numpy(bool)
    out["duration_days"] = (out["churned_at"].where(churned, end) - as_of) / _DAY
    out["event"] = churned.astype("int64")
    columns = list(FEATURE_COLUMNS)
    if text is not None:
        at = columns.index("mean_ces") + 1
        columns[at:at] = text.columns
    return out[columns]


def feature_arguments(as_of: Any, lookback: Any, horizon: Any,
                      sla_targets: dict | None) -> tuple[list[Any], Any, Any, dict]:
    """The instants, window offsets and SLA targets of ``customer_features``, checked (for every engine)."""
    lookback, horizon = window_offset(lookback), window_offset(horizon)
    targets = dict(DEFAULT_SLA_TARGETS if sla_targets is None else sla_targets)
    if "first_response" not in targets:
        raise ConfigError("customer_features: sla_targets needs a 'first_response' entry {priority: hours}")
    instants = list(as_of) if pd.api.types.is_list_like(as_of) else [as_of]
    if not instants:
        raise ConfigError("customer_features: as_of is an empty sequence")
    return instants, lookback, horizon, targets


def comment_features(surveys: pd.DataFrame, instants: list[Any], text_features: bool,
                     themes: ThemeSource | None) -> CommentFeatures | None:
    """The :class:`CommentFeatures` of a ``customer_features`` call at ``instants`` (None without text features)."""
    if not (text_features or themes is not None):
        return None
    cuts = [utc_instant(a) for a in instants]
    return CommentFeatures(surveys, DEFAULT_THEMES if themes is None else themes, min(cuts), max(cuts))


def customer_features(ds: Dataset, as_of: Any, lookback: str | pd.DateOffset | pd.Timedelta = "90D",
                      horizon: str | pd.DateOffset | pd.Timedelta = "90D", sla_targets: dict | None = None,
                      calendar: Any = None, text_features: bool = False,
                      themes: ThemeSource | None = None) -> pd.DataFrame:
    """One row per customer active at ``as_of``: service features from the lookback, outcomes from the horizon.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Canonical tables (customers, tickets, surveys, revenue; ticket_events when present).
        A :class:`~slm_lib.engines.LazyDataset` computes the features on its engine
        (:func:`slm_lib.engines.features.engine_customer_features`).
    as_of : timestamp or sequence of timestamps
        The instant(s). A sequence gives a stacked panel (one row per customer and ``as_of``,
        e.g. month starts for a discrete-time hazard model). Naive values are UTC; calendar
        windows of an aware value run on its zone's wall clock (``slm.month_starts(month, tz=tz)``
        gives local month starts, and ``"1M"`` then ends at the next local month start).
    lookback, horizon : str, DateOffset or Timedelta
        Window lengths (see the module docstring; ``"3M"`` = three calendar months).
    sla_targets : dict, optional
        ``{"first_response": {priority: hours}}``; default ``config.DEFAULT_SLA_TARGETS``.
    calendar : BusinessCalendar, optional
        Measure FRT, SLA clocks and requester waits in business hours instead of calendar hours.
    text_features : bool
        Add what customers wrote in the window: ``comments``, ``mean_comment_sentiment`` and
        one ``theme_<name>_share`` per theme (:mod:`slm_lib.comment_features`). Off by
        default: scoring and fitting themes take seconds.
    themes : int, CommentThemes or callable, optional
        The themes of the shares (implies ``text_features``): a number of themes fitted on the
        survey comments before the earliest ``as_of`` (default 8), themes fitted before it by
        :func:`slm_lib.voice.comment_themes`, or a function text -> theme name.

    Returns
    -------
    pandas.DataFrame
        Rows by ``as_of`` (in the given order), then ``customer_id``. Columns
        ``FEATURE_COLUMNS``: customer_id, as_of, segment, tenure_days, tenure_years,
        tickets, median_frt_h, sla_breach_share, reopen_share, median_requester_wait_h,
        handoff_share, mean_csat, last_nps_category, mean_ces, historical_clv, churned,
        revenue_horizon, duration_days, event; with text features, their columns follow
        ``mean_ces``.

    Raises
    ------
    ConfigError
        Bad windows or targets, an empty ``as_of``, duplicate customer ids, themes fitted on
        comments from the earliest ``as_of`` on.
    InsufficientDataError
        Too few comments before the earliest ``as_of`` to fit the themes asked for.

    Examples
    --------
    >>> utc = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> c = pd.DataFrame({"customer_id": ["c1"], "signup_at": utc("2024-01-01"), "segment": ["smb"],
    ...                   "churned_at": utc("2024-04-15")})
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["c1"], "created_at": utc("2024-03-01 09:00"),
    ...                   "first_response_at": utc("2024-03-01 15:00"), "resolved_at": utc(None),
    ...                   "priority": ["normal"], "reopens": [0]})
    >>> f = customer_features(Dataset(tickets=t, customers=c), "2024-04-01", lookback="3M", horizon="1M")
    >>> f[["tickets", "median_frt_h", "sla_breach_share", "churned"]].values.tolist()
    [[1, 6.0, 0.0, True]]
    """
    on_engine = getattr(ds, "engine_customer_features", None)  # a LazyDataset (slm_lib.engines) computes it itself
    if on_engine is not None:
        return on_engine(as_of=as_of, lookback=lookback, horizon=horizon, sla_targets=sla_targets, calendar=calendar,
                         text_features=text_features, themes=themes)
    instants, lookback, horizon, targets = feature_arguments(as_of, lookback, horizon, sla_targets)
    customers = ds.customers.sort_values("customer_id", kind="stable", ignore_index=True)  # rows in id order
    where = pd.Index(customers["customer_id"])
    if not where.is_unique:
        raise ConfigError("customer_features: customers.customer_id has duplicates; validate the data first")
    surveys = ds.surveys.reset_index(drop=True)
    keyed = Dataset(tickets=ds.tickets.assign(_pos=where.get_indexer(ds.tickets["customer_id"])),
                    surveys=surveys.assign(_pos=where.get_indexer(surveys["customer_id"])),
                    customers=customers,
                    revenue=ds.revenue.assign(_pos=where.get_indexer(ds.revenue["customer_id"])),
                    ticket_events=ds.ticket_events)
    text = comment_features(surveys, instants, text_features, themes)
    frames = [_one_as_of(keyed, *_windows(a, lookback, horizon), targets, calendar, text)  # one per instant
              for a in instants]
    return pd.concat(frames, ignore_index=True)
