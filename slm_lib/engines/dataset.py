"""A lazy data set: the canonical tables as ibis expressions on DuckDB or Spark (SPEC §9 engines).

Nothing is read into pandas: the files are scanned by the engine when a metric is
computed, and only the small aggregated tables come back. Validation and normalisation
(SPEC §3) are not applied on the engine yet: the files must already be canonical (as
written by ``slm generate`` or :func:`slm_lib.io.save.save_data`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from slm_lib.config import SCALES, check_scales
from slm_lib.errors import ConfigError, MissingTableError
from slm_lib.io.dataset import empty_quality

ENGINES: tuple[str, ...] = ("duckdb", "spark")
LAZY_TABLES: tuple[str, ...] = ("tickets", "surveys", "customers", "revenue")


@dataclass
class LazyDataset:
    """The tickets, surveys, customers and revenue of a data directory as ibis tables of one engine.

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
    """

    con: Any
    tables: dict[str, Any]
    engine: str
    scales: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(SCALES))
    as_of: pd.Timestamp | None = None
    quality: pd.DataFrame = field(default_factory=empty_quality)
    source: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name in LAZY_TABLES:
            try:
                return self.tables[name]
            except KeyError:
                return None
        raise AttributeError(name)

    def observation_end(self) -> pd.Timestamp | None:
        """:attr:`as_of`, else the latest timestamp in the tables (:meth:`slm_lib.io.dataset.Dataset.observation_end`)."""
        from slm_lib.engines.metric_table import observation_end
        return observation_end(self)

    def until(self, end: Any) -> "LazyDataset":
        """The data as an export taken at ``end`` would hold them (:meth:`slm_lib.io.dataset.Dataset.until`)."""
        from slm_lib.engines.cut import until
        return until(self, end)

    def engine_select_segment(self, segment: str) -> "LazyDataset":
        """:func:`slm_lib.summary.select_segment` on the engine (its dispatch hook)."""
        from slm_lib.engines.cut import select_segment
        return select_segment(self, segment)

    def engine_data_months(self, tz: str = "UTC") -> list[str]:
        """:func:`slm_lib.summary.data_months` on the engine (its dispatch hook)."""
        from slm_lib.engines.cut import data_months
        return data_months(self, tz)

    def engine_first_created(self) -> pd.Timestamp:
        """The first ticket's ``created_at`` (NaT without tickets)."""
        from slm_lib.engines.cut import first_created
        return first_created(self)

    def engine_collect_window(self, start: Any, end: Any) -> Any:
        """The rows of ``[start, end)`` as a pandas Dataset (:func:`slm_lib.engines.cut.collect_window`)."""
        from slm_lib.engines.cut import collect_window
        return collect_window(self, start, end)

    def engine_monthly_sums(self, ordinals: Any, targets: dict, calendar: Any, tz: str) -> pd.DataFrame:
        """Per-month sums of :func:`slm_lib.service_panel.monthly_service_panel` (its dispatch hook)."""
        from slm_lib.engines.panel import engine_monthly_sums
        return engine_monthly_sums(self, ordinals, targets, calendar, tz)

    def engine_customer_spans(self) -> pd.DataFrame:
        """Every customer's ``signup_at`` and ``churned_at`` (one row per customer)."""
        from slm_lib.engines.panel import customer_spans
        return customer_spans(self)

    def engine_first_activity(self) -> pd.Timestamp:
        """The first ticket, survey, payment or churn (else the first signup)."""
        from slm_lib.engines.panel import first_activity
        return first_activity(self)

    def engine_has_ticket_events(self) -> bool:
        """Whether a ``ticket_events`` table with at least one row is open (:func:`slm_lib.io.dataset.has_ticket_events`)."""
        events = self.tables.get("ticket_events")
        return events is not None and int(events.limit(1).count().execute()) > 0

    def engine_metric_table(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.metrics.table.metric_table` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.metric_table import engine_metric_table
        return engine_metric_table(self, **kwargs)

    def engine_rfm_summary(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.clv.rfm.rfm_summary` of the revenue table on the engine (its dispatch hook)."""
        from slm_lib.engines.summaries import engine_rfm_summary
        return engine_rfm_summary(self, **kwargs)

    def engine_customer_features(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.features.customer_features` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.features import engine_customer_features
        return engine_customer_features(self, **kwargs)

    def engine_cohort_retention(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.cohorts.cohort_retention` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.summaries import engine_cohort_retention
        return engine_cohort_retention(self, **kwargs)


def connect(engine: str, session: Any = None) -> Any:
    """An ibis connection: in-process DuckDB, or PySpark on ``session`` (default a local one).

    Examples
    --------
    >>> connect("duckdb").name
    'duckdb'
    """
    import ibis
    if engine == "duckdb":
        return ibis.duckdb.connect()
    if engine == "spark":
        if session is None:
            from pyspark.sql import SparkSession
            session = (SparkSession.builder.master("local[2]").appName("slm")
                       .config("spark.sql.session.timeZone", "UTC")
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


def open_dataset(path: str | os.PathLike, engine: str = "duckdb", tables: Iterable[str] | None = None,
                 scales: Mapping[str, tuple[int, int]] | None = None, con: Any = None) -> LazyDataset:
    """Open the tables of a data directory lazily on an engine (``<table>.parquet`` or ``.csv``).

    Parameters
    ----------
    path : str or path-like
        The data directory; a table may also be a directory of Parquet files
        (``tickets.parquet/part-0.parquet`` ...).
    engine : {"duckdb", "spark"}
    tables : iterable of str, optional
        Default :data:`LAZY_TABLES` (not ``ticket_events``: the engine reads none yet).
    scales : mapping, optional
        Survey scales (default :data:`slm_lib.config.SCALES`).
    con : ibis backend, optional
        An existing connection of that engine (e.g. a Spark session wrapped by
        ``ibis.pyspark.connect``); default :func:`connect`.

    Raises
    ------
    MissingTableError
        If the directory or the tickets table does not exist.

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
    found: dict[str, Any] = {}
    for table in (LAZY_TABLES if tables is None else tuple(tables)):
        parquet, csv = directory / f"{table}.parquet", directory / f"{table}.csv"
        if parquet.exists():
            source = str(parquet / "*.parquet") if parquet.is_dir() and engine == "duckdb" else str(parquet)
            found[table] = _read_parquet(con, source, f"slm_{table}")
        elif csv.is_file():
            found[table] = con.read_csv(str(csv), table_name=f"slm_{table}")
        elif table == "tickets":
            raise MissingTableError(f"{directory}: required table 'tickets' not found")
    return LazyDataset(con, found, engine, check_scales(scales), source=str(directory))
