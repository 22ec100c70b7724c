"""House theme and figure functions of the reports (SPEC §7).

Every function takes a tidy table produced by the library and returns a
:class:`matplotlib.figure.Figure` whose title states the units and ``n``, with labelled
axes. Figures are created through pyplot (so the notebook's inline backend knows how to
display them) and closed in pyplot at once: a notebook shows each figure once, as the
cell's value, and no figure piles up in pyplot's global state. Save with ``fig.savefig``.
Missing values are drawn as gaps or blank cells, never as zeros.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from slm_lib.errors import DataValidationError

__all__ = [
    "PALETTE",
    "METRIC_LABELS",
    "set_theme",
    "trend_plot",
    "backlog_plot",
    "cohort_heatmap",
    "survival_plot",
    "forest_plot",
    "channel_mix_plot",
    "distribution_plot",
    "holdout_plot",
    "conditional_expectation_plot",
    "frequency_recency_heatmap",
    "customer_exposure_plot",
    "forecast_plot",
]

#: Okabe–Ito colour-blind-safe palette, in the order groups are coloured.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

#: Display name and unit of each ``metric_table`` metric.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "nps": ("NPS", "score −100 to 100"),
    "csat": ("CSAT", "% satisfied"),
    "ces": ("CES", "mean score, lower = less effort"),
    "tickets": ("Tickets created", "count"),
    "frt_mean": ("Mean first response time", "hours"),
    "frt_median": ("Median first response time", "hours"),
    "frt_p90": ("90th percentile first response time", "hours"),
    "resolution_mean": ("Mean resolution time", "hours"),
    "resolution_median": ("Median resolution time", "hours"),
    "resolution_p90": ("90th percentile resolution time", "hours"),
    "resolution_rate": ("Resolution rate", "% of created tickets"),
    "fcr": ("First contact resolution", "% of resolved tickets"),
    "reopen_rate": ("Reopen rate", "% of resolved tickets"),
    "replies_per_ticket": ("Replies per resolved ticket", "replies"),
    "sla_first_response": ("SLA compliance, first response", "% achieved"),
    "sla_resolution": ("SLA compliance, resolution", "% achieved"),
    "sla_next_reply": ("SLA compliance, next reply", "% of replies achieved"),
    "sla_requester_wait": ("SLA compliance, requester wait", "% achieved"),
    "sla_agent_work": ("SLA compliance, agent work", "% achieved"),
    "comment_sentiment": ("Comment sentiment", "mean score −1 to 1"),
    "negative_comment_share": ("Negative comments", "% of scored comments"),
    "requester_wait_median": ("Median requester wait", "hours, solved tickets"),
    "agent_wait_median": ("Median agent wait (pending)", "hours, solved tickets"),
    "on_hold_median": ("Median on-hold time", "hours, solved tickets"),
    "full_resolution_median": ("Median full resolution time", "hours, solved tickets"),
    "next_reply_median": ("Median next reply time", "hours, per-ticket medians"),
    "one_touch_rate": ("One-touch resolution", "% of solved tickets"),
    "handoff_rate": ("Handed-off tickets", "% of solved tickets"),
}

_FIGSIZE = (8.0, 4.5)


def set_theme(font_scale: float = 1.0) -> None:
    """Apply the house seaborn/matplotlib theme (white grid, Okabe–Ito palette, sizes).

    Parameters
    ----------
    font_scale : float
        Multiplier of every font size (1.0 for notebooks, ~1.2 for slides).

    Examples
    --------
    >>> set_theme()
    """
    sns.set_theme(
        context="notebook", style="whitegrid", palette=list(PALETTE), font="sans-serif", font_scale=font_scale,
        rc={
            "figure.figsize": _FIGSIZE, "figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
            "axes.titlesize": 13, "axes.titleweight": "bold",
            "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 10,
            "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
        },
    )


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{what}: table lacks column(s) {missing}; it has {list(frame.columns)}")


def _model_n(frame: pd.DataFrame, n: int | None, what: str, how: str) -> int:
    """``n`` if given, else the table's ``n`` column aggregated by ``how`` ("max" or "sum")."""
    if n is not None:
        return int(n)
    if "n" not in frame.columns or frame["n"].isna().all():
        raise DataValidationError(f"{what}: pass n= or give the table an 'n' column")
    return int(frame["n"].agg(how))


def _count(n: float | int) -> str:
    return f"{int(n):,}" if np.isfinite(n) else "unknown"


def _new_figure(nrows: int = 1, height: float | None = None) -> tuple[Figure, np.ndarray]:
    fig = plt.figure(figsize=(_FIGSIZE[0], height or _FIGSIZE[1]), layout="constrained")
    plt.close(fig)  # the caller owns the figure; pyplot keeps no reference
    axes = np.atleast_1d(fig.subplots(nrows, 1, squeeze=False).ravel())
    return fig, axes


def _period_axis(ax, labels: Sequence[str]) -> None:
    step = max(1, int(np.ceil(len(labels) / 12)))
    ax.set_xticks(np.arange(len(labels))[::step], [str(x) for x in labels][::step], rotation=45, ha="right")


def trend_plot(table: pd.DataFrame, metric: str | Sequence[str], by: str | None = None) -> Figure:
    """Metric per period with its 95% interval band; small-n points drawn hollow.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`slm_lib.metrics.table.metric_table` output: ``period, [by], metric, n, value,
        ci_low, ci_high, small_n``.
    metric : str or list of str
        Metric to draw (one of :data:`METRIC_LABELS` or any name in ``table.metric``); several
        metrics of one unit (e.g. the waits of a ticket) are drawn as one line each.
    by : str, optional
        Group column: one line per group (one metric only).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataValidationError
        A column is missing, a metric is absent, or several metrics do not share a unit.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026-09", "2026-10"], "metric": "nps", "n": [120, 25],
    ...     "value": [30.0, 22.0], "ci_low": [18.0, -5.0], "ci_high": [42.0, 49.0], "small_n": [False, True]})
    >>> trend_plot(t, "nps").axes[0].get_title()
    'NPS by period (score −100 to 100), n = 145'
    >>> w = t.assign(metric=["requester_wait_median", "agent_wait_median"], period="2026-10")
    >>> trend_plot(w, ["requester_wait_median", "agent_wait_median"]).axes[0].get_title()
    'Median requester wait, median agent wait (pending) by period\\n(hours, solved tickets), n = 120'
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if by and len(metrics) > 1:
        raise DataValidationError("trend_plot: by= draws one line per group, so give one metric")
    columns = ["period", "metric", "n", "value", "ci_low", "ci_high", "small_n"] + ([by] if by else [])
    _require(table, columns, "trend_plot")
    rows = table.loc[table["metric"].isin(metrics)]
    absent = [m for m in metrics if m not in set(rows["metric"])]
    if absent:
        known = sorted(table["metric"].unique())
        raise DataValidationError(f"trend_plot: metric {absent[0]!r} not in table (has {known})")
    labels = {m: METRIC_LABELS.get(m, (m, "value")) for m in metrics}
    units = {unit for _, unit in labels.values()}
    if len(units) > 1:
        raise DataValidationError(f"trend_plot: metrics {metrics} have different units {sorted(units)}; draw them apart")
    (unit,) = units
    name = ", ".join(n if i == 0 else n[0].lower() + n[1:] for i, (n, _) in enumerate(labels.values()))
    periods = np.sort(rows["period"].astype("str").unique())
    position = pd.Series(np.arange(len(periods)), index=periods)
    fig, (ax,) = _new_figure()
    if by:
        lines = rows.groupby(rows[by].astype("str"), sort=True)
    else:
        lines = ((labels[m][0], rows.loc[rows["metric"] == m]) for m in metrics)
    for i, (label, g) in enumerate(lines):  # one line per group or metric
        g = g.assign(_x=position[g["period"].astype("str")].to_numpy()).sort_values("_x")
        colour = PALETTE[i % len(PALETTE)]
        legend = f"{label} (n = {_count(g['n'].sum())})" if by or len(metrics) > 1 else None
        ax.fill_between(g["_x"], g["ci_low"].astype(float), g["ci_high"].astype(float),
                        color=colour, alpha=0.18, linewidth=0)
        ax.plot(g["_x"], g["value"].astype(float), color=colour, marker="o", markersize=4, label=legend)
        small = g.loc[g["small_n"].fillna(False).astype(bool)]
        ax.scatter(small["_x"], small["value"].astype(float), s=60, facecolors="white", edgecolors=colour, zorder=3)
    ax.fill_between([], [], [], color="0.75", linewidth=0, label="95% interval (shaded)")  # legend entry only
    if rows["small_n"].fillna(False).astype(bool).any():  # one neutral legend entry for the hollow markers
        ax.scatter([], [], s=60, facecolors="white", edgecolors="0.3", label="small n (flagged)")
    _period_axis(ax, periods)
    ax.set_xlabel("Period")
    ax.set_ylabel(f"{name if len(metrics) == 1 else 'Value'} ({unit})")
    what = f"{name} by period" + (f" and {by}" if by else "")
    n = rows.loc[rows["metric"] == metrics[0], "n"].sum()   # several metrics describe the same tickets
    ax.set_title(f"{what}{' ' if len(metrics) == 1 else chr(10)}({unit}), n = {_count(n)}")   # several: two lines
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def backlog_plot(backlog: pd.DataFrame) -> Figure:
    """Open tickets at each period end, stacked by age bucket (oldest at the bottom).

    Parameters
    ----------
    backlog : pandas.DataFrame
        :func:`slm_lib.metrics.backlog.backlog` output without ``by``: ``period, age_bucket,
        open_tickets``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> b = pd.DataFrame({"period": ["2026-10-01"] * 2 + ["2026-10-02"] * 2, "age_bucket": ["0-1d", "1d+"] * 2,
    ...                   "open_tickets": [5, 2, 3, 6]})
    >>> backlog_plot(b).axes[0].get_title()
    'Open tickets at each period end by age (tickets), n = 9 open at the end of 2026-10-02'
    """
    _require(backlog, ["period", "age_bucket", "open_tickets"], "backlog_plot")
    buckets = list(dict.fromkeys(backlog["age_bucket"].astype("str")))   # the table's order: youngest first
    wide = backlog.assign(period=backlog["period"].astype("str"), age_bucket=backlog["age_bucket"].astype("str")) \
        .pivot_table(index="period", columns="age_bucket", values="open_tickets", aggfunc="sum", fill_value=0) \
        .sort_index().reindex(columns=buckets[::-1])
    if wide.empty:
        raise DataValidationError("backlog_plot: the backlog table has no rows")
    fig, (ax,) = _new_figure()
    x = np.arange(len(wide))
    colours = dict(zip(buckets, PALETTE))
    ax.stackplot(x, *(wide[b].to_numpy(float) for b in wide.columns), labels=list(wide.columns),
                 colors=[colours[b] for b in wide.columns], alpha=0.85, linewidth=0)
    _period_axis(ax, list(wide.index))
    ax.set_xlabel("Period end")
    ax.set_ylabel("Open tickets (count)")
    last = int(wide.iloc[-1].sum())
    ax.set_title(f"Open tickets at each period end by age (tickets), n = {last:,} open at the end of {wide.index[-1]}")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="Age", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def cohort_heatmap(matrix: pd.DataFrame, annotate_max_cells: int = 400) -> Figure:
    """Cohort retention matrix as a heatmap of % still active; NaN (not yet observed) blank.

    Ages no cohort has reached yet are left out; the colour scale starts at the lowest
    observed share rounded down to 10 % (the colour bar shows the range).

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`slm_lib.cohorts.cohort_retention` output: index cohort, column ``size``,
        age columns ``0..K`` with shares in [0, 1].
    annotate_max_cells : int
        Write the % in each cell when the matrix has at most this many cells.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> m = pd.DataFrame({"size": [100, 80], 0: [1.0, 1.0], 1: [0.9, np.nan]},
    ...                  index=pd.Index(["2026-01", "2026-02"], name="cohort"))
    >>> cohort_heatmap(m).axes[0].get_xlabel()
    'Months since signup'
    """
    _require(matrix, ["size"], "cohort_heatmap")
    shares = matrix.drop(columns="size").astype(float).mul(100).dropna(axis=1, how="all")
    sizes = matrix["size"].fillna(0).astype("int64")
    lowest = np.nanmin(shares.to_numpy()) if shares.notna().any().any() else 0.0
    vmin = float(min(90.0, np.floor(lowest / 10) * 10))
    fig, (ax,) = _new_figure(height=max(3.0, 0.3 * len(shares) + 1.5))
    sns.heatmap(
        shares, ax=ax, mask=shares.isna(), cmap="Blues", vmin=vmin, vmax=100, linewidths=0.5, linecolor="white",
        annot=shares.size <= annotate_max_cells, fmt=".0f", annot_kws={"fontsize": 8},
        cbar_kws={"label": "% of cohort still active"},
        yticklabels=[f"{c} (n = {s:,})" for c, s in zip(shares.index.astype(str), sizes)],
    )
    ax.grid(False)
    ax.set_xlabel("Months since signup")
    ax.set_ylabel("Signup cohort")
    ax.set_title(f"Cohort retention (% of cohort still active), n = {sizes.sum():,} customers in {len(shares)} cohorts")
    return fig


def survival_plot(curves: pd.DataFrame, time_unit: str = "days") -> Figure:
    """Kaplan–Meier curves with their 95% bands, one per group.

    Parameters
    ----------
    curves : pandas.DataFrame
        :func:`slm_lib.survival.survival_curves` output: ``group, time, survival, ci_low,
        ci_high, at_risk, n``.
    time_unit : str
        Unit of ``time`` for the axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> c = pd.DataFrame({"group": "all", "time": [10.0, 20.0], "survival": [0.9, 0.8],
    ...     "ci_low": [0.8, 0.7], "ci_high": [0.95, 0.9], "at_risk": [10, 8], "n": 10})
    >>> survival_plot(c).axes[0].get_title()
    'Customers not yet churned (Kaplan–Meier, % of group), n = 10'
    """
    _require(curves, ["group", "time", "survival", "ci_low", "ci_high", "at_risk", "n"], "survival_plot")
    fig, (ax,) = _new_figure()
    total = 0
    for i, (label, g) in enumerate(curves.sort_values("time").groupby("group", sort=True)):  # one curve per group
        colour, n = PALETTE[i % len(PALETTE)], int(g["n"].iloc[0])
        total += n
        start = pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_low": [1.0], "ci_high": [1.0]})
        g = pd.concat([start, g[["time", "survival", "ci_low", "ci_high"]].astype(float)], ignore_index=True)
        ax.step(g["time"], g["survival"], where="post", color=colour, label=f"{label} (n = {n:,})")
        ax.fill_between(g["time"], g["ci_low"], g["ci_high"], step="post", color=colour, alpha=0.18, linewidth=0)
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"Time since signup ({time_unit})")
    ax.set_ylabel("Share not yet churned (%)")
    ax.set_title(f"Customers not yet churned (Kaplan–Meier, % of group), n = {total:,}")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def forest_plot(table: pd.DataFrame, n: int | None = None) -> Figure:
    """Effects with 95% intervals per term; reference line at 1 (ratios) or 0 (differences).

    Ratios (``effect_type`` containing "ratio") use a log axis. Several effect types give
    one panel each.

    Terms are labelled by the table's ``label`` column when it has one (a model's ``.table``
    does: "median first response (per +10 h)", the labels of ``ModelResult.readable()``),
    else by ``term``. The title states the effect types, ``n`` and, for churn models, the
    churned customers (``events``).

    Parameters
    ----------
    table : pandas.DataFrame
        Model table: ``term, effect, effect_ci_low, effect_ci_high, effect_type`` (and ``n``,
        optionally ``label`` and ``events``).
    n : int, optional
        Observations of the model; default ``table["n"]``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataValidationError
        A column is missing, or ``n`` is neither given nor in the table.

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["median FRT > 24 h"], "effect": [1.8], "effect_ci_low": [1.4],
    ...     "effect_ci_high": [2.3], "effect_type": ["odds ratio"], "n": [2400]})
    >>> forest_plot(t).axes[0].get_xlabel()
    'odds ratio (log scale; 1 = no effect)'
    """
    _require(table, ["term", "effect", "effect_ci_low", "effect_ci_high", "effect_type"], "forest_plot")
    n = _model_n(table, n, "forest_plot", "max")
    kinds = list(dict.fromkeys(table["effect_type"].astype("str")))
    fig, axes = _new_figure(len(kinds), height=max(2.5, 0.45 * len(table) + 1.2 * len(kinds)))
    for ax, kind in zip(axes, kinds):  # one panel per effect type
        rows = table.loc[table["effect_type"].astype("str") == kind].iloc[::-1]
        y = np.arange(len(rows))
        ratio = "ratio" in kind.lower()
        ax.axvline(1.0 if ratio else 0.0, color="0.4", linestyle="--", linewidth=1)
        ax.hlines(y, rows["effect_ci_low"].astype(float), rows["effect_ci_high"].astype(float),
                  color=PALETTE[0], linewidth=2)
        ax.plot(rows["effect"].astype(float), y, "o", color=PALETTE[0])
        ax.set_yticks(y, rows["label" if "label" in rows else "term"].astype("str"))
        if ratio:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel(f"{kind} (log scale; 1 = no effect)" if ratio else f"{kind} (0 = no effect)")
        ax.set_ylabel("Term")
    events = f", {int(table['events'].max()):,} churned" if "events" in table and table["events"].notna().any() else ""
    axes[0].set_title(f"Estimated effects with 95% intervals ({', '.join(kinds)}), n = {n:,}{events}")
    return fig


def channel_mix_plot(volume: pd.DataFrame, share: bool = False) -> Figure:
    """Ticket volume by channel per period as stacked bars (counts or % of the period).

    Parameters
    ----------
    volume : pandas.DataFrame
        Tidy ``period, channel, n`` (created tickets).
    share : bool
        Stack shares of each period's tickets (%) instead of counts.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> v = pd.DataFrame({"period": ["2026-09", "2026-09", "2026-10"], "channel": ["chat", "email", "chat"],
    ...                   "n": [40, 60, 55]})
    >>> channel_mix_plot(v).axes[0].get_title()
    'Tickets created by channel (count), n = 155'
    """
    _require(volume, ["period", "channel", "n"], "channel_mix_plot")
    wide = volume.assign(period=volume["period"].astype("str")).pivot_table(
        index="period", columns="channel", values="n", aggfunc="sum", fill_value=0).sort_index()
    total = wide.to_numpy().sum()
    plotted = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0) * 100 if share else wide
    fig, (ax,) = _new_figure()
    x = np.arange(len(plotted))
    bottom = np.zeros(len(plotted))
    for i, channel in enumerate(plotted.columns):  # one bar layer per channel
        heights = plotted[channel].fillna(0).to_numpy(float)
        ax.bar(x, heights, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=str(channel), width=0.8)
        bottom += heights
    _period_axis(ax, list(plotted.index))
    unit = "% of the period's tickets" if share else "count"
    ax.set_xlabel("Period")
    ax.set_ylabel("Tickets (%)" if share else "Tickets (count)")
    ax.set_title(f"Tickets created by channel ({unit}), n = {_count(total)}")
    handles, labels = ax.get_legend_handles_labels()  # top of the stack first, as drawn
    ax.legend(handles[::-1], labels[::-1], title="Channel", loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize="small")
    return fig


def distribution_plot(values: pd.Series | np.ndarray, label: str = "historical CLV", unit: str = "currency",
                      log_x: bool = False, bins: int = 40) -> Figure:
    """Histogram of a customer value (e.g. CLV) with its median and mean marked.

    Parameters
    ----------
    values : Series or array
        One value per customer; NaN ignored.
    label, unit : str
        What the values are and their unit, for title and axis.
    log_x : bool
        Log-scaled x axis; values ≤ 0 cannot be drawn and their count is stated in the title.
    bins : int
        Number of histogram bins.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> distribution_plot(pd.Series([10.0, 20.0, 0.0, np.nan]), log_x=True).axes[0].get_title()
    'Distribution of historical CLV (currency), n = 3 (1 ≤ 0 not shown on log scale)'
    """
    x = pd.Series(values, dtype="float64").dropna()
    n = len(x)
    note = ""
    if log_x:
        hidden = int((x <= 0).sum())
        x = x[x > 0]
        note = f" ({hidden:,} ≤ 0 not shown on log scale)" if hidden else ""
    fig, (ax,) = _new_figure()
    if len(x):
        sns.histplot(x=x.to_numpy(), bins=bins, log_scale=log_x, ax=ax, color=PALETTE[0], edgecolor="white")
        ax.axvline(x.median(), color=PALETTE[3], linestyle="-", label=f"median {x.median():,.2f}")
        ax.axvline(x.mean(), color=PALETTE[1], linestyle="--", label=f"mean {x.mean():,.2f}")
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel(f"{label[:1].upper()}{label[1:]} ({unit}{', log scale' if log_x else ''})")
    ax.set_ylabel("Customers (count)")
    ax.set_title(f"Distribution of {label} ({unit}), n = {n:,}{note}")
    return fig


def holdout_plot(frame: pd.DataFrame, n: int, cumulative: bool = False,
                 calibration_end: float | None = None) -> Figure:
    """Actual vs model-predicted repeat purchases per week (BG/NBD holdout check).

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy ``period, actual, predicted`` (repeat transactions of the customer base per
        period), as :func:`slm_lib.clv.holdout.purchase_tracking` returns.
    n : int
        Customers in the base.
    cumulative : bool
        Draw cumulative totals instead of weekly counts.
    calibration_end : float, optional
        Week where calibration ends; drawn as a vertical line. Default: after the last
        ``"calibration"`` period when the frame has purchase_tracking's ``sample`` column.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> f = pd.DataFrame({"period": [1, 2, 3], "actual": [50, 60, 55], "predicted": [52.0, 57.5, 56.0]})
    >>> holdout_plot(f, n=2357).axes[0].get_title()
    'Repeat purchases per week: actual vs predicted (transactions), n = 2,357 customers'
    """
    _require(frame, ["period", "actual", "predicted"], "holdout_plot")
    data = frame.sort_values("period")
    actual, predicted = data["actual"].astype(float), data["predicted"].astype(float)
    if cumulative:
        actual, predicted = actual.cumsum(), predicted.cumsum()
    fig, (ax,) = _new_figure()
    ax.plot(data["period"], actual, color=PALETTE[0], label="actual")
    ax.plot(data["period"], predicted, color=PALETTE[1], linestyle="--", label="predicted")
    if calibration_end is None and "sample" in data and (data["sample"] == "calibration").any():
        calibration_end = float(data.loc[data["sample"] == "calibration", "period"].max()) + 0.5
    if calibration_end is not None:
        ax.axvline(calibration_end, color="0.4", linestyle=":", label="end of calibration")
    kind = "Cumulative repeat purchases" if cumulative else "Repeat purchases per week"
    ax.set_xlabel("Week")
    ax.set_ylabel(f"{kind} (transactions)")
    ax.set_title(f"{kind}: actual vs predicted (transactions), n = {n:,} customers")
    ax.legend(loc="best", fontsize="small")
    return fig


def conditional_expectation_plot(frame: pd.DataFrame, n: int | None = None) -> Figure:
    """Mean holdout purchases by calibration frequency: actual vs predicted.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy ``frequency_cal, actual, predicted`` (means per customer in the holdout) and
        optionally ``n`` (customers per frequency), as
        :func:`slm_lib.clv.holdout.conditional_expectations` returns (labels such as "7+"
        are kept in the given order).
    n : int, optional
        Customers; default the sum of ``frame["n"]``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataValidationError
        A column is missing, or ``n`` is neither given nor in the frame.

    Examples
    --------
    >>> f = pd.DataFrame({"frequency_cal": ["0", "1", "2+"], "actual": [0.2, 0.6, 1.1], "predicted": [0.23, 0.58, 1.0],
    ...                   "n": [1400, 500, 200]})
    >>> conditional_expectation_plot(f).axes[0].get_xlabel()
    'Repeat purchases in calibration (count)'
    """
    _require(frame, ["frequency_cal", "actual", "predicted"], "conditional_expectation_plot")
    n = _model_n(frame, n, "conditional_expectation_plot", "sum")
    data = frame.assign(frequency_cal=frame["frequency_cal"].astype("str"))
    fig, (ax,) = _new_figure()
    ax.plot(data["frequency_cal"], data["actual"].astype(float), "o-", color=PALETTE[0], label="actual")
    ax.plot(data["frequency_cal"], data["predicted"].astype(float), "s--", color=PALETTE[1], label="predicted")
    ax.set_xlabel("Repeat purchases in calibration (count)")
    ax.set_ylabel("Mean purchases in holdout (per customer)")
    ax.set_title(f"Holdout purchases by calibration frequency (per customer), n = {n:,} customers")
    ax.legend(loc="upper left", fontsize="small")
    return fig


#: Title words and colour-bar label of the values of :func:`frequency_recency_heatmap`.
_MATRIX_VALUES = {"probability_alive": ("Probability of being alive", "P(alive), 0 to 1"),
                  "expected_purchases": ("Expected purchases", "purchases per customer")}


def frequency_recency_heatmap(matrix: pd.DataFrame, value: str = "probability_alive", n: int | None = None,
                              time_unit: str = "weeks") -> Figure:
    """P(alive) or expected purchases by repeat purchases (rows) and recency (columns), as a heatmap.

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`slm_lib.clv.matrices.frequency_recency_matrix`: ``frequency, recency,
        probability_alive, expected_purchases, T, horizon`` and ``n``.
    value : {"probability_alive", "expected_purchases"}
        What the colours show.
    n : int, optional
        Customers behind the model; default the table's ``n``.
    time_unit : str, default "weeks"
        Unit of recency, T and the horizon, in words.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataValidationError
        A column is missing or ``value`` is not one of the two.

    Examples
    --------
    >>> m = pd.DataFrame({"frequency": [0, 0, 1, 1], "recency": [0.0, 39.0] * 2, "probability_alive": [1, 1, 0.2, 0.9],
    ...                   "expected_purchases": [0.1, 0.1, 0.05, 0.3], "T": 39.0, "horizon": 1.0, "n": 2357})
    >>> frequency_recency_heatmap(m).axes[0].get_title()
    'Probability of being alive by frequency and recency (P(alive), 0 to 1), T = 39 weeks, n = 2,357 customers'
    """
    _require(matrix, ["frequency", "recency", value, "T", "horizon"], "frequency_recency_heatmap")
    if value not in _MATRIX_VALUES:
        raise DataValidationError(f"frequency_recency_heatmap: value must be one of {sorted(_MATRIX_VALUES)}, "
                                  f"got {value!r}")
    n = _model_n(matrix, n, "frequency_recency_heatmap", "max")
    words, unit = _MATRIX_VALUES[value]
    grid = matrix.pivot(index="frequency", columns="recency", values=value).sort_index(ascending=False)
    fig, (ax,) = _new_figure(height=max(3.5, 0.18 * len(grid) + 1.8))
    sns.heatmap(grid, ax=ax, cmap="viridis", vmin=0, vmax=1 if value == "probability_alive" else None,
                cbar_kws={"label": unit}, xticklabels=[f"{r:g}" for r in grid.columns.round(1)],
                yticklabels=grid.index.astype(str))
    ax.grid(False)
    step = max(1, int(np.ceil(len(grid.columns) / 10)))
    ax.set_xticks(ax.get_xticks()[::step], [t.get_text() for t in ax.get_xticklabels()][::step])
    ax.set_xlabel(f"Recency: time of the last purchase ({time_unit} since the first)")
    ax.set_ylabel("Repeat purchases (count)")
    T, horizon = float(matrix["T"].iloc[0]), float(matrix["horizon"].iloc[0])
    what = words if value == "probability_alive" else f"{words} in the next {horizon:g} {time_unit}"
    ax.set_title(f"{what} by frequency and recency ({unit}), T = {T:g} {time_unit}, n = {n:,} customers")
    return fig


def customer_exposure_plot(transactions: pd.DataFrame, customer_col: str = "customer_id", date_col: str = "paid_at",
                           observation_end: object = None, n_customers: int = 40, seed: int = 0) -> Figure:
    """Each customer's observed life as a line from the first purchase to the end of observation, purchases as dots.

    A sample of customers (seeded), sorted by first purchase; the picture behind
    frequency, recency and T (:func:`slm_lib.clv.rfm.rfm_summary`): a line that runs on long
    after its last dot is a customer the model may think has dropped out.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase.
    customer_col, date_col : str
        Customer id and purchase timestamp columns (time-zone aware ones are drawn in UTC).
    observation_end : timestamp, optional
        Where the lines end; default the last purchase in the data.
    n_customers : int, default 40
        Customers drawn (all when fewer).
    seed : int, default 0
        Seed of the sample.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "paid_at": pd.to_datetime(["2024-01-01", "2024-03-01",
    ...                    "2024-02-01"])})
    >>> customer_exposure_plot(tx).axes[0].get_title()
    'Customer exposure: purchases from first purchase to end of observation (dates), n = 2 of 2 customers'
    """
    _require(transactions, [customer_col, date_col], "customer_exposure_plot")
    naive = lambda t: t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t   # noqa: E731
    when = pd.to_datetime(transactions[date_col])
    when = when.dt.tz_convert("UTC").dt.tz_localize(None) if when.dt.tz is not None else when
    frame = pd.DataFrame({"customer": transactions[customer_col].to_numpy(), "when": when.to_numpy()}).dropna()
    end = naive(pd.Timestamp(observation_end)) if observation_end is not None else frame["when"].max()
    frame = frame[frame["when"] <= end]
    everyone = frame["customer"].unique()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(everyone, size=min(n_customers, len(everyone)), replace=False) if len(everyone) else everyone
    mine = frame[frame["customer"].isin(chosen)]
    order = mine.groupby("customer")["when"].min().sort_values()
    fig, (ax,) = _new_figure(height=max(3.5, 0.16 * len(order) + 1.8))
    for y, (cust, first) in enumerate(order.items()):
        ax.hlines(y, first, end, color=PALETTE[0], linewidth=1.0, alpha=0.7)
        buys = mine.loc[mine["customer"] == cust, "when"]
        ax.scatter(buys, np.full(len(buys), y), s=14, color=PALETTE[3], zorder=3,
                   label="purchase" if y == 0 else None)
    ax.plot([], [], color=PALETTE[0], label="observed, first purchase to end")
    ax.set_yticks([])
    ax.set_ylabel(f"Customers, by first purchase ({len(order):,} sampled)")
    ax.set_xlabel("Date")
    ax.set_title(f"Customer exposure: purchases from first purchase to end of observation (dates), "
                 f"n = {len(order):,} of {len(everyone):,} customers")
    if len(order):
        ax.legend(loc="lower left", fontsize="small")
    return fig


#: Columns of a :func:`slm_lib.forecast.forecast_volume` table that are not group keys.
_FORECAST_COLUMNS = ("period", "part", "tickets", "forecast", "lower_80", "upper_80", "lower_95", "upper_95",
                     "baseline", "small_n")


def forecast_plot(table: pd.DataFrame, history: int | None = None) -> Figure:
    """Tickets per period: the recent history, the forecast with its 80% and 95% bands and the seasonal naive rule.

    Parameters
    ----------
    table : pandas.DataFrame
        ``VolumeForecast.forecast`` (:func:`slm_lib.forecast.forecast_volume`): ``period``
        (day or Monday of a week), group columns, ``part``, ``tickets``, ``forecast``, interval
        bounds, ``baseline``, ``small_n``. One panel per group.
    history : int, optional
        Periods of history drawn before the forecast; default three times the horizon. The
        title's ``n`` counts every ticket of the history.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataValidationError
        A column is missing.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"],
    ...     "part": ["history", "history", "forecast", "forecast"], "tickets": pd.array([400, 420, None, None], "Int64"),
    ...     "forecast": [np.nan, np.nan, 415.0, 418.0], "lower_80": [np.nan, np.nan, 380.0, 375.0],
    ...     "upper_80": [np.nan, np.nan, 450.0, 460.0], "lower_95": [np.nan, np.nan, 360.0, 352.0],
    ...     "upper_95": [np.nan, np.nan, 470.0, 485.0], "baseline": [np.nan, np.nan, 420.0, 420.0], "small_n": False})
    >>> forecast_plot(t).axes[0].get_title()
    'Tickets created per week: history and forecast (tickets), n = 820'
    """
    _require(table, _FORECAST_COLUMNS, "forecast_plot")
    by = [c for c in table.columns if c not in _FORECAST_COLUMNS]
    dates = pd.to_datetime(table["period"].astype("str"))
    unit = "week" if len(dates.unique()) > 1 and np.diff(np.sort(dates.unique())).min() >= np.timedelta64(7, "D") \
        else "day"
    groups = list(table.assign(_date=dates).groupby(by, sort=True, dropna=False)) if by else [((), table.assign(_date=dates))]
    fig, axes = _new_figure(len(groups), height=_FIGSIZE[1] if len(groups) == 1 else 2.6 * len(groups))
    total = 0
    for ax, (keys, g) in zip(axes, groups):
        past, ahead = g[g["part"] == "history"], g[g["part"] == "forecast"]
        total += int(past["tickets"].sum())
        shown = past.tail(3 * len(ahead) if history is None else history)
        ax.plot(shown["_date"], shown["tickets"].astype(float), color=PALETTE[0], label="tickets created")
        for level, alpha in ((95, 0.15), (80, 0.3)):
            ax.fill_between(ahead["_date"], ahead[f"lower_{level}"], ahead[f"upper_{level}"], color=PALETTE[1],
                            alpha=alpha, linewidth=0, label=f"{level}% interval")
        ax.plot(ahead["_date"], ahead["forecast"], color=PALETTE[1], label="forecast (mean)")
        ax.plot(ahead["_date"], ahead["baseline"], color="0.45", linestyle=":", label="seasonal naive")
        keys = keys if isinstance(keys, tuple) else (keys,)
        name = ", ".join(f"{c} {k}" for c, k in zip(by, keys))
        small = " (small n)" if bool(g["small_n"].any()) else ""
        ax.set_ylabel(f"{name}{small}\n(tickets per {unit})" if by else f"Tickets per {unit}")
        ax.set_xlabel(f"Period ({unit})")
        ax.set_ylim(bottom=0)
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[0].set_title(f"Tickets created per {unit}: history and forecast (tickets), n = {total:,}")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig
