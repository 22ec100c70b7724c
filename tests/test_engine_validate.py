"""Tests of slm_lib.engines.validate: SPEC §3 on the engine gives pandas' problems, messages and quality table."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.engines import LazyDataset, connect, from_tables, open_dataset
from slm_lib.engines.dataset import CORE_TABLES, LAZY_TABLES
from slm_lib.errors import DataValidationError
from slm_lib.io.load import validate
from slm_lib.io.save import save_data
from slm_lib.metrics.table import metric_table
from slm_lib.schema import COLUMNS

Edit = Callable[[dict[str, pd.DataFrame]], None]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """A small valid data set as CSV text (what the files hold), one frame per table the engine reads."""
    directory = tmp_path_factory.mktemp("base")
    save_data(slm.synth.generate(customers=60, months=3, seed=3), directory)
    return {t: pd.read_csv(directory / f"{t}.csv", dtype=str, keep_default_na=False) for t in CORE_TABLES}


def write(frames: dict[str, pd.DataFrame], directory: Path, edit: Edit | None = None,
          parquet: tuple[str, ...] = ()) -> Path:
    """The (edited) frames as a data directory: CSV text, or typed Parquet for the tables in ``parquet``."""
    frames = {t: f.copy() for t, f in frames.items()}
    if edit is not None:
        edit(frames)
    directory.mkdir(parents=True, exist_ok=True)
    for table, frame in frames.items():
        if frame is None:
            continue
        if table in parquet:
            typed = {c: pd.to_datetime(v.replace("", None), utc=True) if COLUMNS[table].get(c) == "datetime64[ns, UTC]"
                     else pd.to_numeric(v.replace("", None)) if COLUMNS[table].get(c) in ("int64", "float64")
                     else v.replace("", None) for c, v in frame.items()}
            pd.DataFrame(typed).to_parquet(directory / f"{table}.parquet", index=False)
        else:
            frame.to_csv(directory / f"{table}.csv", index=False)
    return directory


def outcome(load: Callable[[], object]) -> str:
    """The message of the DataValidationError ``load`` raises ('' when it raises none)."""
    try:
        load()
    except DataValidationError as exc:
        return str(exc)
    return ""


def collected(lazy: LazyDataset, table: str) -> pd.DataFrame:
    """A lazy table collected with the canonical dtypes, rows sorted (an engine's row order is arbitrary)."""
    frame = lazy.tables[table].execute().astype(COLUMNS[table])
    return frame.sort_values(list(COLUMNS[table])).reset_index(drop=True)


def assert_same_drop(lazy: LazyDataset, ds) -> None:
    """The engine's validated tables and quality table equal pandas' ones."""
    pd.testing.assert_frame_equal(lazy.quality, ds.quality)
    assert "tickets" in lazy.tables and not set(lazy.tables) & set(ds.quality.query("action == 'missing table'").table)
    for table in lazy.tables:
        expected = getattr(ds, table).sort_values(list(COLUMNS[table])).reset_index(drop=True)
        pd.testing.assert_frame_equal(collected(lazy, table), expected)


def put(table: str, column: str, rows: list[int], value: str) -> Edit:
    def edit(frames: dict[str, pd.DataFrame]) -> None:
        frames[table].loc[rows, column] = value
    return edit


def copy_id(table: str, column: str, source: int, rows: list[int]) -> Edit:
    def edit(frames: dict[str, pd.DataFrame]) -> None:
        frames[table].loc[rows, column] = frames[table].loc[source, column]
    return edit


def drop_columns(table: str, *columns: str, extra: str | None = None) -> Edit:
    def edit(frames: dict[str, pd.DataFrame]) -> None:
        frames[table] = frames[table].drop(columns=list(columns))
        if extra:
            frames[table][extra] = "x"
    return edit


def without(table: str) -> Edit:
    def edit(frames: dict[str, pd.DataFrame]) -> None:
        frames[table] = None
    return edit


# one case per rule of SPEC §3 (and per structural problem): each breaks the data, so pandas raises
CASES: dict[str, Edit] = {
    "timestamp": put("tickets", "created_at", [3, 5, 9], "soon"),
    "timestamp range": put("customers", "signup_at", [2], "1500-01-01"),
    "number": put("tickets", "replies", [3, 5], "three"),
    "negative": put("tickets", "reopens", [3, 5], "-1"),
    "integer": put("tickets", "replies", [7], "2.5"),
    "finite": put("revenue", "amount", [0, 4], "inf"),
    "channel": put("tickets", "channel", [1, 2, 4, 8], "fax"),
    "priority": put("tickets", "priority", [1, 6], "Critical"),
    "missing": put("tickets", "customer_id", [1, 2], ""),
    "duplicate": copy_id("tickets", "ticket_id", 0, [10, 11]),
    "order": put("tickets", "resolved_at", [12], "2000-01-01T00:00:00Z"),
    "score": put("surveys", "score", [1, 2], "99"),
    "survey type": put("surveys", "type", [1], "Foo"),
    "reference": put("tickets", "customer_id", [4, 20], "NOPE"),
    "survey ticket": put("surveys", "ticket_id", [0], "T999999"),
    "cross order": put("surveys", "submitted_at", [0, 3], "2000-01-01T00:00:00Z"),
    "columns": drop_columns("tickets", "team", "replies", extra="colour"),
    "several": lambda f: [e(f) for e in (put("tickets", "created_at", [3], "soon"), copy_id("customers", "customer_id",
                                                                                           0, [5]),
                                        put("revenue", "customer_id", [1], "NOPE"), put("surveys", "score", [2], "-4"))],
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_raises_the_pandas_message_on_duckdb(base, tmp_path, name):
    directory = write(base, tmp_path, CASES[name])
    expected = outcome(lambda: slm.load_data(directory, tables=LAZY_TABLES))
    assert expected  # the case breaks a rule
    assert outcome(lambda: open_dataset(directory, errors="raise")) == expected


@pytest.mark.parametrize("name", ["timestamp", "channel", "duplicate", "reference", "cross order", "several"])
def test_drop_gives_the_pandas_tables_and_quality(base, tmp_path, name):
    directory = write(base, tmp_path, CASES[name])
    ds = slm.load_data(directory, tables=LAZY_TABLES, errors="drop")
    assert (ds.quality["action"] == "dropped").any()
    assert_same_drop(open_dataset(directory, errors="drop"), ds)


def test_metric_table_of_the_validated_engine_tables_equals_pandas(base, tmp_path):
    """Parsed CSV text, normalised channels and dropped rows: the metric layer reads them as pandas' frames."""
    from test_engines import assert_same_table

    edit = lambda f: [CASES["several"](f), put("tickets", "channel", [0, 1], " Live Chat")(f)]  # noqa: E731
    directory = write(base, tmp_path, edit)
    lazy, ds = open_dataset(directory, errors="drop"), slm.load_data(directory, tables=LAZY_TABLES, errors="drop")
    assert_same_table(metric_table(lazy, by="channel"), metric_table(ds, by="channel"), ["period", "channel"])


def test_hand_counted_duplicate_keeps_the_first_valid_copy(base, tmp_path):
    """Rows 11 (invalid: no customer), 12 and 13 repeat ticket 1: 11 is reported as missing, 12 and 13 as duplicates."""
    edit = lambda f: [copy_id("tickets", "ticket_id", 0, [10, 11, 12])(f), put("tickets", "customer_id", [10], "")(f)]  # noqa: E731
    lazy = open_dataset(write(base, tmp_path, edit), errors="drop")
    dropped = lazy.quality.set_index("rule").loc[["missing value", "duplicate ticket_id"], ["n_rows", "example_rows"]]
    assert dropped.to_numpy().tolist() == [[1, "11"], [2, "12, 13"]]
    assert lazy.tickets.count().execute() == len(base["tickets"]) - 3


def test_normalisation_and_fills_match_pandas(base, tmp_path):
    """Channel synonyms, upper-case categories, blank strings, a missing priority, an extra column, a missing table."""
    def edit(frames):
        t = frames["tickets"]
        t.loc[[0, 1], "channel"], t.loc[2, "channel"], t.loc[3, "priority"] = " E-mail", "Live Chat", ""
        t.loc[4, "team"], t.loc[5, "priority"], t["note"] = "   ", "HIGH", "x"
        frames["revenue"] = None
    directory = write(base, tmp_path, edit)
    lazy, ds = open_dataset(directory, errors="raise"), slm.load_data(directory, tables=LAZY_TABLES)
    assert set(lazy.quality["action"]) == {"info", "missing table"}
    assert_same_drop(lazy, ds)


def test_typed_parquet_is_validated_too(base, tmp_path):
    directory = write(base, tmp_path, put("tickets", "channel", [2], "fax"), parquet=("tickets", "customers"))
    expected = outcome(lambda: slm.load_data(directory, tables=LAZY_TABLES))
    assert "tickets.parquet: column 'channel': unknown value(s) 'fax'" in expected
    assert outcome(lambda: open_dataset(directory, errors="raise")) == expected
    assert_same_drop(open_dataset(directory, errors="drop"), slm.load_data(directory, tables=LAZY_TABLES, errors="drop"))


def test_file_problems_are_the_pandas_ones(base, tmp_path):
    directory = write(base, tmp_path)
    base["customers"].to_csv(directory / "customers.parquet")      # both files
    (directory / "revenue.csv").write_text("")                      # empty file
    expected = outcome(lambda: slm.load_data(directory, tables=LAZY_TABLES))
    assert "keep one" in expected and "empty file" in expected
    assert outcome(lambda: open_dataset(directory, errors="drop")) == expected


def test_the_samples_pass_and_equal_pandas():
    lazy = open_dataset("data_samples", errors="raise")
    assert lazy.quality.empty and lazy.files["tickets"] == "data_samples/tickets.csv"
    assert_same_drop(lazy, slm.load_data("data_samples", tables=LAZY_TABLES))


def test_validate_dispatches_to_the_engine_and_names_tables_without_files(base):
    con = connect("duckdb")
    tickets = base["tickets"].copy()
    tickets.loc[0, "channel"] = "fax"
    lazy = from_tables(con, {"tickets": con.create_view("t", ibis.memtable(tickets))})
    with pytest.raises(DataValidationError) as err:
        validate(lazy)
    expected = outcome(lambda: validate(slm.Dataset(tickets=tickets)))
    assert str(err.value) == expected and expected.startswith("tickets: column 'channel'")
    assert validate(lazy, errors="drop").tickets.count().execute() == len(tickets) - 1


def test_spark_drops_as_pandas(spark, base, tmp_path):
    """Drop mode's quality rows carry the problems' counts, texts and example rows of raise mode (one Spark case;
    raise mode and the timestamp forms on Spark: tests/test_engine_event_checks.py). A repeated id keeps its first
    valid copy: the row order Spark reads (``monotonically_increasing_id``) must be the file's."""
    directory = write(base, tmp_path, CASES["duplicate"])
    assert_same_drop(open_dataset(directory, "spark", con=spark, errors="drop"),
                     slm.load_data(directory, tables=LAZY_TABLES, errors="drop"))


CORRUPT = {("tickets", "created_at"): ["soon", "", "2000-01-01T00:00:00Z"], ("tickets", "replies"): ["-1", "2.5", "x"],
           ("tickets", "channel"): ["fax", " Web Form "], ("tickets", "customer_id"): ["NOPE", ""],
           ("tickets", "ticket_id"): ["T000001", ""], ("surveys", "score"): ["11", "0", "x"],
           ("surveys", "ticket_id"): ["T000002", "T999"], ("customers", "customer_id"): ["C00001"],
           ("revenue", "amount"): ["inf", "-3.5", "nan"]}


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(sorted(CORRUPT)), st.integers(0, 19), st.integers(0, 2)), min_size=1,
                max_size=6))
def test_random_corruption_gives_the_same_counts(base, tmp_path_factory, corruptions):
    def edit(frames):
        for (table, column), row, pick in corruptions:
            choices = CORRUPT[(table, column)]
            frames[table].loc[row % len(frames[table]), column] = choices[pick % len(choices)]
    directory = write(base, tmp_path_factory.mktemp("corrupt"), edit)
    assert outcome(lambda: open_dataset(directory, errors="raise")) == \
        outcome(lambda: slm.load_data(directory, tables=LAZY_TABLES))
    assert_same_drop(open_dataset(directory, errors="drop"), slm.load_data(directory, tables=LAZY_TABLES, errors="drop"))


def test_cli_validate_on_duckdb(base, tmp_path, capsys):
    from slm_lib.cli import main

    good = write(base, tmp_path / "good")
    assert main(["validate", "--data", str(good), "--engine", "duckdb"]) == 0
    assert "valid. LazyDataset(engine='duckdb'" in capsys.readouterr().out
    bad = write(base, tmp_path / "bad", CASES["several"])
    assert main(["validate", "--data", str(bad), "--engine", "duckdb"]) == 2
    assert capsys.readouterr().err.strip().endswith(outcome(lambda: slm.load_data(bad, tables=LAZY_TABLES))
                                                    .splitlines()[-1])


def test_load_data_validates_on_the_engine_by_default(base, tmp_path):
    directory = write(base, tmp_path, CASES["channel"])
    with pytest.raises(DataValidationError, match="unknown value"):
        slm.load_data(directory, engine="duckdb")
    assert slm.load_data(directory, engine="duckdb", errors=None).quality.empty   # trusted: not checked
    kept = slm.load_data(directory, engine="duckdb", errors="drop")
    n = kept.tickets.count().execute()
    (directory / "tickets.csv").write_text((directory / "tickets.csv").read_text().splitlines()[0] + "\n")
    assert n == len(base["tickets"]) - 4 and kept.tickets.count().execute() == n   # kept: the file is not read again


def test_ticket_events_rules_on_the_engine(tmp_path):
    """Conditional requirement, closed sets and the event-before-ticket order, when the engine reads events."""
    save_data(slm.synth.generate(customers=30, months=2, seed=5, events=True), tmp_path)
    events = pd.read_csv(tmp_path / "ticket_events.csv", dtype=str, keep_default_na=False)
    status = events.index[events["kind"] == "status"][:2]
    events.loc[status, "status"] = ""
    events.loc[[3, 4], "at"] = "2000-01-01T00:00:00Z"
    events.loc[5, "actor"] = "Robot"
    events.to_csv(tmp_path / "ticket_events.csv", index=False)
    expected = outcome(lambda: slm.load_data(tmp_path, tables=LAZY_TABLES))
    assert "missing value where kind is 'status'" in expected and "at before the ticket's created_at" in expected
    assert outcome(lambda: open_dataset(tmp_path, errors="raise")) == expected
