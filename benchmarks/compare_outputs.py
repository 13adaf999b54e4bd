"""Compare what two runs published: are their tables the same, row for row?

    python benchmarks/compare_outputs.py OLD_OUT NEW_OUT

A restructuring of the code must not change what a run publishes. This compares the tables
a reader relies on (golden ids and values, the crosswalk, lineage, match pairs, quarantine,
the review queue) with the run-specific columns left out: the times a run stamps
(`valid_from`, `last_changed`, `changed_at`, `loaded_at`). Each table is sorted on all its
columns first, so the row order of a file does not count. Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

TABLES = (
    "golden_customers",
    "customer_xref",
    "golden_lineage",
    "golden_changes",
    "match_pairs",
    "quarantine",
)
# Stamped by each run: two runs of the same data differ here by design.
RUN_STAMPS = {"valid_from", "last_changed", "changed_at", "loaded_at"}


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.drop([c for c in frame.columns if c in RUN_STAMPS])
    # lists (sources, reasons) as text, so that every column can be sorted on
    frame = frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join("\x1f")
        for c, t in frame.schema.items()
        if isinstance(t, pl.List)
    )
    # floats rounded: the same computation on another machine may differ in the last bits
    frame = frame.with_columns(pl.col(pl.Float64, pl.Float32).round(9))
    return frame.sort(frame.columns, nulls_last=True)


def differences(old: Path, new: Path) -> list[str]:
    """What differs between the outputs published in two folders (empty: nothing)."""
    found = []
    for table in TABLES:
        a = pl.read_parquet(old / f"{table}.parquet")
        b = pl.read_parquet(new / f"{table}.parquet")
        if a.schema != b.schema:
            found.append(f"{table}: schema {dict(a.schema)} != {dict(b.schema)}")
            continue
        a, b = _comparable(a), _comparable(b)
        if a.height != b.height:
            found.append(f"{table}: {a.height} rows != {b.height} rows")
        elif not a.equals(b):
            changed = a.join(b, on=a.columns, how="anti", nulls_equal=True).height
            found.append(f"{table}: {changed} of {a.height} rows differ")
    queue_a = (old / "review_queue.csv").read_bytes()
    queue_b = (new / "review_queue.csv").read_bytes()
    if queue_a != queue_b:
        found.append("review_queue.csv: contents differ")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    found = differences(args.old, args.new)
    for line in found:
        print(line)
    if not found:
        print(f"identical: {', '.join(TABLES)}, review_queue.csv")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
