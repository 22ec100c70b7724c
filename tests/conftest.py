"""Shared fixtures: one local Spark session for the engine tests (skipped without Java or pyspark)."""
from __future__ import annotations

import shutil

import pytest

from slm_lib.engines import connect


@pytest.fixture(scope="session")
def spark():
    """An ibis connection to a local Spark session, stopped at the end of the test session."""
    if shutil.which("java") is None:
        pytest.skip("Spark engine needs Java (a JRE on PATH); none found")
    pytest.importorskip("pyspark", reason="Spark engine needs the pyspark extra (pip install slm[spark])")
    con = connect("spark")
    yield con
    con._session.stop()
