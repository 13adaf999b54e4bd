"""What an incremental run reads of a source whose exports grew: only what was appended.

A source's exports grew when every file read last time is still there and unchanged by
content, except that the last file read may have had bytes appended (CSV or JSON lines: the
file starts with exactly the bytes read before, which ended at a line break with no quoted
field left open), and the files new to a glob sort after all of them. Then only the new
lines and files are read, numbered on from where each file stopped, and appended to the
stored raw and standardized tables. Each stage's checks still run over the whole table it
stores, so a record id repeated across old and new rows is still found.

The appended rows are what a whole extraction of the same files gives them, row for row
(`_file`, `_row_number`, values, quarantine reasons, a repeated id's "first seen at"), except
`_loaded_at`, which is when the row was loaded: rows read before keep theirs. Rows must come
after every row read before in the order the whole source is read, because that order
decides which of two rows with one record id is the duplicate: so only the last file may
grow, and new files must sort last.

Anything else is read whole, as a full run reads every source: a file that shrank, changed
before its end, was removed or replaced, a grown Parquet file, new JSON-lines values that
would retype a column, changed settings, suite, code or suppression list (people erased on
request), stored tables whose validation failed or that an erasure rewrote, or no record of
what was read (tables a run before this code stored).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from whiteglove.config import SourceConfig, SourcesConfig
from whiteglove.extract import FileRead, Part, PrefixChanged, extract_parts, in_lineage_order
from whiteglove.inputs import export_problem
from whiteglove.layout import OutputLayout
from whiteglove.schema import VALIDATION_SUFFIX
from whiteglove.standardize import format_anchor_rows, standardize_source
from whiteglove.suppression import SUPPRESSION_REASON, SuppressionList, suppress_raw

# Keys of the raw validation: what was read (for the next run to compare with) and, when
# rows were appended, to which stored tables (for the standardize step to append to).
READ_KEY = "read"
APPENDED_KEY = "appended_to"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class AppendPlan:
    """The new parts of a source's files, and the stored tables their rows follow."""

    parts: list[Part]
    kept: list[FileRead]  # files read before and unchanged: their stored rows stay
    grown: FileRead | None  # what was read before of the file that grew, if one did
    previous: str  # the fingerprint the stored tables were built from
    rows_before: int  # rows of the stored tables


@dataclass(frozen=True)
class Extraction:
    """A source's raw table, and how much of it was read in this run."""

    frame: pl.DataFrame
    reads: list[FileRead]
    appended_rows: int  # rows read from appended lines or new files, added to stored rows
    reread_rows: int  # rows read from files read whole
    erased: int  # rows emptied as erased on request, in the whole table
    appended_to: dict | None  # {"built_from", "rows"} of the stored tables appended to
    note: str  # what was read, or why the source was read whole

    def record(self, settings: str, suppression: str) -> dict:
        """What the raw validation keeps of this extraction."""
        read = {
            "settings": settings,
            "suppression": suppression,
            "rows": self.frame.height,
            "files": [r.as_json() for r in self.reads],
        }
        return {READ_KEY: read, APPENDED_KEY: self.appended_to}


def plan_append(
    source: SourceConfig,
    files: list[Path],
    raw_validation: object,
    validation: object,
    settings: str,
    suppression: str,
    max_file_bytes: int,
) -> AppendPlan | str:
    """Which parts of `files` to read and append to the stored tables, or (a text) why the
    source must be read whole.

    `raw_validation` and `validation` are the stored validations of the source's raw and
    standardized tables; `settings` its settings fingerprint now
    (`whiteglove.incremental.source_settings_fingerprint`) and `suppression` the suppression
    list's. Files are compared by size and content, never by time; the bytes a grown file
    held before are checked again when it is read (`Part.start_sha256`).
    """
    if not (isinstance(raw_validation, dict) and isinstance(validation, dict)):
        return "its stored tables are missing"
    if not all(v.get("success") and v.get("built_from") for v in (raw_validation, validation)):
        return "its stored tables failed validation or were erased from"
    if raw_validation["built_from"] != validation["built_from"]:
        return "its stored raw and standardized tables were built from different files"
    read = raw_validation.get(READ_KEY)
    if not isinstance(read, dict) or not isinstance(read.get("files"), list):
        return "no record of what was read before"
    if read.get("settings") != settings:
        return "its settings, suite or the source-stage code changed"
    if read.get("suppression") != suppression:
        return "the suppression list changed"
    before = [r for r in map(FileRead.from_json, read["files"]) if r is not None]
    if not before or len(before) != len(read["files"]) or not isinstance(read.get("rows"), int):
        return "no record of what was read before"
    now = [str(f) for f in files]
    gone = [r.path for r in before if r.path not in now]
    if gone:
        return f"{gone[0]} was read before and is gone"
    if now[: len(before)] != [r.path for r in before]:
        return "a new file sorts before a file read before"
    parts, kept, grown = [], [], None
    for i, r in enumerate(before):
        path = Path(r.path)
        problem = export_problem(path, max_file_bytes)
        if problem:
            return f"{path}: {problem}"
        size = path.stat().st_size
        if size == r.size and _sha256(path) == r.sha256:
            kept.append(r)
            continue
        if size < r.size:
            return f"{path} shrank"
        if source.format == "parquet":
            return f"{path} changed (a Parquet file is read whole)"
        if not r.ends_clean:
            return f"{path} did not end at a line break, or left a quoted field open"
        if i != len(before) - 1:
            return f"{path} grew but is not the last file read"
        parts.append(Part(path, r.size, r.sha256, r.last_row))
        grown = r
    parts += [Part(Path(p)) for p in now[len(before) :]]
    if not parts:
        return "no file grew"
    return AppendPlan(parts, kept, grown, raw_validation["built_from"], read["rows"])


def read_source(
    config: SourcesConfig,
    source: SourceConfig,
    settings: str,
    suppression: SuppressionList,
    stored: OutputLayout | None = None,
) -> Extraction:
    """`source`'s raw table with the people on the suppression list emptied.

    With `stored` (the output folder of an incremental run), only what was appended since
    the stored tables were built is read, when `plan_append` finds that possible; without
    it, or otherwise, every file is read whole. `settings` is the source's settings
    fingerprint (`whiteglove.incremental.source_settings_fingerprint`).
    """
    files = config.files(source)
    note = "a full run reads every file"
    if stored is not None:
        plan = plan_append(
            source,
            files,
            _stored_json(stored, f"raw_{source.name}{VALIDATION_SUFFIX}"),
            _stored_json(stored, f"standardized_{source.name}{VALIDATION_SUFFIX}"),
            settings,
            suppression.fingerprint(),
            config.limits.max_file_bytes,
        )
        if isinstance(plan, AppendPlan):
            appended = _read_appended(config, source, suppression, stored, plan)
            if isinstance(appended, Extraction):
                return appended
            plan = appended
        note = f"read whole: {plan}"
    frame, reads = extract_parts(source, [Part(f) for f in files], limits=config.limits)
    frame, _ = _suppressed(config, source, suppression, frame)
    return Extraction(frame, reads, 0, frame.height, _erased(frame), None, note)


def _read_appended(
    config: SourcesConfig,
    source: SourceConfig,
    suppression: SuppressionList,
    stored: OutputLayout,
    plan: AppendPlan,
) -> Extraction | str:
    table = stored.asset_value(f"raw_{source.name}", ".parquet")
    if not table.is_file():
        return "its stored raw table is missing"
    old = pl.read_parquet(table)
    if old.height != plan.rows_before:
        return "its stored raw table is not the one its validation describes"
    try:
        new, reads = extract_parts(source, plan.parts, limits=config.limits)
    except PrefixChanged as exc:
        return str(exc)
    retyped = _retyped(plan, reads, new)
    if isinstance(retyped, str):
        return retyped
    retyped = _typed_as_stored(retyped, old)
    if isinstance(retyped, str):
        return retyped
    new, _ = _suppressed(config, source, suppression, retyped)
    frame = in_lineage_order(pl.concat([old, new], how="diagonal_relaxed"))
    read = [
        f"{p.file.name} after row {p.rows_before}" if p.start else f"new file {p.file.name}"
        for p in plan.parts
    ]
    note = f"appended {new.height} row(s) to the {old.height} stored: read " + ", ".join(read)
    appended_to = {"built_from": plan.previous, "rows": plan.rows_before}
    return Extraction(frame, plan.kept + reads, new.height, 0, _erased(frame), appended_to, note)


def _retyped(plan: AppendPlan, reads: list[FileRead], new: pl.DataFrame) -> pl.DataFrame | str:
    """`new` with the grown file's all-null new columns typed as its earlier rows had them,
    or why it cannot be appended: a JSON-lines column is typed by all of a file's values, so
    new values of another type would retype the earlier rows in a whole extraction."""
    if plan.grown is None:
        return new
    now = next(r for r in reads if r.path == plan.grown.path)
    casts = {}
    for column, dtype in now.columns.items():
        was = plan.grown.columns.get(column)
        if was is None or was == dtype:
            continue
        values = new.filter(pl.col("_file") == now.path).get_column(column)
        if values.null_count() != values.len() or was not in _JSON_TYPES:
            return f"{now.path}: column {column!r} of the new rows is {dtype}, before {was}"
        casts[column] = _JSON_TYPES[was]
    return new.with_columns(pl.col(c).cast(t) for c, t in casts.items()) if casts else new


def _typed_as_stored(new: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame | str:
    """`new` with each column typed as the stored rows have it, or why it cannot be: a whole
    extraction types a JSON-lines or Parquet column from all of its values, so a new value of
    another type (5 stored, 2.5 or "n/a" new) would retype the stored rows too. A column the
    new rows leave empty takes the stored type, as a whole extraction gives it."""
    casts = {}
    for column, dtype in new.schema.items():
        was = old.schema.get(column)
        if was is None or was == dtype:
            continue
        if new.get_column(column).null_count() != new.height:
            return f"column {column!r} of the new rows is {dtype}, of the stored rows {was}"
        casts[column] = was
    return new.with_columns(pl.col(c).cast(t) for c, t in casts.items()) if casts else new


# the types whiteglove.extract gives JSON-lines columns
_JSON_TYPES = {"Boolean": pl.Boolean, "Int64": pl.Int64, "Float64": pl.Float64, "String": pl.String}


def _suppressed(
    config: SourcesConfig, source: SourceConfig, suppression: SuppressionList, raw: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    return suppress_raw(
        raw,
        source,
        suppression,
        country=config.defaults.country,
        validity=config.validity_for(source),
        limits=config.limits,
    )


def _erased(frame: pl.DataFrame) -> int:
    return frame.filter(pl.col("_parse_error") == SUPPRESSION_REASON).height


def standardize_appended(
    raw: pl.DataFrame,
    raw_validation: dict,
    config: SourcesConfig,
    source: SourceConfig,
    stored: OutputLayout,
) -> tuple[pl.DataFrame, int] | str:
    """The standardized table of `raw`: the stored one with the rows appended to `raw` since
    it was built standardized and added (and how many), or (a text) why `raw` must be
    standardized whole.

    The new rows are standardized after the rows that decide how dates without a format are
    read (`format_anchor_rows`), and against the record ids of the stored rows, so each gets
    what standardizing the whole table gives it.
    """
    appended_to = raw_validation.get(APPENDED_KEY)
    if not isinstance(appended_to, dict):
        return "its raw table was read whole"
    validation = _stored_json(stored, f"standardized_{source.name}{VALIDATION_SUFFIX}")
    if not (
        isinstance(validation, dict)
        and validation.get("success")
        and validation.get("built_from") == appended_to.get("built_from")
    ):
        return "its stored standardized table is not the one the raw rows were appended to"
    table = stored.asset_value(f"standardized_{source.name}", ".parquet")
    rows = appended_to.get("rows")
    old = pl.read_parquet(table) if table.is_file() else None
    if old is None or old.height != rows or not isinstance(rows, int) or rows > raw.height:
        return "its stored standardized table is not the one the raw rows were appended to"
    anchors = min(format_anchor_rows(raw.head(rows), source, config.limits), rows)
    frame = standardize_source(
        pl.concat([raw.head(anchors), raw.slice(rows)]),
        source,
        config.defaults.country,
        limits=config.limits,
        validity=config.validity_for(source),
        earlier=old.select("source_record_id", "row_number", "_file"),
    ).slice(anchors)
    if frame.schema != old.schema:
        return "the new rows standardize to other column types than the stored ones"
    return pl.concat([old, frame]), frame.height


def _stored_json(layout: OutputLayout, asset: str) -> object:
    """A validation stored in the output folder (None: none, or not JSON)."""
    path = layout.asset_value(asset, ".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
