"""CSAT by how a ticket was handled: handed off, solved in one touch, reopened, kept waiting.

The conversation behind each CSAT answer (SPEC §3 ``ticket_events``), as the customer had
lived it when answering: the ticket's events strictly before the answer's ``submitted_at``
go through :func:`slm_lib.metrics.lifecycle.ticket_lifecycle`, so a reopen or a handoff
after the answer cannot explain it. Each answer then falls on one side of four flags:

* ``handed off``: assigned to a different agent after the first assignment (``handoffs > 0``);
* ``solved in one touch``: solved with at most one agent public reply;
* ``reopened``: solved and reopened at least once;
* ``kept waiting over {wait_hours} h``: more than ``wait_hours`` hours of requester wait (new,
  open or on hold).

For each flag: CSAT (top-2-box on the data set's scale, SPEC §4) of the answers with and
without it, each with ``n`` and a Wilson interval; the difference (with - without, in
percentage points) with its interval and a pooled two-proportion z test; p-values
Holm-adjusted over the flags. Differences are associations: customers whose tickets are
handed off may have harder problems to begin with.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N, csat_cutoffs
from slm_lib.errors import InsufficientDataError
from slm_lib.io.dataset import months_in_memory
from slm_lib.keys import lookup_positions
from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.metrics.survey import csat_change_from_counts
from slm_lib.periods import epoch_ns, month_bounds, month_starts
from slm_lib.stats import holm_adjusted, share_from_counts
from slm_lib.wording import format_estimate, format_p

HANDLING_COLUMNS: list[str] = [
    "factor", "n_with", "csat_with", "ci_low_with", "ci_high_with", "n_without", "csat_without", "ci_low_without",
    "ci_high_without", "difference", "diff_ci_low", "diff_ci_high", "p_value", "p_adjusted", "small_n"]


def _answers_with_history(ds: Any, month: str | None, months: int, tz: str, calendar: Any,
                          wait_hours: float) -> pd.DataFrame:
    """CSAT answers on tickets with events, with the flags of their ticket's lifecycle at the answer."""
    s = ds.surveys
    s = s.loc[(s["type"] == "csat").to_numpy() & s["ticket_id"].notna().to_numpy()]
    if month is not None:
        start, end = month_starts(month, months, tz)[0], month_bounds(month, tz)[1]
        s = s.loc[((s["submitted_at"] >= start) & (s["submitted_at"] < end)).to_numpy()]
    s = s.sort_values("submitted_at", kind="stable").drop_duplicates("ticket_id", keep="first").reset_index(drop=True)
    e = ds.ticket_events
    answer = lookup_positions(s["ticket_id"], e["ticket_id"])   # the answer on each event's ticket, -1 if none
    known = answer >= 0
    known[known] = epoch_ns(e["at"])[known] < epoch_ns(s["submitted_at"])[answer[known]]
    e = e.loc[known]
    s = s.loc[np.bincount(answer[known], minlength=len(s)) > 0]
    if not len(s):
        raise InsufficientDataError("csat_by_handling: no CSAT answer on a ticket with ticket_events"
                                    + (f" in the {months} month(s) to {month} ({tz})" if month else ""))
    rows = lookup_positions(ds.tickets["ticket_id"], s["ticket_id"])
    t = ds.tickets.iloc[rows[rows >= 0]]
    lc = ticket_lifecycle(replace(ds, tickets=t, ticket_events=e), calendar=calendar,
                          as_of=s["submitted_at"].max()).set_index("ticket_id")
    lc = lc.reindex(s["ticket_id"])
    solved = lc["status"].isin(["solved", "closed"]).to_numpy()
    flags = {
        "handed off": lc["handoffs"].to_numpy() > 0,
        "solved in one touch": solved & lc["one_touch"].fillna(False).to_numpy(bool),
        "reopened": lc["reopens"].to_numpy() > 0,
        f"kept waiting over {wait_hours:g} h": lc["requester_wait_h"].to_numpy() > wait_hours,
    }
    return pd.DataFrame({"score": s["score"].to_numpy(), **flags})


def csat_by_handling(ds: Any, month: str | None = None, months: int = 3, tz: str = "UTC", calendar: Any = None,
                     wait_hours: float = 24.0, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """CSAT of tickets handled one way against the rest (module docstring).

    Parameters
    ----------
    ds : Dataset or LazyDataset
        With surveys (CSAT answers carrying ``ticket_id``), tickets and ticket_events. On an
        engine (``month`` required) the rows of the months are collected
        (:func:`slm_lib.io.dataset.months_in_memory`).
    month : str, optional
        ``'YYYY-MM'``: answers submitted in this month and the ``months - 1`` before it (in
        ``tz``); default every answer.
    months : int
        Months of answers ending with ``month``.
    tz : str
        Time zone of the months.
    calendar : BusinessCalendar, optional
        Requester wait in business hours (default calendar hours).
    wait_hours : float
        The requester wait beyond which an answer counts as "kept waiting".
    min_n : int
        Flags with fewer answers on either side are ``small_n``.

    Returns
    -------
    pandas.DataFrame
        :data:`HANDLING_COLUMNS`, one row per flag: ``n``, CSAT (%) and 95% interval with
        and without it, the difference in points with its interval, the two-proportion
        p-value and its Holm adjustment over the flags.

    Raises
    ------
    InsufficientDataError
        If no CSAT answer is linked to a ticket with events (in the months asked for).

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> t = csat_by_handling(synth.generate(customers=400, months=4, seed=2, events=True))
    >>> t["factor"].tolist()
    ['handed off', 'solved in one touch', 'reopened', 'kept waiting over 24 h']
    """
    ds = months_in_memory(ds, month, "csat_by_handling", months, tz)
    if not len(ds.ticket_events):
        raise InsufficientDataError("csat_by_handling: needs ticket_events (how each ticket was handled)")
    answers = _answers_with_history(ds, month, months, tz, calendar, wait_hours)
    satisfied = (answers.pop("score").to_numpy() >= csat_cutoffs(ds.scales["csat"])[0])
    rows = []
    for factor, flag in answers.items():
        yes = flag.to_numpy(bool)
        n1, x1, n0, x0 = yes.sum(), (satisfied & yes).sum(), (~yes).sum(), (satisfied & ~yes).sum()
        with_, without = share_from_counts(x1, n1), share_from_counts(x0, n0)
        change = csat_change_from_counts(x0, n0, x1, n1)
        rows.append([factor, int(n1), *map(float, with_), int(n0), *map(float, without), float(change["diff"]),
                     float(change["ci_low"]), float(change["ci_high"]), float(change["p_value"]), np.nan,
                     bool(min(n1, n0) < min_n)])
    table = pd.DataFrame(rows, columns=HANDLING_COLUMNS)
    table["p_adjusted"] = holm_adjusted(table["p_value"].to_numpy(float))
    return table


def handling_sentences(table: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """One sentence per flag of :func:`csat_by_handling`, clearest differences first.

    Examples
    --------
    >>> row = {"factor": "handed off", "n_with": 120, "csat_with": 61.0, "n_without": 900, "csat_without": 74.0,
    ...        "difference": -13.0, "diff_ci_low": -22.2, "diff_ci_high": -3.8, "p_adjusted": 0.02, "small_n": False}
    >>> handling_sentences(pd.DataFrame([row]))[0]
    'Tickets handed off: CSAT 61.0% (n = 120) against 74.0% (n = 900) for the rest, -13 pp (95% CI -22 to -4), p = 0.02.'
    """
    out = []
    adjusted = f" adjusted over the {len(table)} comparisons" if len(table) > 1 else ""
    for _, r in table.sort_values("p_adjusted", kind="stable").iterrows():
        if not (r["n_with"] and r["n_without"]):
            out.append(f"Tickets {r['factor']}: {'none' if not r['n_with'] else 'all'} of the "
                       f"{r['n_with'] + r['n_without']:,} answers, so there is nothing to compare.")
            continue
        estimate = format_estimate(r["difference"], r["diff_ci_low"], r["diff_ci_high"], "pp")
        sentence = (f"Tickets {r['factor']}: CSAT {r['csat_with']:.1f}% (n = {r['n_with']:,}) against "
                    f"{r['csat_without']:.1f}% (n = {r['n_without']:,}) for the rest, {estimate}, "
                    f"{format_p(r['p_adjusted'])}{adjusted}.")
        if r["small_n"]:
            sentence += " Too few answers on one side to rely on."
        elif r["p_adjusted"] >= alpha:
            sentence += " Not distinguishable from chance."
        out.append(sentence)
    return out
