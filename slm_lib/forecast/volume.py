"""``forecast_volume``: tickets created per day or week ahead, with intervals and a backtest.

The history is the count of tickets created in each period (the periods and time zone of
``metric_table``'s ``tickets``, :mod:`slm_lib.periods`), zeros included, over complete
periods only: it starts with the first period that begins on or after the local midnight of
the first ticket's day (a week the data enter part-way would read as a slump) and ends with
the last period over by ``as_of`` (the one still running would too).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.forecast.backtest import SCORES, backtest_origins, origin_lengths, summarise_origins
from slm_lib.forecast.model import LEVELS, YEARLY_HARMONICS, fit_predict, has_yearly, seasonal_naive
from slm_lib.metrics.grouping import by_codes, by_list, combine_codes
from slm_lib.metrics.lifecycle import lifecycle_as_of
from slm_lib.periods import check_freq, period_labels, period_ordinals, period_starts
from slm_lib.schema import empty_frame
from slm_lib.wording import feature_label, format_estimate, format_number, is_clear

#: Periods of history a fit needs at the least (8 weeks of days, half a year of weeks).
MIN_HISTORY: dict[str, int] = {"D": 56, "W": 26}
#: Default horizon per frequency (4 weeks of days, a quarter of weeks).
DEFAULT_HORIZON: dict[str, int] = {"D": 28, "W": 13}
#: Groups averaging fewer tickets per period are flagged ``small_n``: counts this small are
#: far from the model's log-normal (at 1 a day the 80% intervals held 66% in backtests).
MIN_MEAN_COUNT: float = 5.0
_UNITS = {"D": ("daily", "day"), "W": ("weekly", "week")}
_BASELINE = {7: "same weekday a week before", 52: "same week a year before", 1: "the week before"}
_AHEAD = ("forecast", *(f"{side}_{level}" for level in LEVELS for side in ("lower", "upper")), "baseline")


@dataclass
class VolumeForecast:
    """What :func:`forecast_volume` returns.

    ``forecast``: ``period, <by...>, part`` (``history`` / ``forecast``), ``tickets`` (actual
    counts; missing ahead), ``forecast`` (mean), ``lower_80, upper_80, lower_95, upper_95``,
    ``baseline`` (the seasonal naive forecast), ``small_n``; in period, then group order.
    ``backtest``: ``<by...>, method, measure, n, value, ci_low, ci_high, small_n``: MASE of the
    model, of the seasonal naive rule and their paired difference (method ``model - seasonal
    naive``), and the model's interval coverage in % (``coverage_80``, ``coverage_95``), each a
    mean over ``n`` backtest origins with its 95% t interval. ``origins``: the per-origin
    scores (:func:`slm_lib.forecast.backtest.backtest_origins`) with the group columns.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    origins: pd.DataFrame
    freq: str
    horizon: int
    season: int
    model: str
    baseline: str
    by: list[str] = field(default_factory=list)

    def sentences(self) -> list[str]:
        """Per group: whether the model beats the seasonal naive rule, and how its intervals covered."""
        return [_sentence(self, keys, rows) for keys, rows in _groups(self.backtest, self.by)]

    def ahead(self, **groups: Sequence[Any]) -> pd.Series:
        """The mean forecast of the periods ahead, indexed by ``period`` and the ``by`` columns.

        Keyword arguments keep only some groups, e.g. ``channel=["phone", "chat"]`` (a
        column that is not a ``by`` column is a :class:`~slm_lib.errors.ConfigError`). The
        Series feeds :func:`slm_lib.forecast.staffing.erlang_c_staffing`.

        Examples
        --------
        >>> f = pd.DataFrame({"period": ["d1", "d1", "d2", "d2"], "channel": ["chat", "email"] * 2,
        ...                   "part": ["history", "history", "forecast", "forecast"], "forecast": [1.0, 2.0, 3.0, 4.0]})
        >>> VolumeForecast(f, None, None, "D", 1, 7, "ETS", "naive", ["channel"]).ahead(channel=["chat"]).to_dict()
        {('d2', 'chat'): 3.0}
        """
        unknown = sorted(set(groups) - set(self.by))
        if unknown:
            raise ConfigError(f"VolumeForecast.ahead: {unknown} not among the forecast's groups {self.by}")
        keep = self.forecast["part"] == "forecast"
        for column, values in groups.items():
            keep &= self.forecast[column].isin(list(values))
        return self.forecast.loc[keep].set_index(["period", *self.by])["forecast"]


def _groups(table: pd.DataFrame, by: list[str]) -> list[tuple[tuple, pd.DataFrame]]:
    if not by:
        return [((), table)]
    return list(table.groupby(by, sort=False, dropna=False))


def _sentence(fc: VolumeForecast, keys: tuple, rows: pd.DataFrame) -> str:
    adjective, unit = _UNITS[fc.freq]
    label = ", ".join(f"{feature_label(c)[0]} {k}" for c, k in zip(fc.by, keys))
    prefix = f"{label[0].upper()}{label[1:]}: the" if label else "The"
    score = rows.set_index(["method", "measure"])
    model, base, diff = (score.loc[(m, "mase")] for m in ("model", "seasonal naive", "model - seasonal naive"))
    mean_count = _mean_count(fc.forecast, fc.by, keys)
    if not mean_count > 0:
        return f"{prefix} history holds no ticket: no forecast."
    rule = f"the seasonal naive rule ({fc.baseline})"
    tests = f"over {int(model['n'])} backtest{'s' if model['n'] != 1 else ''} of {fc.horizon} {unit}s"
    if not diff["n"] > 0:
        return f"{prefix} {adjective} forecast could not be scored against {rule}: the history repeats exactly."
    scores = f"MASE {format_number(model['value'], 2)} against {format_number(base['value'], 2)}"
    if diff["n"] >= 2:
        scores += f", a difference of {format_estimate(diff['value'], diff['ci_low'], diff['ci_high'])}"
    clear = diff["n"] >= 2 and is_clear(diff["ci_low"], diff["ci_high"])
    if clear and diff["value"] < 0:
        verdict = f"{prefix} {adjective} forecast beats {rule} {tests}: {scores}."
    else:
        words = "is worse than" if clear else "does not clearly beat"
        verdict = (f"{prefix} {adjective} forecast {words} {rule} {tests}: {scores}. "
                   "Use the seasonal naive forecast (column baseline) instead.")
    held = [score.loc[("model", f"coverage_{level}")] for level in LEVELS]
    verdict += (f" Its {' and '.join(f'{level}%' for level in LEVELS)} intervals held "
                f"{' and '.join(format_number(h['value'], 0) + '%' for h in held)} of the actual counts")
    narrow = [f"{level}%" for level, h in zip(LEVELS, held) if h["ci_high"] < level]
    verdict += f"; the {' and '.join(narrow)} intervals are too narrow." if narrow else "."
    if mean_count < MIN_MEAN_COUNT:
        verdict += (f" Small n: {format_number(mean_count, 1)} tickets per {unit} on average (fewer than "
                    f"{MIN_MEAN_COUNT:g}); counts this small make the intervals unreliable.")
    return verdict


def _mean_count(table: pd.DataFrame, by: list[str], keys: tuple) -> float:
    rows = table[table["part"] == "history"]
    for c, k in zip(by, keys):
        rows = rows[rows[c].isna()] if pd.isna(k) else rows[rows[c] == k]
    return float(rows["tickets"].mean())


def history_span(created: pd.Series, freq: str, tz: str, end: pd.Timestamp) -> tuple[int, int]:
    """Ordinals of the first and last complete period of ticket history (module docstring).

    Examples
    --------
    >>> created = pd.Series(pd.to_datetime(["2024-11-01 09:00", "2024-12-30 10:00"], utc=True))  # a Friday
    >>> first, last = history_span(created, "W", "UTC", pd.Timestamp("2025-01-01", tz="UTC"))
    >>> period_labels(np.array([first, last]), "W").tolist()
    ['2024-11-04', '2024-12-23']
    """
    start = created.min()
    if pd.isna(start):
        raise InsufficientDataError("forecast_volume: no ticket has a created_at")
    first = int(period_ordinals(pd.Series([start]), freq, tz)[0])
    begins = period_starts(np.array([first]), freq, tz)
    if period_ordinals(pd.Series(begins), "D", tz)[0] < period_ordinals(pd.Series([start]), "D", tz)[0]:
        first += 1
    return first, int(period_ordinals(pd.Series([end]), freq, tz)[0]) - 1


def _count_matrix(ds: Any, freq: str, by: list[str], tz: str, first: int, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Tickets created per group (rows) and period (columns ``first .. first + n - 1``), and the group keys."""
    tickets = ds.tickets
    ords = period_ordinals(tickets["created_at"], freq, tz) - first
    if by:
        codes, labels, _ = by_codes(by, tickets, empty_frame("surveys"), ds.customers)
        group, keys = combine_codes(codes, labels, by)
    else:
        group, keys = np.zeros(len(tickets), np.int64), pd.DataFrame(index=[0])
    keep = (ords >= 0) & (ords < n) & (group >= 0)
    counts = np.bincount(group[keep] * n + ords[keep], minlength=len(keys) * n).reshape(len(keys), n)
    return counts, keys.reset_index(drop=True)


def forecast_volume(ds: Any, freq: str = "D", horizon: int | None = None, by: str | Sequence[str] | None = None,
                    tz: str = "UTC", as_of: Any = None, origins: int = 10) -> VolumeForecast:
    """Tickets created per day or week ahead, with 80% and 95% prediction intervals and a backtest.

    Model (chosen by rolling-origin backtests, :mod:`slm_lib.forecast`): a structural time
    series of ``log(1 + tickets)`` with a local linear trend, the weekly pattern for daily
    counts and a yearly pattern once the history holds two years. It is fitted per group.
    The backtest refits it at up to ``origins`` earlier points and scores it against the
    seasonal naive rule (the same weekday a week before; for weeks the same week a year
    before, or the week before when the history is shorter than two years);
    :meth:`VolumeForecast.sentences` says whether it beats that rule, and recommends the
    rule when it does not.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Its ``tickets`` (and ``customers`` for customer ``by`` columns). On an engine the
        counts per period come from it (:mod:`slm_lib.engines.volume`).
    freq : {"D", "W"}
        Days or ISO weeks (labels as :mod:`slm_lib.periods`).
    horizon : int, optional
        Periods ahead; default 28 days or 13 weeks. Backtest windows have the same length.
    by : str or list of str, optional
        Group columns of tickets or customers (as ``metric_table``); each group is fitted on
        its own.
    tz : str
        Time zone of the period boundaries.
    as_of : timestamp, optional
        The end of the history (default ``ds.observation_end()``); only periods over by then count.
    origins : int
        Most backtest origins (fewer when the history is short). With 6, a model 25% better
        than the seasonal naive rule in every window could still fail to be clearly better
        on two years of days; 10 made it clear (each origin costs one fit: ~0.3 s for two
        years of days).

    Returns
    -------
    VolumeForecast
        ``.forecast`` (history and forecast rows), ``.backtest``, ``.origins``, ``.sentences()``.

    Raises
    ------
    ConfigError
        ``freq`` is not D or W, or ``horizon`` / ``origins`` is not a positive integer.
    InsufficientDataError
        The history is shorter than the minimum fit (56 days, 26 weeks; a year and a season
        for weekly data compared with the same week a year before) plus one backtest window.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> rng = np.random.default_rng(0)
    >>> days = pd.date_range("2024-01-01", periods=140, freq="D", tz="UTC")
    >>> per_day = rng.poisson(np.where(days.day_of_week < 5, 40, 10))
    >>> t = empty_frame("tickets").reindex(range(per_day.sum())).assign(
    ...     created_at=np.repeat(days, per_day) + pd.Timedelta(hours=12))
    >>> fc = forecast_volume(Dataset(tickets=t), horizon=14)
    >>> fc.forecast.loc[fc.forecast["part"] == "forecast", ["period", "forecast"]].head(2).round().values.tolist()
    [['2024-05-19', 11.0], ['2024-05-20', 42.0]]
    >>> print(fc.sentences()[0][:94])
    The daily forecast beats the seasonal naive rule (same weekday a week before) over 5 backtests
    """
    freq = check_freq(freq)
    if freq not in _UNITS:
        raise ConfigError(f"forecast_volume: freq must be 'D' or 'W', got {freq!r}")
    horizon = DEFAULT_HORIZON[freq] if horizon is None else horizon
    for name, value in (("horizon", horizon), ("origins", origins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"forecast_volume: {name} must be a positive whole number, got {value!r}")
    by = by_list(by)
    end = lifecycle_as_of(ds, as_of)
    on_engine = getattr(ds, "engine_volume", None)  # a LazyDataset (slm_lib.engines) counts on its engine
    created = ds.tickets["created_at"] if on_engine is None else pd.Series([ds.engine_first_created()])
    first, last = history_span(created, freq, tz, end)
    n = last - first + 1
    season = 7 if freq == "D" else 52 if has_yearly(n, freq) else 1
    min_train = max(MIN_HISTORY[freq], season + 1)
    lengths = origin_lengths(n, horizon, min_train, origins)
    if not lengths:
        span = f"{period_labels(np.array([first]), freq)[0]} to {period_labels(np.array([last]), freq)[0]}" \
            if n > 0 else "none"
        raise InsufficientDataError(
            f"forecast_volume: {max(n, 0)} complete {_UNITS[freq][1]}s of ticket history ({span}); a fit and one "
            f"backtest of {horizon} need at least {min_train + horizon} ({min_train} + {horizon})")
    counts, keys = _count_matrix(ds, freq, by, tz, first, n) if on_engine is None else on_engine(freq, by, tz, first, n)
    if not counts.any():
        raise InsufficientDataError(f"forecast_volume: no ticket was created in the {n} complete {_UNITS[freq][1]}s "
                                    f"of history ({period_labels(np.array([first]), freq)[0]} on)")
    small = counts.mean(axis=1) < MIN_MEAN_COUNT
    ahead = {c: np.full((len(keys), horizon), np.nan) for c in _AHEAD}
    scores = {c: np.full((len(keys), len(lengths)), np.nan) for c in SCORES}
    runs = []
    for g, series in enumerate(counts):   # one fit and its backtest per group
        ahead["baseline"][g] = seasonal_naive(series, season, horizon)
        if not series.any():
            continue
        what = "forecast_volume" + (f" ({', '.join(f'{c}={keys.at[g, c]}' for c in by)})" if by else "")
        pred = fit_predict(series, first, freq, horizon, what=what)
        ahead["forecast"][g] = pred.mean
        for level, (low, high) in pred.bounds.items():
            ahead[f"lower_{level}"][g], ahead[f"upper_{level}"][g] = low, high
        run = backtest_origins(series, first, freq, horizon, season, lengths, pred.params, what)
        for c in SCORES:
            scores[c][g] = run[c].to_numpy()
        runs.append(_with_keys(run, keys, by, np.full(len(run), g), 0))
    model = ("structural time series of log(1 + tickets): local linear trend"
             + (", weekly pattern" if freq == "D" else "")
             + (f", yearly pattern ({YEARLY_HARMONICS} Fourier pairs)" if has_yearly(n, freq) else ""))
    return VolumeForecast(_forecast_table(counts, keys, by, ahead, first, freq, small),
                          _backtest_table(scores, keys, by, small), pd.concat(runs, ignore_index=True),
                          freq, horizon, season, model, _BASELINE[season], by)


def _with_keys(frame: pd.DataFrame, keys: pd.DataFrame, by: list[str], group: np.ndarray, at: int) -> pd.DataFrame:
    """``frame`` with the group columns of rows ``group`` of ``keys`` inserted from position ``at``."""
    for i, c in enumerate(by):
        frame.insert(at + i, c, keys[c].take(group).reset_index(drop=True))
    return frame


def _forecast_table(counts: np.ndarray, keys: pd.DataFrame, by: list[str], ahead: dict[str, np.ndarray], first: int,
                    freq: str, small: np.ndarray) -> pd.DataFrame:
    """History and forecast rows, period-major (every group within a period)."""
    n_groups, n = counts.shape
    horizon = ahead["forecast"].shape[1]
    group = np.tile(np.arange(n_groups), n + horizon)
    step = np.repeat(np.arange(n + horizon), n_groups)
    future = step >= n
    out = pd.DataFrame({"period": pd.array(period_labels(first + step, freq), dtype="str")})
    out = _with_keys(out, keys, by, group, 1)
    out["part"] = pd.array(np.where(future, "forecast", "history"), dtype="str")
    out["tickets"] = pd.array(counts[group, np.minimum(step, n - 1)], dtype="Int64")
    out.loc[future, "tickets"] = pd.NA
    for c, values in ahead.items():
        column = np.full(len(out), np.nan)
        column[future] = values[group[future], step[future] - n]
        out[c] = column
    out["small_n"] = small[group]
    return out


def _backtest_table(scores: dict[str, np.ndarray], keys: pd.DataFrame, by: list[str],
                    small: np.ndarray) -> pd.DataFrame:
    """Per group: MASE of the model, of the baseline and their difference, and coverage, over origins."""
    model, base = scores["mase_model"], scores["mase_baseline"]
    rows = [("model", "mase", model), ("seasonal naive", "mase", base), ("model - seasonal naive", "mase", model - base),
            *(("model", f"coverage_{level}", scores[f"coverage_{level}"]) for level in LEVELS)]
    n_groups = len(keys)
    parts = []
    for method, measure, values in rows:
        n, value, low, high = summarise_origins(values)
        if measure != "mase":   # a share in %
            low, high = np.clip(low, 0.0, 100.0), np.clip(high, 0.0, 100.0)
        parts.append(pd.DataFrame({"group": np.arange(n_groups), "method": method, "measure": measure,
                                   "n": n, "value": value, "ci_low": low, "ci_high": high}))
    out = pd.concat(parts).sort_values("group", kind="stable").reset_index(drop=True)
    group = out.pop("group").to_numpy()
    out = _with_keys(out, keys, by, group, 0)
    out["method"], out["measure"] = out["method"].astype("str"), out["measure"].astype("str")
    out["small_n"] = small[group]
    return out
