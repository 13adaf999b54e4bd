"""Clerical review: the uncertain pairs a data steward reads, and why each is uncertain.

A steward reads `review_queue.csv` (or the review page, whiteglove/review_page.py), fills the
`decision` column with `match` or `no_match`, and names the file in `linkage.decisions`; the
next run forces or forbids those links. Decisions themselves (the file, locks, splits and
merges, what still applies) live in whiteglove/decisions.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

SIDE_BY_SIDE = [
    "source",
    "source_record_id",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line",
    "postcode",
    "city",
    "national_id",
]


def top_reasons(scored: pl.DataFrame, model: dict, top: int = 3) -> pl.Series:
    """The comparisons that moved each pair's score most, e.g. 'email: Exact match (+11.7)'.

    `scored` holds Splink's per-comparison match weights, mw_<comparison> (and
    mw_tf_adj_<comparison>, part of the same comparison's evidence). The level is named by
    matching its weight to the model's levels.
    """
    rows = scored.with_row_index("pair")
    long = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        if f"mw_{name}" not in rows.columns:
            continue
        weight = pl.col(f"mw_{name}")
        if f"mw_tf_adj_{name}" in rows.columns:
            weight = weight + pl.col(f"mw_tf_adj_{name}").fill_null(0.0)
        long.append(
            rows.select(
                "pair",
                pl.lit(name).alias("name"),
                _level_label(pl.col(f"mw_{name}"), comparison).alias("label"),
                weight.alias("w"),
            )
        )
    if not long:
        return pl.Series("reasons", [""] * scored.height, dtype=pl.String)
    reasons = (
        pl.concat(long)
        .drop_nulls("label")
        .sort(["pair", pl.col("w").abs()], descending=[False, True])
        .group_by("pair", maintain_order=True)
        .head(top)
        .with_columns(
            pl.format(
                "{}: {} ({}{})",
                "name",
                "label",
                pl.when(pl.col("w") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
                pl.col("w").round(1),
            ).alias("reason")
        )
        .group_by("pair", maintain_order=True)
        .agg(pl.col("reason").str.join("; "))
    )
    return (
        rows.select("pair")
        .join(reasons, on="pair", how="left")
        .sort("pair")["reason"]
        .fill_null("")
        .alias("reasons")
    )


def _level_label(weight: pl.Expr, comparison: dict) -> pl.Expr:
    """The label of the level whose match weight this is; null for the null level (weight 0)."""
    label: pl.Expr = pl.lit(None, dtype=pl.String)
    for level in reversed(comparison["comparison_levels"]):
        m, u = level.get("m_probability"), level.get("u_probability")
        if level.get("is_null_level") or not m or not u:
            continue
        label = (
            pl.when((weight - math.log2(m / u)).abs() < 1e-6)
            .then(pl.lit(level.get("label_for_charts", "")))
            .otherwise(label)
        )
    return label


def review_queue(
    review_pairs: pl.DataFrame, records: pl.DataFrame, match_fields: Sequence[str] = ()
) -> pl.DataFrame:
    """Both records of each uncertain pair side by side, most likely matches first: the
    identity fields, then the declared `match_fields` the model also compared.

    `review_pairs`: unique_id_l, unique_id_r, match_probability, match_weight, reasons.
    """
    fields = [c for c in (*SIDE_BY_SIDE, *match_fields) if c in records.columns]
    side = records.select("record_key", *[pl.col(c).cast(pl.String) for c in fields])
    left = side.rename({c: f"{c}_l" for c in side.columns})
    right = side.rename({c: f"{c}_r" for c in side.columns})
    joined = (
        review_pairs.rename({"unique_id_l": "record_key_l", "unique_id_r": "record_key_r"})
        .join(left, on="record_key_l")
        .join(right, on="record_key_r")
        .sort(
            ["match_probability", "record_key_l", "record_key_r"], descending=[True, False, False]
        )
    )
    paired = [name for c in fields for name in (f"{c}_l", f"{c}_r")]
    return joined.select(
        "record_key_l",
        "record_key_r",
        pl.col("match_probability").round(4),
        pl.col("match_weight").round(2),
        "reasons",
        pl.lit("").alias("decision"),
        *paired,
    )
