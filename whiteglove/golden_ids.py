"""Golden ids that last: stable across re-runs, and a crosswalk from records to them."""

from __future__ import annotations

import hashlib

import polars as pl


def assign_golden_ids(clusters: pl.DataFrame, previous_xref: pl.DataFrame | None) -> pl.DataFrame:
    """cluster_id -> golden_id, keeping ids that earlier runs published.

    A cluster inherits the previous golden id that most of its records carried. Each previous
    id goes to one cluster only: when a customer is split, the larger part keeps it; when two
    merge, the id backed by more records wins and the other is retired. Clusters with no
    history get an id derived from their smallest record key, so a rebuild from scratch on
    the same data gives the same ids.
    """
    sizes = clusters.group_by("cluster_id").agg(
        pl.len().alias("size"), pl.col("record_key").min().alias("min_key")
    )
    candidates = pl.DataFrame(
        schema={
            "cluster_id": clusters.schema["cluster_id"],
            "golden_id": pl.String,
            "votes": pl.UInt32,
        }
    )
    if previous_xref is not None and previous_xref.height:
        candidates = (
            clusters.join(
                previous_xref.select(pl.col("record_key"), pl.col("golden_id")),
                on="record_key",
            )
            .group_by("cluster_id", "golden_id")
            .agg(pl.len().cast(pl.UInt32).alias("votes"))
        )
    # strongest claims first; ties broken by id so the outcome never depends on row order
    ranked = candidates.join(sizes, on="cluster_id").sort(
        ["votes", "size", "golden_id", "cluster_id"], descending=[True, True, False, False]
    )
    assigned: dict[object, str] = {}
    taken: set[str] = set()
    for cluster_id, golden_id in ranked.select("cluster_id", "golden_id").iter_rows():
        if cluster_id not in assigned and golden_id not in taken:
            assigned[cluster_id] = golden_id
            taken.add(golden_id)
    for cluster_id, min_key in sizes.sort("min_key").select("cluster_id", "min_key").iter_rows():
        if cluster_id not in assigned:
            new_id = mint_golden_id(min_key, taken)
            assigned[cluster_id] = new_id
            taken.add(new_id)
    return pl.DataFrame(
        {"cluster_id": list(assigned), "golden_id": list(assigned.values())},
        schema={"cluster_id": clusters.schema["cluster_id"], "golden_id": pl.String},
    )


def mint_golden_id(seed_key: str, taken: set[str]) -> str:
    """A short id derived from a record key; salted on the rare collision with a kept id."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{seed_key}#{salt}".encode()).hexdigest()[:16]
        candidate = f"G{digest.upper()}"
        if candidate not in taken:
            return candidate
        salt += 1


def crosswalk(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """customer_xref: each accepted record, its golden id and how confidently it belongs.

    Confidence is the record's strongest link into its own cluster (1.0 for a singleton:
    nothing competes with it).
    """
    keyed = records.select("record_key", "golden_id")
    # pairs inside one cluster first, then both ends: half the join work of doubling the
    # pairs into edges before joining
    within = (
        pairs.select("unique_id_l", "unique_id_r", "match_probability")
        .join(keyed.rename({"record_key": "unique_id_l"}), on="unique_id_l")
        .join(
            keyed.rename({"record_key": "unique_id_r", "golden_id": "golden_id_r"}),
            on="unique_id_r",
        )
        .filter(pl.col("golden_id") == pl.col("golden_id_r"))
    )
    inside = (
        pl.concat(
            [
                within.select(pl.col(f"unique_id_{side}").alias("record_key"), "match_probability")
                for side in "lr"
            ]
        )
        .group_by("record_key")
        .agg(pl.col("match_probability").max().alias("match_confidence"))
    )
    return (
        records.select("source", "source_record_id", "record_key", "golden_id", "row_number")
        .join(inside, on="record_key", how="left")
        .with_columns(pl.col("match_confidence").fill_null(1.0))
        .sort("golden_id", "source", "source_record_id")
    )


def orphan_counts(golden: pl.DataFrame, xref: pl.DataFrame) -> dict[str, int]:
    """Crosswalk rows without a golden customer, and golden customers without crosswalk rows."""
    ids = golden.select("golden_id")
    xref_ids = xref.select("golden_id").unique()
    return {
        "xref_rows_without_golden_customer": xref.join(ids, on="golden_id", how="anti").height,
        "golden_customers_without_xref_rows": ids.join(xref_ids, on="golden_id", how="anti").height,
    }
