"""Monthly report runner: papermill execution, atomic swap, ``_failed/`` (SPEC §7, §8).

``run_report`` executes the parameterised notebooks for one month, renders each with code
hidden, writes the month index, and only then replaces ``out_dir/YYYY-MM/``. Everything is
written into a temporary folder inside ``out_dir`` (same filesystem, so the swap is a
rename). A failed notebook leaves the previous month report as it was, is kept executed in
``out_dir/_failed/YYYY-MM-<UTC timestamp>/`` and raises :class:`~slm_lib.errors.ReportError`
naming the notebook, the cell and the error.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill as pm
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

from slm_lib.errors import ConfigError, ReportError
from slm_lib.periods import check_month
from slm_lib.report.index import ReportEntry, write_month_index, write_root_index
from slm_lib.report.render import notebook_title, write_notebook_html

__all__ = ["run_report", "validate_month", "report_notebooks", "progress_enabled", "NotebookFailure"]

#: Folder under ``out_dir`` that keeps executed notebooks of failed runs.
FAILED_DIR = "_failed"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The report notebooks inside an installed wheel (see ``setup.py``).
_PACKAGED_NOTEBOOKS = Path(str(resources.files("slm_lib.report") / "report_notebooks"))
_RESERVED_PARAMETERS = ("data_dir", "month")


@dataclass(frozen=True)
class NotebookFailure:
    """Where and how one notebook failed.

    ``cell`` counts every cell (markdown included) of the *source* notebook from 1;
    ``execution_count`` is the ``In [k]`` prompt in the kept executed copy.
    """

    notebook: str
    cell: int | None
    execution_count: int | None
    first_line: str
    ename: str
    evalue: str
    kept_at: Path | None = None

    def __str__(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else "an unknown cell"
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        line = f" `{self.first_line}`" if self.first_line else ""
        kept = f"; executed notebook kept at {self.kept_at}" if self.kept_at else ""
        return f"notebook {self.notebook} failed at {where}{line}: {self.ename}: {self.evalue}{kept}"


def validate_month(month: str, available_months: Iterable[Any] | None = None) -> str:
    """Check a report month string, and optionally that the data cover it.

    Parameters
    ----------
    month : str
        ``YYYY-MM`` (month 01-12).
    available_months : iterable, optional
        Months present in the data (strings ``YYYY-MM`` or monthly ``pandas.Period``); when
        given, ``month`` must be one of them. The runner never loads data itself.

    Returns
    -------
    str
        The month, unchanged.

    Raises
    ------
    ConfigError
        Malformed month, or a month without data (the message lists the months with data).

    Examples
    --------
    >>> validate_month("2026-10", ["2026-09", "2026-10"])
    '2026-10'
    """
    if str(check_month(month)) != month:  # check_month alone lets e.g. "2026--1" through
        raise ConfigError(f"month must be written YYYY-MM (e.g. 2026-10), got {month!r}")
    if available_months is not None:
        available = sorted({str(m) for m in available_months})
        if month not in available:
            span = f"{available[0]} … {available[-1]} ({len(available)} months)" if available else "none"
            raise ConfigError(f"no data in month {month}; months with data: {span}")
    return month


def report_notebooks(notebooks: Sequence[str | Path] | None = None) -> list[Path]:
    """The notebooks a report runs: those given, else the checkout's, else the installed copy.

    Without ``notebooks``, the report notebooks ``0*.ipynb`` (in name order) come from the
    first of these folders that has them:

    1. ``notebooks/`` beside the ``slm_lib`` package: the source checkout, or the checkout an
       editable install points to (an edited notebook runs as it is);
    2. ``slm_lib/report/report_notebooks/``: the copy a wheel carries (``setup.py`` copies
       ``notebooks/0*.ipynb`` there at build time), so ``pip install`` is enough for scheduled
       runs.

    Parameters
    ----------
    notebooks : sequence of paths, optional
        Notebooks to run in report order (``slm report --notebooks``); they take precedence.

    Returns
    -------
    list of Path
        Absolute paths.

    Raises
    ------
    ConfigError
        A given notebook does not exist, the given list is empty, or two share a name.
    ReportError
        No notebook given and neither folder has any: the message names both folders.

    Examples
    --------
    >>> [p.name for p in report_notebooks()][:1]
    ['01_monthly_summary.ipynb']
    """
    if notebooks is None:
        folders = [_PROJECT_ROOT / "notebooks", _PACKAGED_NOTEBOOKS]
        for folder in folders:
            found = sorted(folder.glob("0*.ipynb"))
            if found:
                return found
        raise ReportError(
            f"no report notebooks (0*.ipynb) in {folders[0]} (source checkout) nor in {folders[1]} "
            "(installed package): reinstall slm, or pass the notebooks to run (--notebooks)"
        )
    paths = [Path(p).resolve() for p in notebooks]
    if not paths:
        raise ConfigError("no notebooks to run: the notebooks list is empty")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"notebook file(s) not found: {', '.join(missing)}")
    stems = pd.Series([p.stem for p in paths])
    if stems.duplicated().any():
        repeated = sorted(set(stems[stems.duplicated()]))
        raise ConfigError(f"notebook names must be unique in a report, repeated: {repeated}")
    return paths


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: forced by ``progress``, else on a terminal outside CI.

    Examples
    --------
    >>> progress_enabled(False)
    False
    """
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() and not os.environ.get("CI")


def _check_inputs(
    data_dir: str | Path,
    notebooks: Sequence[str | Path] | None,
    jobs: int,
    kernel_name: str,
    extra_parameters: Mapping[str, Any] | None,
) -> tuple[Path, list[Path], list[str]]:
    data_path = Path(data_dir).resolve()
    if not data_path.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist or is not a directory")
    paths = report_notebooks(notebooks)
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be a positive integer, got {jobs!r}")
    clash = sorted(set(extra_parameters or {}) & {*_RESERVED_PARAMETERS, "engine"})
    if clash:
        raise ConfigError(f"extra_parameters may not set {clash}: pass them as run_report arguments")
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel as exc:
        available = sorted(KernelSpecManager().find_kernel_specs())
        raise ConfigError(f"no Jupyter kernel named {kernel_name!r}; available: {available}") from exc
    # ipykernel logs a transport warning on its own stderr at every start; keep the terminal quiet
    quiet = ["--IPKernelApp.log_level=CRITICAL"] if any("ipykernel" in a for a in spec.argv) else []
    return data_path, paths, quiet


def _parameters_per_notebook(
    paths: list[Path], parameters: dict[str, Any]
) -> dict[Path, dict[str, Any]]:
    """Give each notebook the parameters its ``parameters`` cell declares.

    Every notebook must declare ``data_dir`` and ``month`` in a cell tagged ``parameters``;
    an extra parameter that no notebook declares is a typo and an error (papermill would
    only log a warning).
    """
    declared = {}
    for path in paths:
        try:
            declared[path] = set(pm.inspect_notebook(str(path)))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read notebook {path}: {type(exc).__name__}: {exc}") from exc
        lacking = [k for k in _RESERVED_PARAMETERS if k not in declared[path]]
        if lacking:
            raise ConfigError(
                f"notebook {path} must declare {lacking} in a cell tagged 'parameters' (SPEC §7)"
            )
    extras = set(parameters) - set(_RESERVED_PARAMETERS)
    unknown = sorted(extras - set().union(*declared.values()))
    if unknown:
        raise ConfigError(
            f"parameter(s) {unknown} are declared by no notebook's parameters cell "
            f"({', '.join(p.name for p in paths)})"
        )
    return {
        p: {k: v for k, v in parameters.items() if k in _RESERVED_PARAMETERS or k in names}
        for p, names in declared.items()
    }


def _source_cell_number(cells: list, index: int) -> int:
    """1-based number in the source notebook of cell ``index`` of the executed copy."""
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:index])
    return index - injected + 1


def _failure_from_error(name: str, executed: Path, error: PapermillExecutionError) -> NotebookFailure:
    """A cell raised: papermill's error names the cell index of the executed copy."""
    try:
        cells = pm.execute.remove_error_markers(nbformat.read(executed, as_version=4)).cells
        number = _source_cell_number(cells, error.cell_index)
    except (OSError, ValueError):
        number = None
    return NotebookFailure(name, number, error.exec_count, _first_line(error.source or ""), error.ename, error.evalue)


def _failure_from_exception(name: str, executed: Path, exc: Exception) -> NotebookFailure:
    """Execution stopped without a cell error (timeout, dead kernel, start-up failure).

    The failing cell is the last code cell papermill started (one with a ``start_time``).
    """
    message = next((line for line in str(exc).splitlines() if line.strip()), "")
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        cells = []
    started = [
        i for i, c in enumerate(cells)
        if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time") is not None
        and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    if not started:
        return NotebookFailure(name, None, None, "", type(exc).__name__, message)
    cell = cells[started[-1]]
    return NotebookFailure(name, _source_cell_number(cells, started[-1]), cell.get("execution_count"),
                           _first_line(cell.source), type(exc).__name__, message)


def _first_line(source: str) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= 80 else line[:77] + "..."


def _close_thread_loop() -> None:
    """Close the event loop papermill (jupyter_core ``run_sync``) left on this worker thread."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


def _run_one(
    notebook: Path, work_dir: Path, parameters: dict[str, Any], kernel: tuple[str, list[str]], timeout: float | None
) -> ReportEntry | NotebookFailure:
    """Execute one notebook into ``work_dir`` and render it; a failure is returned, not raised."""
    executed = work_dir / notebook.name
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=kernel[0],
            extra_arguments=kernel[1],
            # the kernel's own working directory (nbclient starts it there); papermill's cwd= would
            # chdir this whole process, a race between notebooks run side by side (jobs > 1)
            resources={"metadata": {"path": str(notebook.parent)}},
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
        )
    except PapermillExecutionError as exc:
        return _failure_from_error(notebook.name, executed, exc)
    except Exception as exc:  # timeout, dead kernel, kernel start-up: still name notebook and cell
        return _failure_from_exception(notebook.name, executed, exc)
    finally:
        _close_thread_loop()
    title = write_notebook_html(executed, work_dir / f"{notebook.stem}.html")
    return ReportEntry(title=title, html=f"{notebook.stem}.html", ipynb=executed.name)


def _keep_failed(failures: list[NotebookFailure], work_dir: Path, out_dir: Path, month: str) -> list[NotebookFailure]:
    """Move the executed copies of failed notebooks to ``out_dir/_failed/<month>-<stamp>/``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = out_dir / FAILED_DIR
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"{month}-{stamp}"
    suffix = 1
    while target.exists():
        target, suffix = base / f"{month}-{stamp}-{suffix}", suffix + 1
    target.mkdir()
    kept = []
    for failure in failures:
        source = work_dir / failure.notebook
        if source.is_file():
            shutil.move(str(source), str(target / failure.notebook))
            failure = NotebookFailure(**{**failure.__dict__, "kept_at": target / failure.notebook})
        kept.append(failure)
    return kept


def _swap_in(work_dir: Path, final: Path) -> None:
    """Replace ``final`` by ``work_dir``; on error the previous ``final`` is restored."""
    backup = None
    if final.exists():
        backup = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(backup)
    try:
        work_dir.rename(final)
    except OSError as exc:
        if backup is not None:
            backup.rename(final)
        raise ReportError(f"could not move the new report into {final}: {exc}") from exc
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _execute_all(
    paths: list[Path], work_dir: Path, parameters: dict[Path, dict[str, Any]], kernel: tuple[str, list[str]], jobs: int,
    timeout: float | None, bar: tqdm,
) -> tuple[dict[Path, ReportEntry], list[NotebookFailure]]:
    """Run notebooks, ``jobs`` at a time (threads; each notebook has its own kernel process).

    After the first failure no further notebook is started; running ones finish.
    """
    entries: dict[Path, ReportEntry] = {}
    failures: list[NotebookFailure] = []
    queue = list(paths)
    running: dict[Future, Path] = {}
    with ThreadPoolExecutor(max_workers=min(jobs, len(paths)), thread_name_prefix="slm-report") as pool:
        while queue or running:
            while queue and len(running) < jobs and not failures:
                path = queue.pop(0)
                running[pool.submit(_run_one, path, work_dir, parameters[path], kernel, timeout)] = path
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                path = running.pop(future)
                result = future.result()
                if isinstance(result, NotebookFailure):
                    failures.append(result)
                else:
                    entries[path] = result
                bar.set_postfix_str(path.name, refresh=False)
                bar.update(1)
    names = [p.name for p in paths]
    failures.sort(key=lambda f: names.index(f.notebook))
    return entries, failures


def run_report(
    month: str,
    data_dir: str | Path,
    out_dir: str | Path = "reports",
    notebooks: Sequence[str | Path] | None = None,
    jobs: int = 1,
    progress: bool | None = None,
    kernel_name: str = "python3",
    extra_parameters: Mapping[str, Any] | None = None,
    available_months: Iterable[Any] | None = None,
    kpis: pd.DataFrame | None = None,
    timeout: float | None = None,
    engine: str = "pandas",
) -> Path:
    """Run the monthly report notebooks and publish ``out_dir/YYYY-MM/`` atomically.

    Each notebook is executed with papermill (parameters ``data_dir`` as an absolute path,
    ``month``, plus ``extra_parameters``; working directory = the notebook's folder),
    rendered to HTML with code hidden, and linked from ``YYYY-MM/index.html`` with the
    headline ``kpis``; ``out_dir/index.html`` is rewritten to list every month. All files
    are written to a temporary folder inside ``out_dir`` and swapped in only when every
    notebook succeeded, replacing a previous report of that month.

    Parameters
    ----------
    month : str
        Report month ``YYYY-MM``; checked before anything runs.
    data_dir : str or Path
        Data directory passed to the notebooks (resolved to an absolute path).
    out_dir : str or Path
        Reports folder (created if missing).
    notebooks : sequence of paths, optional
        Notebooks in report order; default: the report notebooks found by
        :func:`report_notebooks` (the checkout's, else those installed with slm).
    jobs : int
        Notebooks executed at the same time (each in its own kernel).
    progress : bool, optional
        Progress bar on stderr; default: on a terminal when the ``CI`` variable is unset.
    kernel_name : str
        Jupyter kernel. ``python3`` resolves to the interpreter running this function (the
        project's virtual environment) through ipykernel's kernelspec in ``sys.prefix``.
    extra_parameters : mapping, optional
        More notebook parameters (``months_back``, ``segment``, ``tz``...); each notebook
        receives those its ``parameters`` cell declares, and one declared nowhere is an error.
    available_months : iterable, optional
        Months with data; a month outside them is rejected before any notebook runs.
    kpis : pandas.DataFrame, optional
        Headline KPI table for the month index (see :func:`slm_lib.report.index.format_kpis`).
    timeout : float, optional
        Per-cell time limit in seconds (default none).
    engine : {"pandas", "duckdb", "spark"}
        Where the notebooks compute (:mod:`slm_lib.engines`, for data larger than memory).
        On an engine only the notebooks that declare an ``engine`` parameter run (they are
        written to compute there); the month index names the others as left out.

    Returns
    -------
    Path
        ``out_dir/YYYY-MM/index.html``.

    Raises
    ------
    ConfigError
        Bad month, month without data, missing data directory or notebook, notebook without
        a ``parameters`` cell declaring ``data_dir`` and ``month``, unknown kernel, extra
        parameter declared by no notebook, an ``engine`` no notebook declares.
    ReportError
        A notebook failed: the message names notebook, cell (number, ``In [k]``, first
        source line) and error, and where the executed notebook was kept. The previous
        report of the month is untouched and no temporary folder is left behind. Also when
        no ``notebooks`` are given and :func:`report_notebooks` finds none.

    Examples
    --------
    >>> run_report("2026-10", "data_samples", "reports",
    ...            available_months=["2026-09", "2026-10"])  # doctest: +SKIP
    PosixPath('reports/2026-10/index.html')
    """
    validate_month(month, available_months)
    data_path, paths, kernel_args = _check_inputs(data_dir, notebooks, jobs, kernel_name, extra_parameters)
    on_engine = {} if engine == "pandas" else {"engine": engine}
    parameters = _parameters_per_notebook(
        paths, {"data_dir": str(data_path), "month": month, **dict(extra_parameters or {}), **on_engine}
    )
    omitted = [notebook_title(nbformat.read(p, as_version=4), p.stem) for p in paths
               if on_engine and "engine" not in parameters[p]]
    paths = [p for p in paths if "engine" in parameters[p]] if on_engine else paths
    out_path = Path(out_dir).resolve()
    out_path.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".tmp-{month}-", dir=out_path))
    try:
        with tqdm(total=len(paths), desc=f"report {month}", unit="notebook", file=sys.stderr,
                  disable=not progress_enabled(progress)) as bar:
            entries, failures = _execute_all(
                paths, work_dir, parameters, (kernel_name, kernel_args), jobs, timeout, bar
            )
        if failures:
            failures = _keep_failed(failures, work_dir, out_path, month)
            raise ReportError("\n".join(str(f) for f in failures))
        write_month_index(work_dir, month, [entries[p] for p in paths], kpis=kpis, data_dir=data_path, engine=engine,
                          omitted=omitted)
        work_dir.chmod(0o755)  # mkdtemp creates 0o700; a published report is readable like its siblings
        _swap_in(work_dir, out_path / month)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    write_root_index(out_path)
    return out_path / month / "index.html"
