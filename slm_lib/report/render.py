"""HTML rendering of executed notebooks for reviewers (SPEC §7).

Reviewers read reports without running code, so the rendering hides every code cell's
source and prompt, keeps outputs (tables, figures as embedded base64 images, text) and
markdown, and loads nothing from the network: the file opens offline as a single page.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from slm_lib.errors import ReportError

__all__ = ["notebook_title", "render_notebook_html", "write_notebook_html", "REMOVED_CELL_TAGS"]

#: Cells carrying one of these tags are dropped from the rendering entirely: papermill's
#: injected parameters and error banners, and cells an author marks ``remove-cell``.
REMOVED_CELL_TAGS: frozenset[str] = frozenset(
    {"remove-cell", "injected-parameters", "papermill-error-cell-tag"}
)

_TEMPLATE_FILE = "slm_notebook.html.j2"
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$", re.MULTILINE)
_INLINE_MARKUP = re.compile(r"[*_`]+")


def _templates_dir() -> Path:
    return Path(str(resources.files("slm_lib.report") / "templates"))


def notebook_title(nb: nbformat.NotebookNode, default: str = "Report") -> str:
    """Return the text of the first markdown heading of a notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook.
    default : str
        Title used when no markdown cell holds a heading (e.g. the file name).

    Returns
    -------
    str
        Heading text without ``#`` marks and inline emphasis.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Monthly *summary*")])
    >>> notebook_title(nb)
    'Monthly summary'
    """
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = _HEADING.search(cell.source)
        if match:
            return _INLINE_MARKUP.sub("", match.group("text")).strip() or default
    return default


class _ReviewerOutputs(Preprocessor):
    """Drop stderr streams (warnings quote code lines) and reduce errors to ``ename: evalue``.

    Tracebacks and warnings print lines of the notebook's code; the executed ``.ipynb``
    keeps them for debugging, the reviewer's page does not.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            kept = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
            for output in kept:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
            cell.outputs = kept
        return cell, resources


def _exporter() -> HTMLExporter:
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_templates_dir())],
        template_file=_TEMPLATE_FILE,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(REMOVED_CELL_TAGS), enabled=True), enabled=True
    )
    exporter.register_preprocessor(_ReviewerOutputs(enabled=True), enabled=True)
    return exporter


def render_notebook_html(
    nb: nbformat.NotebookNode, title: str | None = None, back_link: str | None = "index.html"
) -> str:
    """Render an executed notebook as self-contained HTML with all code hidden.

    Code cell sources and prompts are excluded (nbconvert ``exclude_input``), cells tagged
    with one of :data:`REMOVED_CELL_TAGS` are dropped, stderr output (warnings quote code)
    is dropped and errors show as ``ename: evalue`` without traceback, figures stay
    embedded as data URIs and no script or stylesheet is loaded from the network (no
    MathJax: LaTeX shows as text).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Executed notebook (not modified).
    title : str, optional
        Page title; default the notebook's first heading (:func:`notebook_title`).
    back_link : str or None
        Relative link shown at the top of the page back to the month index; None for none.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Trends"),
    ...                                      nbformat.v4.new_code_cell("secret_code = 1")])
    >>> html = render_notebook_html(nb)
    >>> "secret_code" in html, "<title>Trends</title>" in html
    (False, True)
    """
    nb = nbformat.from_dict(nb)  # deep copy: the caller's notebook keeps its metadata
    nb.metadata["title"] = title or notebook_title(nb)
    css = (_templates_dir() / "notebook.css").read_text(encoding="utf-8")
    body, _ = _exporter().from_notebook_node(
        nb, resources={"slm_css": css, "slm_back_link": back_link}
    )
    return body


def write_notebook_html(
    ipynb_path: str | Path, html_path: str | Path, back_link: str | None = "index.html"
) -> str:
    """Render the executed notebook at ``ipynb_path`` to ``html_path``; return its title.

    Parameters
    ----------
    ipynb_path : str or Path
        Executed notebook file.
    html_path : str or Path
        Destination HTML file (overwritten).
    back_link : str or None
        See :func:`render_notebook_html`.

    Returns
    -------
    str
        The page title (first heading, else the file name).

    Raises
    ------
    ReportError
        The notebook cannot be read or rendered; the message names the file.

    Examples
    --------
    >>> write_notebook_html("reports/2026-10/01_monthly_summary.ipynb",
    ...                     "reports/2026-10/01_monthly_summary.html")  # doctest: +SKIP
    'Monthly summary'
    """
    ipynb_path, html_path = Path(ipynb_path), Path(html_path)
    try:
        nb = nbformat.read(ipynb_path, as_version=4)
        title = notebook_title(nb, default=ipynb_path.stem)
        html = render_notebook_html(nb, title=title, back_link=back_link)
    except (OSError, ValueError, nbformat.ValidationError) as exc:
        raise ReportError(f"cannot render {ipynb_path} to HTML: {type(exc).__name__}: {exc}") from exc
    html_path.write_text(html, encoding="utf-8")
    return title
