"""Split standardized sources into usable records and quarantined rows, losing none."""

from __future__ import annotations

import polars as pl

from whiteglove.schema import QUARANTINE_SCHEMA


def _is_rejected() -> pl.Expr:
    return pl.col("_reasons").list.len() > 0


def accepted(standardized: list[pl.DataFrame]) -> pl.DataFrame:
    """The union of usable records; attribute columns a source lacks are null."""
    frames = [
        f.filter(~_is_rejected())
        .drop("_reasons", "_raw", "_defaulted", strict=False)
        .rename({"_invalid": "invalid_fields", "_file": "file", "_loaded_at": "loaded_at"})
        for f in standardized
    ]
    return pl.concat(frames, how="diagonal_relaxed").sort("source", "file", "row_number")


def rejected(standardized: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [
        f.filter(_is_rejected()).select(
            "source",
            "row_number",
            "source_record_id",
            pl.col("_file").alias("file"),
            pl.col("_raw").alias("raw"),
            pl.col("_reasons").alias("reasons"),
        )
        for f in standardized
    ]
    empty = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat([empty, *frames], how="vertical_relaxed").sort("source", "file", "row_number")


def invalid_value_counts(standardized: pl.DataFrame, usable_only: bool = True) -> dict[str, int]:
    """How many values of each field were nulled as invalid: in usable rows, or in every row
    when not `usable_only` (the expectations judge every standardized row)."""
    if usable_only and "_reasons" in standardized.columns:
        standardized = standardized.filter(~_is_rejected())
    counts = (
        standardized.select(pl.col("_invalid").list.unique().explode().drop_nulls())
        .group_by("_invalid")
        .len()
        .sort("_invalid")
    )
    return dict(counts.iter_rows())


def reason_kind(reason: pl.Expr) -> pl.Expr:
    """A reason without its detail: "duplicate record id (first seen at row 12)" and
    "... row 40" are one kind of reason."""
    return reason.str.replace(r" \(.*", "")


def quarantine_reasons(quarantine: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows by kind of reason, most frequent first (a row may have several)."""
    counts = (
        quarantine.select(reason_kind(pl.col("reasons").explode()).alias("reason"))
        .drop_nulls()
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return dict(counts.iter_rows())
