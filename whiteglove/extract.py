"""Read one source's exports into a raw frame: every input row, with lineage columns.

Rows the reader cannot split into the source's columns are kept, not dropped: their columns
are null, `_raw` holds the text as read and `_parse_error` says what is wrong, so the row can
be quarantined later and the conservation invariant (every input row accounted for) holds.

A file that cannot be read at all (not text, wrong encoding, no header, repeated column
names, a mapped column of a type no standardizer can read) raises ExtractError naming the
source, the file and the problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from whiteglove.config import LimitsConfig, SourceConfig
from whiteglove.inputs import export_problem
from whiteglove.schema import RAW_LINEAGE_COLUMNS

# Python's csv module refuses fields over 128 KiB by default; exports with long free-text
# notes (or a 1 MB line) are data, not an attack, and the whole file is in memory anyway.
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
# Polars types a standardizer can read as text; anything else (lists, structs, maps, binary,
# durations) is turned into JSON text when extracted, and refused when a mapping uses it.
_TEXT_LIKE = (pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Date, pl.Time, pl.Null)


class ExtractError(RuntimeError):
    """An export cannot be read at all (as opposed to a few damaged rows)."""

    def __init__(self, source: str, file: Path, problem: str):
        super().__init__(f"source '{source}', file {file}: {problem}")
        self.source, self.file, self.problem = source, file, problem


@dataclass(frozen=True)
class FileRead:
    """What extraction read of one file: enough for a later run to tell whether the file only
    grew since (whiteglove/appended.py), without keeping the file."""

    path: str
    size: int
    sha256: str
    # the row number the file's rows reached: CSV records, JSON-lines lines, Parquet rows
    last_row: int
    # the content ends at a line break with no quoted field left open, so lines appended
    # later are read as they would be in the whole file (never for Parquet)
    ends_clean: bool
    # each column's type as read from this file alone (JSON-lines types follow every value)
    columns: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, value: object) -> FileRead | None:
        """The record a validation holds (None: not one this code writes)."""
        try:
            read = cls(**value)  # type: ignore[arg-type]
        except TypeError:
            return None
        # the output folder is not trusted: a record that is not what this code writes is none
        fields = (read.path, read.sha256, read.size, read.last_row, read.ends_clean)
        kinds = (str, str, int, int, bool)
        if not all(type(v) is k for v, k in zip(fields, kinds, strict=True)):
            return None
        if read.size < 0 or read.last_row < 0 or not isinstance(read.columns, dict):
            return None
        return read if all(isinstance(v, str) for v in read.columns.values()) else None


@dataclass(frozen=True)
class Part:
    """What to read of one file: all of it, or only what follows its first `start` bytes."""

    file: Path
    start: int = 0
    # for start > 0: the digest those bytes must have, and the row number they reached
    start_sha256: str = ""
    rows_before: int = 0


class PrefixChanged(RuntimeError):
    """A file read from an offset no longer starts with the bytes it held before."""


def extract_source(
    source: SourceConfig,
    files: list[Path],
    loaded_at: datetime | None = None,
    limits: LimitsConfig | None = None,
) -> pl.DataFrame:
    """All rows of all of a source's files, source columns as read plus lineage columns."""
    frame, _ = extract_parts(source, [Part(f) for f in files], loaded_at, limits)
    return frame


def extract_parts(
    source: SourceConfig,
    parts: list[Part],
    loaded_at: datetime | None = None,
    limits: LimitsConfig | None = None,
) -> tuple[pl.DataFrame, list[FileRead]]:
    """The rows of `parts` in order (lineage columns first), and what was read of each file.

    Each file is read once and checked against `limits` before it is parsed (checked again
    here, since the sources check: a file may have been replaced since). A part read from an
    offset raises PrefixChanged when the bytes before it are not the ones it was planned on.
    """
    loaded_at = loaded_at or datetime.now(UTC)
    limits = limits or LimitsConfig()
    frames, reads = [], []
    for part in parts:
        file = part.file
        problem = export_problem(file, limits.max_file_bytes)
        if problem:
            raise ExtractError(source.name, file, problem)
        data = file.read_bytes()
        # the digest of what is parsed, not of the file at another moment
        digest = hashlib.sha256(data[: part.start])
        if part.start and (len(data) < part.start or digest.hexdigest() != part.start_sha256):
            raise PrefixChanged(f"{file} no longer starts with the content read before")
        digest.update(data[part.start :])
        reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[source.format]
        frame, last_row, ends_clean = reader(source, file, data, limits, part)
        columns = {c: str(t) for c, t in frame.schema.items() if c not in RAW_LINEAGE_COLUMNS}
        sha256 = digest.hexdigest()
        reads.append(FileRead(str(file), len(data), sha256, last_row, ends_clean, columns))
        frames.append(
            frame.with_columns(
                pl.lit(source.name).alias("_source"),
                pl.lit(str(file)).alias("_file"),
                pl.lit(loaded_at).alias("_loaded_at"),
            )
        )
    return in_lineage_order(pl.concat(frames, how="diagonal_relaxed")), reads


def in_lineage_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the lineage columns first, then the source's columns as read."""
    data_cols = [c for c in frame.columns if c not in RAW_LINEAGE_COLUMNS]
    # Columns picked by exact name: `select("*")` or `select("^a.*$")` would read a column
    # called `*` or `^a.*$` as a wildcard or a regex.
    return pl.DataFrame([frame.get_column(c) for c in RAW_LINEAGE_COLUMNS + data_cols])


def _read_csv(
    source: SourceConfig, file: Path, data: bytes, limits: LimitsConfig, part: Part
) -> tuple[pl.DataFrame, int, bool]:
    """The rows of a CSV file (of its bytes after `part.start` only, numbered on from
    `part.rows_before`), the row number reached, and whether the content ends cleanly."""
    opts = source.csv_options
    appended = part.start > 0
    if appended:
        # the header, and the blank lines before it, are read again from the file's start
        head = _split_lines(_decode(source, file, data[: part.start], opts.encoding))
        head[0] = head[0].lstrip("\ufeff")
        header_end = next(
            end
            for _, end, fields, _ in _csv_records(head, opts.delimiter, opts.quote_char)
            if fields
        )
        new = data[part.start :]
        first_line = len(head)
        text = _decode(source, file, new, opts.encoding, first_line) if new else ""
        lines = head[:header_end] + (_split_lines(text) if text else [])
    else:
        text = _decode(source, file, data, opts.encoding)
        text = text.lstrip("\ufeff")
        if not text.strip():
            raise ExtractError(source.name, file, "file is empty")
        lines = _split_lines(text)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    header: list[str] | None = None
    unnamed_last = False  # the header ends with a delimiter
    shape: int | None = None  # fields in each of this file's rows (see _row_shape)
    rows: list[list[str | None]] = []
    row_numbers: list[int] = []
    raws: list[str | None] = []
    errors: list[str | None] = []
    open_quote = False
    for start, end, fields, error in _csv_records(lines, opts.delimiter, opts.quote_char):
        raw_text = "".join(lines[start:end]).rstrip("\r\n")
        if header is None:
            if error is not None or fields is None:
                raise ExtractError(source.name, file, f"the header cannot be read: {error}")
            if not fields:  # blank lines before the header
                continue
            header = _header(source, file, fields, opts.header, limits)
            unnamed_last = opts.header and not fields[-1].strip()
            if opts.header or appended:  # without a header, the first row was read before
                continue
        if fields == []:  # a blank line is not a record
            continue
        _check_rows(source, file, part.rows_before + len(row_numbers) + 1, limits)
        row_numbers.append(part.rows_before + len(row_numbers) + 1)
        # lines appended later could close this quote: the file must then be read whole
        open_quote = open_quote or (error is not None and error.startswith("unbalanced quote"))
        if error is None and fields is not None and "\x00" in raw_text:
            error = "binary data (NUL bytes) in the row"
        if error is None and fields is not None and shape is None:
            shape = _row_shape(fields, len(header), unnamed_last)
        fitted = None if error is not None or fields is None else _fitted(fields, header, shape)
        if error is not None or fields is None:
            rows.append([])
            raws.append(raw_text.replace("\x00", "\\x00"))
            errors.append(f"unparseable CSV: {error}")
        elif fitted is None:
            rows.append([])
            raws.append(raw_text)
            errors.append(
                f"wrong number of fields: {len(fields)}, header has {len(header)}"
                + (f" and this file's rows have {shape}" if shape != len(header) else "")
            )
        else:
            rows.append(fitted)
            raws.append(None)
            errors.append(None)
    if header is None or not (row_numbers or appended):
        raise ExtractError(source.name, file, "file has a header but no rows")
    columns = {name: [row[i] if row else None for row in rows] for i, name in enumerate(header)}
    frame = pl.DataFrame(columns, schema={h: pl.String for h in header})
    # a line break is one byte only in encodings that are ASCII at heart
    ends_clean = data.endswith(b"\n") and not open_quote and "\n".encode(opts.encoding) == b"\n"
    last_row = row_numbers[-1] if row_numbers else part.rows_before
    return (
        frame.with_columns(
            pl.Series("_row_number", row_numbers, dtype=pl.Int64),
            pl.Series("_raw", raws, dtype=pl.String),
            pl.Series("_parse_error", errors, dtype=pl.String),
        ),
        last_row,
        ends_clean,
    )


def _row_shape(fields: list[str], columns: int, unnamed_last: bool) -> int:
    """How many fields the rows of a file hold, decided once, on its first data row: many
    exports end every data row with a delimiter and not the header (one field more, empty),
    or the header alone (one field fewer than its unnamed last column). Decided per file,
    not per row: a row one field off for another reason (a delimiter inside a value, a value
    left out) would otherwise be read with its values in the wrong columns."""
    if len(fields) == columns + 1 and fields[-1] == "":
        return columns + 1
    if unnamed_last and len(fields) == columns - 1:
        return columns - 1
    return columns


def _fitted(fields: list[str], header: list[str], shape: int | None) -> list[str | None] | None:
    """A row's fields as the header's columns; None when the row does not have the file's
    shape (an empty field past the last column is dropped: nothing is lost)."""
    columns = len(header)
    if len(fields) != (shape or columns) or (len(fields) > columns and fields[-1] != ""):
        return None
    return [*fields[:columns], *[""] * (columns - len(fields))]


def _decode(
    source: SourceConfig, file: Path, data: bytes, encoding: str, lines_before: int = 0
) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = lines_before + data.count(b"\n", 0, exc.start) + 1
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = "the file looks like UTF-16; save it as UTF-8"
        elif b"\x00" in data[:4096]:
            hint = "the file holds binary data: is it really a CSV export?"
        else:
            hint = "the file mixes encodings or is not UTF-8; set csv.encoding in the sources file"
        raise ExtractError(
            source.name,
            file,
            f"not valid {encoding} at line {line} (byte {exc.start}): {exc.reason}; {hint}",
        ) from None


def _split_lines(text: str) -> list[str]:
    """Physical lines, each with its line break: LF, CRLF, or a lone CR.

    A lone CR ends a line too (classic Mac OS exports, or one such line among LF lines), so
    two records it separates stay two rows. Lines keep their own break, so a quoted field
    keeps the break it holds. Not str.splitlines: it would also break on characters such as
    U+2028 that are ordinary data inside a field.
    """
    lines = []
    for line in text.split("\n"):
        if "\r" not in line:
            lines.append(line + "\n")
            continue
        crlf = line.endswith("\r")
        pieces = (line[:-1] if crlf else line).split("\r")
        lines += [piece + "\r" for piece in pieces[:-1]]
        lines.append(pieces[-1] + ("\r\n" if crlf else "\n"))
    if lines[-1] == "\n":
        lines.pop()
    return lines


def _csv_records(
    lines: list[str], delimiter: str, quote_char: str
) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(first line, end line, fields or None, error or None) for each record, in order.

    csv.reader on whole lines keeps quoted newlines inside one record and tells us which lines
    a record came from, so a damaged record keeps its raw text. An unbalanced quote makes the
    reader swallow the following lines into one field; when a record spanning several lines
    fails to parse or has the wrong number of fields, only its first line is declared broken
    and reading starts again on the next line, so one stray quote costs one row, not the rest
    of the file.
    """
    position = 0
    expected: int | None = None
    while position < len(lines):
        reader = csv.reader(
            (lines[i] for i in range(position, len(lines))),
            delimiter=delimiter,
            quotechar=quote_char,
            strict=True,
        )
        consumed = 0  # lines of this reader already handed out as records
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start = position + consumed
                yield start, start + 1, None, _csv_problem(exc)
                position = start + 1
                break
            start, end = position + consumed, position + reader.line_num
            if end - start > 1 and expected is not None and len(fields) != expected:
                yield start, start + 1, None, "unbalanced quote: a quoted field is never closed"
                position = start + 1
                break
            if expected is None and fields:
                expected = len(fields)
            yield start, end, fields, None
            consumed = reader.line_num


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "end of data" in text:
        return "unbalanced quote: a quoted field is never closed"
    return text


def _check_rows(source: SourceConfig, file: Path, rows: int, limits: LimitsConfig) -> None:
    if rows > limits.max_rows:
        raise ExtractError(
            source.name, file, f"more than limits.max_rows ({limits.max_rows:,}) rows"
        )


def _header(
    source: SourceConfig, file: Path, fields: list[str], has_header: bool, limits: LimitsConfig
) -> list[str]:
    if len(fields) > limits.max_columns:
        raise ExtractError(
            source.name,
            file,
            f"{len(fields):,} columns, more than limits.max_columns ({limits.max_columns:,})",
        )
    if not has_header:
        return [f"column_{i + 1}" for i in range(len(fields))]
    if any("\x00" in f for f in fields):
        raise ExtractError(
            source.name, file, "not a CSV text file: the header holds binary data (NUL bytes)"
        )
    # An unnamed column (a trailing delimiter) cannot be mapped; give it a name so two of
    # them do not collide.
    header = [f if f.strip() else f"column_{i + 1}" for i, f in enumerate(fields)]
    repeated = sorted(h for h, n in Counter(header).items() if n > 1)
    if repeated:
        raise ExtractError(
            source.name,
            file,
            f"repeated column names in the header: {', '.join(map(repr, repeated))}; "
            "rename them so each column is read once",
        )
    return header


def _read_jsonl(
    source: SourceConfig, file: Path, data: bytes, limits: LimitsConfig, part: Part
) -> tuple[pl.DataFrame, int, bool]:
    """The rows of a JSON-lines file (of its lines after `part.start` only), the line number
    reached, and whether the content ends at a line break."""
    records: list[dict] = []
    row_numbers: list[int] = []
    raws: list[str | None] = []
    errors: list[str | None] = []
    # the id, the update time and an identity field must each hold one value; an attribute
    # may hold an object or a list, kept as its JSON text (the profile carries it as written)
    mapped = {
        column: use
        for use, column in source.mapped_columns().items()
        if not use.startswith("attribute ")
    }
    nested = 0
    appended = part.start > 0
    ends_clean = data.endswith(b"\n")
    last_row = part.rows_before + data.count(b"\n", part.start) + (0 if ends_clean else 1)
    data = data[part.start :]
    if not appended and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Split on line feeds only (JSON escapes any inside strings); each line is decoded on its
    # own, so one line in another encoding is quarantined instead of failing the file.
    for number, line in enumerate(data.split(b"\n"), start=part.rows_before + 1):
        if not line.strip():
            continue
        _check_rows(source, file, part.rows_before + len(row_numbers) + 1, limits)
        row_numbers.append(number)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            records.append({})
            raws.append(line.decode("utf-8", "backslashreplace").rstrip("\r"))
            errors.append(f"not valid utf-8 at byte {exc.start} of the line: {exc.reason}")
            continue
        try:
            obj = json.loads(text, object_pairs_hook=_unique_keys)
            if not isinstance(obj, dict):
                raise ValueError("line is not a JSON object")
        except ValueError as exc:
            records.append({})
            raws.append(text.rstrip("\r").replace("\x00", "\\x00"))
            errors.append(f"unparseable JSON: {exc}")
            continue
        if problem := _nested_mapped_value(obj, mapped):
            nested += 1
            records.append({})
            raws.append(text.rstrip("\r").replace("\x00", "\\x00"))
            errors.append(problem)
            continue
        records.append(obj)
        raws.append(None)
        errors.append(None)
    if not row_numbers and not appended:
        raise ExtractError(source.name, file, "file is empty")
    if row_numbers and not appended and nested and all(e is not None for e in errors):
        first = next(e for e in errors if e and e.startswith("key "))
        raise ExtractError(
            source.name,
            file,
            f"no line can be read ({nested} of {len(errors)}: {first}); map a key that holds "
            "text, a number or a date (a key inside a nested object cannot be mapped: flatten "
            "the file first)",
        )
    # the lines read before held a JSON object (or this check refused the file then)
    if row_numbers and not appended and all(e is not None for e in errors):
        raise ExtractError(
            source.name,
            file,
            f"not a JSON-lines file: none of its {len(errors)} line(s) is a JSON object "
            f"(first problem: {errors[0]})",
        )
    keys = list(dict.fromkeys(k for r in records for k in r))
    frame = pl.DataFrame([_json_column(k, [r.get(k) for r in records]) for k in keys])
    frame = frame.with_columns(
        pl.Series("_row_number", row_numbers, dtype=pl.Int64),
        pl.Series("_raw", raws, dtype=pl.String),
        pl.Series("_parse_error", errors, dtype=pl.String),
    )
    return frame, last_row, ends_clean


def _nested_mapped_value(obj: dict, mapped: dict[str, str]) -> str | None:
    """Why a JSON line cannot be read (a mapped key holding an object or a list: not one
    email or name, and guessing which element is meant would lose data), else None."""
    for key, use in mapped.items():
        value = obj.get(key)
        if isinstance(value, dict | list):
            kind = "an object" if isinstance(value, dict) else "a list"
            return f"key {key!r} ({use}) holds {kind}, not one value"
    return None


def _json_column(name: str, values: list[object]) -> pl.Series:
    """One key's values: typed when JSON gives them all one scalar type (booleans, integers,
    numbers), so an attribute keeps it without a declaration; else their JSON text, so nothing
    is lost to guessing (standardization parses the text per field)."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, bool) for v in given):
        return pl.Series(name, values, dtype=pl.Boolean)
    if given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        if all(-(2**63) <= v < 2**63 for v in given):  # type: ignore[operator]
            return pl.Series(name, values, dtype=pl.Int64)
    elif given and all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        if all(abs(v) < 2**53 or not isinstance(v, int) for v in given):  # type: ignore[arg-type]
            return pl.Series(name, [None if v is None else float(v) for v in values], pl.Float64)
    return pl.Series(name, [_json_text(v) for v in values], dtype=pl.String)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads keeps the last of two equal keys silently: which email is the real one?
    repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if repeated:
        raise ValueError(f"repeated key(s) {', '.join(map(repr, repeated))}")
    return dict(pairs)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _read_parquet(
    source: SourceConfig, file: Path, data: bytes, limits: LimitsConfig, part: Part
) -> tuple[pl.DataFrame, int, bool]:
    """The rows of a Parquet file (always whole: rows cannot be appended to one)."""
    try:
        metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise ExtractError(source.name, file, f"not a readable Parquet file: {exc}") from None
    # from the footer, before anything is decompressed: a small file can hold 10^8 rows
    _check_rows(source, file, metadata.num_rows, limits)
    schema = metadata.schema.to_arrow_schema()
    if len(schema.names) > limits.max_columns:
        raise ExtractError(
            source.name,
            file,
            f"{len(schema.names):,} columns, more than limits.max_columns ({limits.max_columns:,})",
        )
    repeated = sorted(n for n, count in Counter(schema.names).items() if count > 1)
    if repeated:
        raise ExtractError(
            source.name, file, f"repeated column names: {', '.join(map(repr, repeated))}"
        )
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise ExtractError(source.name, file, f"not a readable Parquet file: {exc}") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        raise ExtractError(source.name, file, "file has no rows")
    frame = _as_readable_types(source, file, frame)
    frame = frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(None, dtype=pl.String).alias("_raw"),
        pl.lit(None, dtype=pl.String).alias("_parse_error"),
    )
    return frame, frame.height, False


def _as_readable_types(source: SourceConfig, file: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Nested and binary columns as text, so every later step can read every column.

    A mapped column must hold scalars: a list of emails or a struct is not one email, and
    guessing which element is meant would be silent data loss, so it is refused by name.
    """
    mapped = {column: use for use, column in source.mapped_columns().items()}
    converted = []
    for name, dtype in frame.schema.items():
        if _readable(dtype):
            continue
        series = frame.get_column(name)
        if dtype == pl.Binary:
            values = series.to_list()
            try:
                text = [None if v is None else v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                if name in mapped:
                    raise ExtractError(
                        source.name,
                        file,
                        f"column {name!r} ({mapped[name]}) holds binary data, not utf-8 text",
                    ) from None
                # kept losslessly for the quarantine's raw row; nothing reads it as text
                text = [None if v is None else "0x" + v.hex() for v in values]
            converted.append(pl.Series(name, text, dtype=pl.String))
            continue
        if name in mapped:
            raise ExtractError(
                source.name,
                file,
                f"column {name!r} ({mapped[name]}) has type {dtype}, which cannot be read as "
                "one value; map a text, number or date column",
            )
        converted.append(
            pl.Series(name, [_json_text(v) for v in series.to_list()], dtype=pl.String)
        )
    return frame.with_columns(converted) if converted else frame


def _readable(dtype: pl.DataType) -> bool:
    return (
        dtype.is_numeric()
        or isinstance(dtype, pl.Datetime | pl.Decimal)
        or any(dtype == t or isinstance(dtype, t) for t in _TEXT_LIKE)
    )
