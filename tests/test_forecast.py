"""Tests of slm_lib.forecast (volume, model, backtest): counts, seasonal naive and MASE by hand,
a planted weekly pattern and trend, per-group fits, small n, sentences and errors."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import slm_lib as slm
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.forecast import VolumeForecast, forecast_volume
from slm_lib.forecast.backtest import backtest_origins, origin_lengths, summarise_origins
from slm_lib.forecast.model import naive_scale, seasonal_naive
from slm_lib.forecast.volume import history_span
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.table import metric_table
from slm_lib.schema import empty_frame

WEEK = np.array([10, 10, 10, 10, 10, 2, 2])   # Monday first


def tickets_at(created: pd.DatetimeIndex | pd.Series, **columns) -> pd.DataFrame:
    """Canonical tickets created at ``created`` (other columns empty unless given)."""
    n = len(created)
    t = empty_frame("tickets").reindex(range(n))
    return t.assign(ticket_id=pd.array([f"T{i}" for i in range(n)], dtype="str"),
                    customer_id=pd.array(["C1"] * n, dtype="str"),
                    created_at=pd.Series(created).reset_index(drop=True), replies=0, reopens=0,
                    **{k: pd.array(v, dtype="str") for k, v in columns.items()})


def daily_tickets(per_day: np.ndarray, start: str = "2024-01-01", hour: float = 12.0, **columns) -> pd.DataFrame:
    """``per_day[i]`` tickets on day i, at ``hour`` UTC."""
    days = pd.date_range(start, periods=len(per_day), freq="D", tz="UTC")
    return tickets_at(np.repeat(days, per_day) + pd.Timedelta(hours=hour), **columns)


def planted(days: int, seed: int, base: float = 60.0, growth: float = 0.5, yearly: float = 0.0) -> np.ndarray:
    """Poisson counts with a weekly pattern (weekends at a third), linear growth per year and a yearly wave."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekday = np.where(pd.date_range("2024-01-01", periods=days).day_of_week < 5, 1.0, 1 / 3)
    return rng.poisson(base * weekday * (1 + growth * t / 365) * (1 + yearly * np.sin(2 * np.pi * t / 365.25)))


# --- seasonal naive and MASE by hand ------------------------------------------------------------

def test_seasonal_naive_and_scale_by_hand():
    y = np.array([5, 1, 2, 6, 3])
    assert seasonal_naive(y, 2, 5).tolist() == [6, 3, 6, 3, 6]        # the last season, repeated
    assert naive_scale(y, 2) == pytest.approx((3 + 5 + 1) / 3)        # |2-5|, |6-1|, |3-2|
    assert naive_scale(y, 1) == pytest.approx((4 + 1 + 4 + 3) / 4)
    assert np.isnan(naive_scale(y, 5)) and np.isnan(naive_scale(np.array([4, 4, 4]), 1))


def test_baseline_mase_by_hand():
    # 8 weeks of an exact weekly pattern except one Wednesday 7 higher: the lag-7 differences are
    # 0 except +7 and -7 around it, so the scale is 14 / 49. The next 14 days are the pattern plus
    # 1 on two days; seasonal naive (the last week) errs by 1 twice: MAE 2 / 14, MASE (1/7)/(2/7) = 0.5.
    train = np.tile(WEEK, 8)
    train[2 * 7 + 2] += 7
    test = np.tile(WEEK, 2)
    test[[3, 9]] += 1
    scores = backtest_origins(np.concatenate([train, test]), 0, "D", 14, 7, [56])
    assert naive_scale(train, 7) == pytest.approx(14 / 49)
    assert scores.loc[0, "mase_baseline"] == pytest.approx(0.5)
    assert scores.loc[0, ["train", "forecasts"]].tolist() == [56, 14]


def test_summary_over_origins_is_a_t_interval():
    n, mean, low, high = summarise_origins(np.array([[0.7, 0.8, 0.9]]))
    half = 4.302653 * 0.1 / np.sqrt(3)                                   # t(0.975, 2 df) * sd / sqrt(n)
    assert (n[0], mean[0]) == (3, pytest.approx(0.8))
    assert (low[0], high[0]) == (pytest.approx(0.8 - half, abs=1e-6), pytest.approx(0.8 + half, abs=1e-6))


def test_origins_step_back_by_the_horizon_and_keep_the_minimum_training():
    assert origin_lengths(120, 28, 56, 6) == [64, 92]
    assert origin_lengths(83, 28, 56, 6) == []


# --- history: the periods and counts of metric_table, complete periods only -------------------

def test_counts_follow_metric_table_periods_with_zero_days_in_a_time_zone():
    rng = np.random.default_rng(3)
    per_day = rng.poisson(8, 90)
    per_day[40:45] = 0                                                 # a quiet stretch: zeros, not gaps
    t = daily_tickets(per_day, hour=3.5)                               # 03:30 UTC: the previous evening in New York
    ds = Dataset(tickets=t, as_of="2024-04-01")
    tz = "America/New_York"
    fc = forecast_volume(ds, freq="D", horizon=7, tz=tz, origins=1)
    history = fc.forecast[fc.forecast["part"] == "history"].set_index("period")["tickets"]
    table = metric_table(ds, freq="D", tz=tz)
    counted = table[table["metric"] == "tickets"].set_index("period")["n"]
    assert history.index[0] == "2023-12-31"            # the first ticket: 2023-12-31 22:30 in New York
    assert history.index[-1] == "2024-03-30"           # 2024-03-31 runs past as_of (20:00 in New York)
    joined = counted.reindex(history.index).fillna(0).astype(int)
    assert (history.astype(int) == joined).all()
    assert (history.loc["2024-02-09":"2024-02-13"] == 0).all() and len(history) == 91


def test_weekly_history_drops_the_week_the_data_enter_part_way_and_the_running_week():
    created = pd.Series(pd.to_datetime(["2024-11-01 09:00", "2025-01-08 10:00"], utc=True))   # a Friday
    first, last = history_span(created, "W", "UTC", pd.Timestamp("2025-01-08 12:00", tz="UTC"))
    assert slm.periods.period_labels(np.array([first, last]), "W").tolist() == ["2024-11-04", "2024-12-30"]


def test_weekly_counts_match_metric_table():
    t = daily_tickets(planted(7 * 40, seed=4))
    ds = Dataset(tickets=t)
    fc = forecast_volume(ds, freq="W", horizon=4, origins=2)
    history = fc.forecast[fc.forecast["part"] == "history"].set_index("period")["tickets"]
    table = metric_table(ds, freq="W")
    counted = table[table["metric"] == "tickets"].set_index("period")["n"]
    assert (history.astype(int) == counted.loc[history.index].astype(int)).all()
    assert len(history) == 39                           # the 40th week is still running at the last ticket


# --- the model on known truth -------------------------------------------------------------------

def test_planted_weekly_pattern_and_trend_beats_seasonal_naive_with_sane_coverage():
    days = 2 * 364
    counts = planted(days + 28, seed=1)
    ds = Dataset(tickets=daily_tickets(counts[:days]), as_of="2025-12-29")
    fc = forecast_volume(ds, freq="D", horizon=28, origins=10)
    score = fc.backtest.set_index(["method", "measure"])["value"]
    assert score[("model", "mase")] < score[("seasonal naive", "mase")]
    assert 85 <= score[("model", "coverage_95")] <= 100
    assert 65 <= score[("model", "coverage_80")] <= 95
    assert fc.sentences()[0].startswith("The daily forecast beats the seasonal naive rule (same weekday a week before)")
    ahead = fc.forecast[fc.forecast["part"] == "forecast"]
    assert ahead["period"].tolist()[0] == "2025-12-29" and len(ahead) == 28
    truth = 60 * (1 + 0.5 * np.arange(days, days + 28) / 365) * np.where(np.arange(28) % 7 < 5, 1, 1 / 3)
    assert np.abs(ahead["forecast"].to_numpy() / truth - 1).mean() < 0.1   # the planted mean, within 10%
    assert (ahead["lower_95"] <= ahead["lower_80"]).all() and (ahead["lower_80"] <= ahead["forecast"]).all()
    assert (ahead["forecast"] <= ahead["upper_80"]).all() and (ahead["upper_80"] <= ahead["upper_95"]).all()
    assert (ahead["baseline"].to_numpy() == counts[days - 7:days].tolist() * 4).all()
    assert fc.model.endswith("weekly pattern") and not fc.forecast["small_n"].any()


def test_two_years_of_weeks_fit_the_yearly_pattern_and_compare_with_the_same_week_a_year_before():
    counts = planted(7 * 130, seed=2, base=40, growth=0.2, yearly=0.3)
    fc = forecast_volume(Dataset(tickets=daily_tickets(counts)), freq="W", horizon=13, origins=4)
    assert "yearly pattern" in fc.model and fc.season == 52 and fc.baseline == "same week a year before"
    score = fc.backtest.set_index(["method", "measure"])["value"]
    assert score[("model", "mase")] < score[("seasonal naive", "mase")]
    assert fc.origins["train"].tolist() == [77, 90, 103, 116]


# --- groups, small n, sentences -----------------------------------------------------------------

def test_by_fits_each_group_and_flags_small_groups():
    busy, quiet = planted(140, seed=5), np.random.default_rng(6).poisson(0.5, 140)
    t = pd.concat([daily_tickets(busy, channel=["email"] * busy.sum()),
                   daily_tickets(quiet, channel=["phone"] * quiet.sum())], ignore_index=True)
    fc = forecast_volume(Dataset(tickets=t), by="channel", horizon=14, origins=2)
    assert fc.forecast.columns[:3].tolist() == ["period", "channel", "part"]
    ahead = fc.forecast[fc.forecast["part"] == "forecast"]
    assert ahead.groupby("channel")["small_n"].all().to_dict() == {"email": False, "phone": True}
    assert fc.backtest.groupby("channel")["n"].max().to_dict() == {"email": 2, "phone": 2}
    email, phone = fc.sentences()
    assert email.startswith("Channel email: the daily forecast") and "Small n" not in email
    assert re.search(r"Small n: 0\.\d tickets per day on average \(fewer than 5\)", phone)
    assert set(fc.origins["channel"]) == {"email", "phone"}
    phone_ahead = fc.ahead(channel=["phone"])
    assert phone_ahead.index.names == ["period", "channel"] and len(phone_ahead) == 14
    assert phone_ahead.to_numpy().tolist() == ahead.loc[ahead["channel"] == "phone", "forecast"].tolist()
    assert len(fc.ahead()) == 28
    with pytest.raises(ConfigError, match="team"):
        fc.ahead(team=["x"])


def test_a_group_without_history_or_without_variation_is_said_so():
    busy = planted(140, seed=5)
    running_day = pd.DatetimeIndex([pd.Timestamp("2024-05-19 10:00", tz="UTC")])   # after the last complete day
    t = pd.concat([daily_tickets(busy, channel=["email"] * busy.sum()), tickets_at(running_day, channel=["fax"]),
                   daily_tickets(np.full(140, 5), channel=["web"] * 700)], ignore_index=True)
    fc = forecast_volume(Dataset(tickets=t), by="channel", horizon=14, origins=2)
    _, fax, web = fc.sentences()
    assert fax == "Channel fax: the history holds no ticket: no forecast."
    assert web.endswith("could not be scored against the seasonal naive rule (same weekday a week before): the "
                        "history repeats exactly.")
    ahead = fc.forecast[fc.forecast["part"] == "forecast"].set_index("channel")
    assert ahead.loc["fax", "forecast"].isna().all() and (ahead.loc["fax", "baseline"] == 0).all()
    assert ahead.loc["web", "forecast"].round(2).eq(5).all()


def _forecast_with(diff: tuple[float, float, float], n: int = 6, coverage: tuple[float, float] = (81.0, 96.0),
                   mean_count: float = 40.0) -> VolumeForecast:
    """A VolumeForecast with a hand-made backtest: MASE of the model 0.8, the difference ``diff``."""
    value, low, high = diff
    backtest = pd.DataFrame({
        "method": ["model", "seasonal naive", "model - seasonal naive", "model", "model"],
        "measure": ["mase", "mase", "mase", "coverage_80", "coverage_95"], "n": n,
        "value": [0.8, 0.8 - value, value, *coverage], "ci_low": [0.7, 0.7, low, 70.0, 90.0],
        "ci_high": [0.9, 0.9, high, coverage[0] + 3, 99.0], "small_n": mean_count < 5})
    history = pd.DataFrame({"period": ["2026-10-01"], "part": ["history"],
                            "tickets": pd.array([round(mean_count)], dtype="Int64")})
    return VolumeForecast(history, backtest, pd.DataFrame(), "D", 28, 7, "model", "same weekday a week before")


def test_sentence_says_when_the_model_beats_the_baseline():
    (s,) = _forecast_with((-0.3, -0.45, -0.15)).sentences()
    assert s == ("The daily forecast beats the seasonal naive rule (same weekday a week before) over 6 backtests "
                 "of 28 days: MASE 0.80 against 1.10, a difference of -0.30 (95% CI -0.45 to -0.15). Its 80% and "
                 "95% intervals held 81% and 96% of the actual counts.")


def test_sentence_recommends_the_baseline_when_the_model_does_not_clearly_beat_it():
    (unclear,) = _forecast_with((-0.05, -0.2, 0.1)).sentences()
    (worse,) = _forecast_with((0.2, 0.1, 0.3)).sentences()
    (single,) = _forecast_with((-0.3, np.nan, np.nan), n=1).sentences()
    assert "does not clearly beat the seasonal naive rule" in unclear
    assert "is worse than the seasonal naive rule" in worse
    assert "over 1 backtest of 28 days: MASE 0.80 against 1.10. Use" in single   # one origin shows no interval
    for s in (unclear, worse, single):
        assert "Use the seasonal naive forecast (column baseline) instead." in s


def test_sentence_names_too_narrow_intervals_and_small_n():
    (s,) = _forecast_with((-0.3, -0.45, -0.15), coverage=(60.0, 96.0), mean_count=2.0).sentences()
    assert "held 60% and 96% of the actual counts; the 80% intervals are too narrow." in s
    assert s.endswith("Small n: 2.0 tickets per day on average (fewer than 5); counts this small make the "
                      "intervals unreliable.")


# --- errors -------------------------------------------------------------------------------------

def test_too_short_history_is_named():
    ds = Dataset(tickets=daily_tickets(np.full(70, 5)))
    with pytest.raises(InsufficientDataError, match=r"69 complete days of ticket history \(2024-01-01 to "
                                                    r"2024-03-09\); a fit and one backtest of 28 need at least 84 "
                                                    r"\(56 \+ 28\)"):
        forecast_volume(ds, freq="D")
    with pytest.raises(InsufficientDataError, match="weeks of ticket history"):
        forecast_volume(ds, freq="W")


@pytest.mark.parametrize("kwargs, match", [({"freq": "M"}, "freq must be 'D' or 'W'"),
                                           ({"horizon": 0}, "horizon must be a positive whole number"),
                                           ({"origins": 2.5}, "origins must be a positive whole number")])
def test_bad_arguments_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        forecast_volume(Dataset(tickets=daily_tickets(np.full(120, 5))), **kwargs)


def test_no_tickets_in_the_history_is_insufficient_data():
    with pytest.raises(InsufficientDataError, match="no ticket has a created_at"):
        forecast_volume(Dataset(tickets=empty_frame("tickets"), as_of="2024-06-01"))
    friday = Dataset(tickets=daily_tickets(np.array([3]), start="2024-01-05"), as_of="2024-12-31")  # its week is partial
    with pytest.raises(InsufficientDataError, match=r"no ticket was created in the 51 complete weeks of history "
                                                    r"\(2024-01-08 on\)"):
        forecast_volume(friday, freq="W")
