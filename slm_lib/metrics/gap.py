"""The delivery gap: SLAs met while customers are unhappy (SPEC §1 question 3)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.io.dataset import months_in_memory
from slm_lib.metrics.sla import tickets_as_of
from slm_lib.metrics.table import metric_table
from slm_lib.periods import month_labels
from slm_lib.wording import feature_label

GAP_COLUMNS = ["group", "tickets", "sla_first_response", "sla_resolution", "csat", "csat_ci_low", "csat_ci_high",
               "csat_n", "small_n", "gap"]
_WANTED = ["tickets", "sla_first_response", "sla_resolution", "csat"]


def delivery_gap(ds: Any, month: str, by: str = "team", tz: str = "UTC", calendar: Any = None,
                 sla: Any = None, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """SLA compliance beside CSAT per group, flagging groups that meet SLAs but leave customers unhappy.

    A group is in the gap when, in ``month``, its first-response SLA compliance is at or above
    the overall figure while the upper end of its CSAT 95% interval lies below the overall
    CSAT: by the stopwatch it does well, by the customers' verdict it clearly does not.
    Groups with fewer than ``min_n`` CSAT answers are flagged ``small_n`` and never put in
    the gap.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        On an engine the month's rows are collected (:func:`slm_lib.io.dataset.months_in_memory`).
    month : str
        ``'YYYY-MM'`` in time zone ``tz``.
    by : str
        Ticket or customer column (team, agent_id, channel, segment, ...).
    tz, calendar, sla, min_n
        As in :func:`slm_lib.metrics.table.metric_table`.

    Returns
    -------
    pandas.DataFrame
        ``group, tickets, sla_first_response, sla_resolution, csat, csat_ci_low,
        csat_ci_high, csat_n, small_n, gap`` (percentages), worst CSAT first; the overall
        figures of the month are in ``.attrs["overall"]`` (``sla_first_response``, ``csat``).

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> gap = delivery_gap(synth.generate(customers=500, months=3, seed=2), "2025-01", by="team")
    >>> list(gap.columns[:3])
    ['group', 'tickets', 'sla_first_response']
    """
    # the month's surveys and the tickets they answer or created in the month, judged at the
    # clock of the full data: the same figures as the full table, computed on a fraction of it
    as_of = tickets_as_of(ds)[1]
    ds = months_in_memory(ds, month, "delivery_gap", 1, tz)   # on an engine: the month's rows, collected
    surveys = ds.surveys[month_labels(ds.surveys["submitted_at"], tz) == month]
    keep = (month_labels(ds.tickets["created_at"], tz) == month) | ds.tickets["ticket_id"].isin(surveys["ticket_id"])
    month_ds = replace(ds, tickets=ds.tickets[keep.to_numpy()], surveys=surveys)
    grouped = metric_table(month_ds, by=by, tz=tz, calendar=calendar, sla=sla, min_n=min_n, as_of=as_of)
    overall = metric_table(month_ds, tz=tz, calendar=calendar, sla=sla, min_n=min_n, as_of=as_of)
    rows = grouped[(grouped["period"] == month) & grouped["metric"].isin(_WANTED)]
    total = overall[overall["period"] == month].set_index("metric")["value"]
    wide = rows.pivot_table(index=by, columns="metric", values="value", aggfunc="first").reindex(columns=_WANTED)
    csat = rows[rows["metric"] == "csat"].set_index(by).reindex(wide.index)
    out = wide[_WANTED[:3]].assign(group=wide.index.astype("str"), csat=csat["value"],
                                   csat_ci_low=csat["ci_low"], csat_ci_high=csat["ci_high"],
                                   csat_n=csat["n"].fillna(0).astype("int64"))
    out["small_n"] = out["csat_n"] < min_n
    ref = {m: float(total.get(m, np.nan)) for m in ("sla_first_response", "csat")}
    out["gap"] = ((out["sla_first_response"] >= ref["sla_first_response"])
                  & (out["csat_ci_high"] < ref["csat"]) & ~out["small_n"])
    out = out.sort_values(["csat", "group"], na_position="last").reset_index(drop=True)[GAP_COLUMNS]
    out.columns.name = None
    out.attrs["overall"] = ref
    return out


def gap_sentences(gap: pd.DataFrame, by: str = "team") -> list[str]:
    """Plain-words sentences for the groups of :func:`delivery_gap` that are in the gap.

    Examples
    --------
    >>> g = pd.DataFrame({"group": ["north"], "sla_first_response": [91.0], "csat": [48.0], "csat_ci_low": [40.0],
    ...                   "csat_ci_high": [56.0], "csat_n": [150], "gap": [True]})
    >>> g.attrs["overall"] = {"sla_first_response": 80.0, "csat": 66.0}
    >>> gap_sentences(g)[0][:60]
    'Team north met the first-response SLA on 91% of tickets (ove'
    """
    ref = gap.attrs.get("overall", {})
    words = feature_label(by)[0]
    out = [f"{words.capitalize()} {r.group} met the first-response SLA on {r.sla_first_response:.0f}% of "
           f"tickets (overall {ref.get('sla_first_response', np.nan):.0f}%), yet only {r.csat:.0f}% of its surveyed "
           f"customers were satisfied (95% CI {r.csat_ci_low:.0f}-{r.csat_ci_high:.0f}%, n = {r.csat_n}; overall "
           f"{ref.get('csat', np.nan):.0f}%): speed is not its problem; look at answer quality and reopens."
           for r in gap[gap["gap"]].itertuples()]
    return out or [f"No {words} meets SLAs while leaving customers clearly less satisfied than average."]
