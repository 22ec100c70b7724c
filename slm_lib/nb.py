"""Helpers that keep report notebooks thin and robust on small or partial real data.

``import slm_lib.nb as nb``: :func:`report_data` loads what a month's report may see (the
data up to the end of that month, nothing later), :func:`attempt` and :func:`bullets` keep
sections robust and readable, and the display helpers of the monthly summary
(:func:`kpi_display`, :func:`findings_markdown`, :func:`kpi_sentences`,
:func:`suggested_actions`, :func:`recent_periods`, :func:`verbatim_comments`) are here too.
The analysis itself is ``slm_lib.*`` (SPEC §9).

A monthly report must not die because one section has nothing to show (no CES survey in an
import, too few churn events for a model): :func:`attempt` runs one step and, when the
library refuses it with a clear :class:`~slm_lib.errors.SlmError`, returns an
:class:`Unavailable` note that displays as "<what> not shown: <reason>" and absorbs the
steps that build on it, so the rest of the notebook still runs. Programming errors are not
caught. :func:`bullets` shows sentences as a Markdown list.
"""
from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from slm_lib.errors import SlmError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import load_data
from slm_lib.periods import month_bounds, utc_instant
from slm_lib.summary import (data_months, findings_markdown, kpi_display, kpi_sentences, month_subset,
                             recent_periods, select_segment, suggested_actions, verbatim_comments)

__all__ = ["report_data", "attempt", "bullets", "Unavailable", "data_months", "findings_markdown", "kpi_display",
           "kpi_sentences", "month_subset", "recent_periods", "select_segment", "suggested_actions",
           "verbatim_comments"]


def report_data(data: str | Dataset, month: str, segment: str | None = "", tz: str = "UTC",
                now: object = None) -> Dataset:
    """What the report of ``month`` may see: the data (of one segment) as observed at the end of the month.

    Every figure of month M's report is computed from this, so the report of M is the same
    whether it runs the day after M ends or years later on data that run on: tickets,
    surveys, signups and payments after M do not exist yet, and responses, resolutions and
    churn after M have not happened yet (:meth:`Dataset.until`). SLA clocks, cohorts and
    monthly panels end at the end of M (``ds.as_of``). A month that has not ended yet is
    cut at ``now`` (default the current time) instead.

    Parameters
    ----------
    data : str or Dataset
        A data directory (loaded with ``errors="drop"``: problems go to ``quality``) or a Dataset.
    month : str
        ``'YYYY-MM'``, a calendar month in ``tz``.
    segment : str, optional
        Keep one customer segment (empty or None: all customers).
    tz : str
        Time zone of the report's calendar.
    now : timestamp, optional
        The current instant (for tests of an unfinished month).

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> ds = report_data(synth.generate(customers=300, months=3, seed=1), "2024-12")
    >>> str(ds.as_of), str(ds.tickets["created_at"].max() < ds.as_of)
    ('2025-01-01 00:00:00+00:00', 'True')
    """
    ds = data if isinstance(data, Dataset) else load_data(data, errors="drop")
    ds = select_segment(ds, segment or None)
    end = month_bounds(month, tz)[1]
    now = pd.Timestamp.now(tz="UTC") if now is None else utc_instant(now, "now")
    return ds.until(min(end, now))


class Unavailable:
    """A section that could not be computed; every step built on it is unavailable too.

    Examples
    --------
    >>> u = Unavailable("Churn model", "too few churn events (3) for 5 terms")
    >>> u.sentences() is u, u.table["role"] is u, list(u)
    (True, True, [])
    >>> u._repr_html_()
    '<blockquote><b>Churn model not shown:</b> too few churn events (3) for 5 terms</blockquote>'
    >>> u._repr_html_()   # the steps built on it stay silent: one note per failure
    ''
    """

    def __init__(self, what: str, reason: str) -> None:
        self.what, self.reason, self._shown = what, reason, False

    def __getattr__(self, name: str) -> "Unavailable":
        if name.startswith("_"):  # IPython display hooks and private names are not absorbed
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> "Unavailable":
        return self

    def __getitem__(self, key: Any) -> "Unavailable":
        return self

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def _repr_html_(self) -> str:
        if self._shown:
            return ""
        self._shown = True
        return f"<blockquote><b>{html.escape(self.what)} not shown:</b> {html.escape(self.reason)}</blockquote>"

    def __repr__(self) -> str:
        return f"{self.what} not shown: {self.reason}"


def attempt(func: Callable[..., Any], *args: Any, what: str = "This result", **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``, or an :class:`Unavailable` note when the library refuses it.

    An argument that is already :class:`Unavailable` is passed on without calling ``func``.

    Examples
    --------
    >>> from slm_lib.metrics.survey import nps
    >>> attempt(nps, [10, 10, 0, 8])
    25.0
    >>> attempt(nps, [], what="NPS")
    NPS not shown: nps: no non-missing scores to compute it from
    """
    for value in (*args, *kwargs.values()):
        if isinstance(value, Unavailable):
            return value
    try:
        return func(*args, **kwargs)
    except SlmError as err:
        return Unavailable(what, " ".join(str(err).split()))


class Bullets:
    """Sentences shown as a Markdown list (nothing when there are none)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return f"<ul>{items}</ul>" if items else ""

    def __repr__(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines)


def bullets(lines: Iterable[str] | Unavailable) -> Bullets | Unavailable:
    """Show sentences as a Markdown bullet list (an :class:`Unavailable` note shows as itself).

    Examples
    --------
    >>> bullets(["NPS rose.", "CSAT fell."])
    - NPS rose.
    - CSAT fell.
    """
    return lines if isinstance(lines, Unavailable) else Bullets(lines)
