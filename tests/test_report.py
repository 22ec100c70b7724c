"""Tests of slm_lib.report: runner (papermill, atomic swap, _failed/), rendering, index pages.

Each test works in its own ``tmp_path`` and shares no state, so pytest-xdist spreads them
over workers. Tests that execute notebooks run one or two small fixture notebooks each.
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from slm_lib.errors import ConfigError, ReportError
from slm_lib.report import (
    ReportEntry,
    format_kpis,
    list_report_months,
    notebook_title,
    progress_enabled,
    render_notebook_html,
    report_notebooks,
    run_report,
    validate_month,
    write_month_index,
    write_root_index,
)
from slm_lib.report import runner
from slm_lib.report.runner import _swap_in

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
SUMMARY = FIXTURES / "01_fixture_summary.ipynb"
CHECKS = FIXTURES / "02_fixture_checks.ipynb"
MONTH = "2026-10"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "tickets.csv").write_text("ticket_id\nT1\n")
    return folder


@pytest.fixture
def clean_jupyter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user kernelspecs or config, as on a fresh CI machine; inline figures in the kernel."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]


def _outputs(ipynb: Path) -> str:
    nb = nbformat.read(ipynb, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _previous_report(out: Path) -> Path:
    """A month report from an earlier run, written by hand (no notebook execution needed)."""
    month_dir = out / MONTH
    month_dir.mkdir(parents=True)
    (month_dir / "index.html").write_text("<html>previous index</html>")
    (month_dir / "01_old.html").write_text("<html>previous report</html>")
    (month_dir / "01_old.ipynb").write_bytes(b'{"cells": []}')
    return month_dir


KPIS = pd.DataFrame({  # the shape of slm_lib.summary.headline_kpis (plus small_n)
    "metric": ["nps", "x"], "label": ["NPS", "<script>alert(1)</script>"], "unit": ["points", "%"],
    "value": [31.24, 4.56789], "ci_low": [25.0, 4.1], "ci_high": [37.4, float("nan")],
    "n": [1412, 20], "delta": [-2.5, 0.25], "p_value": [0.0004, 0.31],
    "assessment": ["worse", "no clear change"], "small_n": [False, True],
})


def test_run_report_writes_notebooks_html_and_indexes(tmp_path, data_dir, clean_jupyter):
    out = tmp_path / "reports"
    index = run_report(MONTH, data_dir, out, notebooks=[SUMMARY, CHECKS], jobs=2, progress=False,
                       extra_parameters={"label": "first run"}, available_months=["2026-09", MONTH], kpis=KPIS)
    month_dir = out / MONTH
    assert index == month_dir.resolve() / "index.html"
    assert sorted(p.name for p in month_dir.iterdir()) == [
        "01_fixture_summary.html", "01_fixture_summary.ipynb", "02_fixture_checks.html", "02_fixture_checks.ipynb",
        "index.html"]

    executed = _outputs(month_dir / "01_fixture_summary.ipynb")
    assert "OUTPUT-VALUE month=2026-10 label=first run files=1" in executed
    assert f"KERNEL-PYTHON {sys.executable}\n" in executed  # the kernel runs this venv's interpreter
    assert f"KERNEL-CWD {FIXTURES.resolve()}\n" in executed  # cwd = the notebook's folder

    html = (month_dir / "01_fixture_summary.html").read_text()
    assert "fixture_code_marker_9f3a" not in html and "pathlib.Path(data_dir)" not in html
    assert "OUTPUT-VALUE month=2026-10 label=first run files=1" in html
    assert "<title>Fixture summary report</title>" in html
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)  # figure embedded
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?:', html)  # nothing from the network
    checks = (month_dir / "02_fixture_checks.html").read_text()
    assert "checks_marker_77" not in checks and "CHECKS-OK 1" in checks

    month_index = index.read_text()
    assert '<a href="01_fixture_summary.html">Fixture summary report</a>' in month_index
    assert '<a href="02_fixture_checks.html">Fixture checks</a>' in month_index
    assert "<td>31.2 <span class=\"small\">points</span></td>" in month_index
    assert "25.0 – 37.4" in month_index and "<td>1,412</td>" in month_index
    assert '<td class="bad">-2.5 <span class="small">(worse, p &lt; 0.001)</span></td>' in month_index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in month_index and "<script>" not in month_index
    assert '<a href="2026-10/index.html">2026-10</a>' in (out / "index.html").read_text()
    assert _leftovers(out) == [] and not (out / "_failed").exists()


def test_rerunning_a_month_replaces_it(tmp_path, data_dir, clean_jupyter):
    out = tmp_path / "reports"
    _previous_report(out)
    run_report(MONTH, data_dir, out, notebooks=[CHECKS], progress=False)
    assert sorted(p.name for p in (out / MONTH).iterdir()) == [
        "02_fixture_checks.html", "02_fixture_checks.ipynb", "index.html"]
    assert "Fixture checks" in (out / MONTH / "index.html").read_text()
    assert list_report_months(out) == [MONTH]
    assert _leftovers(out) == []


def test_failed_notebook_keeps_previous_report_and_is_kept_in_failed(tmp_path, data_dir, clean_jupyter):
    out = tmp_path / "reports"
    previous = _snapshot(_previous_report(out))
    with pytest.raises(ReportError) as info:
        # CHECKS fails first; with jobs=1 SUMMARY is never started
        run_report(MONTH, data_dir, out, notebooks=[CHECKS, SUMMARY], jobs=1, progress=False,
                   extra_parameters={"fail": True})
    message = str(info.value)
    assert message.startswith("notebook 02_fixture_checks.ipynb failed at cell 4 (In [4]) `if fail:`")
    assert "ValueError: planted failure for 2026-10" in message
    assert _snapshot(out / MONTH) == previous  # byte for byte
    kept = list((out / "_failed").glob(f"{MONTH}-*/*.ipynb"))
    assert [p.name for p in kept] == ["02_fixture_checks.ipynb"]
    assert f"executed notebook kept at {kept[0]}" in message
    error = [o for c in nbformat.read(kept[0], as_version=4).cells if c.cell_type == "code"
             for o in c.outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in error] == [("ValueError", "planted failure for 2026-10")]
    assert _leftovers(out) == []
    assert not (out / "index.html").exists()  # nothing published, so the root index is not rewritten


def test_cell_timeout_names_the_running_cell(tmp_path, data_dir, clean_jupyter):
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as info:
        run_report(MONTH, data_dir, out, notebooks=[CHECKS], progress=False, timeout=1,
                   extra_parameters={"sleep_seconds": 60})
    message = str(info.value)
    assert message.startswith("notebook 02_fixture_checks.ipynb failed at cell 5 (In [5]) `time.sleep(sleep_seconds)`")
    assert "CellTimeoutError" in message
    assert len(list((out / "_failed").glob(f"{MONTH}-*/02_fixture_checks.ipynb"))) == 1
    assert not (out / MONTH).exists() and _leftovers(out) == []


def test_notebook_without_parameters_cell_is_rejected(tmp_path, data_dir):
    plain = tmp_path / "03_plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('data_dir = "."\nmonth = ""')]), plain)
    with pytest.raises(ConfigError, match=r"03_plain.ipynb must declare \['data_dir', 'month'\] in a cell tagged"):
        run_report(MONTH, data_dir, tmp_path / "reports", notebooks=[CHECKS, plain], progress=False)
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-1", "202610", "Oct 2026", "2026-10-01", "2026-00", "2026--1", "20-6-10"]
)
def test_bad_month_is_rejected_before_anything_runs(tmp_path, data_dir, month):
    out = tmp_path / "reports"
    with pytest.raises(ConfigError, match=r"month must be written YYYY-MM"):
        run_report(month, data_dir, out, notebooks=[SUMMARY], progress=False)
    assert not out.exists()


def test_month_without_data_is_rejected_before_anything_runs(tmp_path, data_dir):
    out = tmp_path / "reports"
    with pytest.raises(ConfigError, match=r"no data in month 2026-10; months with data: 2026-08 … 2026-09"):
        run_report(MONTH, data_dir, out, notebooks=[SUMMARY], available_months=[pd.Period("2026-09", "M"), "2026-08"])
    assert not out.exists()
    assert validate_month(MONTH, ["2026-10"]) == MONTH


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_dir": "missing-dir"}, "data directory missing-dir does not exist"),
        ({"notebooks": [FIXTURES / "nope.ipynb"]}, "notebook file\\(s\\) not found"),
        ({"notebooks": [SUMMARY, SUMMARY]}, "notebook names must be unique"),
        ({"notebooks": []}, "notebooks list is empty"),
        ({"jobs": 0}, "jobs must be a positive integer"),
        ({"kernel_name": "no-such-kernel"}, "no Jupyter kernel named 'no-such-kernel'"),
        ({"extra_parameters": {"fial": True}}, r"parameter\(s\) \['fial'\] are declared by no notebook"),
        ({"extra_parameters": {"month": "2026-09"}}, "extra_parameters may not set \\['month'\\]"),
    ],
)
def test_invalid_arguments_are_rejected_before_anything_runs(tmp_path, data_dir, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports"
    arguments = {"data_dir": data_dir, "notebooks": [SUMMARY, CHECKS], **kwargs}
    with pytest.raises(ConfigError, match=message):
        run_report(MONTH, out_dir=out, progress=False, **arguments)
    assert not out.exists()


def _notebook_folders(tmp_path, monkeypatch, checkout: list[str], packaged: list[str]) -> tuple[Path, Path]:
    """A fake checkout and installed package holding the given notebook names."""
    root, installed = tmp_path / "checkout", tmp_path / "installed"
    for folder, names in ((root / "notebooks", checkout), (installed, packaged)):
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text("{}")
    monkeypatch.setattr(runner, "_PROJECT_ROOT", root)
    monkeypatch.setattr(runner, "_PACKAGED_NOTEBOOKS", installed)
    return root / "notebooks", installed


def test_report_notebooks_given_then_checkout_then_installed(tmp_path, monkeypatch):
    checkout, installed = _notebook_folders(
        tmp_path, monkeypatch, ["02_b.ipynb", "01_a.ipynb", "notes.ipynb"], ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]
    )
    assert report_notebooks() == [checkout / "01_a.ipynb", checkout / "02_b.ipynb"]
    assert report_notebooks([installed / "03_c.ipynb"]) == [installed / "03_c.ipynb"]
    for path in checkout.glob("0*.ipynb"):  # a wheel install: no checkout beside slm_lib
        path.unlink()
    assert report_notebooks() == [installed / "01_a.ipynb", installed / "02_b.ipynb", installed / "03_c.ipynb"]


def test_no_report_notebooks_anywhere_names_both_folders(tmp_path, data_dir, monkeypatch):
    checkout, installed = _notebook_folders(tmp_path, monkeypatch, ["notes.ipynb"], [])
    message = f"no report notebooks (0*.ipynb) in {checkout} (source checkout) nor in {installed} (installed package)"
    with pytest.raises(ReportError, match=re.escape(message)):
        run_report(MONTH, data_dir, tmp_path / "reports", progress=False)
    assert not (tmp_path / "reports").exists()


def test_swap_restores_the_previous_report_when_the_move_fails(tmp_path):
    month_dir = _previous_report(tmp_path)
    before = _snapshot(month_dir)
    with pytest.raises(ReportError, match="could not move the new report"):
        _swap_in(tmp_path / ".tmp-missing", month_dir)
    assert _snapshot(month_dir) == before and _leftovers(tmp_path) == []


def _notebook() -> nbformat.NotebookNode:
    hidden = nbformat.v4.new_code_cell(
        "print('removed')", outputs=[nbformat.v4.new_output("stream", text="REMOVED-OUT\n")])
    hidden.metadata["tags"] = ["remove-cell"]
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Intro without heading.\n\n## *Experience* trends\n\nText."),
        nbformat.v4.new_code_cell("very_secret_variable = 42\nvery_secret_variable", outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ]),
        hidden,
        nbformat.v4.new_code_cell("x = 1", outputs=[
            nbformat.v4.new_output("stream", name="stderr",
                                   text="<cell>:3: FutureWarning: old\n  warned_code_line()\n"),
            nbformat.v4.new_output("error", ename="ValueError", evalue="boom",
                                   traceback=["Traceback", "----> 1 traceback_code_line()"]),
        ]),
    ])


def test_render_hides_code_prompts_and_tagged_cells_and_embeds_images():
    nb = _notebook()
    html = render_notebook_html(nb, back_link="index.html")
    assert "very_secret_variable" not in html and "REMOVED-OUT" not in html and "print('removed')" not in html
    assert "warned_code_line" not in html and "traceback_code_line" not in html and "ValueError: boom" in html
    assert not re.search(r'<div class="jp-(Input|Output)Prompt', html)
    assert re.search(r'<img alt="Figure" src="data:image/png;base64,iVBORw0KGgo="', html) and ">42<" in html
    assert "<title>Experience trends</title>" in html and '<a href="index.html">' in html
    assert not re.search(r'<(script|link)[^>]+(src|href)=', html)
    assert "title" not in nb.metadata and len(nb.cells[3].outputs) == 2  # caller's notebook untouched


def test_notebook_title_falls_back_to_default():
    assert notebook_title(_notebook()) == "Experience trends"
    assert notebook_title(nbformat.v4.new_notebook(), default="02_ops") == "02_ops"


def test_format_kpis_display_strings():
    table = format_kpis(KPIS)
    assert table[["metric", "value", "ci", "n", "delta", "p_value"]].values.tolist() == [
        ["NPS", "31.2", "25.0 – 37.4", "1,412", "-2.5", "p < 0.001"],
        ["<script>alert(1)</script>", "4.6", "—", "20", "+0.2", "p = 0.31"],
    ]
    assert table["delta_class"].tolist() == ["bad", ""] and table["small_n"].tolist() == [False, True]
    better = format_kpis(KPIS.assign(assessment=["better", "worse"]), decimals=2)
    assert better["delta_class"].tolist() == ["good", "bad"] and better["value"].tolist() == ["31.24", "4.57"]
    bare = format_kpis(KPIS[["metric", "value", "ci_low", "ci_high", "n"]])
    assert bare[["metric", "delta", "p_value", "delta_class", "unit"]].values.tolist() == [
        ["nps", "—", "", "", ""], ["x", "—", "", "", ""]]
    with pytest.raises(ReportError, match=r"lacks column\(s\) \['n'\]"):
        format_kpis(KPIS.drop(columns="n"))


def test_format_kpis_untestable_change_is_not_written_as_a_small_p():
    untested = KPIS.assign(p_value=[float("nan")] * 2, assessment=["not testable", ""])
    table = format_kpis(untested)
    assert table["p_value"].tolist() == ["", "not testable"]  # said once: by the assessment or by p
    assert "0.001" not in " ".join(table["p_value"])
    new = format_kpis(KPIS.assign(delta=float("nan"), p_value=float("nan"), assessment="new"))
    assert new["p_value"].tolist() == ["", ""]  # no previous month: nothing was tested


def test_format_kpis_shows_the_adjusted_p_the_assessment_is_judged_on():
    judged = format_kpis(KPIS.assign(p_value=[0.015, 0.31], p_adjusted=[0.15, float("nan")],
                                     assessment=["no clear change", "not testable"]))
    assert judged["p_value"].tolist() == ["adjusted p = 0.15", ""]


class _StyleText(HTMLParser):
    """Collects the text inside <style> elements as the browser reads it (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside, self.styles = False, []

    def handle_starttag(self, tag, attrs):
        if tag == "style":
            self.inside = True
            self.styles.append("")

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != "style"

    def handle_data(self, data):
        if self.inside:
            self.styles[-1] += data


def _style_of(page: str) -> str:
    parser = _StyleText()
    parser.feed(page)
    (style,) = parser.styles
    return style.strip()


def test_index_pages_carry_the_stylesheet_unescaped(tmp_path):
    stylesheet = (resources.files("slm_lib.report") / "templates" / "index.css").read_text(encoding="utf-8").strip()
    assert '"Segoe UI"' in stylesheet  # quotes that HTML escaping turned into &#34;, so fonts fell back
    entries = [ReportEntry("Summary <b>", "01.html", "01.ipynb")]
    page = write_month_index(tmp_path, MONTH, entries, kpis=KPIS).read_text()
    assert _style_of(page) == stylesheet and "&#34;" not in page.split("</style>")[0]
    assert "Summary &lt;b&gt;" in page and "&lt;script&gt;alert(1)" in page  # user text still escaped
    (tmp_path / "r" / MONTH).mkdir(parents=True)
    (tmp_path / "r" / MONTH / "index.html").write_text("x")
    assert _style_of(write_root_index(tmp_path / "r").read_text()) == stylesheet


def test_month_index_shows_the_data_folder_name_not_its_local_path(tmp_path):
    local = tmp_path / "home" / "analyst" / "exports" / "data_samples"
    page = write_month_index(tmp_path, MONTH, [ReportEntry("Summary", "01.html", "01.ipynb")],
                             data_dir=local).read_text()
    assert "from <code>data_samples</code>" in page
    assert str(local.parent) not in page and "/home/" not in page and "analyst" not in page


def test_month_index_without_kpis_has_no_kpi_table(tmp_path):
    path = write_month_index(tmp_path, MONTH, [ReportEntry("Summary & <b>", "01.html", "01.ipynb")])
    html = path.read_text()
    assert "Headline KPIs" not in html and "Summary &amp; &lt;b&gt;" in html
    assert '<a href="../index.html">' in html


def test_root_index_lists_month_folders_newest_first(tmp_path):
    for name in ["2025-12", "2026-10", "2026-09"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("x")
        (tmp_path / name / "01_summary.html").write_text("x")
    for name in ["_failed", ".tmp-2026-11-abc", "2026-11", "notes"]:  # not published months
        (tmp_path / name).mkdir()
    html = write_root_index(tmp_path).read_text()
    assert re.findall(r'<a href="(\d{4}-\d{2})/index.html">', html) == ["2026-10", "2026-09", "2025-12"]
    assert "3 month(s)" in html


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch):
    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", Tty(True))
    assert progress_enabled() is True
    monkeypatch.setenv("CI", "true")
    assert progress_enabled() is False
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys, "stderr", Tty(False))
    assert progress_enabled() is False and progress_enabled(True) is True
