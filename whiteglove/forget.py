"""Forget a person: remove their values from everything an output folder holds.

GDPR article 17 (the right to erasure). `forget` finds the person's records (through the
crosswalks and the published tables), then rewrites every file that holds them: the published
tables of every retained snapshot, their DuckDB file, review queue, run summary, reports and
Data Docs, and the incremental working state under `.work/` (raw and standardized sources,
records, clusters, pairs, the linkage state, reports). It adds the person's identifiers, as
salted hashes, to the suppression list (whiteglove/suppression.py) so later runs keep them
out, and appends an entry without personal data to the audit log (`erasures.jsonl`).

Who the person is. The golden customer is the person as whiteglove knows them: whatever
identifies them (a golden id, a source record, an email, a phone) is resolved to golden ids,
and every record those golden customers hold is erased. In an older snapshot, a golden
customer built from any of those records is erased too: it was made from their values.

Per artifact, rows are dropped or emptied:
- dropped where a row is about the person and nothing else (golden customers, lineage,
  changes, crosswalk, records, clusters, match records, pairs, review pairs): an emptied
  golden row would still read as a customer, an emptied pair as a comparison that happened.
- emptied where the row is a count that must still add up: an input row of the person stays
  an input row. Their crosswalk rows become quarantine rows "erased on request" (source, file
  and row number only) and their raw and standardized rows in `.work/` keep their lineage with
  every value gone, exactly as a later run suppresses them (so the conservation check, every
  input row in the crosswalk or the quarantine, holds in what stays published).
- JSON documents (run summary, validations, model, metrics) keep their shape: any text that
  holds one of the person's values is replaced.
- a report page or Data Docs page that holds one of their values cannot be edited safely (its
  figures, charts and examples were computed with them), so it is replaced by a page that
  says it was removed; the next run writes it again. `forget` names each page it replaced.

"One of the person's values" is a value of their records that no other record holds: the
person's email or full name identifies them, a first name or city shared with others does not
(and removing every page that mentions "Madrid" would remove every report).

Atomic and crash-safe like publication: every file is rewritten under a temporary name and
renamed over the old one (whiteglove/atomic.py), so each file is either as it was or
rewritten; Parquet and DuckDB files are written anew, never patched (values would survive in
dictionary pages, statistics and DuckDB's freed blocks). The work runs under the folder's run
and publication locks, so no run publishes meanwhile. Before it changes anything it writes a
journal (`.forget.json`: the record keys and golden ids, no values) and the suppression
entries; a `forget` killed midway is finished by the next `whiteglove forget` on the folder.
Values are needed only by the first phase (text files), which runs while the tables that
yield them are still untouched; the second phase (tables) works from the journal's keys alone.
"""

from __future__ import annotations

import getpass
import html
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from whiteglove.atomic import remove_temporaries, write_atomically, write_text_atomically
from whiteglove.config import ValidityConfig
from whiteglove.layout import OutputLayout
from whiteglove.publish import (
    PUBLISH_LOCK,
    RUN_LOCK,
    OutputFolderError,
    PreviousPublication,
    check_output_folder,
    output_lock,
    remove_leftovers,
)
from whiteglove.schema import RECORD_KEY_COLUMNS
from whiteglove.suppression import SUPPRESSION_REASON, SuppressionList, standardized_value

ERASED_TEXT = "[erased on request]"
# A file of identifiers is read whole: bounded, it comes from outside.
MAX_REQUEST_BYTES = 1024 * 1024
# The audit log is read back (to append, and to know erased golden ids): bounded, like every
# file of the output folder; a million erasures fit.
MAX_LOG_BYTES = 1024 * 1024 * 1024
# Values this short ("Ana", "12") are never distinctive enough to search reports for.
MIN_VALUE_CHARS = 4
# Columns that never hold a person's values: ids, lineage, scores, flags, rules.
_NOT_PERSONAL = {
    "golden_id",
    *RECORD_KEY_COLUMNS,
    "country",
    "invalid_fields",
    "file",
    "loaded_at",
    "_file",
    "_loaded_at",
    "_source",
    "_row_number",
    "_reasons",
    "_invalid",
    "_defaulted",
    "_parse_error",
    "field",
    "rule",
    "agreeing_sources",
    "value_dated_at",
    "low_confidence",
    "unique_id",
}
_KEY_COLUMNS = (
    "record_key",
    "unique_id",
    "unique_id_l",
    "unique_id_r",
    "record_key_l",
    "record_key_r",
)
_TEXT_SUFFIXES = {".html", ".htm", ".json", ".csv", ".md", ".txt", ".svg", ".css", ".js"}
# Test hook, for tests/test_forget.py only: when set to "values" or "rows", `forget` says so
# on stderr after that many file rewrites of the phase and sleeps, so a test can kill it there.
PAUSE_VARIABLE = "WHITEGLOVE_TEST_PAUSE_IN_FORGET"
PAUSE_SECONDS = 120.0
REMOVED_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Page removed'
    "</title></head><body><h1>Page removed</h1><p>This page held values of a person erased "
    "on request ({when}), so it was removed. The next run of whiteglove writes it again."
    "</p></body></html>\n"
)


class ForgetError(RuntimeError):
    """An erasure cannot be done as asked: bad identifiers, nobody found, no output folder."""


@dataclass
class ForgetRequest:
    """What identifies the person: any number of each kind."""

    golden_ids: list[str] = field(default_factory=list)
    source_records: list[tuple[str, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.golden_ids or self.source_records or self.emails or self.phones)

    def kinds(self) -> dict[str, int]:
        """How many identifiers of each kind (the audit log keeps this, not the values)."""
        counts = {
            "golden_id": len(self.golden_ids),
            "source_record": len(self.source_records),
            "email": len(self.emails),
            "phone": len(self.phones),
        }
        return {k: n for k, n in counts.items() if n}

    def add(self, kind: str, value: str) -> None:
        value = value.strip()
        if not value or len(value) > 1000 or any(ord(c) < 32 for c in value):
            raise ForgetError(f"{kind}: give a non-empty value of printable characters")
        if kind == "golden_id":
            self.golden_ids.append(value)
        elif kind == "source_record":
            source, sep, record = value.partition(":")
            if not sep or not source.strip() or not record.strip():
                raise ForgetError(f"source record {value!r}: write it as SOURCE:ID")
            self.source_records.append((source.strip(), record.strip()))
        elif kind == "email":
            self.emails.append(value)
        elif kind == "phone":
            self.phones.append(value)
        else:
            raise ForgetError(
                f"unknown identifier kind {kind!r}; use golden_id, source_record, email or phone"
            )


def read_request_file(path: Path, request: ForgetRequest | None = None) -> ForgetRequest:
    """Identifiers from a file, one `kind=value` a line (`golden_id=G...`,
    `source_record=crm:C001`, `email=...`, `phone=...`); blank lines and `#` comments skipped."""
    request = ForgetRequest() if request is None else request
    if not path.is_file():
        raise ForgetError(f"{path}: not a file")
    if path.stat().st_size > MAX_REQUEST_BYTES:
        raise ForgetError(f"{path}: larger than {MAX_REQUEST_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ForgetError(f"{path}: not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, value = line.partition("=")
        if not sep:
            raise ForgetError(f"{path}, line {number}: write kind=value (e.g. email=ana@x.es)")
        try:
            request.add(kind.strip().replace("-", "_"), value)
        except ForgetError as exc:
            raise ForgetError(f"{path}, line {number}: {exc}") from None
    return request


@dataclass
class Erasure:
    """One erasure: what the journal and the audit log hold (no personal values)."""

    erasure_id: str
    started_at: str
    by: str
    kinds: dict[str, int]
    records: list[str]  # record keys "<source>:<id>"
    golden_ids: list[str]
    # (source, file, row_number) of every input row of the person, for the quarantine
    rows: list[list] = field(default_factory=list)
    phase: str = "values"
    files_changed: list[str] = field(default_factory=list)
    pages_replaced: list[str] = field(default_factory=list)
    suppression_entries: int = 0
    # what a check outside the folder found (`elsewhere`, e.g. the Dagster event log)
    outside: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return dict(self.__dict__)

    def figures(self) -> dict:
        """What the erasure found and changed, in counts and ids (the command's report and
        the audit log both say it)."""
        return {
            "golden_ids": self.golden_ids,
            "records": len(self.records),
            "input_rows": len(self.rows),
            "files_changed": len(self.files_changed),
            # pages that held the person's values, replaced by a "removed" page; the next run
            # writes them again
            "pages_replaced": self.pages_replaced,
            "suppression_entries": self.suppression_entries,
        }

    @classmethod
    def from_json(cls, data: dict) -> Erasure:
        return cls(**data)


@dataclass(frozen=True)
class ForgetOutcome:
    finished: list[Erasure]  # a pending erasure finished first, then this one
    already_erased: bool = False


def forget(
    out_dir: Path,
    request: ForgetRequest,
    by: str | None = None,
    lock_timeout: float = 0.0,
    elsewhere: Callable[[list[str]], dict] | None = None,
) -> ForgetOutcome:
    """Erase the person `request` identifies from `out_dir`; finish an interrupted erasure
    first. Raises ForgetError when nobody matches (and nothing says they were erased).

    `elsewhere(forms)` looks for the person outside the folder (the caller's Dagster
    instance: whiteglove/ knows no Dagster) with the texts to search for, and says what it
    found or did; its answer goes into the audit log.
    """
    layout = OutputLayout(Path(out_dir).resolve())
    if not layout.marker.is_file() or layout.marker.is_symlink():
        raise ForgetError(f"{layout.root} is not a whiteglove output folder")
    check_output_folder(layout)
    finished: list[Erasure] = []
    with output_lock(layout.root, RUN_LOCK, timeout=lock_timeout):
        # runs from the Dagster UI take only the publication lock
        with output_lock(layout.root, PUBLISH_LOCK, timeout=max(lock_timeout, 600.0)):
            remove_leftovers(layout.root)
            remove_temporaries(layout.work)
            pending = _read_journal(layout)
            if pending is not None:
                _carry_out(layout, pending, elsewhere)
                finished.append(pending)
            if not request:
                return ForgetOutcome(finished)
            suppression = SuppressionList.load(layout)
            person = find_person(layout, request)
            if not person.records and not person.golden_ids:
                if _already_erased(layout, request, suppression):
                    return ForgetOutcome(finished, already_erased=True)
                raise ForgetError(
                    f"no record of {layout.root} matches the identifiers given "
                    f"({', '.join(f'{n} {k}' for k, n in request.kinds().items())})"
                )
            erasure = Erasure(
                erasure_id=uuid.uuid4().hex[:12],
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                by=by or _os_user(),
                kinds=request.kinds(),
                records=sorted(person.records),
                golden_ids=sorted(person.golden_ids),
                rows=sorted(person.rows),
            )
            # the journal first: from here on, a killed forget is finished by the next one
            _write_journal(layout, erasure)
            erasure.suppression_entries = _suppress(layout, suppression, person, erasure)
            _write_journal(layout, erasure)
            _carry_out(layout, erasure, elsewhere)
            finished.append(erasure)
    return ForgetOutcome(finished)


@dataclass
class Person:
    records: set[str] = field(default_factory=set)
    golden_ids: set[str] = field(default_factory=set)
    rows: set[tuple[str, str, int]] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    national_ids: set[str] = field(default_factory=set)


def find_person(layout: OutputLayout, request: ForgetRequest) -> Person:
    """The person's records and golden ids, across the published snapshots and `.work/`."""
    person = Person()
    xrefs = _crosswalks(layout)
    golden = set(request.golden_ids)
    asked = {f"{s}:{r}" for s, r in request.source_records}
    country, validity = _standardizing(layout)
    emails = {e for v in request.emails if (e := standardized_value("email", v, country, validity))}
    phones = {p for v in request.phones if (p := standardized_value("phone", v, country, validity))}
    person.phones |= phones
    for records in _record_tables(layout):
        for kind, values in (("email", emails), ("phone", phones)):
            if values and kind in records.columns:
                asked |= set(records.filter(pl.col(kind).is_in(list(values)))["record_key"])
    for xref in xrefs:
        golden |= set(xref.filter(pl.col("record_key").is_in(list(asked)))["golden_id"])
    found_golden = set()
    records = set(asked)
    for golden_id in golden:
        # the records a golden id holds in the newest crosswalk that has it: in an older
        # one it may have held records that are somebody else's now
        for xref in xrefs:
            mine = xref.filter(pl.col("golden_id") == golden_id)
            if mine.height:
                records |= set(mine["record_key"])
                found_golden.add(golden_id)
                break
    person.rows, in_sources = _rows_of(layout, records)
    # a record id given is erased when a crosswalk or a source holds it (a quarantined row)
    crosswalked = {
        r
        for xref in xrefs
        for r in xref.filter(pl.col("record_key").is_in(list(records)))["record_key"]
    }
    person.records = crosswalked | in_sources
    person.golden_ids = found_golden
    for records_table in _record_tables(layout):
        mine = records_table.filter(pl.col("record_key").is_in(list(person.records)))
        for kind, target in (("email", person.emails), ("national_id", person.national_ids)):
            if kind in mine.columns:
                target |= {v for v in mine[kind].drop_nulls().cast(pl.String)}
    person.emails |= emails
    return person


def _crosswalks(layout: OutputLayout) -> list[pl.DataFrame]:
    """Every crosswalk the folder holds, as record_key, golden_id: the newest first (the
    working state's, then the snapshots' from the newest back)."""
    frames = []
    paths = [layout.asset_value("customer_xref", ".parquet")]
    paths += [s / "customer_xref.parquet" for s in reversed(_snapshots(layout))]
    for path in paths:
        if path.is_file():
            xref = pl.read_parquet(path)
            if "record_key" not in xref.columns:
                xref = xref.with_columns(
                    (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key")
                )
            frames.append(xref.select("record_key", "golden_id"))
    return frames


def _record_tables(layout: OutputLayout) -> Iterable[pl.DataFrame]:
    """Tables of standardized records with record_key, email, phone, national_id."""
    work = layout.asset_value("customer_records", ".parquet")
    if work.is_file():
        yield pl.read_parquet(work, columns=None)
    for snapshot in _snapshots(layout):
        path = snapshot / "match_records.parquet"
        if path.is_file():
            yield pl.read_parquet(path).rename({"unique_id": "record_key"})


def _rows_of(layout: OutputLayout, records: set[str]) -> tuple[set[tuple[str, str, int]], set[str]]:
    """(source, file, row number) of every input row carrying one of `records`' ids,
    duplicates included, from the standardized sources in `.work/`; and the ids found."""
    rows, found = set(), set()
    for path in sorted(layout.work.glob("standardized_*.parquet")) if layout.work.is_dir() else []:
        frame = pl.read_parquet(path, columns=["source", "source_record_id", "_file", "row_number"])
        keys = pl.col("source") + ":" + pl.col("source_record_id")
        mine = frame.filter(keys.is_in(list(records)))
        for source, file, row in mine.select("source", "_file", "row_number").iter_rows():
            rows.add((source, file, int(row)))
        found |= set(mine.select(keys.alias("key"))["key"])
    return rows, found


def _standardizing(layout: OutputLayout) -> tuple[str, ValidityConfig]:
    """The country and validity rules the latest run standardized with."""
    snapshot = PreviousPublication.pin(layout).snapshot
    path = snapshot / "match_settings.json" if snapshot else None
    if path and path.is_file():
        settings = json.loads(path.read_text(encoding="utf-8"))
        return str(settings["country"]), ValidityConfig.model_validate(settings["validity"])
    return "ES", ValidityConfig()


def _already_erased(layout: OutputLayout, request: ForgetRequest, suppression) -> bool:
    country, validity = _standardizing(layout)
    listed = [suppression.listed("record", f"{s}:{r}") for s, r in request.source_records]
    for kind, values in (("email", request.emails), ("phone", request.phones)):
        for value in values:
            std = standardized_value(kind, value, country, validity)
            listed.append(bool(std) and suppression.listed(kind, std))
    erased_ids = {g for entry in read_erasure_log(layout) for g in entry.get("golden_ids", [])}
    listed += [g in erased_ids for g in request.golden_ids]
    return bool(listed) and all(listed)


def _suppress(
    layout: OutputLayout, suppression: SuppressionList, person: Person, erasure: Erasure
) -> int:
    added = suppression.add("record", person.records, erasure.erasure_id)
    added += suppression.add("email", person.emails, erasure.erasure_id)
    added += suppression.add("national_id", person.national_ids, erasure.erasure_id)
    # phones only when given: a landline is shared by a household, and listing it would keep
    # the person's relatives out of later runs
    added += suppression.add("phone", person.phones, erasure.erasure_id)
    suppression.save(layout)
    return added


# --- carrying an erasure out -------------------------------------------------------------


def _carry_out(
    layout: OutputLayout, erasure: Erasure, elsewhere: Callable[[list[str]], dict] | None = None
) -> None:
    if erasure.phase == "values":
        values = distinctive_values(layout, set(erasure.records), set(erasure.golden_ids))
        if elsewhere is not None:
            erasure.outside = elsewhere(_forms(values))
        _scrub_text_files(layout, erasure, values)
        erasure.phase = "rows"
        _write_journal(layout, erasure)
    if erasure.phase == "rows":
        _rewrite_tables(layout, erasure)
        erasure.phase = "logged"
        _write_journal(layout, erasure)
    _log(layout, erasure)
    layout.forget_journal.unlink(missing_ok=True)


def distinctive_values(layout: OutputLayout, records: set[str], golden_ids: set[str]) -> set[str]:
    """The person's values (as the exports held them and as standardized) that no other
    record holds, at least MIN_VALUE_CHARS long.

    Two passes over the tables, so that only the person's few values are ever held in a set:
    theirs first, then which of them other rows hold too (a million records' values would
    not fit in memory as Python strings)."""
    mine: set[str] = set()
    for frame, is_mine in _value_tables(layout, records, golden_ids):
        for series in _value_columns(frame.filter(is_mine)):
            text = series.cast(pl.String).str.strip_chars()  # as the second pass sees them
            mine.update(text.drop_nulls().unique().to_list())
    mine = {v for v in mine if _searchable(v)}
    shared: set[str] = set()
    for frame, is_mine in _value_tables(layout, records, golden_ids):
        for series in _value_columns(frame.filter(~is_mine)):
            text = series.cast(pl.String).str.strip_chars()
            shared.update(text.filter(text.is_in(list(mine))).unique().to_list())
    return mine - shared


def _value_tables(
    layout: OutputLayout, records: set[str], golden_ids: set[str]
) -> Iterable[tuple[pl.DataFrame, pl.Expr]]:
    """Tables that hold records' values, each with which of its rows are the person's."""
    work = layout.work
    wanted = list(records)
    for path in sorted(work.glob("standardized_*.parquet")) if work.is_dir() else []:
        frame = pl.read_parquet(path)
        key = pl.col("source") + ":" + pl.col("source_record_id")
        yield frame.drop("record_key", "_raw"), key.is_in(wanted).fill_null(False)
        raw_path = path.with_name(path.name.replace("standardized_", "raw_", 1))
        if raw_path.is_file():
            rows = frame.filter(key.is_in(wanted).fill_null(False))
            positions = set(zip(rows["_file"], rows["row_number"], strict=True))
            raw = pl.read_parquet(raw_path)
            yield raw.drop("_raw"), pl.lit(_in_positions(raw, "_file", "_row_number", positions))
    for snapshot in _snapshots(layout):
        golden = snapshot / "golden_customers.parquet"
        if golden.is_file():
            yield pl.read_parquet(golden), pl.col("golden_id").is_in(list(golden_ids))
        lineage = snapshot / "golden_lineage.parquet"
        if lineage.is_file():
            yield pl.read_parquet(lineage), pl.col("record_key").is_in(wanted)


def _value_columns(frame: pl.DataFrame) -> Iterable[pl.Series]:
    for column in frame.columns:
        if column in _NOT_PERSONAL:
            continue
        series = frame.get_column(column)
        if series.dtype == pl.List(pl.String):
            yield series.explode()
        elif series.dtype != pl.Boolean and not isinstance(
            series.dtype, pl.List | pl.Struct | pl.Array
        ):  # a flag is nobody's value
            yield series


def _searchable(value: str) -> bool:
    """Long enough to say something about a person: a word of MIN_VALUE_CHARS, or a phone,
    date or id of 8 characters; not a short number (an amount, a count) that any page may
    print by chance."""
    if len(value) < MIN_VALUE_CHARS:
        return False
    return len(value) >= 8 or any(c.isalpha() for c in value)


def _forms(values: set[str]) -> list[str]:
    """How a value may be written in a text file: as is, HTML-escaped, JSON-escaped."""
    forms = set()
    for value in values:
        forms |= {value, html.escape(value), html.escape(value, quote=False)}
        forms.add(json.dumps(value)[1:-1])
    return sorted({f.casefold() for f in forms if f})


def _holds(text: str, forms: list[str]) -> bool:
    folded = text.casefold()
    return any(form in folded for form in forms)


def _scrub_text_files(layout: OutputLayout, erasure: Erasure, values: set[str]) -> None:
    """Phase 1: text files (JSON, HTML, CSV) and the quarantine's raw text, found by value."""
    forms = _forms(values)
    when = erasure.started_at[:10]
    roots = [*_snapshots(layout), layout.work] if layout.work.is_dir() else _snapshots(layout)
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            if path.name == "quarantine.parquet":
                _rewrite_parquet(
                    layout, erasure, path, partial(_erase_quarantine, erasure=erasure, forms=forms)
                )
            elif path.suffix in _TEXT_SUFFIXES and path.name != "review_queue.csv":
                _scrub_text_file(layout, erasure, path, forms, when)


def _scrub_text_file(
    layout: OutputLayout, erasure: Erasure, path: Path, forms: list[str], when: str
) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    if not forms or not _holds(text, forms):
        return
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if document is not None:
            scrubbed = _scrub_json(document, forms)
            _changed(layout, erasure, path)
            write_text_atomically(path, json.dumps(scrubbed, indent=2, default=str) + "\n")
            return
    # a page's figures, charts and examples were computed with the person's values: it
    # cannot be edited safely, so it is replaced and named
    page = REMOVED_PAGE.format(when=html.escape(when))
    if path.suffix not in (".html", ".htm"):
        page = f"removed: it held values of a person erased on request ({when})\n"
    write_text_atomically(path, page)
    _changed(layout, erasure, path, replaced=True)


def _scrub_json(value, forms: list[str]):
    if isinstance(value, dict):
        return {
            (ERASED_TEXT if _holds(str(k), forms) else k): _scrub_json(v, forms)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_json(v, forms) for v in value]
    if isinstance(value, str) and _holds(value, forms):
        return ERASED_TEXT
    return value


def _erase_quarantine(frame: pl.DataFrame, erasure: Erasure, forms: list[str]) -> pl.DataFrame:
    """Quarantined rows of the person (their ids, or their values in the raw text) keep
    their place and reasons, and lose their id and raw text."""
    key = pl.col("source") + ":" + pl.col("source_record_id")
    by_value = (
        frame.get_column("raw").map_elements(
            lambda raw: _holds(raw, forms), return_dtype=pl.Boolean, skip_nulls=True
        )
        if forms and frame.height
        else pl.Series([False] * frame.height)
    )
    hit = key.is_in(erasure.records).fill_null(False) | pl.lit(by_value.fill_null(False))
    return _empty_quarantine_rows(frame, hit)


def _empty_quarantine_rows(frame: pl.DataFrame, hit: pl.Expr) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(hit).then(None).otherwise(pl.col("source_record_id")).alias("source_record_id"),
        pl.when(hit).then(pl.lit("")).otherwise(pl.col("raw")).alias("raw"),
        pl.when(hit & ~pl.col("reasons").list.contains(SUPPRESSION_REASON))
        .then(pl.col("reasons").list.concat(pl.lit([SUPPRESSION_REASON])))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
    )


def _rewrite_tables(layout: OutputLayout, erasure: Erasure) -> None:
    """Phase 2: tables, by the journal's record keys and golden ids."""
    records = set(erasure.records)
    for snapshot in _snapshots(layout):
        xref_path = snapshot / "customer_xref.parquet"
        xref = pl.read_parquet(xref_path) if xref_path.is_file() else None
        golden = set(erasure.golden_ids)
        gone = pl.DataFrame()
        if xref is not None:
            key = pl.col("source") + ":" + pl.col("source_record_id")
            gone = xref.filter(key.is_in(list(records)))
            golden |= set(gone["golden_id"])
        # the crosswalk last: until it is rewritten, a re-run still sees which input rows
        # move to the quarantine and how many the summary moves there
        quarantine = snapshot / "quarantine.parquet"
        drop = partial(_drop_person, records=records, golden=golden)
        if quarantine.is_file() and gone.height:
            add = partial(_add_erased, gone=gone, erasure=erasure)
            _rewrite_parquet(layout, erasure, quarantine, add)
        for path in sorted(snapshot.glob("*.parquet")):
            if path.name not in ("quarantine.parquet", "customer_xref.parquet"):
                _rewrite_parquet(layout, erasure, path, drop)
        summary = snapshot / "run_summary.json"
        if summary.is_file() and gone.height:
            _recount_summary(layout, erasure, summary, gone, xref.height - gone.height)
        if xref is not None:
            _rewrite_parquet(layout, erasure, xref_path, drop)
        review = snapshot / "review_queue.csv"
        if review.is_file():
            _rewrite_review_csv(layout, erasure, review, records, golden)
        database = snapshot / "customers.duckdb"
        if database.is_file():
            _rebuild_database(layout, erasure, database, snapshot, records, golden)
    if layout.work.is_dir():
        _rewrite_work(layout, erasure, records)


def _rewrite_work(layout: OutputLayout, erasure: Erasure, records: set[str]) -> None:
    work = layout.work
    rows: dict[str, set[tuple[str, int]]] = {}
    for source, file, row in erasure.rows:
        rows.setdefault(source, set()).add((file, int(row)))
    xref_path = layout.asset_value("customer_xref", ".parquet")
    golden = set(erasure.golden_ids)
    if xref_path.is_file():
        xref = pl.read_parquet(xref_path)
        gone = xref.filter(pl.col("record_key").is_in(list(records)))
        golden |= set(gone["golden_id"])
        quarantine = layout.asset_value("quarantine", ".parquet")
        if quarantine.is_file() and gone.height:
            add = partial(_add_erased, gone=gone, erasure=erasure)
            _rewrite_parquet(layout, erasure, quarantine, add)
    drop = partial(_drop_person, records=records, golden=golden)
    for path in sorted(work.rglob("*.parquet")):
        name = path.stem
        if name.startswith("raw_") and path.parent == work:
            positions = rows.get(name[len("raw_") :], set())
            _rewrite_parquet(layout, erasure, path, partial(_empty_raw, positions=positions))
        elif name.startswith("standardized_") and path.parent == work:
            positions = rows.get(name[len("standardized_") :], set())
            empty = partial(_empty_standardized, positions=positions)
            _rewrite_parquet(layout, erasure, path, empty)
        elif name not in ("quarantine", "customer_xref"):
            _rewrite_parquet(layout, erasure, path, drop)
    if xref_path.is_file():
        _rewrite_parquet(layout, erasure, xref_path, drop)
    # the stored sources no longer are what their exports give: an incremental run must
    # rebuild them (and suppress the person) rather than reuse them
    for path in sorted(work.glob("*_validation.json")):
        if path.name.startswith(("raw_", "standardized_")):
            document = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and document.get("built_from"):
                document["built_from"] = None
                write_text_atomically(path, json.dumps(document, indent=2, default=str))
                _changed(layout, erasure, path)


def _in_positions(frame: pl.DataFrame, file: str, row: str, positions: set) -> pl.Series:
    if not positions or frame.height == 0:
        return pl.Series([False] * frame.height, dtype=pl.Boolean)
    wanted = pl.DataFrame(
        [(f, int(r)) for f, r in positions], schema={file: pl.String, row: pl.Int64}, orient="row"
    ).with_columns(pl.lit(True).alias("__hit"))
    keys = frame.select(pl.col(file).cast(pl.String), pl.col(row).cast(pl.Int64))
    return keys.join(wanted, on=[file, row], how="left", maintain_order="left")["__hit"].fill_null(
        False
    )


def _empty_raw(frame: pl.DataFrame, positions: set) -> pl.DataFrame:
    from whiteglove.suppression import blank_raw_rows

    hit = _in_positions(frame, "_file", "_row_number", positions)
    return blank_raw_rows(frame, hit) if hit.any() else frame


def _empty_standardized(frame: pl.DataFrame, positions: set) -> pl.DataFrame:
    hit = _in_positions(frame, "_file", "row_number", positions)
    if not hit.any():
        return frame
    kept = {"source", "row_number", "trust", "_file", "_loaded_at"}
    flag = pl.lit(hit)
    columns = []
    for name, dtype in frame.schema.items():
        if name in kept:
            continue
        if name == "_raw":
            value = pl.lit("")
        elif name == "_reasons":
            value = pl.lit([SUPPRESSION_REASON], dtype=dtype)
        elif name in ("_invalid", "_defaulted"):
            value = pl.lit([], dtype=dtype)
        elif name == "record_key":
            # a suppressed row has no id: its key is its row, as standardize_source makes it
            value = pl.col("source") + ":#row" + pl.col("row_number").cast(pl.String)
        else:
            value = pl.lit(None, dtype=dtype)
        columns.append(pl.when(flag).then(value).otherwise(pl.col(name)).alias(name))
    return frame.with_columns(columns)


def _drop_person(frame: pl.DataFrame, records: set[str], golden: set[str]) -> pl.DataFrame:
    """Rows about the person dropped: by golden id, by record key, by source and record id."""
    drop = pl.lit(False)
    if "golden_id" in frame.columns:
        drop = drop | pl.col("golden_id").is_in(list(golden)).fill_null(False)
    for column in _KEY_COLUMNS:
        if column in frame.columns:
            drop = drop | pl.col(column).cast(pl.String).is_in(list(records)).fill_null(False)
    if {"source", "source_record_id"} <= set(frame.columns):
        key = pl.col("source") + ":" + pl.col("source_record_id").cast(pl.String)
        drop = drop | key.is_in(list(records)).fill_null(False)
    frame = frame.filter(~drop)
    if "merged_into" in frame.columns:
        # the golden customer it merged into is gone
        frame = frame.with_columns(
            pl.when(pl.col("merged_into").is_in(list(golden)))
            .then(None)
            .otherwise(pl.col("merged_into"))
            .alias("merged_into")
        )
    return frame


def _add_erased(quarantine: pl.DataFrame, gone: pl.DataFrame, erasure: Erasure) -> pl.DataFrame:
    """The person's crosswalk rows, as quarantine rows "erased on request": the input rows
    stay counted. Rows already added (a re-run) are not added again."""
    files = {(s, int(r)): f for s, f, r in erasure.rows}  # (source, row) -> file
    added = pl.DataFrame(
        {
            "source": gone["source"],
            "row_number": gone["row_number"].cast(pl.Int64),
            "source_record_id": pl.Series([None] * gone.height, dtype=pl.String),
            "file": pl.Series(
                [files.get(key) for key in zip(gone["source"], gone["row_number"], strict=True)],
                dtype=pl.String,
            ),
            "raw": pl.Series([""] * gone.height, dtype=pl.String),
            "reasons": pl.Series([[SUPPRESSION_REASON]] * gone.height, dtype=pl.List(pl.String)),
        }
    )
    present = quarantine.filter(pl.col("reasons").list.contains(SUPPRESSION_REASON)).select(
        "source", "row_number"
    )
    added = added.join(present, on=["source", "row_number"], how="anti")
    if added.height == 0:
        return quarantine
    merged = pl.concat([quarantine, added.select(quarantine.columns)], how="vertical_relaxed")
    return merged.sort("source", "file", "row_number", nulls_last=True)


def _recount_summary(
    layout: OutputLayout, erasure: Erasure, path: Path, gone: pl.DataFrame, xref_rows: int
) -> None:
    """The summary's counts moved as the rows moved: accepted -> quarantined. Done once per
    erasure (the summary names the erasures it counts)."""
    summary = json.loads(path.read_text(encoding="utf-8"))
    erasures = summary.setdefault("erasures", [])
    if any(e.get("erasure") == erasure.erasure_id for e in erasures):
        return
    for source, n in gone.group_by("source").len().iter_rows():
        counts = summary.get("sources", {}).get(source)
        if isinstance(counts, dict):
            counts["accepted"] = counts.get("accepted", 0) - n
            counts["quarantined"] = counts.get("quarantined", 0) + n
    stages = summary.get("stages", {})
    if isinstance(stages, dict):
        for name, delta in (("customer_records", -gone.height), ("quarantine", gone.height)):
            if isinstance(stages.get(name), int):
                stages[name] += delta
        # the other tables of the snapshot are rewritten by now: their heights as they are
        for table in path.parent.glob("*.parquet"):
            if table.stem in stages and table.stem not in ("quarantine", "customer_xref"):
                stages[table.stem] = pl.scan_parquet(table).select(pl.len()).collect().item()
        if "customer_xref" in stages:
            stages["customer_xref"] = xref_rows
    erasures.append(
        {"erasure": erasure.erasure_id, "at": erasure.started_at, "records": gone.height}
    )
    write_text_atomically(path, json.dumps(summary, indent=2, default=str) + "\n")
    _changed(layout, erasure, path)


def _rewrite_parquet(
    layout: OutputLayout,
    erasure: Erasure,
    path: Path,
    change: Callable[[pl.DataFrame], pl.DataFrame],
) -> None:
    frame = pl.read_parquet(path)
    changed = change(frame)
    if changed.height == frame.height and changed.equals(frame, null_equal=True):
        return
    # the column descriptions publication put in the field metadata stay with the columns
    schema = _field_metadata(pq.read_schema(path), changed)
    # written anew, not patched: a value would survive in a dictionary page or in the
    # min/max statistics of a row group
    in_work = layout.work in path.parents
    write_atomically(
        path,
        lambda tmp: changed.write_parquet(
            tmp,
            compression="lz4" if in_work else "zstd",
            statistics=not in_work,
            arrow_schema=schema,
        ),
    )
    _changed(layout, erasure, path)


def _field_metadata(original: pa.Schema, frame: pl.DataFrame) -> pa.Schema | None:
    """The frame's Arrow schema with the original file's per-column metadata (None: the
    original had none)."""
    described = {f.name: f.metadata for f in original if f.metadata}
    if not described:
        return None
    schema = frame.head(0).to_arrow().schema
    return pa.schema(
        [f.with_metadata(described[f.name]) if f.name in described else f for f in schema]
    )


def _rewrite_review_csv(
    layout: OutputLayout, erasure: Erasure, path: Path, records: set[str], golden: set[str]
) -> None:
    """The review queue without the person's pairs; the lines kept are written as they were
    (cells stay spreadsheet-safe as published, the '#' note above the header stays)."""
    data = path.read_bytes()
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    lines = data[len(bom) :].splitlines(keepends=True)
    note = b"".join(line for line in lines if line.startswith(b"#"))
    body = data[len(bom) + len(note) :]
    frame = pl.read_csv(body, infer_schema=False)  # every cell as text, as written
    keep = _drop_person(frame, records, golden)
    if keep.height == frame.height:
        return

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            fh.write(bom + note)
            keep.write_csv(fh)

    write_atomically(path, write)
    _changed(layout, erasure, path)


def _rebuild_database(
    layout: OutputLayout,
    erasure: Erasure,
    database: Path,
    snapshot: Path,
    records: set[str],
    golden: set[str],
) -> None:
    """customers.duckdb written anew from the snapshot's rewritten tables.

    Deleting rows in place would leave their values in the file's freed blocks."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()]
        comments = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where comment is not null and comment <> ''"
        ).fetchall()
        frames = {}
        for table in tables:
            parquet = snapshot / f"{table}.parquet"
            if not parquet.is_file():  # not published as Parquet: filtered here
                frames[table] = _drop_person(
                    pl.from_arrow(con.sql(f"select * from {_identifier(table)}").to_arrow_table()),
                    records,
                    golden,
                )
    finally:
        con.close()

    def write(tmp: Path) -> None:
        out = duckdb.connect(str(tmp), config={"preserve_insertion_order": False})
        try:
            _fill_database(out, tables, frames, snapshot)
            for table, column, comment in comments:
                # the column descriptions publication wrote, as they were
                out.execute(
                    f"comment on column {_identifier(table)}.{_identifier(column)} "
                    f"is {_literal(comment)}"
                )
        finally:
            out.close()

    if _database_holds(database, snapshot, tables, records, golden, frames):
        write_atomically(database, write)
        _changed(layout, erasure, database)


def _fill_database(
    out: duckdb.DuckDBPyConnection, tables: list[str], frames: dict, snapshot: Path
) -> None:
    for table in tables:
        if table in frames:
            out.register("erased_rows", frames[table].to_arrow())
            out.execute(f"create table {_identifier(table)} as select * from erased_rows")
            out.unregister("erased_rows")
        else:
            out.execute(
                f"create table {_identifier(table)} as select * from read_parquet($1)",
                [str(snapshot / f"{table}.parquet")],
            )


def _database_holds(database, snapshot, tables, records, golden, frames) -> bool:
    """Whether the database differs from the snapshot's rewritten tables (row counts)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        for table in tables:
            rows = con.execute(f"select count(*) from {_identifier(table)}").fetchone()[0]
            if table in frames:
                expected = frames[table].height
            else:
                parquet = pl.scan_parquet(snapshot / f"{table}.parquet")
                expected = parquet.select(pl.len()).collect().item()
            if rows != expected:
                return True
        return False
    finally:
        con.close()


def _literal(text: str) -> str:
    # as whiteglove/publish.py writes them: COMMENT ON takes no bound parameter
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _snapshots(layout: OutputLayout) -> list[Path]:
    if not layout.snapshots.is_dir():
        return []
    return sorted(
        p
        for p in layout.snapshots.iterdir()
        if not p.name.startswith(".") and p.is_dir() and not p.is_symlink()
    )


def _changed(layout: OutputLayout, erasure: Erasure, path: Path, replaced: bool = False) -> None:
    name = path.relative_to(layout.root).as_posix()
    target = erasure.pages_replaced if replaced else erasure.files_changed
    if name not in target:
        target.append(name)
    _pause(erasure)


def _pause(erasure: Erasure) -> None:
    import sys
    import time

    if os.environ.get(PAUSE_VARIABLE) == erasure.phase:
        print(f"whiteglove-test: paused in forget at {erasure.phase}", file=sys.stderr, flush=True)
        time.sleep(PAUSE_SECONDS)


# --- journal and audit log ---------------------------------------------------------------


def _write_journal(layout: OutputLayout, erasure: Erasure) -> None:
    write_text_atomically(layout.forget_journal, json.dumps(erasure.as_json(), indent=1) + "\n")


def _read_journal(layout: OutputLayout) -> Erasure | None:
    path = layout.forget_journal
    if not path.is_file() or path.is_symlink():
        return None
    try:
        return Erasure.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise ForgetError(
            f"{path} records an erasure in progress but cannot be read ({exc}); "
            "run the erasure again with the same identifiers after removing it"
        ) from None


def _log(layout: OutputLayout, erasure: Erasure) -> None:
    """Append the erasure to the audit log, once (a re-run does not log it twice)."""
    entries = read_erasure_log(layout)
    if any(e.get("erasure") == erasure.erasure_id for e in entries):
        return
    entry = {
        "erasure": erasure.erasure_id,
        "at": erasure.started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": erasure.by,
        "identifiers": erasure.kinds,
        **erasure.figures(),
        "outside": erasure.outside,
    }
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in [*entries, entry])
    write_text_atomically(layout.erasure_log, text)


def read_erasure_log(layout: OutputLayout) -> list[dict]:
    path = layout.erasure_log
    if not path.is_file() or path.is_symlink():
        return []
    if path.stat().st_size > MAX_LOG_BYTES:
        raise ForgetError(f"{path} is larger than {MAX_LOG_BYTES} bytes: not whiteglove's log")
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


__all__ = [
    "ForgetError",
    "ForgetOutcome",
    "ForgetRequest",
    "OutputFolderError",
    "forget",
    "read_erasure_log",
    "read_request_file",
]
