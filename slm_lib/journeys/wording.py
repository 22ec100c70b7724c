"""Plain-language sentences about journeys for reports (the notebook cells stay thin).

Numbers come with their interval (:func:`slm_lib.wording.format_estimate`); groups with a
small n say so instead of being ranked; a lift whose interval includes 1 claims nothing.
"""
from __future__ import annotations

import pandas as pd

from slm_lib.journeys.paths import PathsBeforeChurn
from slm_lib.journeys.switching import ChannelSwitching
from slm_lib.wording import Prose, format_estimate


def _share(row: pd.Series, column: str = "value") -> str:
    return format_estimate(row[column], row["ci_low"], row["ci_high"], "%", signed=False)


def repeat_sentences(rate: pd.DataFrame, by_channel: pd.DataFrame | None = None, days: float = 7) -> list[str]:
    """Sentences from :func:`~slm_lib.journeys.repeat.repeat_contact_rate` (overall, and by channel if given).

    Examples
    --------
    >>> overall = pd.DataFrame({"n": [200], "repeats": [50], "censored": [12], "value": [25.0], "ci_low": [19.5],
    ...                         "ci_high": [31.4], "small_n": [False]})
    >>> repeat_sentences(overall)[0]
    '25% (95% CI 20 to 31) of 200 solved tickets were followed by a new contact from the same customer \
within 7 days (12 solved too recently to judge are left out).'
    """
    row = rate.iloc[0]
    out = [Prose(f"{_share(row)} of {int(row['n']):,} solved tickets were followed by a new contact from the same "
                 f"customer within {days:g} days ({int(row['censored']):,} solved too recently to judge are left out).")]
    if by_channel is not None and len(by_channel):
        big = by_channel[~by_channel["small_n"] & by_channel["n"].gt(0)].sort_values("value", ascending=False)
        if len(big) >= 2:
            hi, lo = big.iloc[0], big.iloc[-1]
            clear = hi["ci_low"] > lo["ci_high"]
            out.append(Prose(f"By the channel of the first contact, {hi['channel']} has the highest repeat contact "
                             f"rate, {_share(hi)}, and {lo['channel']} the lowest, {_share(lo)}"
                             + ("." if clear else "; their intervals overlap, so the difference may be noise.")))
        small = by_channel.loc[by_channel["small_n"], "channel"].astype(str).tolist()
        if small:
            out.append(Prose(f"Too few solved tickets to judge: {', '.join(small)}."))
    return out


def switching_sentences(sw: ChannelSwitching) -> list[str]:
    """Sentences from :func:`~slm_lib.journeys.switching.channel_switching`.

    Examples
    --------
    >>> s = pd.DataFrame({"from_channel": ["all"], "n": [100], "switched": [40], "value": [40.0], "ci_low": [30.9],
    ...                   "ci_high": [49.8], "small_n": [False]})
    >>> t = pd.DataFrame(columns=["from_channel", "to_channel", "n", "share", "ci_low", "ci_high", "small_n"])
    >>> switching_sentences(ChannelSwitching(days=7, summary=s, transitions=t))[0]
    'Of 100 contacts followed by another within 7 days, 40% (95% CI 31 to 50) came back on another channel.'
    """
    row = sw.summary.iloc[0]
    out = [Prose(f"Of {int(row['n']):,} contacts followed by another within {sw.days:g} days, {_share(row)} came back "
                 f"on another channel.")]
    moves = sw.transitions[(sw.transitions["from_channel"] != sw.transitions["to_channel"]) & ~sw.transitions["small_n"]]
    if len(moves):
        top = moves.sort_values(["n", "from_channel"], ascending=[False, True]).iloc[0]
        out.append(Prose(f"The most common switch is {top['from_channel']} to {top['to_channel']}: {int(top['n']):,} "
                         f"follow-ups, {_share(top, 'share')} of those after a {top['from_channel']} contact."))
    return out


def paths_sentences(paths: PathsBeforeChurn, top: int = 3) -> list[str]:
    """Sentences on the paths most over-represented before churn (clear lifts > 1, not small_n).

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["ticket:email > payment"], "n_churned": [60], "share_churned": [5.3],
    ...     "n_retained": [28], "share_retained": [1.5], "lift": [3.54], "ci_low": [2.28], "ci_high": [5.52],
    ...     "small_n": [False]})
    >>> paths_sentences(PathsBeforeChurn(t, churned=1130, retained=1869, window_days=90, length=3))[1]
    "'ticket:email > payment' were the last touchpoints of 5.3% of churned customers in their final 90 days, \
against 1.5% of retained ones: 3.5x as often (95% CI 2.3 to 5.5)."
    """
    out = [Prose(f"Last {paths.length} touchpoints in the {paths.window_days:g} days before churn of "
                 f"{paths.churned:,} churned customers, against {paths.retained:,} retained customers seen at the "
                 f"same tenures.")]
    t = paths.table
    clear = t[~t["small_n"] & (t["ci_low"] > 1)].sort_values(["lift", "path"], ascending=[False, True]).head(top)
    for _, r in clear.iterrows():
        lift = format_estimate(r["lift"], r["ci_low"], r["ci_high"], "x", signed=False).replace("x (", "x as often (", 1)
        out.append(Prose(f"'{r['path']}' were the last touchpoints of {r['share_churned']:.1f}% of churned customers "
                         f"in their final {paths.window_days:g} days, against {r['share_retained']:.1f}% of retained "
                         f"ones: {lift}."))
    if len(clear) == 0:
        out.append(Prose("No path is clearly more common before churn than among retained customers "
                         "(no lift interval above 1 with enough customers)."))
    return out


def journey_sentences(repeat: pd.DataFrame | None = None, repeat_by_channel: pd.DataFrame | None = None,
                      switching: ChannelSwitching | None = None, paths: PathsBeforeChurn | None = None,
                      days: float = 7) -> list[str]:
    """Every journey sentence for a report, from the results given (each argument optional).

    Examples
    --------
    >>> journey_sentences()
    []
    """
    out: list[str] = []
    if repeat is not None:
        out += repeat_sentences(repeat, repeat_by_channel, days)
    if switching is not None:
        out += switching_sentences(switching)
    if paths is not None:
        out += paths_sentences(paths)
    return out
