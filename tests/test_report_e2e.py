"""End to end: `slm report` on the sample data for one month (SPEC §7, issue 5).

One report run on a copy of data_samples/ with one hostile comment planted in the report
month, then checks on what a reviewer reads. It runs the two notebooks whose pages are read
here (the summary and the experience trends): every report notebook is executed on the
samples by nbval and rendered by the report of tests/test_packaging.py.
"""
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from slm_lib.cli import main
from slm_lib.metrics.table import metric_table
from slm_lib.nb import report_data
from slm_lib.summary import HEADLINE
from slm_lib.wording import format_kpi

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
READ = ("01_monthly_summary", "02_experience_trends")
HOSTILE = "Terrible! <script>alert(1)</script> write to jane.doe@example.com or call +1 555 123 4567"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for f in [*(ROOT / "data_samples").glob("*.csv"), *(ROOT / "data_samples").glob("*.parquet")]:
        shutil.copy(f, data / f.name)
    surveys = pd.read_csv(data / "surveys.csv", dtype=str, keep_default_na=False)
    # an NPS answer of the month made a 0 with a hostile comment at the month's last minute:
    # least satisfied and most recent, so first in the verbatim list
    nps = surveys.index[(surveys["type"] == "nps") & surveys["submitted_at"].str.startswith(MONTH)][-1]
    surveys.loc[nps, ["score", "comment", "submitted_at"]] = ["0", HOSTILE, f"{MONTH}-31T23:59:00Z"]
    surveys.to_csv(data / "surveys.csv", index=False)
    out = tmp_path_factory.mktemp("reports")
    notebooks = [str(ROOT / "notebooks" / f"{name}.ipynb") for name in READ]
    assert main(["report", "--data", str(data), "--out", str(out), "--month", MONTH, "--jobs", "2",
                 "--notebooks", *notebooks]) == 0
    return data, out


def test_month_folder_has_executed_notebooks_and_html(report):
    _, out = report
    month = out / MONTH
    for name in READ:
        assert (month / f"{name}.ipynb").is_file() and (month / f"{name}.html").is_file()
    assert (month / "index.html").is_file() and (out / "index.html").is_file()
    assert MONTH in (out / "index.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]


def test_html_hides_code(report):
    _, out = report
    for html in (out / MONTH).glob("0*.html"):
        text = html.read_text()
        for code in ("import slm_lib as slm", "slm.load_data(", "slm.headline_kpis(", "data_dir ="):
            assert code not in text, f"{html.name} shows code: {code}"


def test_headline_kpis_equal_metric_table(report):
    data, out = report
    table = metric_table(report_data(data, MONTH), freq="M").set_index(["period", "metric"])  # as the report sees it
    index = (out / MONTH / "index.html").read_text()
    summary = (out / MONTH / "01_monthly_summary.html").read_text()
    for metric, (label, unit, _) in HEADLINE.items():
        value = format_kpi(table.loc[(MONTH, metric), "value"], unit)
        assert re.search(rf">{label}<.*?>{value} <", index, re.S), f"{label} {value} missing from index.html"
        assert re.search(rf">{label}<.*?>{value}<", summary, re.S), f"{label} {value} missing from the summary"


def test_customer_text_is_escaped_and_masked(report):
    _, out = report
    html = (out / MONTH / "02_experience_trends.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "write to [email] or call [phone]" in html
    assert "jane.doe" not in html and "555 123 4567" not in html
