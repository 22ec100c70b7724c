"""Monthly reports (SPEC §7, §8): papermill runner, HTML rendering, index pages.

``run_report`` is the entry point used by ``slm report``; the rendering and index helpers
are exposed for reuse (re-rendering a notebook, rebuilding ``reports/index.html``).
"""
from slm_lib.report.index import (
    ReportEntry,
    format_kpis,
    list_report_months,
    write_month_index,
    write_root_index,
)
from slm_lib.report.render import notebook_title, render_notebook_html, write_notebook_html
from slm_lib.report.runner import NotebookFailure, progress_enabled, report_notebooks, run_report, validate_month

__all__ = [
    "run_report",
    "validate_month",
    "report_notebooks",
    "progress_enabled",
    "NotebookFailure",
    "ReportEntry",
    "format_kpis",
    "write_month_index",
    "write_root_index",
    "list_report_months",
    "notebook_title",
    "render_notebook_html",
    "write_notebook_html",
]
