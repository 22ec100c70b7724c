"""A pip install is enough for scheduled reports (issue 16): the wheel carries the notebooks.

Builds the sdist from the checkout and the wheel from that sdist (what ``python -m build``
does; offline, with the setuptools of this environment), installs the wheel into a fresh
virtual environment that sees this environment's dependencies but not its editable slm, and
runs the installed ``slm import`` and ``slm report`` from outside the checkout on three small
vendor exports (issue 7: Zendesk + Delighted + Stripe exports to a monthly report in a few
commands; small data keep the report run to seconds).
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
REPORT_NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
PACKAGED = "slm_lib/report/report_notebooks"


def _run(args: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel built from that sdist)."""
    out = tmp_path_factory.mktemp("dist")
    hook = "import sys, setuptools.build_meta as backend; backend.build_sdist(sys.argv[1])"
    _run([sys.executable, "-c", hook, out], cwd=ROOT)
    (sdist,) = out.glob("slm-*.tar.gz")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-index", "--no-deps", "--no-build-isolation",
          "-w", out, sdist], cwd=out)
    (wheel,) = out.glob("slm-*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; this environment's packages are visible through a .pth file."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps", dists[1]],
         cwd=venv)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=venv).stdout.strip())
    # a path listed in a .pth file is added to sys.path without running the .pth files in it,
    # so the editable finder of the checkout stays out
    (site / "project_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # the dependencies' data files (nbconvert templates, the ipykernel kernelspec), where installing them would put them
    (venv / "share").mkdir()
    (venv / "share" / "jupyter").symlink_to(Path(sys.prefix) / "share" / "jupyter")
    return venv


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_sdist_has_the_report_notebooks(dists):
    with tarfile.open(dists[0]) as sdist:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in sdist.getnames() if len(Path(n).parts) > 1}
    assert {f"notebooks/{n}" for n in REPORT_NOTEBOOKS} <= names


def test_wheel_has_the_notebooks_and_every_tracked_package_file(dists):
    names = set(zipfile.ZipFile(dists[1]).namelist())
    assert len(REPORT_NOTEBOOKS) == 6
    assert {f"{PACKAGED}/{n}" for n in REPORT_NOTEBOOKS} == {n for n in names if n.startswith(PACKAGED)}
    tracked = _run(["git", "ls-files", "slm_lib"], cwd=ROOT).stdout.split()
    runtime = [f for f in tracked if not f.endswith(".py")]
    assert runtime, "no templates or mappings tracked under slm_lib/"
    assert sorted(set(tracked) - names) == []


def _package_dir(venv: Path, cwd: Path) -> Path:
    """Where the venv's python imports slm_lib from."""
    done = _run([venv / "bin" / "python", "-c", "import slm_lib; print(slm_lib.__file__)"], cwd=cwd, env=_clean_env())
    return Path(done.stdout.strip()).parent


def test_installed_slm_imports_vendor_exports_and_reports_from_outside_the_checkout(installed, tmp_path):
    """Five tickets cannot carry a churn model: those sections say why they are not shown instead of failing."""
    assert _package_dir(installed, tmp_path).is_relative_to(installed)
    slm, exports = installed / "bin" / "slm", ROOT / "tests" / "fixtures" / "exports"
    data, out = tmp_path / "data", tmp_path / "reports"
    _run([slm, "import", "--from", "zendesk", "--out", data, *sorted((exports / "zendesk").glob("*.json"))],
         cwd=tmp_path, env=_clean_env())
    _run([slm, "import", "--from", "delighted", "--out", data, exports / "delighted" / "survey_responses.json"],
         cwd=tmp_path, env=_clean_env())
    _run([slm, "import", "--from", "stripe", "--out", data, exports / "stripe" / "unified_payments.csv"],
         cwd=tmp_path, env=_clean_env())
    _run([slm, "report", "--data", data, "--out", out, "--jobs", "2"], cwd=tmp_path, env=_clean_env())
    (month,) = [p.name for p in out.iterdir() if p.is_dir()]
    pages = sorted(p.name for p in (out / month).glob("0*.html"))
    assert pages == [n.replace(".ipynb", ".html") for n in REPORT_NOTEBOOKS]
    index = (out / month / "index.html").read_text()
    assert ">CSAT<" in index and ">75.0 <" in index  # Zendesk fixture: 3 good of 4 rated
    assert "The churn model not shown:</b>" in (out / month / "04_retention_drivers.html").read_text()


def test_installed_slm_without_notebooks_names_what_is_missing(installed, tmp_path):
    packaged = _package_dir(installed, tmp_path) / "report" / "report_notebooks"
    aside = tmp_path / "aside"
    packaged.rename(aside)
    try:
        done = subprocess.run([str(installed / "bin" / "slm"), "report", "--data", str(ROOT / "data_samples"),
                               "--month", MONTH, "--out", str(tmp_path / "reports")],
                              cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    finally:
        aside.rename(packaged)
    assert done.returncode == 2
    assert "no report notebooks (0*.ipynb)" in done.stderr and str(packaged) in done.stderr
