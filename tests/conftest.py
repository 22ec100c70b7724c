"""Shared fixtures and the test scheduling.

* One local Spark session for the engine tests (skipped without Java or pyspark).
* ``make test`` runs ``pytest -n 2 --dist loadfile``: each worker takes whole files, so a file's
  module fixtures are built once. The Spark cases (every test named ``test_spark_*``) are
  one work unit of their own: one worker starts one JVM and warms its JIT once, instead of
  each worker paying for both. The longest units go first (:data:`FIRST`), so that the
  short ones fill the end and neither worker waits idle for the other (xdist orders units by
  their number of tests, which put the 58 s of test_packaging's three tests near the end).
"""
from __future__ import annotations

import shutil
from collections import OrderedDict

import pytest

from slm_lib.engines import connect

SPARK_UNIT = "spark cases (one JVM)"
#: The longest work units (clean clone, 2026-12-07: Spark 178 s, then 125, 73, 58, 53, 38 s), sent in this order.
FIRST = (SPARK_UNIT, "tests/test_engine_validate.py", "tests/test_engine_lifecycle.py", "tests/test_packaging.py",
         "tests/test_engine_cut.py", "tests/test_engine_features.py")


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the Spark cases as one unit, the longest units first."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(OrderedDict):
        """The work queue, with the units of :data:`FIRST` at its front, in that order."""

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            for unit in reversed(FIRST):
                if unit in self:
                    self.move_to_end(unit, last=False)

    class OneSparkWorker(LoadFileScheduling):
        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.workqueue = LongestFirst()

        def _split_scope(self, nodeid: str) -> str:
            test = nodeid.split("::")[-1]
            return SPARK_UNIT if test.startswith("test_spark_") else super()._split_scope(nodeid)

    return OneSparkWorker(config, log)


@pytest.fixture(scope="session")
def spark():
    """An ibis connection to a local Spark session, stopped at the end of the test session."""
    if shutil.which("java") is None:
        pytest.skip("Spark engine needs Java (a JRE on PATH); none found")
    pytest.importorskip("pyspark", reason="Spark engine needs the pyspark extra (pip install slm[spark])")
    con = connect("spark")
    yield con
    con._session.stop()
