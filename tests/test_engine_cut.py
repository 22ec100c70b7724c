"""Tests of slm_lib.engines.cut: a month's report on an engine sees what the pandas report sees.

The cut at an instant (``until``), the segment, the months with data, and the report
helpers that collect a window (headline KPIs with their tests, changes per group, the
month's comments) give on DuckDB what they give on pandas, from the same files.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from slm_lib import nb
from slm_lib.engines import open_dataset
from slm_lib.errors import ConfigError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import load_data
from slm_lib.io.save import save_data
from slm_lib.metrics.groups import changes_by_group
from slm_lib.metrics.table import metric_table
from slm_lib.report import run_report
from slm_lib.schema import empty_frame
from slm_lib.summary import data_months, headline_kpis, select_segment

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    """The sample without ticket events, as Parquet (the engine's cut does not rewind events yet)."""
    ds = load_data(ROOT / "data_samples")
    folder = tmp_path_factory.mktemp("sample")
    save_data(replace(ds, ticket_events=empty_frame("ticket_events")), folder, format="parquet")
    return folder


@pytest.fixture(scope="module")
def both(sample_dir):
    return load_data(sample_dir), open_dataset(sample_dir)


def _same_metrics(a, b, **kwargs) -> None:
    ma, mb = metric_table(a, **kwargs), metric_table(b, **kwargs)
    pd.testing.assert_frame_equal(ma, mb, rtol=1e-9, check_dtype=False)


@pytest.mark.parametrize("end", ["2026-10-01", "2025-03-15T12:34:56.789123456", "2024-11-20"])
def test_until_equals_pandas(both, end):
    ds, lazy = both
    a, b = ds.until(end), lazy.until(end)
    assert b.as_of == a.as_of
    _same_metrics(a, b, by="channel")
    pd.testing.assert_frame_equal(a.quality.drop(columns="example_rows"), b.quality.drop(columns="example_rows"))
    assert data_months(b, "Europe/Berlin") == data_months(a, "Europe/Berlin")


def test_until_keeps_the_earlier_as_of_and_the_last_instant(both):
    ds, lazy = both
    end = ds.observation_end()
    a, b = ds.until(end + pd.Timedelta(1, "ns")), lazy.until(end + pd.Timedelta(1, "ns"))
    assert b.observation_end() == a.observation_end() == end + pd.Timedelta(1, "ns")
    _same_metrics(a, b)
    early = replace(lazy, as_of=pd.Timestamp("2025-06-01", tz="UTC")).until("2026-01-01")
    assert early.as_of == pd.Timestamp("2025-06-01", tz="UTC")


def test_until_drops_rows_of_customers_not_signed_up_and_says_so(tmp_path):
    utc = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "signup_at": utc("2024-01-01", "2024-03-01"),
                              "segment": "smb", "region": None, "churned_at": utc(None, None)})
    tickets = pd.DataFrame({"ticket_id": ["t1", "t2", "t3"], "customer_id": ["c1", "c2", "c2"],
                            "created_at": utc("2024-01-05", "2024-02-10", "2024-02-11"),
                            "first_response_at": utc("2024-01-05 01:00", None, None),
                            "resolved_at": utc("2024-02-20", None, None), "channel": "email", "priority": "normal",
                            "category": "billing", "agent_id": "a", "team": "x", "replies": 1, "reopens": 0})
    canonical = {name: frame[list(empty_frame(name))].astype(empty_frame(name).dtypes.to_dict())
                 for name, frame in (("tickets", tickets), ("customers", customers))}
    save_data(Dataset(**canonical), tmp_path, format="parquet")
    cut = open_dataset(tmp_path).until("2024-02-15")
    q = cut.quality.set_index("table")
    assert q.loc["tickets", "n_rows"] == 2 and q.loc["tickets", "example_rows"] == "t2, t3"
    assert q.loc["tickets", "rule"] == "customer not signed up by 2024-02-15 00:00 UTC (cut)"
    got = cut.tickets.execute()
    assert got["ticket_id"].tolist() == ["t1"] and got["resolved_at"].isna().all()  # solved after the cut: open


def test_select_segment_equals_pandas(both):
    ds, lazy = both
    _same_metrics(select_segment(ds, "enterprise").until("2026-11-01"),
                  select_segment(lazy, "enterprise").until("2026-11-01"), freq="Q")
    with pytest.raises(ConfigError) as pandas_error:
        select_segment(ds, "nope")
    with pytest.raises(ConfigError) as engine_error:
        select_segment(lazy, "nope")
    assert str(engine_error.value) == str(pandas_error.value)


@pytest.mark.parametrize("segment,tz", [("", "Europe/Berlin"), ("smb", "UTC")])
def test_report_helpers_equal_pandas(sample_dir, segment, tz):
    a = nb.report_data(str(sample_dir), MONTH, segment, tz)
    b = nb.report_data(str(sample_dir), MONTH, segment, tz, engine="duckdb")
    pd.testing.assert_frame_equal(headline_kpis(a, MONTH, tz=tz), headline_kpis(b, MONTH, tz=tz), rtol=1e-9)
    for by in ("channel", "segment"):
        pd.testing.assert_frame_equal(changes_by_group(a, MONTH, by=by, tz=tz), changes_by_group(b, MONTH, by=by, tz=tz),
                                      rtol=1e-9)
    pd.testing.assert_frame_equal(nb.verbatim_comments(a, MONTH, tz=tz), nb.verbatim_comments(b, MONTH, tz=tz))
    assert nb.coverage_note(b, MONTH, tz) == nb.coverage_note(a, MONTH, tz)


def test_collect_window_holds_the_window_and_what_it_names(both):
    ds, lazy = both
    part = lazy.engine_collect_window("2026-09-01", "2026-10-01")
    created = ds.tickets["created_at"]
    in_window = ds.tickets.loc[(created >= "2026-09-01") & (created < "2026-10-01"), "ticket_id"]
    surveyed = part.surveys["ticket_id"].dropna()
    assert set(part.tickets["ticket_id"]) == set(in_window) | set(surveyed)
    assert set(part.customers["customer_id"]) == set(part.tickets["customer_id"]) | set(part.surveys["customer_id"])
    assert part.surveys["submitted_at"].between("2026-09-01", "2026-10-01", inclusive="left").all()
    pd.testing.assert_frame_equal(part.tickets.dtypes.to_frame(), empty_frame("tickets").dtypes.to_frame())


def _write(cells: list, path: Path) -> Path:
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def _engine_notebook(path: Path) -> Path:
    params = nbformat.v4.new_code_cell('data_dir = "."\nmonth = ""\nengine = "pandas"')
    params.metadata["tags"] = ["parameters"]
    return _write([nbformat.v4.new_markdown_cell("# Engine summary"), params,
                   nbformat.v4.new_code_cell("print('ENGINE=' + engine)")], path)


def _plain_notebook(path: Path) -> Path:
    params = nbformat.v4.new_code_cell('data_dir = "."\nmonth = ""')
    params.metadata["tags"] = ["parameters"]
    return _write([nbformat.v4.new_markdown_cell("# Pandas only"), params], path)


def test_run_report_on_an_engine_runs_the_notebooks_that_declare_it(tmp_path, sample_dir):
    engine_nb, plain_nb = _engine_notebook(tmp_path / "01_e.ipynb"), _plain_notebook(tmp_path / "02_p.ipynb")
    out = tmp_path / "reports"
    index = run_report(MONTH, sample_dir, out, notebooks=[engine_nb, plain_nb], progress=False, engine="duckdb")
    assert sorted(p.name for p in index.parent.glob("*.ipynb")) == ["01_e.ipynb"]
    assert "ENGINE=duckdb" in (index.parent / "01_e.ipynb").read_text()
    page = index.read_text()
    assert "Computed on the duckdb engine" in page and "Pandas only" in page
    run_report(MONTH, sample_dir, out, notebooks=[engine_nb, plain_nb], progress=False)
    assert "Computed on the" not in index.read_text() and (index.parent / "02_p.ipynb").exists()
    with pytest.raises(ConfigError, match="engine"):
        run_report(MONTH, sample_dir, out, notebooks=[plain_nb], progress=False, engine="duckdb")
    with pytest.raises(ConfigError, match="engine"):
        run_report(MONTH, sample_dir, out, notebooks=[engine_nb], progress=False, extra_parameters={"engine": "spark"})


def test_slm_report_on_duckdb_writes_the_engine_notebooks(tmp_path, sample_dir):
    """The CLI end to end: a notebook that declares ``engine`` runs there, one that does not is named as left out."""
    out = tmp_path / "reports"
    notebooks = [str(ROOT / "notebooks" / "01_monthly_summary.ipynb"), str(_plain_notebook(tmp_path / "02_p.ipynb"))]
    run = subprocess.run([str(Path(sys.executable).parent / "slm"), "report", "--data", str(sample_dir), "--out", str(out),
                          "--month", MONTH, "--engine", "duckdb", "--notebooks", *notebooks], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    month = out / MONTH
    assert {p.name for p in month.glob("*.html")} == {"index.html", "01_monthly_summary.html"}
    page = (month / "index.html").read_text()
    assert "Computed on the duckdb engine" in page and "Pandas only" in page
    assert "not shown" not in (month / "01_monthly_summary.html").read_text()


@pytest.fixture(scope="module")
def with_events():
    return load_data(ROOT / "data_samples"), open_dataset(ROOT / "data_samples")


@pytest.mark.parametrize("end", ["2026-10-01", "2025-06-15T13:00"])
def test_until_rewinds_tickets_to_their_events_as_pandas_does(with_events, end):
    """Replies, reopens and resolutions as the events stood at the cut; the events after it gone."""
    from slm_lib.engines.cut import _collect
    ds, lazy = with_events
    a, b = ds.until(end), lazy.until(end)
    for name, key in (("tickets", "ticket_id"), ("ticket_events", "event_id")):
        got = _collect(b.con, b.tables[name], name).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, getattr(a, name).sort_values(key).reset_index(drop=True), check_dtype=False)
    changed = (ds.tickets.set_index("ticket_id").loc[a.tickets["ticket_id"], "replies"].to_numpy()
               != a.tickets["replies"].to_numpy())
    assert changed.any()   # the cut does rewind some tickets here
    _same_metrics(a, b, by="channel")
