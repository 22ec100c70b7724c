"""Index pages of the reports folder (SPEC §7).

``reports/YYYY-MM/index.html`` links each rendered notebook of a month and shows the
headline KPI table the caller passes in; ``reports/index.html`` lists every month folder
present, newest first. Pages are self-contained (inline CSS, no scripts, no network) and
every value is HTML-escaped (Jinja2 autoescape); the package's own stylesheet is the one
text inserted as is, since CSS inside ``<style>`` is not HTML.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from slm_lib.errors import ConfigError, ReportError
from slm_lib.periods import check_month
from slm_lib.wording import format_number, format_p

__all__ = [
    "KPI_COLUMNS",
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
#: Optional columns of a headline KPI table (those of :func:`slm_lib.summary.headline_kpis`).
KPI_OPTIONAL_COLUMNS: tuple[str, ...] = ("label", "unit", "delta", "p_value", "p_adjusted", "assessment", "small_n")


_DASH = "—"


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
    """The index pages' stylesheet, inserted unescaped into ``<style>``."""
    return (resources.files("slm_lib.report") / "templates" / "index.css").read_text(encoding="utf-8")


def _numbers(values: pd.Series, decimals: int, signed: bool = False) -> pd.Series:
    """Format a numeric column for display; missing values become a dash."""
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    return numeric.map(lambda x: format_number(x, decimals, signed)).where(numeric.notna(), _DASH)


def format_kpis(kpis: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """Turn a headline KPI table into display strings (not yet escaped: templates escape).

    Parameters
    ----------
    kpis : pandas.DataFrame
        Columns ``metric, value, ci_low, ci_high, n`` and optionally ``label`` (display
        name, shown instead of ``metric``), ``unit``, ``delta`` (change vs the previous
        month), ``p_value`` (test of that change), ``p_adjusted`` (the same, adjusted over the
        month's comparisons; shown instead of ``p_value`` when present, as the assessment is
        judged on it), ``assessment`` ("better"/"worse" colour the change) and ``small_n`` —
        the table :func:`slm_lib.summary.headline_kpis` returns.
    decimals : int
        Decimals of value, interval and change (default 1, as ``nb.kpi_display``);
        counts (unit ``tickets``) and ``n`` are shown as integers with thousands separators.

    Returns
    -------
    pandas.DataFrame
        Columns metric, value, unit, ci, n, delta, delta_class, p_value, assessment, small_n
        (strings and bool), one row per KPI in the input order.

    Raises
    ------
    ReportError
        A required column is missing.

    Examples
    --------
    >>> kpis = pd.DataFrame({"metric": ["nps"], "label": ["NPS"], "value": [31.24], "ci_low": [25.0],
    ...                      "ci_high": [37.4], "n": [1412], "delta": [-2.5], "assessment": ["worse"]})
    >>> format_kpis(kpis).loc[0, ["metric", "value", "ci", "n", "delta", "delta_class"]].tolist()
    ['NPS', '31.2', '25.0 – 37.4', '1,412', '-2.5', 'bad']
    >>> tickets = pd.DataFrame({"metric": ["tickets"], "unit": ["tickets"], "value": [1725.0], "ci_low": [1644.5],
    ...                         "ci_high": [1808.4], "n": [1725], "delta": [63.0]})
    >>> format_kpis(tickets).loc[0, ["value", "ci", "delta"]].tolist()
    ['1,725', '1,644 – 1,808', '+63']
    """
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns]
    if missing:
        raise ReportError(
            f"headline KPI table lacks column(s) {missing}; expected {list(KPI_COLUMNS)} "
            f"(+ optional {list(KPI_OPTIONAL_COLUMNS)}), got {list(kpis.columns)}"
        )
    kpis = kpis.reset_index(drop=True)

    def optional(column: str, default: object) -> pd.Series:
        return kpis[column] if column in kpis.columns else pd.Series(default, index=kpis.index)

    counts = optional("unit", "").eq("tickets").to_numpy()

    def shown(values: pd.Series, signed: bool = False) -> pd.Series:  # counts whole (wording.format_kpi's rule)
        return _numbers(values, decimals, signed).where(~counts, _numbers(values, 0, signed))

    low, high = shown(kpis["ci_low"]), shown(kpis["ci_high"])
    adjusted = "p_adjusted" in kpis.columns
    p_num = pd.to_numeric(kpis["p_adjusted"] if adjusted else optional("p_value", float("nan")), errors="coerce")
    changed = pd.to_numeric(optional("delta", float("nan")), errors="coerce").notna()
    assessment = optional("assessment", "").fillna("").astype("str")
    # a change without a p-value says it was not testable, once (the assessment may already say so)
    p_text = pd.Series([format_p(p) for p in p_num], index=kpis.index, dtype="str")
    if adjusted:
        p_text = p_text.where(p_num.isna(), "adjusted " + p_text)
    p_text = p_text.where(changed, "")
    p_text = p_text.where(p_text != assessment, "")
    label = optional("label", "").fillna("").astype("str")
    label = label.where(label != "", kpis["metric"].astype("str"))
    return pd.DataFrame(
        {
            "metric": label,
            "value": shown(kpis["value"]),
            "unit": optional("unit", "").fillna("").astype("str"),
            "ci": (low + " – " + high).where((low != _DASH) & (high != _DASH), _DASH),
            "n": _numbers(kpis["n"], 0),
            "delta": shown(optional("delta", float("nan")), signed=True),
            "delta_class": assessment.map({"better": "good", "worse": "bad"}).fillna(""),
            "p_value": p_text,
            "assessment": assessment,
            "small_n": optional("small_n", False).fillna(False).astype(bool),
        }
    )


def render_month_index(
    month: str,
    entries: Sequence[ReportEntry],
    kpis: pd.DataFrame | None = None,
    data_dir: str | Path = "",
    generated: datetime | None = None,
    decimals: int = 1,
    engine: str = "pandas",
    omitted: Sequence[str] = (),
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
        Data directory the report was computed from; only its folder name is shown as
        provenance (a page never carries a local path such as ``/home/...``).
    generated : datetime, optional
        Generation time (default now, UTC).
    decimals : int
        Decimals of KPI values.
    engine : str
        Where the figures were computed (:mod:`slm_lib.engines`).
    omitted : sequence of str
        Titles of the report notebooks left out because they do not run on ``engine``.

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
        month=month, entries=list(entries), kpis=rows, data_dir=Path(data_dir).name, generated=generated, css=_css(),
        engine=engine, omitted=list(omitted))


def write_month_index(
    month_dir: str | Path,
    month: str,
    entries: Sequence[ReportEntry],
    kpis: pd.DataFrame | None = None,
    data_dir: str | Path = "",
    decimals: int = 1,
    engine: str = "pandas",
    omitted: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` of one month folder and return its path.

    Parameters are those of :func:`render_month_index`; ``month_dir`` is the folder.

    Examples
    --------
    >>> write_month_index("reports/2026-10", "2026-10", entries)  # doctest: +SKIP
    PosixPath('reports/2026-10/index.html')
    """
    path = Path(month_dir) / "index.html"
    path.write_text(render_month_index(month, entries, kpis, data_dir, decimals=decimals, engine=engine,
                                       omitted=omitted), encoding="utf-8")
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
    months = [p.name for p in out_dir.iterdir() if p.is_dir() and _is_month(p.name) and (p / "index.html").is_file()]
    return sorted(months, reverse=True)


def _is_month(name: str) -> bool:
    try:
        return str(check_month(name)) == name
    except ConfigError:
        return False


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
