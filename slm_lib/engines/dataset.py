"""A lazy data set: the canonical tables as ibis expressions on DuckDB or Spark (SPEC §9 engines).

Nothing is read into pandas: the files are scanned by the engine when a metric is
computed, and only the small aggregated tables come back. With ``errors="raise"`` or
``"drop"`` the tables are validated and normalised on the engine as ``load_data`` does
(:mod:`slm_lib.engines.validate`); with ``errors=None`` (the default of
:func:`open_dataset`, not of ``load_data``) the files must already be canonical (as
written by ``slm generate`` or :func:`slm_lib.io.save.save_data`).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from slm_lib.config import SCALES, check_scales
from slm_lib.engines.hooks import EngineHooks
from slm_lib.errors import ConfigError, MissingTableError, Problem
from slm_lib.io.dataset import empty_quality

ENGINES: tuple[str, ...] = ("duckdb", "spark")
#: The tables a LazyDataset reads; without ``ticket_events`` (:data:`CORE_TABLES`) the event rows of
#: metric_table and the ticket lifecycle are absent, as on the pandas engine without events.
CORE_TABLES: tuple[str, ...] = ("tickets", "surveys", "customers", "revenue")
LAZY_TABLES: tuple[str, ...] = (*CORE_TABLES, "ticket_events")
#: Environment variable read by ``connect("duckdb")``: DuckDB's memory limit (e.g. ``6GB``), beyond which
#: it spills to its temporary directory; ``slm ... --memory-limit`` sets it for the run and its notebooks.
MEMORY_LIMIT_ENV = "SLM_DUCKDB_MEMORY_LIMIT"


@dataclass
class LazyDataset(EngineHooks):
    """The tickets, surveys, customers, revenue and ticket events of a data directory as ibis tables of one engine.

    Attributes
    ----------
    con : ibis backend
        The connection (DuckDB in-process, or a PySpark session).
    tables : dict
        Table name -> ibis table; a missing optional table is absent.
    engine : {"duckdb", "spark"}
    scales : dict
        Survey score scales, as :attr:`slm_lib.io.dataset.Dataset.scales`.
    as_of : Timestamp or None
        The instant the data describe (:attr:`slm_lib.io.dataset.Dataset.as_of`; :meth:`until` sets it).
    quality : pandas.DataFrame
        Data problems found and what was done about them (:attr:`slm_lib.io.dataset.Dataset.quality`).
    source : str or None
        Where the data came from.
    files : dict
        Table name -> the file it was read from (validation problems name it); empty for
        tables already in an engine.
    """

    con: Any
    tables: dict[str, Any]
    engine: str
    scales: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(SCALES))
    as_of: pd.Timestamp | None = None
    quality: pd.DataFrame = field(default_factory=empty_quality)
    source: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name in LAZY_TABLES:
            try:
                return self.tables[name]
            except KeyError:
                return None
        raise AttributeError(name)

    def __repr__(self) -> str:
        return (f"LazyDataset(engine={self.engine!r}, tables={sorted(self.tables)}, "
                f"quality_problems={len(self.quality)})")

    def require(self, name: str, what: str) -> Any:
        """The table ``name``; :class:`~slm_lib.errors.MissingTableError` naming ``what`` needs it when absent.

        Examples
        --------
        >>> import ibis
        >>> lazy = LazyDataset(None, {"tickets": ibis.table({"ticket_id": "string"}, name="t")}, "duckdb")
        >>> lazy.require("revenue", "rfm_summary")
        Traceback (most recent call last):
        ...
        slm_lib.errors.MissingTableError: rfm_summary on an engine: the data set has no 'revenue' table
        """
        table = self.tables.get(name)
        if table is None:
            raise MissingTableError(f"{what} on an engine: the data set has no {name!r} table")
        return table

    def observation_end(self) -> pd.Timestamp | None:
        """:attr:`as_of`, else the latest timestamp in the tables (:meth:`slm_lib.io.dataset.Dataset.observation_end`)."""
        from slm_lib.engines.session import observation_end
        return observation_end(self)

    def until(self, end: Any) -> "LazyDataset":
        """The data as an export taken at ``end`` would hold them (:meth:`slm_lib.io.dataset.Dataset.until`)."""
        from slm_lib.engines.cut import until
        return until(self, end)


def fetch(con: Any, table: Any) -> Any:
    """An ibis table's rows as a pandas DataFrame, for results of many rows (one per ticket).

    On DuckDB through its own ``DataFrame`` export: ibis 12's conversion of a DuckDB 2 result
    takes about 40x longer (66 s against 1.6 s for a million tickets' lifecycles).
    Column types are left to the caller (DuckDB gives object or str strings, UTC timestamps
    in the session zone).
    """
    if con.name != "duckdb":
        return table.execute()
    import ibis
    return con.raw_sql(ibis.to_sql(table, dialect="duckdb")).df()


def kept(con: Any, table: Any) -> Any:
    """``table`` computed once and kept on the engine as long as the connection lives.

    On DuckDB a ``CREATE TEMP TABLE ... AS`` (kept compressed, spilled to DuckDB's temporary
    directory beyond its memory limit; ibis's own ``cache`` fails to drop its table with
    DuckDB 2); elsewhere ibis's ``Table.cache`` (Spark: a DataFrame cached in memory and on disk).
    """
    return _kept(con, table)[1]


def _kept(con: Any, table: Any) -> tuple[Any, Any]:
    """(the engine's handle of the kept rows, the kept rows with ``table``'s types).

    Spark's cached DataFrame reads timestamps back without their time zone: they are cast
    back to ``table``'s schema (the session is in UTC).
    """
    if con.name != "duckdb":
        handle = table.cache()
        return handle, handle.cast(table.schema())
    import ibis
    name = f"_slm_kept_{uuid.uuid4().hex}"
    con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {ibis.to_sql(table, dialect="duckdb")}')
    return name, con.table(name)


@contextmanager
def cached(con: Any, table: Any) -> Iterator[Any]:
    """``table`` :func:`kept` on the engine while the block runs, then dropped."""
    handle, rows = _kept(con, table)
    try:
        yield rows
    finally:
        if con.name == "duckdb":
            con.raw_sql(f'DROP TABLE IF EXISTS "{handle}"')
        else:
            handle.release()


def connect(engine: str, session: Any = None) -> Any:
    """An ibis connection: in-process DuckDB, or PySpark on ``session`` (default a local one).

    DuckDB takes the memory limit of the environment variable :data:`MEMORY_LIMIT_ENV`
    when it is set (DuckDB's default: 80% of the RAM); beyond it DuckDB spills to disk. At
    100M tickets, ``metric_table`` under a 6 GB limit peaks at 6.1 GiB of RSS, against
    17 GiB without one.

    The local Spark session has two cores and shuffles into 8 partitions. Spark's default of
    200 is sized for a cluster: on one machine its per-task cost made every query 2-3x slower
    on the samples. Measured on an idle machine (``metric_table``, 2026-12-07): the samples
    6.1 s warm with 8 partitions, 6.6 s with 2; 10M tickets 85 s with 8, 98 s with 2, 103 s
    with 200.

    Examples
    --------
    >>> connect("duckdb").name
    'duckdb'
    """
    import ibis
    if engine == "duckdb":
        con = ibis.duckdb.connect()
        limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
        if limit:
            try:
                con.raw_sql(f"SET memory_limit = '{limit.replace(chr(39), chr(39) * 2)}'")
            except Exception as exc:  # noqa: BLE001  (DuckDB's own error for a value it cannot read)
                raise ConfigError(f"{MEMORY_LIMIT_ENV}={limit!r} is not a DuckDB memory limit "
                                  f"(e.g. 6GB, 500MB): {str(exc).strip().splitlines()[0]}") from None
        return con
    if engine == "spark":
        if session is None:
            from pyspark.sql import SparkSession
            session = (SparkSession.builder.master("local[2]").appName("slm")
                       .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "8")
                       .config("spark.ui.enabled", "false").getOrCreate())
        return ibis.pyspark.connect(session)
    raise ConfigError(f"engine {engine!r} unknown; engines are {list(ENGINES)} (or 'pandas')")


def from_tables(con: Any, tables: Mapping[str, Any], scales: Mapping[str, tuple[int, int]] | None = None) -> LazyDataset:
    """Tables that already live in an engine or a warehouse (ibis tables of one connection) as a LazyDataset.

    The way to run the metric layer where the data are: a Spark cluster or Databricks
    session (``ibis.pyspark.connect(spark)``), Snowflake, BigQuery, Postgres or any other
    ibis backend, with the canonical columns (SPEC §3) as tables or views there.

    Parameters
    ----------
    con : ibis backend
        The connection the tables belong to.
    tables : mapping of str to ibis table
        Some of :data:`LAZY_TABLES` (``tickets`` required), e.g. ``{"tickets": con.table("tickets", database="support")}``.
    scales : mapping, optional
        Survey scales (default :data:`slm_lib.config.SCALES`).

    Raises
    ------
    MissingTableError
        Without ``tickets``.
    ConfigError
        For a name outside :data:`LAZY_TABLES`.

    Examples
    --------
    >>> con = connect("duckdb")
    >>> _ = con.raw_sql("CREATE TABLE tickets AS SELECT 'T1' AS ticket_id, 'C1' AS customer_id")
    >>> from_tables(con, {"tickets": con.table("tickets")}).engine
    'duckdb'
    """
    unknown = sorted(set(tables) - set(LAZY_TABLES))
    if unknown:
        raise ConfigError(f"from_tables: {unknown} are not tables the engine reads; use {list(LAZY_TABLES)}")
    if "tickets" not in tables:
        raise MissingTableError("from_tables: required table 'tickets' not given")
    return LazyDataset(con, dict(tables), con.name, check_scales(scales))


def _read_parquet(con: Any, source: str, name: str) -> Any:
    """A Parquet file or folder as an ibis table; on DuckDB, nanosecond timestamps read as microseconds.

    pandas writes nanoseconds by default; ibis has no type for DuckDB's ``TIMESTAMP_NS``,
    and the engines keep microseconds, so such columns are cast in a view (rounded to the
    microsecond).
    """
    if con.name != "duckdb":
        return con.read_parquet(source, table_name=name)
    path = source.replace("'", "''")
    types = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    casts = [f'CAST("{c}" AS {"TIMESTAMPTZ" if t == "TIMESTAMPTZ_NS" else "TIMESTAMP"}) AS "{c}"'
             for c, t, *_ in types if t in ("TIMESTAMP_NS", "TIMESTAMPTZ_NS")]
    replaced = f" REPLACE ({', '.join(casts)})" if casts else ""
    con.raw_sql(f"CREATE OR REPLACE VIEW {name} AS SELECT *{replaced} FROM read_parquet('{path}')")
    return con.table(name)


def _read(con: Any, path: Path, table: str, engine: str, as_text: bool) -> Any:
    """One table file as an ibis table; ``as_text``: CSV columns as strings, as pandas reads them for validation."""
    if path.suffix == ".parquet":
        source = str(path / "*.parquet") if path.is_dir() and engine == "duckdb" else str(path)
        return _read_parquet(con, source, f"slm_{table}")
    text = ({"all_varchar": True, "header": True} if engine == "duckdb" else {"inferSchema": False}) if as_text else {}
    return con.read_csv(str(path), table_name=f"slm_{table}", **text)


def open_dataset(path: str | os.PathLike, engine: str = "duckdb", tables: Iterable[str] | None = None,
                 scales: Mapping[str, tuple[int, int]] | None = None, con: Any = None,
                 errors: str | None = None) -> LazyDataset:
    """Open the tables of a data directory lazily on an engine (``<table>.parquet`` or ``.csv``).

    Parameters
    ----------
    path : str or path-like
        The data directory; a table may also be a directory of Parquet files
        (``tickets.parquet/part-0.parquet`` ...). Spark reads no nanosecond Parquet
        timestamps (pandas' default): write them in microseconds for Spark; DuckDB reads both.
    engine : {"duckdb", "spark"}
    tables : iterable of str, optional
        Default :data:`LAZY_TABLES`; the optional ones (all but ``tickets``, e.g.
        ``ticket_events``) are read when their file exists.
    scales : mapping, optional
        Survey scales (default :data:`slm_lib.config.SCALES`).
    con : ibis backend, optional
        An existing connection of that engine (e.g. a Spark session wrapped by
        ``ibis.pyspark.connect``); default :func:`connect`.
    errors : {None, "raise", "drop"}
        ``None``: no validation, the files must already be canonical (as ``slm generate``
        and :func:`slm_lib.io.save.save_data` write them); CSV column types are inferred.
        ``"raise"`` / ``"drop"``: validated on the engine as :func:`slm_lib.io.load.load_data`
        validates (CSV read as text and parsed; same problems, same messages, same quality
        table; :mod:`slm_lib.engines.validate`), at the cost of about one scan per table plus
        one join per reference. The validated tables are then kept on the engine (a DuckDB
        temporary table, spilled to disk beyond its memory limit; a cached Spark DataFrame),
        so later queries do not re-read and re-parse the files: on the samples (CSV) this
        halves ``metric_table`` and ``customer_features`` and makes ``rfm_summary`` 5x faster.

    Raises
    ------
    MissingTableError
        If the directory or the tickets table does not exist.
    DataValidationError
        With ``errors`` set, as :func:`slm_lib.io.load.load_data` raises it.

    Examples
    --------
    >>> lazy = open_dataset("data_samples")                   # doctest: +SKIP
    >>> lazy.tickets.count().execute()                         # doctest: +SKIP
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} unknown; engines are {list(ENGINES)} (or 'pandas')")
    directory = Path(path)
    if not directory.is_dir():
        raise MissingTableError(f"{directory}: data directory not found")
    con = connect(engine) if con is None else con
    requested = LAZY_TABLES if tables is None else tuple(tables)
    if errors is not None:
        return _validated(con, directory, engine, requested, scales, errors)
    found: dict[str, Any] = {}
    for table in requested:
        parquet, csv = directory / f"{table}.parquet", directory / f"{table}.csv"
        if parquet.exists() or csv.is_file():
            found[table] = _read(con, parquet if parquet.exists() else csv, table, engine, as_text=False)
        elif table == "tickets":
            raise MissingTableError(f"{directory}: required table 'tickets' not found")
    return LazyDataset(con, found, engine, check_scales(scales), source=str(directory))


def _validated(con: Any, directory: Path, engine: str, requested: Iterable[str],
               scales: Mapping[str, tuple[int, int]] | None, errors: str) -> LazyDataset:
    """:func:`open_dataset` with validation: the files located and read as ``load_data`` does, then checked."""
    from slm_lib.engines.validate import validate_tables
    from slm_lib.io.problems import locate
    from slm_lib.schema import REQUIRED_TABLES

    quality: list[dict] = []
    fatal: list[Problem] = []
    raw: dict[str, Any] = {}
    files: dict[str, str] = {}
    for table in requested:
        files[table], present = locate(directory, table, quality, fatal, directories=True)
        if present is None:
            continue
        try:
            raw[table] = _read(con, present, table, engine, as_text=True)
        except Exception as exc:  # noqa: BLE001  (whatever the engine's reader raises: the file is unreadable)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fatal.append(Problem(files[table], "*", f"unreadable file ({reason})", 0, (), table))
            continue
        if table in REQUIRED_TABLES and not raw[table].count().execute():
            fatal.append(Problem(files[table], "*", "no data rows", 0, (), table))
            del raw[table]
    tables, quality_table = validate_tables(con, raw, files, errors, scales, quality, fatal)
    return LazyDataset(con, tables, engine, check_scales(scales), quality=quality_table, source=str(directory),
                       files=files)
