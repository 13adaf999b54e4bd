"""Golden customers: one surviving value per field, with its lineage.

Survivorship rule (first release): for every field, the value of the most trusted source
that has one; among records of equal trust, the most recently updated. Every chosen value is
traceable to the record that supplied it (see `golden_lineage`).
"""

from __future__ import annotations

import polars as pl

from whiteglove.standardize import CANONICAL_FIELDS

RULE_TRUST_THEN_RECENT = "source_priority_then_most_recent"


def survive(records: pl.DataFrame, attributes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(golden_customers, golden_lineage) from records that carry a golden_id."""
    ordered = records.sort(
        ["golden_id", "trust", "updated_at", "record_key"],
        descending=[False, False, True, False],
        nulls_last=True,
    )
    fields = [f for f in CANONICAL_FIELDS if f != "full_name"] + attributes
    golden = ordered.group_by("golden_id", maintain_order=True).agg(
        *[pl.col(f).drop_nulls().first().alias(f) for f in fields],
        *[
            pl.col("record_key").filter(pl.col(f).is_not_null()).first().alias(f"__from_{f}")
            for f in fields
        ],
        pl.len().alias("record_count"),
        pl.col("source").n_unique().alias("source_count"),
        pl.col("source").unique().sort().str.join(",").alias("sources"),
        pl.col("updated_at").max().alias("last_updated_at"),
    )
    golden = golden.with_columns(
        pl.concat_str(["first_name", "last_name"], separator=" ", ignore_nulls=True)
        .replace("", None)
        .alias("full_name")
    )
    lineage = _lineage(golden, records, fields)
    keep = [
        "golden_id",
        "full_name",
        *fields,
        "record_count",
        "source_count",
        "sources",
        "last_updated_at",
    ]
    return golden.select(keep).sort("golden_id"), lineage


def _lineage(golden: pl.DataFrame, records: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    parts = [
        golden.select(
            "golden_id",
            pl.lit(f).alias("field"),
            pl.col(f).cast(pl.String).alias("value"),
            pl.col(f"__from_{f}").alias("record_key"),
        ).filter(pl.col("value").is_not_null())
        for f in fields
    ]
    origin = records.select("record_key", "source", "source_record_id")
    return (
        pl.concat(parts)
        .join(origin, on="record_key", how="left")
        .with_columns(pl.lit(RULE_TRUST_THEN_RECENT).alias("rule"))
        .select("golden_id", "field", "value", "source", "source_record_id", "record_key", "rule")
        .sort("golden_id", "field")
    )
