"""The Dataset: the canonical tables, the data-quality table, the survey scales the
scores are on and the instant the data were observed at."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

from slm_lib.config import SCALES, check_scales
from slm_lib.errors import EngineNotSupportedError, InsufficientDataError
from slm_lib.events import event_history, implied_fields
from slm_lib.periods import NAT_NS, epoch_ns, latest_timestamp, month_bounds, month_starts, utc_instant
from slm_lib.schema import TABLES, TS, empty_frame

QUALITY_COLUMNS = ["table", "file", "column", "rule", "n_rows", "example_rows", "action"]


#: Values of the quality table's ``action`` column.
#: ``flagged``: rows kept as they are, but two tables disagree and neither is assumed right.
QUALITY_ACTIONS: tuple[str, ...] = ("dropped", "info", "filled", "missing table", "flagged")


def empty_quality() -> pd.DataFrame:
    """An empty data-quality table (one row per problem found while loading)."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_rows" else "str") for c in QUALITY_COLUMNS})


def make_quality(records: list[dict]) -> pd.DataFrame:
    """A data-quality table from records with the keys of ``QUALITY_COLUMNS``.

    ``example_rows`` is a comma-separated string of 1-based row numbers; ``action`` is one
    of ``QUALITY_ACTIONS``.

    Examples
    --------
    >>> make_quality([{"table": "tickets", "file": "tickets.csv", "column": "channel",
    ...                "rule": "missing value", "n_rows": 2, "example_rows": "3, 9",
    ...                "action": "dropped"}]).n_rows.tolist()
    [2]
    """
    if not records:
        return empty_quality()
    frame = pd.DataFrame.from_records(records, columns=QUALITY_COLUMNS)
    return frame.astype({c: "int64" if c == "n_rows" else "str" for c in QUALITY_COLUMNS})


def _note(table: str, column: str, rule: str, mask: np.ndarray, action: str) -> dict:
    """A data-quality record for the rows of ``mask`` (1-based example positions)."""
    rows = np.flatnonzero(mask)
    return {"table": table, "file": "", "column": column, "rule": rule, "n_rows": int(rows.size),
            "example_rows": ", ".join(str(i + 1) for i in rows[:5]), "action": action}


def _reopen_note(tickets: pd.DataFrame, events: pd.DataFrame, resolved_at: pd.Series) -> list[dict]:
    """An ``info`` record for tickets without events whose state at ``end`` is not known."""
    later = (tickets["reopens"] > 0) & resolved_at.isna()   # solved once, when is unknown
    if len(events):
        later &= ~tickets["ticket_id"].isin(events["ticket_id"])
    mask = later.to_numpy()
    if not mask.any():
        return []
    return [_note("tickets", "resolved_at", "reopened, and not resolved before the cut: whether it was solved "
                  "before the cut is unknown without ticket_events, so it counts as open", mask, "info")]


def _rewound(tickets: pd.DataFrame, events: pd.DataFrame, end: int,
             resolved_at: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Tickets' counts without the events at or after ``end`` (ns), and their resolution in force at ``end``."""
    history = event_history(tickets, events)
    now, then = implied_fields(history), implied_fields(history, before=end)
    counts = {c: np.maximum(tickets[c].to_numpy(dtype=np.int64) - (now[c] - then[c]), 0)
              for c in ("replies", "reopens")}
    recorded = epoch_ns(tickets["resolved_at"])
    # resolved at or after end, or not at all (reopened later and still open): the events tell the state at end
    later = ((recorded >= end) | (recorded == NAT_NS)) & now["has_events"]
    shown = np.where(later, then["resolved_at"], epoch_ns(resolved_at))
    shown = pd.Series(pd.to_datetime(shown.view("datetime64[ns]"), utc=True), index=tickets.index).astype(TS)
    return tickets.assign(**counts), shown


@dataclass
class Dataset:
    """The canonical tables of SPEC §3.

    Attributes
    ----------
    tickets, surveys, customers, revenue, ticket_events : pandas.DataFrame
        Canonical columns and dtypes (``slm_lib.schema.COLUMNS``); a missing optional
        table is an empty frame with the canonical columns.
    quality : pandas.DataFrame
        One row per data problem found and what was done about it
        (columns ``table, file, column, rule, n_rows, example_rows, action``).
    source : str or None
        Where the data came from (a directory, ``"synthetic"``, ...).
    scales : dict
        Survey score scales ``{type: (low, high)}`` the scores are on (default
        :data:`slm_lib.config.SCALES`); every metric reads its thresholds from here.
    as_of : Timestamp or None
        The instant the data were observed at (an export's time; :meth:`until` sets it).
        ``None``: unknown, and :meth:`observation_end` falls back to the latest timestamp.
    """

    tickets: pd.DataFrame = field(default_factory=lambda: empty_frame("tickets"))
    surveys: pd.DataFrame = field(default_factory=lambda: empty_frame("surveys"))
    customers: pd.DataFrame = field(default_factory=lambda: empty_frame("customers"))
    revenue: pd.DataFrame = field(default_factory=lambda: empty_frame("revenue"))
    ticket_events: pd.DataFrame = field(default_factory=lambda: empty_frame("ticket_events"))
    quality: pd.DataFrame = field(default_factory=empty_quality)
    source: str | None = None
    scales: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(SCALES))
    as_of: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        self.scales = check_scales(self.scales)
        if self.as_of is not None:
            self.as_of = utc_instant(self.as_of, "Dataset.as_of")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The canonical tables by name (:data:`slm_lib.schema.TABLES`)."""
        return {table: getattr(self, table) for table in TABLES}

    def observation_end(self) -> pd.Timestamp:
        """The instant the data describe the world at: :attr:`as_of`, else the latest timestamp in any table.

        Clocks of open tickets, right-censoring of cohorts and the last month of a panel
        are judged here, so one data set has one "now".

        Raises
        ------
        InsufficientDataError
            ``as_of`` is unknown and no table holds a timestamp.

        Examples
        --------
        >>> from slm_lib.schema import empty_frame
        >>> c = empty_frame("customers")
        >>> c.loc[0] = ["c1", pd.Timestamp("2024-01-05", tz="UTC"), "smb", None, pd.NaT]
        >>> str(Dataset(customers=c).observation_end())
        '2024-01-05 00:00:00+00:00'
        """
        if self.as_of is not None:
            return self.as_of
        t, s, c, r = self.tickets, self.surveys, self.customers, self.revenue
        end = latest_timestamp(t["created_at"], t["first_response_at"], t["resolved_at"], s["submitted_at"],
                               c["signup_at"], c["churned_at"], r["paid_at"], self.ticket_events["at"])
        if pd.isna(end):
            raise InsufficientDataError("the data set holds no timestamps, so it has no observation end")
        return end

    def until(self, end: Any) -> "Dataset":
        """The data as an export taken at instant ``end`` would hold them.

        Only what happened strictly before ``end`` is kept: tickets created, surveys
        submitted, customers signed up and payments made before it; a first response,
        resolution or churn at or after ``end`` had not happened yet and becomes missing
        (the ticket was still open, the customer still active). ``as_of`` becomes ``end``
        (or the earlier known ``as_of``). Ticket events at or after ``end`` go; a ticket
        with events loses the agent replies and reopens that came at or after ``end``
        from its ``replies`` and ``reopens``, and a resolution recorded at or after
        ``end`` or none at all (reopened later and still open) becomes the one its events
        show in force at ``end`` (if any). Tickets without events keep their counts as
        recorded (they carry no timestamps); one reopened and not resolved before ``end``
        may have been solved at ``end``, which only events can tell: it counts as open and
        the data-quality table says how many such tickets there are (``info``). As a load of
        such an export would, rows of customers who had not signed up by ``end`` are
        dropped (tickets, their surveys and events, surveys, payments), and counted in
        the data-quality table; the rest of that table is kept as loaded.

        Examples
        --------
        >>> import slm_lib.synth as synth
        >>> ds = synth.generate(customers=200, months=3, seed=1)
        >>> cut = ds.until("2024-12-01")
        >>> bool(cut.tickets["created_at"].max() < pd.Timestamp("2024-12-01", tz="UTC")), str(cut.as_of)
        (True, '2024-12-01 00:00:00+00:00')
        """
        end = utc_instant(end, "end")
        if self.as_of is not None:
            end = min(end, self.as_of)
        t, s, c, r, e = self.tickets, self.surveys, self.customers, self.revenue, self.ticket_events
        t = t.loc[(t["created_at"] < end).to_numpy()]
        resolved_at = t["resolved_at"].where(t["resolved_at"] < end)
        notes = _reopen_note(t, e, resolved_at)
        if len(e):
            t, resolved_at = _rewound(t, e, end.value, resolved_at)
        t = t.assign(first_response_at=t["first_response_at"].where(t["first_response_at"] < end),
                     resolved_at=resolved_at)
        c = c.loc[(c["signup_at"] < end).to_numpy()]
        c = c.assign(churned_at=c["churned_at"].where(c["churned_at"] < end))
        s = s.loc[(s["submitted_at"] < end).to_numpy()]
        r = r.loc[(r["paid_at"] < end).to_numpy()]
        e = e.loc[(e["at"] < end).to_numpy()]
        if len(self.customers):  # what a load of the export would refuse: customers not yet signed up
            known = c["customer_id"]
            orphan = {"tickets": ~t["customer_id"].isin(known).to_numpy(), "revenue": ~r["customer_id"].isin(known).to_numpy()}
            gone = t.loc[orphan["tickets"], "ticket_id"]
            orphan["surveys"] = (~s["customer_id"].isin(known) | s["ticket_id"].isin(gone)).to_numpy()
            orphan["ticket_events"] = e["ticket_id"].isin(gone).to_numpy()
            notes += [_note(name, "customer_id", f"customer not signed up by {end:%Y-%m-%d %H:%M} UTC (cut)", mask,
                            "dropped") for name, mask in orphan.items() if mask.any()]
            t, r, s, e = t.loc[~orphan["tickets"]], r.loc[~orphan["revenue"]], s.loc[~orphan["surveys"]], \
                e.loc[~orphan["ticket_events"]]
        quality = pd.concat([self.quality, make_quality(notes)], ignore_index=True) if notes else self.quality
        return replace(self, tickets=t.reset_index(drop=True), surveys=s.reset_index(drop=True),
                       customers=c.reset_index(drop=True), revenue=r.reset_index(drop=True),
                       ticket_events=e.reset_index(drop=True), quality=quality, as_of=end)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables().items())
        return f"Dataset({sizes}, quality_problems={len(self.quality)}, source={self.source!r})"


def active_customers(ds: Any, as_of: pd.Timestamp, columns: Iterable[str]) -> pd.DataFrame:
    """``columns`` of the customers signed up before ``as_of`` and not churned before it, by customer_id.

    One row per customer; a :class:`slm_lib.engines.LazyDataset` filters them on its engine
    and collects only these columns (:func:`slm_lib.engines.customers.active_customers`).

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> c = empty_frame("customers")
    >>> c.loc[0] = ["b", pd.Timestamp("2024-01-05", tz="UTC"), "smb", None, pd.NaT]
    >>> c.loc[1] = ["a", pd.Timestamp("2024-01-09", tz="UTC"), "smb", None, pd.Timestamp("2024-03-09", tz="UTC")]
    >>> active_customers(Dataset(customers=c), pd.Timestamp("2024-02-01", tz="UTC"), ["customer_id"])["customer_id"].tolist()
    ['a', 'b']
    """
    on_engine = getattr(ds, "engine_active_customers", None)
    if on_engine is not None:
        return on_engine(as_of=as_of, columns=list(columns))
    c = ds.customers
    c = c.loc[(c["signup_at"] < as_of) & ~(c["churned_at"] < as_of), list(columns)]
    return c.sort_values("customer_id", kind="stable", ignore_index=True) if "customer_id" in c else c.reset_index(drop=True)


def months_in_memory(ds: Any, month: str | None, what: str, months: int = 1, tz: str = "UTC") -> Any:
    """``ds`` for a function that reads only the ``months`` months ending with ``month`` (in ``tz``).

    A Dataset as it is (the function selects the months itself). Data on an engine: the rows
    of those months collected as a small Dataset (:meth:`slm_lib.engines.LazyDataset.engine_collect_window`:
    tickets created and surveys submitted then, the tickets those surveys answer, their
    customers and ticket events), whose ``as_of`` is the whole data's observation end, so
    SLA clocks and lifecycles are judged at the same instant as on all the data.

    Raises
    ------
    EngineNotSupportedError
        Data on an engine without a ``month`` (every row would be read in memory).

    Examples
    --------
    >>> months_in_memory(Dataset(), "2026-10", "delivery_gap").tickets.empty
    True
    """
    window = getattr(ds, "engine_collect_window", None)
    if window is None:
        return ds
    if month is None:
        raise EngineNotSupportedError(f"{what} without a month reads every row in memory; on the {ds.engine} engine "
                                      "give a month, or use engine='pandas'")
    return replace(window(month_starts(month, months, tz)[0], month_bounds(month, tz)[1]), as_of=ds.observation_end())


def has_ticket_events(ds: Any) -> bool:
    """Whether the data carry ticket events (a table with rows), in memory or on an engine.

    Examples
    --------
    >>> has_ticket_events(Dataset())
    False
    """
    hook = getattr(ds, "engine_has_ticket_events", None)
    return hook() if hook is not None else len(ds.ticket_events) > 0
