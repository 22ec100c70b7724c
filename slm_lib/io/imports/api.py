"""Public entry points of the imports (SPEC §9, §10): ``read_export`` and ``import_exports``."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from collections.abc import Iterable

import pandas as pd

from slm_lib.errors import ConfigError, DataValidationError, MappingError
from slm_lib.io.dataset import Dataset, make_quality
from slm_lib.io.imports.block import BlockResult, apply_block, cast_canonical, matches
from slm_lib.io.imports.convert import check_timezone
from slm_lib.io.imports.identity import KEYS
from slm_lib.io.imports.mapping import load_mapping
from slm_lib.io.imports.merge import combine, merge_customers, seen_customers
from slm_lib.io.imports.reconcile import VENDOR_FILE, read_vendor_durations, vendor_durations
from slm_lib.schema import TABLES, empty_frame

ERRORS = ("raise", "drop")
Paths = str | os.PathLike | Iterable[str | os.PathLike]


def _expand(paths: Paths) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            out.extend(sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")))
        elif item.is_file():
            out.append(item)
        else:
            raise MappingError(f"{item}: export file not found")
    if not out:
        raise MappingError("no export files given")
    return out


def _check_files(mapping: dict, paths: list[Path]) -> None:
    patterns = [p for blocks in mapping["tables"].values() for b in blocks
                for p in b["files"] + [q for j in b["joins"] for q in j["files"]]]
    stray = [p.name for p in paths if not matches(p, patterns)]
    if stray:
        raise MappingError(f"{', '.join(stray)}: not a file of mapping '{mapping['name']}' "
                           f"(expected names like {', '.join(sorted(set(patterns)))})")


def _run(source: str | os.PathLike, paths: Paths, tz: str | None, key: str, hash_salt: str | None,
         errors: str) -> tuple[Dataset, pd.DataFrame, pd.DataFrame, list[pd.Series | None]]:
    """Run a mapping: the Dataset, the per-file summary, the customers the export itself holds
    and, per summary row of ticket_events, the ticket ids of its events (None for other rows)."""
    if key not in KEYS:
        raise ConfigError(f"key must be one of {', '.join(KEYS)}, got {key!r}")
    if errors not in ERRORS:
        raise ConfigError(f"errors must be one of {', '.join(ERRORS)}, got {errors!r}")
    mapping = load_mapping(source)
    user_tz = check_timezone(tz) if tz is not None else None
    source_tz = check_timezone(mapping["tz"]) if mapping["tz"] else user_tz
    files = _expand(paths)
    _check_files(mapping, files)
    ctx = {"tz": source_tz, "key": key, "salt": hash_salt, "mapping": mapping["name"]}
    results: list[BlockResult] = [apply_block(block, table, path, files, ctx)
                                  for table, blocks in mapping["tables"].items() for block in blocks
                                  for path in files if matches(path, block["files"])]
    problems = [p for r in results for p in r.problems]
    if problems and errors == "raise":
        raise DataValidationError(problems)
    quality, rows, event_tickets = [], [], []
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for r in results:
        counts = dict(r.counts)
        kept = r.frame[~r.bad.to_numpy()]
        if errors == "drop" and r.bad.any():
            counts["dropped_invalid"] = int(r.bad.sum())
            quality += [{"table": p.table, "file": p.file, "column": p.column, "rule": p.rule, "n_rows": p.n_rows,
                         "example_rows": ", ".join(map(str, p.example_rows)), "action": "dropped"}
                        for p in r.problems]
        quality += [{"table": r.table, "file": r.file, "column": "", "rule": f"filtered by mapping: {k[8:]}",
                     "n_rows": v, "example_rows": "", "action": "dropped"}
                    for k, v in r.counts.items() if k.startswith("dropped_") and v]
        quality += [{"table": r.table, "file": r.file, "column": column, "rule": rule, "n_rows": len(r.frame),
                     "example_rows": "", "action": "info"} for column, rule in r.notes.items()]
        rows.append({"table": r.table, "part": r.part, "file": r.file, **counts, "rows_kept": len(kept),
                     "columns_not_in_file": ", ".join(r.notes)})
        event_tickets.append(kept["ticket_id"] if r.table == "ticket_events" else None)
        frames[r.table].append(kept.drop(columns=["_file", "_row"]))
    tables = {}
    for table in TABLES:
        parts = [f for f in frames[table] if len(f)]
        frame = pd.concat(parts, ignore_index=True) if parts else empty_frame(table)
        tables[table] = combine(empty_frame(table), cast_canonical(frame, table), table)
        repeated = len(frame) - len(tables[table])
        if repeated:
            quality.append({"table": table, "file": "", "column": "", "n_rows": repeated, "example_rows": "",
                            "rule": "repeated id in the export: the later row replaces the earlier one",
                            "action": "info"})
    has_customers = bool(frames["customers"])
    exported = tables["customers"]
    tables["customers"] = merge_customers(empty_frame("customers"), exported, seen_customers(tables))
    summary = pd.DataFrame(rows)
    if summary.empty:
        raise MappingError(f"none of the files given is read by mapping '{mapping['name']}'")
    drops = sorted(c for c in summary.columns if c.startswith("dropped_"))
    summary[drops] = summary[drops].fillna(0).astype("int64")
    absent = ["columns_not_in_file"] if summary["columns_not_in_file"].ne("").any() else []
    summary = summary[["table", "part", "file", "rows_read", "rows_kept", *drops, *absent]]
    if not has_customers:
        quality.append({"table": "customers", "file": "", "column": "customer_id",
                        "rule": "customers inferred from keys seen (signup_at = first seen, segment unknown)",
                        "n_rows": len(tables["customers"]), "example_rows": "", "action": "info"})
    ds = Dataset(**tables, quality=make_quality(quality), source=f"import:{mapping['name']}")
    return ds, summary, exported, event_tickets


def read_export(source: str | os.PathLike, paths: Paths, tz: str | None = None, key: str = "id",
                hash_salt: str | None = None, errors: str = "raise") -> Dataset:
    """Read vendor exports into a canonical Dataset through a mapping (SPEC §10).

    Parameters
    ----------
    source : str or path-like
        A built-in mapping name (``"zendesk"``, ``"delighted"``, ``"stripe"``, ... see
        :func:`slm_lib.io.imports.mapping.builtin_mappings`) or the path of a YAML mapping.
    paths : path or iterable of paths
        Export files (or directories of them); each file goes to the mapping blocks whose
        name patterns it matches.
    tz : str, optional
        IANA time zone of timestamps written without an offset. Required when the export
        has such values and the mapping does not fix the zone; never guessed. A mapping
        that fixes the zone (``tz: UTC`` for exports documented as UTC) takes precedence;
        an unknown zone is an error either way.
    key : {"id", "email"}
        Customer identity: the vendor's customer id or the lower-cased e-mail.
    hash_salt : str, optional
        Replace customer keys by ``sha256(salt + key)[:16]`` (hex).
    errors : {"raise", "drop"}
        Rows the mapping cannot convert raise one DataValidationError listing every
        problem, or are dropped and recorded in ``quality``.

    Returns
    -------
    Dataset
        Canonical tables (vendor figures kept by the mapping follow as extra columns,
        e.g. ``vendor_frt_business_h``); ``customers`` is inferred from the keys seen
        when the export has no customer file; ``quality`` lists filtered and invalid rows,
        and (``action`` "info") optional or preferred fallback columns a file lacks.

    Raises
    ------
    MappingError
        Bad mapping, unknown source, missing column (with the closest columns), local
        times without a time zone.
    ConfigError
        Unknown time zone or key.
    DataValidationError
        Values that cannot be converted (file, column, count, example rows).

    Examples
    --------
    >>> ds = read_export("zendesk", ["tickets.json", "ticket_metrics.json"])   # doctest: +SKIP
    >>> ds.tickets.channel.value_counts()                                      # doctest: +SKIP
    """
    return _run(source, paths, tz, key, hash_salt, errors)[0]


def _unlink_unknown_tickets(ds: Dataset) -> tuple[Dataset, int]:
    """Surveys pointing at tickets the directory does not hold keep the survey, lose the link."""
    if ds.tickets.empty or ds.surveys.empty:
        return ds, 0
    unknown = ds.surveys["ticket_id"].notna() & ~ds.surveys["ticket_id"].isin(ds.tickets["ticket_id"])
    if unknown.any():
        ds.surveys = ds.surveys.assign(ticket_id=ds.surveys["ticket_id"].mask(unknown))
    return ds, int(unknown.sum())


def combine_vendor(old: pd.DataFrame, new: pd.DataFrame, tickets: pd.Series) -> pd.DataFrame:
    """Vendor figures by ticket_id: the newer import wins, only tickets the directory holds.

    Examples
    --------
    >>> old = pd.DataFrame({"ticket_id": ["1"], "vendor_frt_business_h": [1.0]})
    >>> new = pd.DataFrame({"ticket_id": ["1"], "vendor_frt_business_h": [2.0]})
    >>> combine_vendor(old, new, pd.Series(["1"]))["vendor_frt_business_h"].tolist()
    [2.0]
    """
    both = pd.concat([f for f in (old, new) if len(f)], ignore_index=True) if len(old) or len(new) else new
    both = both[both["ticket_id"].isin(tickets)].drop_duplicates("ticket_id", keep="last")
    return both.sort_values("ticket_id", kind="stable").reset_index(drop=True)


def _has_rows(path: Path) -> bool:
    """Whether a canonical CSV exists and holds at least one data row."""
    if not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        return handle.readline() != "" and handle.readline().strip() != ""


def import_exports(source: str | os.PathLike, paths: Paths, out_dir: str | os.PathLike, tz: str | None = None,
                   key: str = "id", hash_salt: str | None = None, errors: str = "raise") -> pd.DataFrame:
    """Import vendor exports into a canonical data directory, merging with what is there.

    Several sources combine in one directory; the same export imported twice adds
    nothing; a newer export updates rows by id (see :mod:`slm_lib.io.imports.merge`).
    The merged tables are validated (:func:`slm_lib.io.load.validate`) and written to a
    temporary directory first, then renamed into place: nothing is written when anything
    fails. A survey whose ticket is not in the directory (e.g. a rating of a merged or
    deleted ticket) is kept with ``ticket_id`` cleared, counted as ``unlinked_ticket``; a
    ticket event whose ticket is not in the directory (the history of a deleted or merged
    ticket, or of a ticket not exported) is dropped, counted as ``dropped_unknown_ticket``.
    Vendor figures kept as ``vendor_*`` ticket columns go to ``vendor_durations.csv``
    (:func:`slm_lib.io.imports.reconcile.read_vendor_durations`).

    Parameters
    ----------
    source, paths, tz, key, hash_salt, errors
        As for :func:`read_export`.
    out_dir : str or path-like
        Canonical data directory (created if needed).

    Returns
    -------
    pandas.DataFrame
        One row per (table, mapping block, file): ``table``, ``part`` (the block's
        description, e.g. Stripe ``payments`` / ``refunds``), ``file``, ``rows_read``
        (after ``where``), ``rows_kept``, ``dropped_<reason>``..., ``dropped_invalid``
        (``errors="drop"``), ``dropped_unknown_ticket`` (ticket events, only when some were
        dropped), ``columns_not_in_file`` (only when a file lacks optional or preferred
        fallback columns of the mapping: their names), ``unlinked_ticket``.

    Examples
    --------
    >>> import_exports("stripe", ["unified_payments.csv"], "data/")            # doctest: +SKIP
    """
    from slm_lib.io.load import load_data, validate
    from slm_lib.io.save import save_data

    imported, summary, exported_customers, event_tickets = _run(source, paths, tz, key, hash_salt, errors)
    target = Path(out_dir)
    if list(target.glob("*.parquet")):
        raise MappingError(f"{target}: holds Parquet tables; imports merge into CSV directories only")
    present = [t for t in TABLES if _has_rows(target / f"{t}.csv")]
    existing = load_data(target, tables=present) if present else Dataset()
    merged = Dataset(**{t: combine(getattr(existing, t), getattr(imported, t), t)
                        for t in ("tickets", "surveys", "revenue", "ticket_events")}, source=str(target))
    inferred = seen_customers(merged.tables())
    merged.customers = merge_customers(existing.customers, exported_customers, inferred)
    merged, unlinked = _unlink_unknown_tickets(merged)
    known = merged.tickets["ticket_id"]
    unknown = [0 if ids is None else int((~ids.isin(known)).sum()) for ids in event_tickets]
    if any(unknown):
        summary.insert(summary.columns.get_loc("rows_kept") + 1, "dropped_unknown_ticket", unknown)
    merged.ticket_events = merged.ticket_events[merged.ticket_events["ticket_id"].isin(known)]
    summary["unlinked_ticket"] = 0
    if unlinked:
        first = summary.index[summary["table"].eq("surveys")]
        summary.loc[first[:1] if len(first) else summary.index[:1], "unlinked_ticket"] = unlinked
    checked = validate(merged)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=target))
    vendor = combine_vendor(read_vendor_durations(target), vendor_durations(imported.tickets),
                            checked.tickets["ticket_id"])
    try:
        written = save_data(checked, staging)
        if len(vendor):
            vendor.to_csv(staging / VENDOR_FILE, index=False, lineterminator="\n", na_rep="")
            written.append(staging / VENDOR_FILE)
        for path in written:
            os.replace(path, target / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary
