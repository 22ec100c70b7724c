"""Index pages of the reports folder (SPEC §7).

``reports/YYYY-MM/index.html`` links each rendered notebook of a month and shows the
headline KPI table the caller passes in; ``reports/index.html`` lists every month folder
present, newest first. Pages are self-contained (inline CSS, no scripts, no network) and
every value is HTML-escaped (Jinja2 autoescape).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from slm_lib.errors import ReportError
from slm_lib.plots import METRIC_LABELS

__all__ = [
    "HEADLINE_METRICS",
    "headline_kpis",
    "KPI_COLUMNS",
    "MONTH_PATTERN",
    "ReportEntry",
    "format_kpis",
    "render_month_index",
    "write_month_index",
    "list_report_months",
    "write_root_index",
]

#: Columns a headline KPI table must have; ``delta`` (change vs previous month),
#: ``p_value`` (of that change), ``unit`` and ``small_n`` are optional.
KPI_COLUMNS: tuple[str, ...] = ("metric", "value", "ci_low", "ci_high", "n")
#: Optional columns of a headline KPI table.
KPI_OPTIONAL_COLUMNS: tuple[str, ...] = ("delta", "p_value", "unit", "small_n", "higher_is_better")

#: A report month folder name: ``YYYY-MM`` with a month 01-12.
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

_DASH = "—"

#: Metrics of ``metric_table`` shown as headline KPIs, in display order.
HEADLINE_METRICS: tuple[str, ...] = (
    "nps", "csat", "ces", "tickets", "frt_median", "resolution_median",
    "sla_first_response", "sla_resolution", "fcr", "reopen_rate",
)
#: Direction of improvement per metric (True: higher is better); absent = neutral (volume).
_HIGHER_IS_BETTER: dict[str, bool] = {
    "nps": True, "csat": True, "ces": False, "frt_mean": False, "frt_median": False, "frt_p90": False,
    "resolution_mean": False, "resolution_median": False, "resolution_p90": False, "resolution_rate": True,
    "fcr": True, "reopen_rate": False, "replies_per_ticket": False, "sla_first_response": True,
    "sla_resolution": True,
}
_TABLE_COLUMNS = ("period", "metric", "n", "value", "ci_low", "ci_high", "small_n")


@dataclass(frozen=True)
class ReportEntry:
    """One rendered notebook of a month: its title and file names relative to the month folder."""

    title: str
    html: str
    ipynb: str


def _environment() -> jinja2.Environment:
    templates = Path(str(resources.files("slm_lib.report") / "templates"))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _css() -> str:
    return (resources.files("slm_lib.report") / "templates" / "index.css").read_text(encoding="utf-8")


def _numbers(values: pd.Series, decimals: int, signed: bool = False) -> pd.Series:
    """Format a numeric column for display; missing values become a dash."""
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    spec = "{:" + ("+" if signed else "") + f",.{decimals}f}}"
    return numeric.map(spec.format).where(numeric.notna(), _DASH)


def headline_kpis(table: pd.DataFrame, month: str, metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """Headline KPI table of one month from ``metric_table`` output, with change vs the month before.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`slm_lib.metrics.table.metric_table` output with ``freq="M"`` and no ``by``.
    month : str
        ``YYYY-MM``.
    metrics : sequence of str
        Metric names in display order; those absent from the month are skipped.

    Returns
    -------
    pandas.DataFrame
        ``metric`` (display name), ``key`` (metric name), ``unit``, ``value, ci_low, ci_high,
        n, small_n`` of the month (the very numbers of the metric table) and ``delta`` =
        value − value of the previous month (NaN when that month has no value), and
        ``higher_is_better`` (nullable bool; NA for volumes) to colour the change.

    Raises
    ------
    ReportError
        Columns missing, group columns present, or no row for ``month``.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026-09", "2026-10"], "metric": "nps", "n": [200, 210],
    ...     "value": [30.0, 27.5], "ci_low": [20.0, 17.0], "ci_high": [40.0, 38.0], "small_n": False})
    >>> headline_kpis(t, "2026-10")[["metric", "value", "delta"]].values.tolist()
    [['NPS', 27.5, -2.5]]
    """
    missing = [c for c in _TABLE_COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in _TABLE_COLUMNS]
    if missing or extra:
        raise ReportError(
            f"headline_kpis needs metric_table output without groups: missing {missing}, group columns {extra}"
        )
    period = table["period"].astype("str")
    previous = str(pd.Period(month, freq="M") - 1)
    current = table.loc[(period == month) & table["metric"].isin(metrics)].set_index("metric")
    if current.empty:
        raise ReportError(f"metric table has no headline metric for month {month} (periods: {sorted(period.unique())})")
    prior = table.loc[period == previous].set_index("metric")["value"]
    out = current.reindex([m for m in metrics if m in current.index])
    out["delta"] = out["value"] - prior.reindex(out.index)
    out = out.rename_axis("key").reset_index()
    labels = pd.DataFrame.from_dict(METRIC_LABELS, orient="index", columns=["metric", "unit"])
    out = out.join(labels, on="key")
    out["metric"] = out["metric"].fillna(out["key"])
    out["higher_is_better"] = out["key"].map(_HIGHER_IS_BETTER).astype("boolean")
    return out[["metric", "key", "unit", "value", "ci_low", "ci_high", "n", "small_n", "delta", "higher_is_better"]]


def format_kpis(kpis: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """Turn a headline KPI table into display strings (not yet escaped: templates escape).

    Parameters
    ----------
    kpis : pandas.DataFrame
        Columns ``metric, value, ci_low, ci_high, n`` and optionally ``delta`` (change vs
        the previous month, same units as value), ``p_value`` (test of that change),
        ``unit``, ``small_n`` (bool) and ``higher_is_better`` (bool; colours the change
        green when it improves, red when it worsens; uncoloured when absent).
    decimals : int
        Decimals of value, interval and delta; ``n`` is shown as an integer.

    Returns
    -------
    pandas.DataFrame
        Columns metric, value, unit, ci, n, delta, delta_class, p_value, small_n (strings
        and bool), one row per KPI in the input order.

    Raises
    ------
    ReportError
        A required column is missing.

    Examples
    --------
    >>> kpis = pd.DataFrame({"metric": ["nps"], "value": [31.2], "ci_low": [25.0],
    ...                      "ci_high": [37.4], "n": [412], "delta": [-2.5]})
    >>> format_kpis(kpis).loc[0, ["value", "ci", "n", "delta"]].tolist()
    ['31.20', '25.00 – 37.40', '412', '-2.50']
    """
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns]
    if missing:
        raise ReportError(
            f"headline KPI table lacks column(s) {missing}; expected {list(KPI_COLUMNS)} "
            f"(+ optional {list(KPI_OPTIONAL_COLUMNS)}), got {list(kpis.columns)}"
        )
    kpis = kpis.reset_index(drop=True)
    empty = pd.Series("", index=kpis.index, dtype="str")
    low, high = _numbers(kpis["ci_low"], decimals), _numbers(kpis["ci_high"], decimals)
    both = (low != _DASH) & (high != _DASH)
    delta_num = pd.to_numeric(kpis.get("delta", pd.Series(float("nan"), index=kpis.index)), errors="coerce")
    p_num = pd.to_numeric(kpis.get("p_value", pd.Series(float("nan"), index=kpis.index)), errors="coerce")
    p_text = ("p = " + p_num.map("{:.3f}".format)).where(p_num >= 0.001, "p < 0.001").where(p_num.notna(), "")
    better = kpis["higher_is_better"].astype("boolean") if "higher_is_better" in kpis else pd.Series(
        pd.NA, index=kpis.index, dtype="boolean")
    improved = ((delta_num > 0) & better) | ((delta_num < 0) & ~better)
    worsened = ((delta_num < 0) & better) | ((delta_num > 0) & ~better)
    delta_class = pd.Series("", index=kpis.index, dtype="str").mask(
        improved.fillna(False).astype(bool), "good").mask(worsened.fillna(False).astype(bool), "bad")
    small = kpis["small_n"].fillna(False).astype(bool) if "small_n" in kpis else pd.Series(False, index=kpis.index)
    return pd.DataFrame(
        {
            "metric": kpis["metric"].astype("str"),
            "value": _numbers(kpis["value"], decimals),
            "unit": kpis["unit"].fillna("").astype("str") if "unit" in kpis else empty,
            "ci": (low + " – " + high).where(both, _DASH),
            "n": _numbers(kpis["n"], 0),
            "delta": _numbers(delta_num, decimals, signed=True),
            "delta_class": delta_class,
            "p_value": p_text,
            "small_n": small,
        }
    )


def render_month_index(
    month: str,
    entries: Sequence[ReportEntry],
    kpis: pd.DataFrame | None = None,
    data_dir: str | Path = "",
    generated: datetime | None = None,
    decimals: int = 2,
) -> str:
    """Return the HTML of ``reports/YYYY-MM/index.html``.

    Parameters
    ----------
    month : str
        ``YYYY-MM``.
    entries : sequence of ReportEntry
        Rendered notebooks in reading order.
    kpis : pandas.DataFrame, optional
        Headline KPI table (see :func:`format_kpis`); omitted when None or empty.
    data_dir : str or Path
        Data directory the report was computed from (shown as provenance).
    generated : datetime, optional
        Generation time (default now, UTC).
    decimals : int
        Decimals of KPI values.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> html = render_month_index("2026-10", [ReportEntry("Summary", "01.html", "01.ipynb")])
    >>> '<a href="01.html">Summary</a>' in html
    True
    """
    rows = [] if kpis is None or kpis.empty else format_kpis(kpis, decimals).to_dict("records")
    generated = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M")
    return _environment().get_template("month_index.html.j2").render(
        month=month, entries=list(entries), kpis=rows, data_dir=str(data_dir), generated=generated, css=_css()
    )


def write_month_index(
    month_dir: str | Path,
    month: str,
    entries: Sequence[ReportEntry],
    kpis: pd.DataFrame | None = None,
    data_dir: str | Path = "",
    decimals: int = 2,
) -> Path:
    """Write ``index.html`` of one month folder and return its path.

    Parameters are those of :func:`render_month_index`; ``month_dir`` is the folder.

    Examples
    --------
    >>> write_month_index("reports/2026-10", "2026-10", entries)  # doctest: +SKIP
    PosixPath('reports/2026-10/index.html')
    """
    path = Path(month_dir) / "index.html"
    path.write_text(render_month_index(month, entries, kpis, data_dir, decimals=decimals), encoding="utf-8")
    return path


def list_report_months(out_dir: str | Path) -> list[str]:
    """Month folders (``YYYY-MM`` holding an ``index.html``) under ``out_dir``, newest first.

    Examples
    --------
    >>> list_report_months("reports")  # doctest: +SKIP
    ['2026-10', '2026-09']
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    months = [
        p.name for p in out_dir.iterdir() if p.is_dir() and MONTH_PATTERN.match(p.name) and (p / "index.html").is_file()
    ]
    return sorted(months, reverse=True)


def write_root_index(out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` listing every month report present, newest first.

    Temporary, backup and ``_failed`` folders are not months and are never listed.

    Parameters
    ----------
    out_dir : str or Path
        The reports folder.

    Returns
    -------
    Path
        Path of the written index.

    Examples
    --------
    >>> write_root_index("reports")  # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    out_dir = Path(out_dir)
    months = []
    for month in list_report_months(out_dir):  # one entry per month folder, not per data row
        folder = out_dir / month
        stamp = datetime.fromtimestamp((folder / "index.html").stat().st_mtime, timezone.utc)
        n_reports = sum(1 for p in folder.glob("*.html") if p.name != "index.html")
        months.append({"month": month, "n_reports": n_reports, "generated": stamp.strftime("%Y-%m-%d %H:%M")})
    html = _environment().get_template("root_index.html.j2").render(months=months, css=_css())
    path = out_dir / "index.html"
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
