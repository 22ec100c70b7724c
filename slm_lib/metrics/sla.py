"""SLA compliance per priority and target (SPEC §4).

Targets: ``first_response`` and ``resolution`` (timed by the tickets' own fields), and,
when a Dataset has ticket events, ``next_reply``, ``requester_wait`` and ``agent_work``
(timed by the events: :mod:`slm_lib.metrics.sla_events`, where the clocks, what pauses
them and the priority in force are defined). Without events those targets are skipped.
Per clock (one per ticket and target; one per conversation round for next reply) the
status is

* ``achieved``: the event (first response / resolution) happened by ``as_of`` within the
  target (elapsed hours ≤ target);
* ``breached``: the event happened late, or the ticket is still open at ``as_of`` and its
  clock (``as_of − created_at``, business or calendar hours) has passed the target;
* ``pending``: still open at ``as_of`` and the clock has not passed the target yet — not
  counted in compliance;
* missing (NaN): no target for the ticket's priority, or the ticket was created after ``as_of``.

Events stamped after ``as_of`` are treated as not yet happened. Given a Dataset,
``as_of`` defaults to its observation end (``ds.observation_end()``: the end of the report
month for a report's data); given a bare tickets frame, to the latest timestamp in it. A
missing priority counts as ``normal`` (SPEC §3); with ticket events the priority is the one
in force when the clock started (:mod:`slm_lib.metrics.sla_events`), not the ticket's latest.
Compliance = achieved / (achieved + breached), percent with a Wilson interval; next-reply
clocks of one ticket count separately (as Zendesk counts them), so their interval treats
them as independent.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.metrics.sla_events import EVENT_TARGETS, event_clocks, events_lifecycle, priority_codes
from slm_lib.metrics.tickets import elapsed_hours, require_columns
from slm_lib.periods import NAT_NS, epoch_ns, latest_timestamp, utc_instant
from slm_lib.schema import PRIORITIES
from slm_lib.stats import share_from_counts

#: SLA target name -> the ticket column whose timestamp stops its clock.
SLA_EVENTS: dict[str, str] = {"first_response": "first_response_at", "resolution": "resolved_at"}
#: Every SLA target: the tickets' own (:data:`SLA_EVENTS`), then those timed by ticket events.
TARGETS: tuple[str, ...] = (*SLA_EVENTS, *EVENT_TARGETS)
#: Status codes used by :func:`sla_status_codes` (-1 = not applicable).
STATUSES: tuple[str, ...] = ("achieved", "breached", "pending")
ACHIEVED, BREACHED, PENDING, NOT_APPLICABLE = 0, 1, 2, -1


def validate_targets(targets: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    """Check an SLA target mapping and return it as plain dicts of float hours.

    ``targets`` maps a target name (:data:`TARGETS`: ``first_response``, ``resolution``,
    ``next_reply``, ``requester_wait``, ``agent_work``) to a mapping of priority (``low, normal, high, urgent``) -> hours (a positive number). A subset of
    names and priorities is allowed; tickets of a priority without a target are not
    counted for that target. ``None`` gives ``slm_lib.config.DEFAULT_SLA_TARGETS``.

    Raises
    ------
    ConfigError
        Naming the unknown target, unknown priority or invalid hours.

    Examples
    --------
    >>> validate_targets({"first_response": {"urgent": 1}})
    {'first_response': {'urgent': 1.0}}
    """
    if targets is None:
        targets = DEFAULT_SLA_TARGETS
    if not isinstance(targets, Mapping):
        raise ConfigError(f"SLA targets: expected a mapping of target -> priority -> hours, got {type(targets).__name__}")
    out: dict[str, dict[str, float]] = {}
    for name, per_priority in targets.items():
        if name not in TARGETS:
            raise ConfigError(f"SLA targets: unknown target {name!r}; expected one of {list(TARGETS)}")
        if not isinstance(per_priority, Mapping):
            raise ConfigError(f"SLA targets[{name!r}]: expected a mapping of priority -> hours")
        out[name] = {}
        for priority, hours in per_priority.items():
            if priority not in PRIORITIES:
                raise ConfigError(f"SLA targets[{name!r}]: unknown priority {priority!r}; expected one of {list(PRIORITIES)}")
            try:
                value = float(hours)
            except (TypeError, ValueError):
                raise ConfigError(f"SLA targets[{name!r}][{priority!r}]: hours must be a number, got {hours!r}") from None
            if not np.isfinite(value) or value <= 0:
                raise ConfigError(f"SLA targets[{name!r}][{priority!r}]: hours must be positive and finite, got {hours!r}")
            out[name][priority] = value
    return out


def tickets_as_of(data: Any, as_of: Any = None) -> tuple[pd.DataFrame, Any]:
    """The tickets of ``data`` (a Dataset or a tickets frame) and the instant their clocks are judged at.

    A Dataset's default is its observation end, so a subset of it (one month's tickets)
    is judged at the same instant as the whole; a bare frame keeps ``as_of`` (``None``:
    the latest timestamp in it, see :func:`sla_status_codes`).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> tickets_as_of(Dataset(as_of="2024-02-01"))[1]
    Timestamp('2024-02-01 00:00:00+0000', tz='UTC')
    """
    if isinstance(data, pd.DataFrame):
        return data, as_of
    if as_of is None and hasattr(data, "observation_end"):
        try:
            as_of = data.observation_end()
        except InsufficientDataError:  # no timestamp at all: nothing to judge
            as_of = None
    return data.tickets, as_of


def _as_of(tickets: pd.DataFrame, as_of: Any) -> pd.Timestamp:
    """``as_of`` as a UTC instant; by default the latest created/first-response/resolved timestamp.

    A bare ticket table knows no observation end of its own; pass the Dataset's
    (``ds.observation_end()``) to judge a subset the way the whole data set is judged.
    """
    if as_of is None:
        return latest_timestamp(*(tickets[c] for c in ("created_at", "first_response_at", "resolved_at")
                                  if c in tickets.columns))
    return utc_instant(as_of)


def last_ns_within(hours: float) -> int:
    """The longest elapsed time in whole nanoseconds that is still within ``hours``.

    Within means ``ns / 3.6e12 <= hours`` in floating point, exactly as
    :func:`slm_lib.metrics.tickets.elapsed_hours` compares; ``hours * 3.6e12`` alone is not
    enough (65/60 h gives 3899999999999.9995 ns, and a response at exactly 65 minutes would
    be late). A missing target gives -1 (no ticket is compared); an astronomically long one
    the int64 maximum.
    """
    if not np.isfinite(hours):
        return -1
    if hours * 3.6e12 >= 2.0**53:  # beyond 2.5 million hours: float steps exceed 1 ns
        return int(min(hours * 3.6e12, np.iinfo(np.int64).max))
    ns = round(hours * 3.6e12)
    while ns / 3.6e12 > hours:
        ns -= 1
    while (ns + 1) / 3.6e12 <= hours:
        ns += 1
    return ns


def judge_clocks(elapsed: np.ndarray, stopped: np.ndarray, priority: np.ndarray, per_priority: Mapping[str, float],
                 exact: bool) -> np.ndarray:
    """Status code of each SLA clock at ``as_of`` (module docstring): the one rule of every target.

    Parameters
    ----------
    elapsed : array
        Time on each clock by its stop or by ``as_of``: int64 nanoseconds of calendar time
        when ``exact`` (compared as ``ns / 3.6e12 <= hours``, exactly), else hours.
    stopped : bool array
        The clock stopped by ``as_of``.
    priority : int array
        Index in ``PRIORITIES`` of the priority whose target applies (-1: none).
    per_priority : mapping
        Target hours per priority (a validated entry of :func:`validate_targets`).

    Returns
    -------
    int8 array: 0 achieved, 1 breached, 2 pending, -1 not applicable (no target).

    Examples
    --------
    >>> judge_clocks(np.array([1.0, 3.0, 1.0, 9.0]), np.array([True, True, False, False]),
    ...              np.array([2, 2, 2, -1]), {"high": 2.0}, exact=False).tolist()
    [0, 1, 2, -1]
    """
    hours = np.array([per_priority.get(p, np.nan) for p in PRIORITIES] + [np.nan])   # the last one serves -1
    limit = np.array([last_ns_within(h) for h in hours], dtype=np.int64) if exact else hours
    code = np.where(stopped, np.int8(ACHIEVED), np.int8(PENDING))
    code[elapsed > limit[priority]] = BREACHED   # late, or still running past the target
    code[np.isnan(hours)[priority]] = NOT_APPLICABLE
    return code


def sla_status_codes(tickets: pd.DataFrame, targets: Mapping[str, Mapping[str, float]] | None = None,
                     as_of: Any = None, calendar: Any = None,
                     event_hours: Mapping[str, np.ndarray] | None = None,
                     priority: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-ticket SLA status codes (int8 arrays aligned with ``tickets`` rows) per ticket-field target.

    Codes: 0 achieved, 1 breached, 2 pending, -1 not applicable (see module docstring).
    The vectorised core of :func:`sla_status` and of every grouped SLA metric. Only the
    targets the tickets' own fields time (:data:`SLA_EVENTS`) are judged here; the others
    in ``targets`` are left to :func:`event_sla_codes`.
    ``event_hours`` (with a ``calendar`` only) maps an event column (``first_response_at``,
    ``resolved_at``) to the business hours from ``created_at`` already computed with the same
    calendar; only the clocks of tickets still open at ``as_of`` are then computed here.
    ``priority`` (index in ``PRIORITIES`` per ticket, -1 none) replaces the tickets'
    ``priority`` column, e.g. the priority in force at creation from ticket events.

    Examples
    --------
    >>> t = pd.DataFrame({"priority": ["urgent", None],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00"] * 2, utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 08:30", None], utc=True)})
    >>> sla_status_codes(t, {"first_response": {"urgent": 1, "normal": 8}}, as_of="2024-01-01 09:00")
    {'first_response': array([0, 2], dtype=int8)}
    """
    targets = {k: v for k, v in validate_targets(targets).items() if k in SLA_EVENTS}
    require_columns(tickets, ("created_at", *(("priority",) if priority is None else ()),
                              *(SLA_EVENTS[t] for t in targets)))
    ts = _as_of(tickets, as_of)
    as_of_ns = int(ts.value) if pd.notna(ts) else NAT_NS
    created = epoch_ns(tickets["created_at"])
    prio = priority_codes(tickets["priority"]) if priority is None else np.asarray(priority)
    started = (created != NAT_NS) & (created <= as_of_ns)
    out: dict[str, np.ndarray] = {}
    for name, per_priority in targets.items():  # at most two targets
        event = epoch_ns(tickets[SLA_EVENTS[name]])
        seen = (event != NAT_NS) & (event <= as_of_ns)
        stop = np.where(seen, event, as_of_ns)
        if calendar is None:  # integer nanoseconds, compared exactly as elapsed hours <= target
            stop -= created
            elapsed = stop
        elif event_hours is not None and SLA_EVENTS[name] in event_hours:
            elapsed = np.array(event_hours[SLA_EVENTS[name]], dtype=np.float64)
            elapsed[~seen] = elapsed_hours(created[~seen].view("datetime64[ns]"),
                                           stop[~seen].view("datetime64[ns]"), calendar)
        else:
            elapsed = elapsed_hours(created.view("datetime64[ns]"), stop.view("datetime64[ns]"), calendar)
        code = judge_clocks(elapsed, seen, prio, per_priority, exact=calendar is None)
        code[~started] = NOT_APPLICABLE
        out[name] = code
    return out


def event_sla_codes(lc: Any, tickets: pd.DataFrame, events: pd.DataFrame,
                    targets: Mapping[str, Mapping[str, float]] | None = None,
                    calendar: Any = None) -> tuple[np.ndarray, dict[str, tuple[Any, np.ndarray]]]:
    """Status codes of the SLA clocks timed by ticket events, and each ticket's priority at creation.

    Parameters
    ----------
    lc : Lifecycle
        :func:`slm_lib.metrics.lifecycle.lifecycle` of the data (its ``as_of`` and calendar).
    tickets, events : pandas.DataFrame
        The tickets and ticket_events it was computed from.
    targets : mapping, optional
        Validated by :func:`validate_targets`; only :data:`EVENT_TARGETS` are judged here.
    calendar : BusinessCalendar, optional
        The calendar ``lc`` was computed with.

    Returns
    -------
    (priority, judged)
        The priority in force at each ticket's creation (index in ``PRIORITIES``, per ticket
        row), and per event target its :class:`~slm_lib.metrics.sla_events.Clocks` and the
        status code of each clock (:func:`judge_clocks`).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> from slm_lib.metrics.lifecycle import lifecycle
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "priority": ["high"], "created_at": at("2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": ["a"], "ticket_id": "t1", "kind": ["status"], "status": ["solved"],
    ...     "actor": ["agent"], "priority": None, "agent_id": None, "team": None, "at": at("2024-01-01 14:00")})
    >>> ds = Dataset(tickets=t, ticket_events=e)
    >>> _, judged = event_sla_codes(lifecycle(ds, as_of="2024-01-02"), t, e, {"requester_wait": {"high": 4}})
    >>> judged["requester_wait"][1].tolist()   # 5 h new before it was solved
    [1]
    """
    targets = {k: v for k, v in validate_targets(targets).items() if k in EVENT_TARGETS}
    priority, clocks = event_clocks(lc, tickets, events, tuple(targets))
    return priority, {name: (c, judge_clocks(c.elapsed, c.stopped, c.priority, targets[name], exact=calendar is None))
                      for name, c in clocks.items()}


def sla_status(tickets: pd.DataFrame, targets: Mapping[str, Mapping[str, float]] | None = None,
               as_of: Any = None, calendar: Any = None) -> pd.DataFrame:
    """Per-ticket SLA status: one categorical column per ticket-field target, indexed by ticket_id.

    Values ``achieved``, ``breached``, ``pending`` or NaN (not applicable). The targets timed
    by ticket events are per clock, not per ticket row: :func:`event_sla_codes`.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "priority": ["urgent", "urgent"],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 08:00"], utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 08:30", None], utc=True),
    ...     "resolved_at": pd.to_datetime([None, None], utc=True)})
    >>> sla_status(t, as_of="2024-01-01 10:00")["first_response"].tolist()
    ['achieved', 'breached']
    """
    codes = sla_status_codes(tickets, targets, as_of, calendar)
    index = pd.Index(tickets["ticket_id"], name="ticket_id") if "ticket_id" in tickets else tickets.index
    cols = {name: pd.Categorical.from_codes(c, categories=list(STATUSES))
            for name, c in codes.items()}
    return pd.DataFrame(cols, index=index)


def sla_compliance(tickets: Any, targets: Mapping[str, Mapping[str, float]] | None = None,
                   as_of: Any = None, calendar: Any = None) -> pd.DataFrame:
    """SLA compliance per target and priority, plus an ``all`` priority row per target.

    Parameters
    ----------
    tickets : canonical tickets frame, or a Dataset (its tickets, judged at its observation
        end; with ticket events also the event targets, priorities in force when each clock
        started).
    targets : mapping, optional
        ``{"first_response": {"urgent": 1, ...}, "resolution": {...}, "next_reply": ...}`` in
        hours; default ``slm_lib.config.DEFAULT_SLA_TARGETS``. Validated by
        :func:`validate_targets`. Event targets are skipped without ticket events.
    as_of : timestamp, optional
        Clock reference for open tickets; default a Dataset's observation end, or the
        latest timestamp in a tickets frame.
    calendar : BusinessCalendar, optional
        Business hours instead of calendar hours.

    Returns
    -------
    pandas.DataFrame
        ``target, priority, achieved, breached, pending, n, value, ci_low, ci_high``;
        ``n = achieved + breached`` clocks (tickets; next-reply rounds); value in percent
        (NaN when n = 0).

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "priority": ["urgent", "urgent"],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 08:00"], utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 08:30", "2024-01-01 12:00"], utc=True),
    ...     "resolved_at": pd.to_datetime([None, None], utc=True)})
    >>> r = sla_compliance(t, {"first_response": {"urgent": 1}})
    >>> r[["priority", "achieved", "breached", "value"]].values.tolist()
    [['urgent', 1, 1, 50.0], ['all', 1, 1, 50.0]]
    """
    data, (tickets, as_of) = tickets, tickets_as_of(tickets, as_of)
    targets = validate_targets(targets)
    lc = events_lifecycle(data, calendar, as_of)
    priority, judged = (None, {}) if lc is None else event_sla_codes(lc, tickets, data.ticket_events, targets, calendar)
    ticket_priority = priority_codes(tickets["priority"]) if priority is None else priority
    codes = {name: (ticket_priority, code)
             for name, code in sla_status_codes(tickets, targets, as_of, calendar, priority=priority).items()}
    codes.update({name: (clocks.priority, code) for name, (clocks, code) in judged.items()})
    k = len(PRIORITIES)
    frames = []
    for name in (t for t in targets if t in codes):
        prio, code = codes[name]
        ok = code >= 0
        counts = np.bincount(prio[ok].astype(np.int64) * 3 + code[ok], minlength=3 * k).reshape(k, 3)
        names = [p for p in reversed(PRIORITIES) if p in targets[name]]
        rows = counts[[PRIORITIES.index(p) for p in names]]
        rows = np.vstack([rows, rows.sum(axis=0)])
        frames.append(pd.DataFrame({"target": name, "priority": names + ["all"],
                                    "achieved": rows[:, 0], "breached": rows[:, 1], "pending": rows[:, 2]}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["target", "priority", "achieved", "breached", "pending"])
    out["n"] = (out["achieved"] + out["breached"]).astype(np.int64)
    out["value"], out["ci_low"], out["ci_high"] = share_from_counts(out["achieved"], out["n"])
    return out
