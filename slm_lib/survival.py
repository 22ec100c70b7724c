"""Kaplan-Meier survival curves and the log-rank test for time to churn (SPEC §5).

Durations come either from the customer table (time from ``signup_at`` to ``churned_at``,
censored at ``as_of``; see :func:`churn_durations`) or from any frame with a duration and an
event column, e.g. :func:`slm_lib.features.customer_features` (``duration_days``, ``event``:
time from ``as_of`` to churn within the horizon). Time unit: days (default) or months of
365.25 / 12 days.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from slm_lib.config import CONFIDENCE
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.periods import utc_instant
from slm_lib.stats import z_critical
from slm_lib.wording import Prose, format_p

__all__ = ["churn_durations", "survival_curves", "logrank_test", "logrank_sentence"]

_DAYS_PER = {"days": 1.0, "months": 365.25 / 12}
_DAY = pd.Timedelta(days=1)


def _unit_days(time_unit: str) -> float:
    try:
        return _DAYS_PER[time_unit]
    except KeyError:
        raise ConfigError(f"time_unit={time_unit!r}; use 'days' or 'months'") from None


def churn_durations(customers: pd.DataFrame, as_of: pd.Timestamp | str,
                    time_unit: Literal["days", "months"] = "days") -> pd.DataFrame:
    """Time from signup to churn, right-censored at ``as_of``.

    Customers who signed up at or after ``as_of`` are left out; a churn at or after ``as_of``
    is not yet known and counts as censored.

    Returns
    -------
    pandas.DataFrame
        The customer columns plus ``duration`` (in ``time_unit``) and ``event`` (1 = churned).

    Examples
    --------
    >>> c = pd.DataFrame({"customer_id": ["a", "b"],
    ...                   "signup_at": pd.to_datetime(["2024-01-01", "2024-01-01"], utc=True),
    ...                   "churned_at": pd.to_datetime(["2024-01-11", None], utc=True)})
    >>> churn_durations(c, "2024-02-01")[["duration", "event"]].values.tolist()
    [[10.0, 1.0], [31.0, 0.0]]
    """
    as_of = utc_instant(as_of)
    out = customers.loc[customers["signup_at"] < as_of].copy()
    known = out["churned_at"] < as_of
    end = out["churned_at"].where(known, as_of)
    out["duration"] = (end - out["signup_at"]) / _DAY / _unit_days(time_unit)
    out["event"] = known.astype("float64")
    return out


def _durations(data: pd.DataFrame, duration: str | None, as_of: pd.Timestamp | str | None,
               time_unit: str) -> tuple[pd.DataFrame, str]:
    """Pick the duration column, or derive it from a customer table when ``as_of`` is given."""
    if as_of is not None:
        return churn_durations(data, as_of, time_unit), "duration"
    if duration is None:
        duration = "duration" if "duration" in data.columns else "duration_days"
    return data, duration


def _validated(data: pd.DataFrame, duration: str, event: str, group: str | None) -> pd.DataFrame:
    cols = [duration, event] + ([group] if group else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ConfigError(f"survival: column(s) {missing} not in the data (columns: {list(data.columns)})")
    df = data[cols].dropna()
    if df.empty:
        raise InsufficientDataError(f"survival: no rows with non-missing {cols}")
    if (df[duration] < 0).any():
        raise ConfigError(f"survival: {int((df[duration] < 0).sum())} negative value(s) in '{duration}'")
    return df


def survival_curves(data: pd.DataFrame, group: str | None = None, duration: str | None = None,
                    event: str = "event", as_of: pd.Timestamp | str | None = None,
                    time_unit: Literal["days", "months"] = "days") -> pd.DataFrame:
    """Kaplan-Meier survival curve per group with pointwise 95% intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per customer with a duration, an event indicator (1 = churned, 0 = censored)
        and optionally a grouping column (e.g. ``last_nps_category``, ``segment``); e.g.
        :func:`slm_lib.features.customer_features` (``duration_days``, ``event``). With
        ``as_of``, a customer table instead: durations from signup (:func:`churn_durations`).
    group : str, optional
        Column defining the curves; one curve for all rows when None (group label "all").
    duration, event : str
        Column names; ``duration`` defaults to ``duration`` if present, else ``duration_days``.
    as_of, time_unit
        Derive durations from ``signup_at``/``churned_at``, censored at ``as_of``, in days or months.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``group, time, survival, ci_low, ci_high, at_risk, events, n`` with one row per
        distinct event time per group (``n`` = customers in the group). Intervals are the
        log(-log) transform of Greenwood's variance (as statsmodels' default).

    Examples
    --------
    >>> d = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> survival_curves(d)["survival"].round(2).tolist()
    [0.8, 0.6, 0.3]
    """
    data, duration = _durations(data, duration, as_of, time_unit)
    df = _validated(data, duration, event, group)
    keys = df[group] if group else pd.Series("all", index=df.index)
    z = z_critical()
    frames = []
    for label, sub in df.groupby(keys, sort=True):  # one fit per group
        sf = SurvfuncRight(sub[duration].to_numpy(float), sub[event].to_numpy(float))
        s, se = sf.surv_prob, sf.surv_prob_se
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = se / (s * np.abs(np.log(s)))
            low = np.where((s > 0) & (s < 1), s ** np.exp(z * sigma), s)
            high = np.where((s > 0) & (s < 1), s ** np.exp(-z * sigma), s)
        frames.append(pd.DataFrame({
            "group": label, "time": sf.surv_times, "survival": s, "ci_low": low, "ci_high": high,
            "at_risk": sf.n_risk.astype("int64"), "events": sf.n_events.astype("int64"), "n": len(sub)}))
    return pd.concat(frames, ignore_index=True)


def logrank_test(data: pd.DataFrame, group: str, duration: str | None = None, event: str = "event",
                 as_of: pd.Timestamp | str | None = None,
                 time_unit: Literal["days", "months"] = "days") -> pd.Series:
    """Log-rank test that the survival curves of all groups are equal (statsmodels ``survdiff``).

    Arguments as in :func:`survival_curves`.

    Returns
    -------
    pandas.Series
        ``statistic`` (chi-square), ``df`` (groups - 1), ``p_value``, ``n``, ``events``.

    Examples
    --------
    >>> d = pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 1],
    ...                   "g": ["a", "a", "a", "b", "b", "b"]})
    >>> round(float(logrank_test(d, "g")["statistic"]), 3)
    5.052
    """
    data, duration = _durations(data, duration, as_of, time_unit)
    df = _validated(data, duration, event, group)
    n_groups = df[group].nunique()
    if n_groups < 2:
        raise InsufficientDataError(f"logrank_test: column '{group}' has {n_groups} group(s); need at least 2")
    codes = pd.factorize(df[group], sort=True)[0]
    chisq, p = survdiff(df[duration].to_numpy(float), df[event].to_numpy(float), codes)
    return pd.Series({"statistic": float(chisq), "df": float(n_groups - 1), "p_value": float(p),
                      "n": float(len(df)), "events": float(df[event].sum())})


def logrank_sentence(test: pd.Series, group: str) -> Prose:
    """Plain words for a :func:`logrank_test` result (a ``str`` a notebook shows as a paragraph).

    Examples
    --------
    >>> print(logrank_sentence(pd.Series({"statistic": 12.3, "df": 2.0, "p_value": 0.002, "n": 900, "events": 120}),
    ...                        "segment"))
    Survival differs by segment more than chance would explain (log-rank chi-square 12.3 on 2 df, p = 0.002; n = 900, 120 churned).
    """
    counts = f"n = {int(test['n']):,}, {int(test['events']):,} churned"
    words = group.replace("_", " ")
    if not np.isfinite(test["p_value"]):
        return Prose(f"Whether survival differs by {words} could not be tested (log-rank test {format_p(None)}; "
                     f"{counts}).")
    verdict = (f"differs by {words} more than chance would explain" if test["p_value"] < 1 - CONFIDENCE
               else f"does not differ by {words} beyond what chance would explain")
    return Prose(f"Survival {verdict} (log-rank chi-square {test['statistic']:.1f} on {int(test['df'])} df, "
                 f"{format_p(test['p_value'])}; {counts}).")
