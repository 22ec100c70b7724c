"""How slm writes numbers, tests and names for people who read reports without the code.

One helper per thing a sentence or a table shows, so the reports say it the same way
everywhere: p-values (:func:`format_p`; a test that could not be computed says so, never
"p < 0.001"), estimates with their interval rounded to what the interval supports
(:func:`format_estimate`), the names of features, model terms, lags and outcomes
(:func:`feature_label`, :func:`term_label`, :func:`lag_words`, :func:`outcome_label`) and
the sentence of one model effect (:func:`effect_sentence`: an interval that spans "no
effect" claims nothing beyond "no clear effect"). A sentence returned on its own is
:class:`Prose`, which a notebook shows as text rather than as a quoted Python string.
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any

from slm_lib.config import CONFIDENCE

__all__ = ["Prose", "format_p", "NOT_TESTABLE", "interval_decimals", "format_number", "format_estimate",
           "interval_texts", "is_clear",
           "effect_sentence", "FEATURE_LABELS", "feature_label", "column_word", "lag_words", "term_label", "OUTCOMES",
           "outcome_label"]

class Prose(str):
    """A sentence for readers: a ``str`` that Jupyter shows as a paragraph, not as ``'...'``.

    The HTML display escapes the text; ``repr`` stays the ``str`` one.

    Examples
    --------
    >>> s = Prose("NPS <b>rose</b>.")
    >>> s._repr_html_(), s == "NPS <b>rose</b>."
    ('<p>NPS &lt;b&gt;rose&lt;/b&gt;.</p>', True)
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


#: How a p-value that could not be computed (NaN, None) is written.
NOT_TESTABLE = "not testable"


def format_p(p: float | None, reason: str | None = None, bare: bool = False) -> str:
    """A p-value as a reader sees it: ``p = 0.03``, ``p < 0.001`` or why there is no test.

    Parameters
    ----------
    p : float or None
        The p-value; NaN or None means the test could not be computed.
    reason : str, optional
        Why there is no test (e.g. "the previous month had 1 CES answer"), appended to
        :data:`NOT_TESTABLE` when ``p`` is missing; ignored otherwise.
    bare : bool
        Table cells: the number without ``p =`` (``0.03``, ``< 0.001``).

    Returns
    -------
    str
        Two significant digits from 0.001 up, ``< 0.001`` below.

    Examples
    --------
    >>> format_p(0.0312), format_p(0.0004), format_p(0.5, bare=True)
    ('p = 0.031', 'p < 0.001', '0.5')
    >>> format_p(float("nan")), format_p(None, "the previous month had 1 CES answer")
    ('not testable', 'not testable: the previous month had 1 CES answer')
    """
    if p is None or not math.isfinite(p):
        return f"{NOT_TESTABLE}: {reason}" if reason else NOT_TESTABLE
    text = "< 0.001" if p < 0.001 else f"{'' if bare else '= '}{p:.2g}"
    return text if bare else f"p {text}"


def interval_decimals(low: float, high: float, digits: int = 2) -> int:
    """Decimals that show ``digits`` significant digits of an interval's width (negative: round to tens...).

    A narrower interval earns more decimals: the last digit shown is a few hundredths of the
    width, so the rounding never hides what the interval can tell and prints no noise beyond
    it. An interval that is missing or of zero width gives 2 decimals.

    Examples
    --------
    >>> interval_decimals(-0.388, 0.0701), interval_decimals(2.0, 8.3), interval_decimals(1547, 2035)
    (2, 1, -1)
    """
    width = high - low
    if not (math.isfinite(width) and width > 0):
        return 2
    return digits - 1 - math.floor(math.log10(width))


def format_number(x: float, decimals: int, signed: bool = False) -> str:
    """``x`` rounded to ``decimals`` (negative rounds to tens, hundreds...), thousands separated.

    Examples
    --------
    >>> format_number(-0.15901, 2, signed=True), format_number(1968960.5, -4), format_number(0.0, 1, signed=True)
    ('-0.16', '1,970,000', '+0.0')

    Rounded as the binary value really is, whatever the float type (numpy's ``round``
    would scale by 10 first and show 3.15 as 3.2):

    >>> import numpy as np
    >>> format_number(np.float64(3.15), 1), format_number(3.15, 1)
    ('3.1', '3.1')
    """
    if not math.isfinite(x):
        return "n/a"
    value = round(float(x), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:{'+' if signed else ''},.{max(decimals, 0)}f}"


def format_kpi(x: float, unit: str, signed: bool = False) -> str:
    """A headline KPI figure as reports show it: counts (unit ``tickets``) whole, everything else to 0.1.

    Examples
    --------
    >>> format_kpi(1725.0, "tickets"), format_kpi(63.2449, "%"), format_kpi(-3.0, "points", signed=True)
    ('1,725', '63.2', '-3.0')
    """
    return format_number(x, 0 if unit == "tickets" else 1, signed)


def format_estimate(value: float, low: float, high: float, unit: str = "", signed: bool = True) -> str:
    """An estimate with its interval: ``-0.16 pp (95% CI -0.39 to +0.07)``.

    Parameters
    ----------
    value, low, high : float
        Estimate and interval bounds, rounded by :func:`interval_decimals`.
    unit : str
        Written after the estimate (``"pp"``, ``"%"``, ``"x"``; symbols ``%`` and ``x``
        attach to the number).
    signed : bool
        Write ``+`` for positive numbers (changes); ratios are unsigned.

    Examples
    --------
    >>> format_estimate(-0.159013, -0.388144, 0.070118, "pp")
    '-0.16 pp (95% CI -0.39 to +0.07)'
    >>> format_estimate(1.8231, 1.4012, 2.3104, "x", signed=False)
    '1.82x (95% CI 1.40 to 2.31)'
    """
    d = interval_decimals(low, high)
    space = "" if unit in ("", "%", "x") else " "
    return (f"{format_number(value, d, signed)}{space}{unit} ({CONFIDENCE:.0%} CI {format_number(low, d, signed)} "
            f"to {format_number(high, d, signed)})")


def interval_texts(values: Iterable[float], low: Iterable[float], high: Iterable[float],
                   signed: bool) -> tuple[list[str], list[str]]:
    """Table cells of estimates and their intervals (``"low to high"``), each row rounded to what
    its interval supports (:func:`interval_decimals`).

    Examples
    --------
    >>> interval_texts([12.345, 0.5], [10.1, 0.21], [14.6, 0.79], signed=False)
    (['12.3', '0.50'], ['10.1 to 14.6', '0.21 to 0.79'])
    """
    texts = [[format_number(x, interval_decimals(lo, hi), signed) for x in (v, lo, hi)]
             for v, lo, hi in zip(values, low, high)]
    return [t[0] for t in texts], [f"{t[1]} to {t[2]}" for t in texts]


def is_clear(low: float, high: float, null: float = 0.0) -> bool:
    """Whether an interval excludes ``null`` (0 for changes, 1 for ratios): a clear effect.

    Examples
    --------
    >>> is_clear(0.11, 0.34), is_clear(-0.39, 0.07), is_clear(0.91, 1.21, null=1.0)
    (True, False, False)
    """
    return bool(low > null or high < null)


def effect_sentence(subject: str, claim: str, outcome: str, estimate: str, clear: bool, name: str = "") -> str:
    """One sentence about one model effect; an unclear effect claims nothing but "no clear effect".

    Parameters
    ----------
    subject : str
        What changes, e.g. "Each +10 h of median first response".
    claim : str
        The verb phrase of a clear effect, e.g. "raises the odds of churn".
    outcome : str
        What it would act on, for "no clear effect on <outcome>".
    estimate : str
        The numbers (:func:`format_estimate`), written after the claim or after "no clear effect".
    clear : bool
        The interval excludes no effect (:func:`is_clear`).
    name : str
        What the estimate is, written before it when the effect is not clear (e.g. "odds ratio").

    Examples
    --------
    >>> effect_sentence("Each +1 h of median first response", "changes the churn rate by", "the churn rate",
    ...                 "-0.16 pp (95% CI -0.39 to +0.07)", clear=False)
    'Each +1 h of median first response: no clear effect on the churn rate; -0.16 pp (95% CI -0.39 to +0.07).'
    """
    if clear:
        return f"{subject} {claim} {estimate}."
    return f"{subject}: no clear effect on {outcome}; {name + ' ' if name else ''}{estimate}."


#: Plain-words label and unit symbol of known feature columns, for tables, plots and sentences.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "median_frt_h": ("median first response", " h"),
    "sla_breach_share": ("SLA breach share", ""),
    "reopen_share": ("reopen share", ""),
    "median_requester_wait_h": ("median requester wait", " h"),
    "handoff_share": ("handoff share", ""),
    "mean_csat": ("mean CSAT", " points"),
    "mean_ces": ("mean CES", " points"),
    "nps": ("NPS", " points"),
    "tickets": ("tickets", " tickets"),
    "tenure_years": ("tenure", " years"),
    "tenure_days": ("tenure", " days"),
    "last_nps_category": ("last NPS answer", ""),
    "segment": ("segment", ""),
    "agent_id": ("agent", ""),
    "historical_clv": ("historical CLV", ""),
    "comments": ("comments", " comments"),
    "mean_comment_sentiment": ("mean comment sentiment", ""),
}


def feature_label(column: str) -> tuple[str, str]:
    """Plain-words label and unit symbol of a feature column (a lag suffix ``_lag<k>`` is dropped).

    A comment theme's share (``theme_<name>_share``) reads "share of comments about <name>";
    other unknown columns read as their name with spaces.

    Examples
    --------
    >>> feature_label("median_frt_h_lag2"), feature_label("staff_count")
    (('median first response', ' h'), ('staff count', ''))
    >>> feature_label("theme_rude_agent_share")
    ('share of comments about rude agent', '')
    """
    base = re.sub(r"_lag\d+$", "", column)
    theme = re.fullmatch(r"theme_(.+)_share", base)
    if theme and base not in FEATURE_LABELS:
        return f"share of comments about {theme.group(1).replace('_', ' ')}", ""
    return FEATURE_LABELS.get(base, (base.replace("_", " "), ""))


def column_word(name: object) -> str:
    """A name as a part of a column name: lower case, ``_`` for each run of anything but letters and digits.

    Examples
    --------
    >>> column_word("Rude agent!"), column_word("Über-Bad")
    ('rude_agent', 'über_bad')
    """
    return re.sub(r"[\W_]+", "_", str(name).lower()).strip("_")


def lag_words(lag: float, after: bool = True) -> str:
    """How far apart a driver and its outcome are, in words; NaN means the lags summed.

    ``after=True`` looks from the driver ("1 month later": when the outcome moves),
    ``after=False`` from the outcome ("1 month before": when the driver was measured).

    Examples
    --------
    >>> lag_words(0), lag_words(1), lag_words(3, after=False), lag_words(float("nan"))
    ('the same month', '1 month later', '3 months before', 'all lags summed')
    """
    if lag is None or not math.isfinite(lag):
        return "all lags summed"
    if lag == 0:
        return "the same month"
    return f"{int(lag)} month{'s' if lag != 1 else ''} {'later' if after else 'before'}"


def term_label(source: str, unit: str = "", level: str | None = None, reference: str | None = None,
               lag: float | None = None) -> str:
    """The label of one model term, the same in tables, plots and sentences.

    Parameters
    ----------
    source : str
        Feature column (e.g. ``median_frt_h``, ``last_nps_category``).
    unit : str
        The stated change of a numeric term (``"+10 h"``), written as "(per +10 h)".
    level, reference : str, optional
        A categorical term: its level and the reference level.
    lag : float, optional
        A lagged term's lag in months (NaN: the lags summed); None when not lagged.

    Examples
    --------
    >>> term_label("median_frt_h", "+10 h")
    'median first response (per +10 h)'
    >>> term_label("last_nps_category", level="detractor", reference="promoter")
    'last NPS answer: detractor (vs promoter)'
    >>> term_label("median_frt_h", "+1 h", lag=1)
    'median first response, 1 month before (per +1 h)'
    """
    words = feature_label(source)[0]
    if level is not None:
        return f"{words}: {level}" + (f" (vs {reference})" if reference is not None else "")
    if lag is not None:
        words = f"{words}, {lag_words(lag, after=False)}"
    return f"{words} (per {unit})" if unit else words


#: Words and unit of the outcome columns slm's models use (unit "pp": percentage points).
OUTCOMES: dict[str, tuple[str, str]] = {
    "churned": ("churn", ""), "event": ("churn", ""), "churn_rate": ("the monthly churn rate", "pp"),
    "revenue_horizon": ("revenue in the following window", ""), "historical_clv": ("historical CLV", ""),
}


def outcome_label(column: str) -> tuple[str, str]:
    """Plain words and unit of an outcome column ("churn_rate" -> "the monthly churn rate", "pp").

    Examples
    --------
    >>> outcome_label("churn_rate"), outcome_label("my_metric")
    (('the monthly churn rate', 'pp'), ('my metric', ''))
    """
    return OUTCOMES.get(column, (column.replace("_", " "), ""))
