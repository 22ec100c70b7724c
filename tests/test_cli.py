"""The `slm` command (SPEC §8): exit codes, one readable line per problem, no tracebacks."""
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from slm_lib.cli import main
from slm_lib.engines.dataset import MEMORY_LIMIT_ENV
from slm_lib.io.load import load_data

FIXTURES = Path(__file__).parent / "fixtures" / "exports"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    assert main(["generate", "--out", str(out), "--customers", "200", "--months", "4", "--start", "2026-07",
                 "--seed", "3"]) == 0
    return out


def test_generate_validate_metrics(generated, capsys):
    assert sorted(p.name for p in generated.glob("*.csv")) == ["customers.csv", "revenue.csv", "surveys.csv",
                                                                "tickets.csv"]
    assert main(["validate", "--data", str(generated)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["latest-month", "--data", str(generated)]) == 0
    assert capsys.readouterr().out.strip() == "2026-10"
    assert main(["metrics", "--data", str(generated), "--month", "2026-09", "--by", "channel", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["period"] for r in rows} == {"2026-09"} and {"channel", "metric", "n", "value"} <= set(rows[0])


def test_metrics_csv_to_file_and_business_hours(generated, tmp_path):
    out = tmp_path / "m.csv"
    assert main(["metrics", "--data", str(generated), "--format", "csv", "--output", str(out)]) == 0
    calendar = tmp_path / "b.csv"
    assert main(["metrics", "--data", str(generated), "--format", "csv", "--output", str(calendar),
                 "--business-hours", "09:00-17:00", "--calendar-tz", "Europe/Berlin"]) == 0
    plain, business = (pd.read_csv(p).set_index(["period", "metric"]) for p in (out, calendar))
    # business hours never exceed calendar hours for a desk closed at night
    assert (business.xs("frt_mean", level="metric")["value"] <= plain.xs("frt_mean", level="metric")["value"]).all()


def test_bad_data_exits_2_with_one_line_per_problem(generated, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in generated.glob("*.csv"):
        (bad / f.name).write_bytes(f.read_bytes())
    surveys = pd.read_csv(bad / "surveys.csv", dtype=str, keep_default_na=False)
    csat = surveys.index[surveys["type"] == "csat"]
    surveys.loc[csat[:2], "score"] = "99"
    surveys.loc[csat[2], "submitted_at"] = "yesterday"
    surveys.to_csv(bad / "surveys.csv", index=False)
    assert main(["validate", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert any("surveys.csv" in line and "'score'" in line and "2 row(s)" in line for line in lines)
    assert any("surveys.csv" in line and "'submitted_at'" in line for line in lines)
    assert main(["validate", "--data", str(tmp_path / "missing")]) == 2


def test_report_rejects_bad_month_before_running(generated, tmp_path, capsys):
    assert main(["report", "--data", str(generated), "--out", str(tmp_path / "r"), "--month", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert main(["report", "--data", str(generated), "--out", str(tmp_path / "r"), "--month", "2020-01"]) == 2
    assert "no data in month 2020-01" in capsys.readouterr().err
    assert not (tmp_path / "r" / "2020-01").exists()


def test_import_three_sources_into_one_directory(tmp_path, capsys):
    out = tmp_path / "byod"
    assert main(["import", "--from", "zendesk", "--out", str(out), *map(str, sorted((FIXTURES / "zendesk").glob("*.json")))]) == 0
    assert main(["import", "--from", "delighted", "--out", str(out), str(FIXTURES / "delighted" / "survey_responses.json")]) == 0
    assert main(["import", "--from", "stripe", "--out", str(out), str(FIXTURES / "stripe" / "unified_payments.csv")]) == 0
    capsys.readouterr()
    assert main(["validate", "--data", str(out)]) == 0
    assert "Business hours: our calendar against the help desk" in capsys.readouterr().out
    ds = load_data(out)
    assert len(ds.tickets) and set(ds.surveys["type"]) == {"csat", "nps"} and len(ds.revenue)
    freshdesk = sorted(map(str, (FIXTURES / "freshdesk").iterdir()))
    assert main(["import", "--from", "freshdesk", "--out", str(tmp_path / "fd"), *freshdesk]) == 2
    assert "--tz" in capsys.readouterr().err and not (tmp_path / "fd" / "tickets.csv").exists()


def test_metrics_with_sla_targets_from_yaml(generated, tmp_path, capsys):
    strict = tmp_path / "sla.yaml"
    strict.write_text("first_response: {urgent: 0.01, high: 0.01, normal: 0.01, low: 0.01}\n")
    assert main(["metrics", "--data", str(generated), "--month", "2026-09", "--format", "json", "--sla", str(strict)]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["sla_first_response"]["value"] < 5  # almost nobody answers within 0.01 h
    bad = tmp_path / "bad.yaml"
    bad.write_text("first_response: [1, 2]\n")
    assert main(["metrics", "--data", str(generated), "--sla", str(bad)]) == 2
    assert "first_response" in capsys.readouterr().err


def test_metrics_rejects_bad_or_empty_month(generated, capsys):
    assert main(["metrics", "--data", str(generated), "--month", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert main(["metrics", "--data", str(generated), "--month", "2020-01"]) == 2
    assert "no tickets or surveys in 2020-01" in capsys.readouterr().err


def test_segment_report_goes_beside_the_whole_business_report(generated, tmp_path, capsys):
    notebooks = [str(Path(__file__).parents[1] / "notebooks" / "01_monthly_summary.ipynb")]
    out = tmp_path / "reports"
    segment = pd.read_csv(generated / "customers.csv")["segment"].iloc[0]
    assert main(["report", "--data", str(generated), "--out", str(out), "--segment", segment,
                 "--notebooks", *notebooks]) == 0
    assert capsys.readouterr().out.strip() == str(out / f"segment-{segment}" / "2026-10" / "index.html")
    assert not (out / "2026-10").exists()


def test_metrics_on_the_duckdb_engine_equal_the_pandas_rows(generated, tmp_path, capsys):
    paths = {engine: tmp_path / f"{engine}.csv" for engine in ("pandas", "duckdb")}
    for engine, path in paths.items():   # DuckDB capped (it would spill beyond the limit)
        limit = ["--memory-limit", "500MB"] if engine == "duckdb" else []
        assert main(["metrics", "--data", str(generated), "--month", "2026-09", "--by", "priority", "--format", "csv",
                     "--output", str(path), "--engine", engine, *limit]) == 0
    assert MEMORY_LIMIT_ENV not in os.environ   # set for the run only
    assert main(["metrics", "--data", str(generated), "--engine", "duckdb", "--memory-limit", "lots"]) == 2
    assert f"{MEMORY_LIMIT_ENV}='lots' is not a DuckDB memory limit" in capsys.readouterr().err
    pandas_rows, engine_rows = (pd.read_csv(p).set_index(["priority", "metric"]) for p in paths.values())
    assert "sla_resolution" in engine_rows.index.get_level_values("metric")
    pd.testing.assert_frame_equal(engine_rows.sort_index(), pandas_rows.loc[engine_rows.index].sort_index(),
                                  rtol=1e-9)
    for engine, path in paths.items():   # business hours on the engine too
        assert main(["metrics", "--data", str(generated), "--month", "2026-09", "--format", "csv", "--output",
                     str(path), "--engine", engine, "--business-hours", "09:00-17:00"]) == 0
    pandas_rows, engine_rows = (pd.read_csv(p).set_index("metric") for p in paths.values())
    pd.testing.assert_frame_equal(engine_rows, pandas_rows.loc[engine_rows.index], rtol=1e-9)
