"""Tests of slm_lib.engines.panel: the monthly service panel on DuckDB equals the pandas one."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from slm_lib.engines import open_dataset
from slm_lib.io.load import load_data
from slm_lib.io.save import save_data
from slm_lib.schema import empty_frame
from slm_lib.service_panel import monthly_service_panel
from test_engine_lifecycle import BUSINESS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    ds = replace(load_data(ROOT / "data_samples"), ticket_events=empty_frame("ticket_events"))
    folder = tmp_path_factory.mktemp("panel")
    save_data(ds, folder, format="parquet")
    return load_data(folder), open_dataset(folder)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("cut", [None, "2026-10-01", "2025-07-17T08:00"])
def test_engine_panel_equals_pandas(both, tz, cut):
    ds, lazy = both
    if cut:
        ds, lazy = ds.until(cut), lazy.until(cut)
    expected = monthly_service_panel(ds, tz=tz)
    pd.testing.assert_frame_equal(monthly_service_panel(lazy, tz=tz), expected, rtol=1e-9, check_dtype=False)
    assert expected["tickets"].sum() > 0 and expected["churned"].sum() > 0


def test_engine_panel_of_given_months_and_without_surveys(both, tmp_path):
    ds, lazy = both
    months = ["2025-01", "2026-03", "2030-01"]   # one month without any data
    pd.testing.assert_frame_equal(monthly_service_panel(lazy, months=months), monthly_service_panel(ds, months=months),
                                  rtol=1e-9, check_dtype=False)
    save_data(replace(ds, surveys=empty_frame("surveys"), revenue=empty_frame("revenue")), tmp_path, format="parquet")
    (tmp_path / "surveys.parquet").unlink()
    bare, expected = open_dataset(tmp_path), monthly_service_panel(replace(ds, surveys=empty_frame("surveys"),
                                                                           revenue=empty_frame("revenue")))
    pd.testing.assert_frame_equal(monthly_service_panel(bare), expected, rtol=1e-9, check_dtype=False)
    assert expected["mean_csat"].isna().all()


@pytest.mark.parametrize("calendar, tz, cut", [(BUSINESS[0], "Europe/Berlin", "2026-10-01"),
                                               (BUSINESS[1], "UTC", "2025-07-17T08:00")], ids=["berlin", "utc_9_17"])
def test_engine_panel_in_business_hours_equals_pandas(both, calendar, tz, cut):
    """Median FRT and the first-response SLA (clocks still running at the cut) in business hours."""
    ds, lazy = both[0].until(cut), both[1].until(cut)
    expected = monthly_service_panel(ds, calendar=calendar, tz=tz)
    pd.testing.assert_frame_equal(monthly_service_panel(lazy, calendar=calendar, tz=tz), expected, rtol=1e-9,
                                  check_dtype=False)
    calendar_hours = monthly_service_panel(ds, tz=tz)
    assert (expected["median_frt_h"] < calendar_hours["median_frt_h"]).any()
    assert (expected["sla_breach_share"] != calendar_hours["sla_breach_share"]).any()
