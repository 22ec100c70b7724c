"""Tests of slm_lib.plots: every figure has a title stating n, labelled axes, and copes with NaN."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from slm_lib import plots
from slm_lib.errors import DataValidationError
from slm_lib.models import churn_model


def _assert_readable(fig: Figure) -> None:
    """Figure with a title containing 'n =' on its first axes and labelled x and y axes."""
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == []  # closed in pyplot: shown once in a notebook, no global build-up
    first = fig.axes[0]
    assert first.get_title().strip() and "n = " in first.get_title()
    plotted = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in plotted:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    fig.canvas.draw()  # renders without error


@pytest.fixture
def trend_table() -> pd.DataFrame:
    periods = ["2026-07", "2026-08", "2026-09", "2026-10"]
    return pd.DataFrame({
        "period": periods * 2,
        "channel": ["chat"] * 4 + ["email"] * 4,
        "metric": "csat",
        "n": [120, 130, 12, 140, 80, 90, 95, 0],
        "value": [81.0, 79.5, 70.0, 83.0, 75.0, 74.0, 72.5, np.nan],
        "ci_low": [73.0, 71.0, 42.0, 76.0, 64.0, 63.0, 62.0, np.nan],
        "ci_high": [87.0, 86.0, 89.0, 88.0, 83.0, 82.0, 81.0, np.nan],
        "small_n": [False, False, True, False, False, False, False, True],
    })


def test_trend_plot_by_group_title_units_n_and_band(trend_table):
    fig = plots.trend_plot(trend_table, "csat", by="channel")
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "CSAT by period and channel (% satisfied), n = 667"
    assert len(ax.collections) >= 2  # one interval band per group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "chat (n = 402)", "email (n = 265)", "95% interval (shaded)", "small n (flagged)"]


def test_trend_plot_marks_small_n_points_hollow(trend_table):
    fig = plots.trend_plot(trend_table.loc[trend_table.channel == "chat"], "csat")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["95% interval (shaded)", "small n (flagged)"]
    hollow = [c for c in fig.axes[0].collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert len(hollow) == 1 and hollow[0].get_offsets().tolist() == [[2.0, 70.0]]
    assert hollow[0].get_facecolor()[0].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_trend_plot_rejects_missing_metric_and_columns(trend_table):
    with pytest.raises(DataValidationError, match="metric 'nps' not in table"):
        plots.trend_plot(trend_table, "nps")
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['ci_low'\]"):
        plots.trend_plot(trend_table.drop(columns="ci_low"), "csat")


def test_trend_plot_draws_several_metrics_of_one_unit(trend_table):
    chat = trend_table.loc[trend_table.channel == "chat"].drop(columns="channel")
    waits = pd.concat([chat.assign(metric="requester_wait_median"), chat.assign(metric="agent_wait_median",
                                                                                 value=chat["value"] / 2)])
    fig = plots.trend_plot(waits, ["requester_wait_median", "agent_wait_median"])
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == ("Median requester wait, median agent wait (pending) by period\n"
                              "(hours, solved tickets), n = 402")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "Median requester wait (n = 402)", "Median agent wait (pending) (n = 402)"]
    assert ax.lines[1].get_ydata().tolist() == (chat["value"] / 2).tolist()
    with pytest.raises(DataValidationError, match="different units"):
        plots.trend_plot(pd.concat([waits, chat]), ["requester_wait_median", "csat"])
    with pytest.raises(DataValidationError, match="give one metric"):
        plots.trend_plot(trend_table, ["csat", "csat"], by="channel")


def test_backlog_plot_stacks_ages_oldest_first_and_names_the_last_count():
    b = pd.DataFrame({"period": ["2026-10-01"] * 3 + ["2026-10-02"] * 3, "age_bucket": ["0-1d", "1-3d", "3d+"] * 2,
                      "open_tickets": [5, 2, 0, 3, 4, 1]})
    fig = plots.backlog_plot(b)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Open tickets at each period end by age (tickets), n = 8 open at the end of 2026-10-02"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0-1d", "1-3d", "3d+"]
    bottom_layer = ax.collections[0].get_paths()[0].vertices[:, 1]   # the oldest bucket lies at the bottom
    assert bottom_layer.max() == 1.0
    with pytest.raises(DataValidationError, match="no rows"):
        plots.backlog_plot(b.iloc[:0])


def test_cohort_heatmap_blank_nan_cells_and_sizes_in_labels():
    matrix = pd.DataFrame(
        {"size": [100, 80, 50], 0: [1.0, 1.0, 1.0], 1: [0.9, 0.85, np.nan], 2: [0.8, np.nan, np.nan]},
        index=pd.Index(["2026-08", "2026-09", "2026-10"], name="cohort"),
    )
    fig = plots.cohort_heatmap(matrix)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert "n = 230 customers in 3 cohorts" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2026-08 (n = 100)", "2026-09 (n = 80)", "2026-10 (n = 50)"]
    annotations = sorted(t.get_text() for t in ax.texts)
    assert annotations == sorted(["100", "90", "80", "100", "85", "100"])  # NaN cells carry no number
    mesh = ax.collections[0].get_array()
    assert np.ma.count_masked(mesh) == 3


def test_cohort_heatmap_leaves_out_ages_no_cohort_reached():
    matrix = pd.DataFrame({"size": [10, 20], 0: [1.0, 1.0], 1: [0.55, np.nan], 2: [np.nan, np.nan]},
                          index=pd.Index(["2026-09", "2026-10"], name="cohort"))
    ax = plots.cohort_heatmap(matrix).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    assert ax.collections[0].get_clim() == (50.0, 100.0)  # scale from the lowest share, rounded down to 10


def test_survival_plot_starts_at_one_and_names_groups():
    curves = pd.DataFrame({
        "group": ["fast"] * 2 + ["slow"] * 2, "time": [30.0, 90.0, 20.0, 60.0],
        "survival": [0.95, 0.9, 0.85, np.nan], "ci_low": [0.9, 0.84, 0.78, np.nan],
        "ci_high": [0.98, 0.94, 0.9, np.nan], "at_risk": [200, 150, 100, 60], "n": [200, 200, 100, 100],
    })
    fig = plots.survival_plot(curves, time_unit="days")
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title().endswith("n = 300") and ax.get_xlabel() == "Time since signup (days)"
    assert ax.lines[0].get_ydata()[0] == 1.0 and ax.lines[0].get_xdata()[0] == 0.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fast (n = 200)", "slow (n = 100)"]


def test_forest_plot_reference_line_per_effect_type():
    table = pd.DataFrame({
        "term": ["median_frt_h", "sla_breach_share", "tenure_days"],
        "effect": [1.8, 0.9, 2.5], "effect_ci_low": [1.4, 0.6, np.nan], "effect_ci_high": [2.3, 1.3, np.nan],
        "effect_type": ["odds ratio", "odds ratio", "% change"], "n": [2400, 2400, 2400],
    })
    fig = plots.forest_plot(table)
    _assert_readable(fig)
    ratio_ax, diff_ax = fig.axes
    assert "n = 2,400" in ratio_ax.get_title()
    assert ratio_ax.get_xscale() == "log" and diff_ax.get_xscale() == "linear"
    assert ratio_ax.lines[0].get_xdata()[0] == 1.0 and diff_ax.lines[0].get_xdata()[0] == 0.0
    assert [t.get_text() for t in ratio_ax.get_yticklabels()] == ["sla_breach_share", "median_frt_h"]


def test_forest_plot_labels_terms_as_the_tables_do():
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"median_frt_h": rng.gamma(2.0, 8.0, 600),
                             "last_nps_category": rng.choice(["promoter", "detractor"], 600)})
    features["churned"] = rng.random(600) < 0.2 + 0.2 * (features["last_nps_category"] == "detractor")
    model = churn_model(features, ["median_frt_h", "last_nps_category"], units={"median_frt_h": 10})
    fig = plots.forest_plot(model.table, n=model.n)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [  # drawn bottom-up
        "last NPS answer: detractor (vs promoter)", "median first response (per +10 h)"]
    assert list(model.readable().index[::-1]) == [t.get_text() for t in ax.get_yticklabels()]
    churned = int(features["churned"].sum())
    assert ax.get_title() == f"Estimated effects with 95% intervals (odds ratio), n = 600, {churned:,} churned"


def test_forest_plot_needs_n():
    table = pd.DataFrame({"term": ["x"], "effect": [0.1], "effect_ci_low": [0.0], "effect_ci_high": [0.2],
                          "effect_type": ["change in revenue"]})
    with pytest.raises(DataValidationError, match="pass n="):
        plots.forest_plot(table)
    assert "n = 50" in plots.forest_plot(table, n=50).axes[0].get_title()


def test_channel_mix_plot_counts_and_shares():
    volume = pd.DataFrame({"period": ["2026-09", "2026-09", "2026-10", "2026-10"],
                           "channel": ["chat", "email", "chat", "phone"], "n": [40, 60, 30, 10]})
    fig = plots.channel_mix_plot(volume)
    _assert_readable(fig)
    assert fig.axes[0].get_title() == "Tickets created by channel (count), n = 140"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["phone", "email", "chat"]
    shares = plots.channel_mix_plot(volume, share=True)
    _assert_readable(shares)
    tops = {}
    for bar in shares.axes[0].patches:
        tops[bar.get_x()] = max(tops.get(bar.get_x(), 0.0), bar.get_y() + bar.get_height())
    assert np.allclose(list(tops.values()), 100.0)


def test_distribution_plot_log_scale_states_hidden_values():
    values = pd.Series([12.0, 40.0, 300.0, 2500.0, 0.0, -5.0, np.nan])
    fig = plots.distribution_plot(values, label="historical CLV", unit="EUR", log_x=True)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Distribution of historical CLV (EUR), n = 6 (2 ≤ 0 not shown on log scale)"
    assert ax.get_xscale() == "log"
    linear = plots.distribution_plot(values, unit="EUR")
    assert linear.axes[0].get_title() == "Distribution of historical CLV (EUR), n = 6"


def test_distribution_plot_all_nan_still_a_titled_figure():
    fig = plots.distribution_plot(pd.Series([np.nan, np.nan]))
    _assert_readable(fig)
    assert fig.axes[0].get_title().endswith("n = 0")


def test_holdout_plots_actual_vs_predicted():
    weekly = pd.DataFrame({"period": [3, 1, 2], "actual": [55, 50, np.nan], "predicted": [56.0, 52.0, 57.5]})
    fig = plots.holdout_plot(weekly, n=2357, cumulative=True, calibration_end=2)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert "n = 2,357 customers" in ax.get_title()
    assert ax.lines[1].get_ydata().tolist() == [52.0, 109.5, 165.5]  # sorted by week, cumulated
    by_freq = pd.DataFrame({"frequency_cal": ["0", "1", "2+"], "actual": [0.2, 0.6, np.nan],
                            "predicted": [0.23, 0.58, 1.0], "n": [1400, 500, 200]})
    fig = plots.conditional_expectation_plot(by_freq)
    _assert_readable(fig)
    assert "n = 2,100 customers" in fig.axes[0].get_title()


def _forecast_table(groups: dict[str, int]) -> pd.DataFrame:
    """A forecast_volume table by channel: 10 days of history with ``count`` a day, then 3 days ahead."""
    rows = []
    for channel, count in groups.items():
        for i, day in enumerate(pd.date_range("2026-10-01", periods=13, freq="D").strftime("%Y-%m-%d")):
            ahead = i >= 10
            rows.append({"period": day, "channel": channel, "part": "forecast" if ahead else "history",
                         "tickets": pd.NA if ahead else count, "forecast": count + 1.0 if ahead else np.nan,
                         "lower_80": count - 2.0 if ahead else np.nan, "upper_80": count + 4.0 if ahead else np.nan,
                         "lower_95": count - 3.0 if ahead else np.nan, "upper_95": count + 6.0 if ahead else np.nan,
                         "baseline": float(count) if ahead else np.nan, "small_n": count < 5})
    return pd.DataFrame(rows).astype({"tickets": "Int64"})


def test_forecast_plot_one_panel_per_group_with_bands_and_title_n():
    fig = plots.forecast_plot(_forecast_table({"email": 40, "phone": 3}), history=4)
    _assert_readable(fig)
    email, phone = fig.axes
    assert email.get_title() == "Tickets created per day: history and forecast (tickets), n = 430"   # 10 x (40 + 3)
    assert email.get_ylabel() == "channel email\n(tickets per day)" and "(small n)" in phone.get_ylabel()
    history, forecast, baseline = email.lines
    assert history.get_ydata().tolist() == [40.0] * 4                      # the last 4 days of history
    assert forecast.get_ydata().tolist() == [41.0] * 3 and baseline.get_linestyle() == ":"
    assert len(email.collections) == 2                                     # the 95% and 80% bands


def test_forecast_plot_needs_the_forecast_columns():
    with pytest.raises(DataValidationError, match="forecast_plot: table lacks column"):
        plots.forecast_plot(_forecast_table({"email": 40}).drop(columns="baseline"))


def test_set_theme_applies_house_palette():
    plots.set_theme()
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert [to_hex(c) for c in cycle[:3]] == [c.lower() for c in plots.PALETTE[:3]]
    assert matplotlib.rcParams["axes.titlesize"] == 13


def test_frequency_recency_heatmaps_from_a_bgnbd_model():
    from slm_lib.clv.bgnbd import BetaGeoModel
    from slm_lib.clv.matrices import frequency_recency_matrix

    bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    m = frequency_recency_matrix(bg, T=39.0, max_frequency=10, recency_steps=13)
    alive = plots.frequency_recency_heatmap(m, n=2357)
    _assert_readable(alive)
    ax = alive.axes[0]
    assert ax.get_title() == ("Probability of being alive by frequency and recency (P(alive), 0 to 1), "
                              "T = 39 weeks, n = 2,357 customers")
    assert ax.get_ylabel() == "Repeat purchases (count)"
    assert ax.get_yticklabels()[0].get_text() == "10"                 # most purchases on top
    assert alive.axes[1].get_ylabel() == "P(alive), 0 to 1"           # colour bar
    bought = plots.frequency_recency_heatmap(m, "expected_purchases", n=2357, time_unit="weeks")
    _assert_readable(bought)
    assert bought.axes[0].get_title().startswith("Expected purchases in the next 1 weeks by frequency and recency "
                                                 "(purchases per customer), T = 39 weeks")
    with pytest.raises(DataValidationError, match="pass n="):
        plots.frequency_recency_heatmap(m.drop(columns="n"))
    with pytest.raises(DataValidationError, match="value must be one of"):
        plots.frequency_recency_heatmap(m.assign(clv=1.0), "clv", n=1)


def test_frequency_recency_matrix_values_by_hand():
    from slm_lib.clv.bgnbd import BetaGeoModel
    from slm_lib.clv.matrices import frequency_recency_matrix

    bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    m = frequency_recency_matrix(bg, T=39.0, max_frequency=2, recency_steps=3)
    assert len(m) == 3 * 4 and m["recency"].unique().tolist() == [0.0, 13.0, 26.0, 39.0]
    assert (m.loc[m["frequency"] == 0, "probability_alive"] == 1.0).all()
    # x = 2, t_x = 39 = T: 1 / (1 + a / (b + 1)) = 1 / (1 + 0.793 / 3.426)
    last = m.loc[(m["frequency"] == 2) & (m["recency"] == 39.0), "probability_alive"].item()
    assert last == pytest.approx(1 / (1 + 0.793 / 3.426))
    # P(alive) rises with recency for a given frequency
    for _, g in m[m["frequency"] > 0].groupby("frequency"):
        assert g["probability_alive"].is_monotonic_increasing


def test_holdout_plot_draws_the_calibration_end_from_the_tracking_table():
    f = pd.DataFrame({"period": [1, 2, 3, 4], "sample": ["calibration", "calibration", "holdout", "holdout"],
                      "actual": [50, 60, 55, 40], "predicted": [52.0, 57.5, 56.0, 43.0]})
    fig = plots.holdout_plot(f, n=2357, cumulative=True)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Cumulative repeat purchases: actual vs predicted (transactions), n = 2,357 customers"
    assert ax.lines[-1].get_xdata()[0] == 2.5 and ax.lines[-1].get_label() == "end of calibration"
    assert ax.lines[0].get_ydata().tolist() == [50.0, 110.0, 165.0, 205.0]


def test_customer_exposure_plot_samples_customers_and_draws_their_purchases():
    rng = np.random.default_rng(0)
    ids = np.repeat([f"c{i}" for i in range(100)], 3)
    when = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 300, 300), unit="D")
    tx = pd.DataFrame({"customer_id": ids, "paid_at": when})
    fig = plots.customer_exposure_plot(tx, observation_end="2024-12-31", n_customers=25, seed=1)
    _assert_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == ("Customer exposure: purchases from first purchase to end of observation (dates), "
                              "n = 25 of 100 customers")
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == 75                  # 3 purchases of each of 25 customers
    lines = [c for c in ax.collections if not isinstance(c, PathCollection)]
    assert len(lines) == 25
    again = plots.customer_exposure_plot(tx, observation_end="2024-12-31", n_customers=25, seed=1)
    assert again.axes[0].get_title() == ax.get_title()
