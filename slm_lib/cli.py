"""Command-line interface: ``slm generate | validate | metrics | report | import``.

Thin by design: parses arguments, calls the library, prints. Errors raised on purpose by
the library (:class:`slm_lib.errors.SlmError`) are printed to stderr as one readable line per
problem, without a traceback, and exit with code 2 (SPEC §8).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from slm_lib.errors import InsufficientDataError, SlmError

DEFAULT_DATA = "data_samples"


def _cmd_generate(args: argparse.Namespace) -> int:
    from slm_lib.io.save import save_data
    from slm_lib.synth import generate

    ds = generate(customers=args.customers, months=args.months, seed=args.seed, start=args.start, events=args.events)
    save_data(ds, args.out, format=args.format, formats={"ticket_events": args.events_format or args.format})
    print(f"wrote {ds!r} to {args.out}")
    return 0


def _calendar(args: argparse.Namespace, default: bool = False):
    """A BusinessCalendar from --business-hours/--weekdays/--holidays/--calendar-tz, or None."""
    from slm_lib.calendar import BusinessCalendar

    if not (args.business_hours or default):
        return None
    start, _, end = (args.business_hours or "09:00-17:00").partition("-")
    weekdays = tuple(int(d) for d in args.weekdays.split(",")) if args.weekdays else (0, 1, 2, 3, 4)
    holidays = tuple(h for h in (args.holidays or "").split(",") if h)
    return BusinessCalendar(weekdays=weekdays, start=start, end=end, holidays=holidays, tz=args.calendar_tz)


def _add_engine_options(p: argparse.ArgumentParser, engines: str) -> None:
    p.add_argument("--engine", choices=("pandas", "duckdb", "spark"), default="pandas", help=engines)
    p.add_argument("--memory-limit", metavar="SIZE",
                   help="DuckDB's memory limit for this run and its notebooks, e.g. 6GB (default: 80%% of the RAM); "
                        "beyond it DuckDB spills to disk (sets SLM_DUCKDB_MEMORY_LIMIT)")


@contextmanager
def _memory_limit(limit: str | None) -> Iterator[None]:
    """The DuckDB memory limit in the environment while a command runs (its notebooks' kernels inherit it)."""
    if not limit:
        yield
        return
    from slm_lib.engines.dataset import MEMORY_LIMIT_ENV
    before = os.environ.get(MEMORY_LIMIT_ENV)
    os.environ[MEMORY_LIMIT_ENV] = limit
    try:
        yield
    finally:
        if before is None:
            del os.environ[MEMORY_LIMIT_ENV]
        else:
            os.environ[MEMORY_LIMIT_ENV] = before


def _add_calendar_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("business hours (durations and SLA clocks in business time)")
    g.add_argument("--business-hours", metavar="HH:MM-HH:MM", help="opening hours, e.g. 09:00-17:00")
    g.add_argument("--weekdays", metavar="0,1,2,3,4", help="working weekdays, Monday = 0 (default Mon-Fri)")
    g.add_argument("--holidays", metavar="YYYY-MM-DD,...", help="closed dates")
    g.add_argument("--calendar-tz", default="UTC", help="time zone of the opening hours (default UTC)")


def _cmd_validate(args: argparse.Namespace) -> int:
    from slm_lib.io.imports import read_vendor_durations, reconcile_business_hours
    from slm_lib.io.load import load_data

    ds = load_data(args.data, errors="raise", engine=args.engine)
    print(f"{args.data}: valid. {ds!r}")
    if len(ds.quality):
        print(ds.quality.to_string(index=False))
    if args.engine != "pandas":  # the comparisons below need every row in memory
        return 0
    vendor = read_vendor_durations(args.data)
    table = reconcile_business_hours(ds, _calendar(args, default=True), vendor=vendor)
    if len(table):
        print("\nBusiness hours: our calendar against the help desk's own figures (minutes):")
        print(table.to_string(index=False))
    if len(ds.ticket_events):
        from slm_lib.metrics.reconcile import TOLERANCE_MIN, lifecycle_differences, reconcile_lifecycle

        table = reconcile_lifecycle(ds, vendor=vendor)
        if len(table):
            print(f"\nLifecycle from ticket_events against the help desk's own figures (calendar minutes; "
                  f"share of tickets within {TOLERANCE_MIN:g} min, %):")
            print(table.round(2).to_string(index=False))
            worst = lifecycle_differences(ds, vendor=vendor, beyond_min=TOLERANCE_MIN, top=5)
            if len(worst):
                print("\nWorst cases (ours minus theirs, minutes):")
                print(worst.round(2).to_string(index=False))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from slm_lib.io.imports import import_exports

    summary = import_exports(args.source, args.files, args.out, tz=args.tz, key=args.key, hash_salt=args.hash_salt)
    print(summary.to_string(index=False))
    print(f"imported into {args.out}")
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from slm_lib.io.load import load_data
    from slm_lib.metrics.table import metric_table

    from slm_lib.io.config import read_sla_targets

    ds = load_data(args.data, errors=args.errors, engine=args.engine)
    sla = read_sla_targets(args.sla) if args.sla else None
    table = metric_table(ds, freq="M", by=args.by or None, tz=args.tz, calendar=_calendar(args), sla=sla)
    if args.month:
        from slm_lib.periods import check_month

        check_month(args.month)
        table = table[table["period"] == args.month]
        if table.empty:
            raise InsufficientDataError(f"{args.data}: no tickets or surveys in {args.month} (time zone {args.tz})")
    if args.format == "csv":
        out = table.to_csv(index=False)
    elif args.format == "json":
        out = table.to_json(orient="records", indent=1)
    else:
        out = table.to_string(index=False)
    if args.output:
        Path(args.output).write_text(out)
    else:
        print(out)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from slm_lib.io.load import load_data
    from slm_lib.nb import report_data
    from slm_lib.report.runner import report_notebooks, run_report
    from slm_lib.summary import check_month, data_months, headline_kpis, select_segment

    notebooks = report_notebooks(args.notebooks or None)   # a broken install fails before the data are read
    ds = select_segment(load_data(args.data, errors="drop", engine=args.engine), args.segment)
    months = data_months(ds, args.tz)
    month = args.month or (months[-1] if months else None)
    if month is None:
        raise InsufficientDataError(f"{args.data}: no tickets or surveys, nothing to report")
    check_month(month)
    # the index shows what the notebooks show: the month as seen at its end
    kpis = (headline_kpis(report_data(ds, month, tz=args.tz, as_of=args.as_of), month, tz=args.tz)
            if month in months else None)
    extra = {"tz": args.tz, "months_back": args.months_back, "segment": args.segment or "", "as_of": args.as_of or ""}
    # a segment's report lives beside the whole-business one, never in its place
    out = Path(args.out) / f"segment-{args.segment}" if args.segment else Path(args.out)
    index = run_report(month, args.data, out, notebooks=notebooks, jobs=args.jobs,
                       extra_parameters=extra, available_months=months,
                       kpis=None if kpis is None else kpis.assign(metric=kpis["label"]), engine=args.engine)
    print(index)
    return 0


def _cmd_latest_month(args: argparse.Namespace) -> int:
    from slm_lib.io.load import load_data
    from slm_lib.summary import data_months

    months = data_months(load_data(args.data, errors="drop"), args.tz)
    if not months:
        raise InsufficientDataError(f"{args.data}: no tickets or surveys")
    print(months[-1])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a synthetic data set with planted effects")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--start", default="2024-11", help="first month, YYYY-MM")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--events", action="store_true",
                   help="also write ticket_events (about 14 per ticket; their requester wait drives churn)")
    p.add_argument("--events-format", choices=("csv", "parquet"), help="format of ticket_events (default: --format)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("validate", help="check a data directory against the data contract")
    p.add_argument("--data", default=DEFAULT_DATA)
    _add_engine_options(p, "pandas: in memory, then business hours and lifecycle compared with the help desk's "
                           "figures; duckdb/spark: the same rules and messages on that engine, files read lazily "
                           "(data beyond memory; no comparisons)")
    _add_calendar_options(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("import", help="turn vendor exports into canonical tables (SPEC §10)")
    p.add_argument("--from", dest="source", required=True,
                   help="built-in mapping (zendesk, freshdesk, intercom, hubspot, jira, salesforce, delighted, "
                        "qualtrics, surveymonkey, typeform, stripe) or a mapping.yaml")
    p.add_argument("--out", required=True, help="canonical data directory to create or update")
    p.add_argument("--tz", help="time zone of exports whose timestamps carry none (required for those)")
    p.add_argument("--key", choices=("id", "email"), default="id", help="customer identity across tools")
    p.add_argument("--hash-salt", help="replace customer keys by a salted hash")
    p.add_argument("files", nargs="+", help="export files")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("metrics", help="print or export the metric table")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--month", help="only this month, YYYY-MM")
    p.add_argument("--by", action="append", help="group by a column (repeatable), e.g. channel, segment")
    p.add_argument("--tz", default="UTC", help="time zone of the monthly periods")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.add_argument("--errors", choices=("raise", "drop"), default="raise")
    p.add_argument("--sla", metavar="FILE.yaml", help="SLA targets in hours per priority (default: README table)")
    _add_engine_options(p, "pandas: in memory, validated, every metric; duckdb/spark: files read lazily and "
                           "validated by that engine (same --errors), every row (with ticket events the event rows "
                           "too), calendar or business hours (data beyond memory; docs/engines.md)")
    _add_calendar_options(p)
    p.set_defaults(func=_cmd_metrics)

    p = sub.add_parser("report", help="run the report notebooks for one month (papermill) and render HTML")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--month", help="report month YYYY-MM (default: the latest month with data)")
    p.add_argument("--out", default="reports", help="reports folder (default reports/)")
    p.add_argument("--notebooks", nargs="+", help="notebooks to run (default: the report notebooks 01_…06_ "
                   "of the source checkout, else those installed with slm)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time")
    p.add_argument("--tz", default="UTC", help="time zone of the monthly periods")
    p.add_argument("--segment", help="only customers of this segment (written to OUT/segment-NAME/)")
    p.add_argument("--months-back", type=int, default=12, help="months of history in trend figures")
    p.add_argument("--as-of", help="when the data were exported (ISO time; default: the latest timestamp in "
                   "them); a month the export ends in is reported as partial")
    _add_engine_options(p, "pandas: in memory, every notebook; duckdb/spark: the data read lazily by that engine "
                           "(data beyond memory), only the notebooks that run there (docs/engines.md)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("latest-month", help="print the latest month with data (YYYY-MM)")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--tz", default="UTC")
    p.set_defaults(func=_cmd_latest_month)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slm`` console script."""
    args = build_parser().parse_args(argv)
    try:
        with _memory_limit(getattr(args, "memory_limit", None)):
            return args.func(args)
    except SlmError as err:
        for line in str(err).splitlines():
            print(f"slm {args.command}: error: {line}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"slm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
