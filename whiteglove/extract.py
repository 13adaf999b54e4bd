"""Read one source's exports into a raw frame: every input row, with lineage columns.

Rows the reader cannot split into the source's columns are kept, not dropped: their columns
are null, `_raw` holds the text as read and `_parse_error` says what is wrong, so the row can
be quarantined later and the conservation invariant (every input row accounted for) holds.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from whiteglove.config import SourceConfig

LINEAGE_COLUMNS = ["_source", "_file", "_row_number", "_loaded_at", "_raw", "_parse_error"]


class ExtractError(RuntimeError):
    """An export cannot be read at all (as opposed to a few damaged rows)."""

    def __init__(self, source: str, file: Path, problem: str):
        super().__init__(f"source '{source}', file {file}: {problem}")
        self.source, self.file, self.problem = source, file, problem


def extract_source(
    source: SourceConfig, files: list[Path], loaded_at: datetime | None = None
) -> pl.DataFrame:
    """All rows of all of a source's files, source columns as read plus lineage columns."""
    loaded_at = loaded_at or datetime.now(UTC)
    frames = []
    for file in files:
        reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[source.format]
        frame = reader(source, file)
        frames.append(
            frame.with_columns(
                pl.lit(source.name).alias("_source"),
                pl.lit(str(file)).alias("_file"),
                pl.lit(loaded_at).alias("_loaded_at"),
            )
        )
    out = pl.concat(frames, how="diagonal_relaxed")
    data_cols = [c for c in out.columns if c not in LINEAGE_COLUMNS]
    return out.select(LINEAGE_COLUMNS + data_cols)


def _read_csv(source: SourceConfig, file: Path) -> pl.DataFrame:
    opts = source.csv_options
    try:
        text = file.read_bytes().decode(opts.encoding)
    except UnicodeDecodeError as exc:
        raise ExtractError(
            source.name, file, f"not valid {opts.encoding} at byte {exc.start}: {exc.reason}"
        ) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ExtractError(source.name, file, "file is empty")
    # csv.reader on whole lines keeps quoted newlines inside one record and lets us keep the
    # raw text of a record whose field count is wrong.
    # Split on line feeds only: str.splitlines would also break on characters such as U+2028
    # that are ordinary data inside a field.
    lines = [line + "\n" for line in text.split("\n")]
    if lines[-1] == "\n":
        lines.pop()
    reader = csv.reader(lines, delimiter=opts.delimiter, quotechar=opts.quote_char, strict=True)
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    row_numbers: list[int] = []
    raws: list[str | None] = []
    errors: list[str | None] = []
    record = 0
    start_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # an unbalanced quote: keep the rest of the line as the raw row and move on
            record += 1
            row_numbers.append(record)
            raws.append("".join(lines[start_line : reader.line_num]).rstrip("\r\n"))
            errors.append(f"unparseable CSV: {exc}")
            rows.append([])
            start_line = reader.line_num
            continue
        raw_text = "".join(lines[start_line : reader.line_num]).rstrip("\r\n")
        start_line = reader.line_num
        if header is None:
            if opts.header:
                header = fields
                continue
            header = [f"column_{i + 1}" for i in range(len(fields))]
        if not fields:  # a blank line is not a record
            continue
        record += 1
        row_numbers.append(record)
        if len(fields) == len(header):
            rows.append(fields)
            raws.append(None)
            errors.append(None)
        else:
            rows.append([])
            raws.append(raw_text)
            errors.append(f"wrong number of fields: {len(fields)}, header has {len(header)}")
    if header is None or not row_numbers:
        raise ExtractError(source.name, file, "file has a header but no rows")
    columns = {name: [row[i] if row else None for row in rows] for i, name in enumerate(header)}
    frame = pl.DataFrame(columns, schema={h: pl.String for h in header})
    return frame.with_columns(
        pl.Series("_row_number", row_numbers, dtype=pl.Int64),
        pl.Series("_raw", raws, dtype=pl.String),
        pl.Series("_parse_error", errors, dtype=pl.String),
    )


def _read_jsonl(source: SourceConfig, file: Path) -> pl.DataFrame:
    records: list[dict] = []
    row_numbers: list[int] = []
    raws: list[str | None] = []
    errors: list[str | None] = []
    try:
        handle = open(file, encoding="utf-8")
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                row_numbers.append(number)
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("line is not a JSON object")
                except ValueError as exc:
                    records.append({})
                    raws.append(line.rstrip("\r\n"))
                    errors.append(f"unparseable JSON: {exc}")
                    continue
                records.append(obj)
                raws.append(None)
                errors.append(None)
    except UnicodeDecodeError as exc:
        raise ExtractError(source.name, file, f"not valid utf-8: {exc.reason}") from None
    if not row_numbers:
        raise ExtractError(source.name, file, "file is empty")
    keys = list(dict.fromkeys(k for r in records for k in r))
    # Values keep their JSON text form so nothing is lost to type inference; standardization
    # parses them per canonical field.
    columns = {k: [_json_text(r.get(k)) for r in records] for k in keys}
    frame = pl.DataFrame(columns, schema={k: pl.String for k in keys})
    return frame.with_columns(
        pl.Series("_row_number", row_numbers, dtype=pl.Int64),
        pl.Series("_raw", raws, dtype=pl.String),
        pl.Series("_parse_error", errors, dtype=pl.String),
    )


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _read_parquet(source: SourceConfig, file: Path) -> pl.DataFrame:
    try:
        table = pq.read_table(file)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise ExtractError(source.name, file, f"not a readable Parquet file: {exc}") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        raise ExtractError(source.name, file, "file has no rows")
    return frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(None, dtype=pl.String).alias("_raw"),
        pl.lit(None, dtype=pl.String).alias("_parse_error"),
    )
