"""The nightly delta of `make bench` (benchmarks/bench.py): changing generated exports the way
a day changes real ones, and judging what an incremental run did with the change.

- `hold_back_rows`: the support export is written oldest ticket first, so its last rows are
  the newest day's tickets; the base dataset goes without them and gets them back, byte for
  byte, as the delta.
- `delete_records`: records deleted at random across the four exports (seeded), each file
  rewritten in its own format without them.
- `untouched_unchanged`: the golden id of every record of a person the change did not touch,
  before and after, per the generator's truth.
- `deleted_customers_reported`: whether each deleted record's customer shows up in the run's
  golden_changes.parquet as updated, retired or merged (whiteglove/changes.py).

Pure functions over files and frames, no runs: tests/test_bench_delta.py covers them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

# The generator's exports (whiteglove/sample_data/generator.py): file and CSV delimiter.
EXPORTS = {
    "crm": ("crm.csv", ";"),
    "billing": ("billing.parquet", None),
    "marketing": ("marketing.jsonl", None),
    "support": ("support.csv", ","),
}
# A deleted record's customer is reported when golden_changes has its golden id as updated,
# retired, or merged into another customer (the deletion let the two be one: merged_into
# names the survivor).
REPORTED_KINDS = ("updated", "retired", "merged")


def csv_records(data: bytes, delimiter: str) -> list[bytes]:
    """The header and each record of a CSV file as their exact bytes (a quoted field may span
    lines, so a record is as many lines as the csv module reads for it)."""
    lines = data.splitlines(keepends=True)
    reader = csv.reader((line.decode("utf-8") for line in lines), delimiter=delimiter, strict=False)
    chunks, start = [], 0
    for _ in reader:
        chunks.append(b"".join(lines[start : reader.line_num]))
        start = reader.line_num
    if start != len(lines):  # trailing blank lines: part of the last chunk, never lost
        chunks[-1] += b"".join(lines[start:])
    return chunks


def hold_back_rows(path: Path, rows: int, delimiter: str = ",") -> bytes:
    """Rewrite the CSV at `path` without its last `rows` records; those records' bytes."""
    chunks = csv_records(path.read_bytes(), delimiter)
    if not 0 < rows < len(chunks) - 1:
        raise ValueError(f"{path}: cannot hold back {rows} of its {len(chunks) - 1} records")
    path.write_bytes(b"".join(chunks[:-rows]))
    return b"".join(chunks[-rows:])


def append_rows(path: Path, held_back: bytes) -> None:
    """The held-back records arrive: appended to the file as they were."""
    with path.open("ab") as fh:
        fh.write(held_back)


def read_truth(path: Path) -> pl.DataFrame:
    """truth.csv: source, source_record_id, row_number (1-based, in its export), person_id."""
    return pl.read_csv(path, infer_schema=False).with_columns(pl.col("row_number").cast(pl.Int64))


def last_rows(truth: pl.DataFrame, source: str, rows: int) -> pl.DataFrame:
    """The truth rows of the last `rows` records of `source`'s export."""
    of_source = truth.filter(pl.col("source") == source)
    return of_source.filter(pl.col("row_number") > of_source["row_number"].max() - rows)


def delete_records(exports: Path, truth: pl.DataFrame, share: float, seed: int) -> pl.DataFrame:
    """Delete `share` of all records, picked at random (seeded) across the exports, from their
    files; the truth rows of the deleted records.

    Each export must hold exactly the records the truth lists for it (the files as generated,
    or with held-back rows appended again): row_number is a record's place in its file.
    """
    count = round(truth.height * share)
    deleted = truth.sample(n=count, seed=seed, shuffle=False)
    for source, (name, delimiter) in EXPORTS.items():
        path = exports / name
        expected = truth.filter(pl.col("source") == source).height
        drop = set(deleted.filter(pl.col("source") == source)["row_number"].to_list())
        if name.endswith(".parquet"):
            table = pq.read_table(path)
            _check_rows(path, table.num_rows, expected)
            keep = [i + 1 not in drop for i in range(table.num_rows)]
            pq.write_table(table.filter(keep), path, compression="zstd")
            continue
        data = path.read_bytes()
        if delimiter is None:  # JSON lines: one record a line
            header, records = [], data.splitlines(keepends=True)
        else:
            header, *records = csv_records(data, delimiter)
            header = [header]
        _check_rows(path, len(records), expected)
        kept = (chunk for i, chunk in enumerate(records, 1) if i not in drop)
        path.write_bytes(b"".join([*header, *kept]))
    return deleted


def _check_rows(path: Path, found: int, expected: int) -> None:
    if found != expected:
        raise ValueError(f"{path}: {found} records where truth.csv lists {expected}")


def _keys(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("source") + ":" + pl.col("source_record_id").cast(pl.String)


def untouched_unchanged(
    before: pl.DataFrame, after: pl.DataFrame, truth: pl.DataFrame, touched: pl.DataFrame
) -> dict:
    """How many records of untouched people keep their golden id.

    `before`/`after` are customer_xref frames (source, source_record_id, golden_id); `touched`
    holds the truth rows of the change (their people are touched). Counted: records of other
    people that had a golden id before; unchanged: those with the same golden id after (a
    record gone from the crosswalk counts as changed). Record ids the truth gives to two
    records (the generator's id collisions) are left out: neither side can tell them apart.
    """
    people = truth.select(_keys(truth).alias("key"), "person_id").filter(pl.col("key").is_unique())
    people = people.join(touched.select("person_id").unique(), on="person_id", how="anti")
    was = before.select(_keys(before).alias("key"), pl.col("golden_id").alias("before"))
    now = after.select(_keys(after).alias("key"), pl.col("golden_id").alias("after"))
    compared = people.join(was, on="key", how="inner").join(now, on="key", how="left")
    same = int(compared.select((pl.col("before") == pl.col("after")).fill_null(False).sum()).item())
    return {
        "records": compared.height,
        "unchanged": same,
        "share": round(same / compared.height, 6) if compared.height else None,
        "people": compared["person_id"].n_unique(),
    }


def deleted_customers_reported(
    deleted: pl.DataFrame, previous_xref: pl.DataFrame, changes: pl.DataFrame
) -> dict:
    """Of the deleted records that belonged to a customer in the previous publication, how
    many have that customer in `changes` (golden_changes.parquet) as updated, retired or
    merged."""
    keys = deleted.select(_keys(deleted).alias("key")).unique()
    owners = keys.join(
        previous_xref.select(_keys(previous_xref).alias("key"), "golden_id"), on="key"
    )
    kinds = changes.select("golden_id", pl.col("change").cast(pl.String))
    reported = owners.join(kinds, on="golden_id", how="left")
    by_kind = dict(reported.group_by("change").len().iter_rows())
    by_change = {str(k or "not reported"): int(v) for k, v in by_kind.items()}
    return {"deleted_records": deleted.height, **reported_counts(by_change)}


def reported_counts(by_change: dict[str, int]) -> dict:
    """From deleted records' customers counted by change kind: how many are reported."""
    with_customer = sum(by_change.values())
    met = sum(by_change.get(kind, 0) for kind in REPORTED_KINDS)
    return {
        "with_customer": with_customer,
        "reported": met,
        "share": round(met / with_customer, 6) if with_customer else None,
        "by_change": by_change,
    }


def read_xref(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path, columns=["source", "source_record_id", "golden_id"])


def sources_with(sources: Path, name: str, **linkage: object) -> Path:
    """A copy of a sources file next to it (so its relative paths hold) with `linkage` keys set."""
    import yaml

    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    config.setdefault("linkage", {}).update(linkage)
    path = sources.with_name(name)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
