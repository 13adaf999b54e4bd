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

from whiteglove.plain_words import prior_words, step_words

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
    """The comparisons that moved each pair's score most, in plain words
    (whiteglove/plain_words.py), e.g. 'email the same: +11.7; birth date differs by one
    digit: +4.1'.

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
            pl.struct("name", "label", "w")
            .map_elements(
                lambda r: step_words(r["name"], r["label"], r["w"]), return_dtype=pl.String
            )
            .alias("reason")
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


# What a steward writes where, above the header of review_queue.csv (one cell: no commas).
QUEUE_NOTE = (
    "# whiteglove review queue - write match or no_match in the decision column (blank: not "
    "decided) - your name in reviewer - why in note - then name this file in linkage.decisions "
    "(or decide in `whiteglove review`). same_customer=yes: other links already join the two "
    "records. match_weight = prior_weight + the weights of every comparison (reasons: the "
    "three that weighed most)."
)
PHONE_COLUMNS = ("phone_l", "phone_r")


def queue_for_people(queue: pl.DataFrame, xref: pl.DataFrame, model: dict) -> pl.DataFrame:
    """The review queue as published: each record's golden id, whether the two are already
    one customer through other links, the model's prior, and reviewer and note columns."""
    lam = float(model["probability_two_random_records_match"])
    ids = xref.select("record_key", "golden_id")
    with_ids = queue.join(
        ids.rename({"record_key": "record_key_l", "golden_id": "golden_id_l"}),
        on="record_key_l",
        how="left",
        maintain_order="left",
    ).join(
        ids.rename({"record_key": "record_key_r", "golden_id": "golden_id_r"}),
        on="record_key_r",
        how="left",
        maintain_order="left",
    )
    rest = [c for c in queue.columns if c not in ("record_key_l", "record_key_r", "decision")]
    head = ["match_probability", "match_weight", "reasons"]
    return with_ids.select(
        "golden_id_l",
        "golden_id_r",
        pl.when(pl.col("golden_id_l") == pl.col("golden_id_r"))
        .then(pl.lit("yes"))
        .otherwise(pl.lit(""))
        .alias("same_customer"),
        "record_key_l",
        "record_key_r",
        *head,
        pl.lit(round(math.log2(lam / (1 - lam)), 2)).alias("prior_weight"),
        "decision",
        pl.lit("").alias("reviewer"),
        pl.lit("").alias("note"),
        *[c for c in rest if c not in head],
    )


def prior_text(model: dict) -> str:
    lam = float(model["probability_two_random_records_match"])
    return prior_words(math.log2(lam / (1 - lam)), lam)


# The identity a record gives, in groups a steward weighs as one each: a record with one
# group or none (a support ticket with a name only) cannot settle who it is.
IDENTITY_GROUPS = {
    "name": ("first_name", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
    "birth date": ("date_of_birth",),
    "national id": ("national_id",),
    "address": ("address_line", "postcode", "city"),
}
NEARLY_EMPTY = 1  # identity groups at most


def identity_counts(records: pl.DataFrame) -> pl.DataFrame:
    """record_key, identity: how many identity groups each record gives."""
    groups = [
        pl.any_horizontal([pl.col(c).is_not_null() for c in cols if c in records.columns])
        for cols in IDENTITY_GROUPS.values()
        if any(c in records.columns for c in cols)
    ]
    return records.select("record_key", pl.sum_horizontal(groups).alias("identity"))


def ordered_queue(
    queue: pl.DataFrame, xref: pl.DataFrame, records: pl.DataFrame, guards: dict | None = None
) -> dict[str, pl.DataFrame]:
    """The review page's queue, in four parts, in the order a steward takes them.

    `queue`: the published review queue (golden_id_l, golden_id_r, record_key_l,
    record_key_r, match_probability...); `xref`: record_key, golden_id; `records`: the
    records (identity fields, source); `guards`: the run's cluster guards
    (linkage_choices["guards"]).

    - `decide`: pairs across two customers that the guards would let be one, one item per
      two customers (their strongest pair; `pairs` counts them), ordered by what a decision
      would change most: the expected number of record pairs a match links,
      match_probability x the records of one customer x the records of the other.
    - `one_customer`: pairs other links already join, grouped by their customer, most pairs
      first (a no_match there splits the customer).
    - `guarded`: pairs across two customers that a guard keeps apart (`guard` says which: two
      birth dates, two accounts of a one-per-customer source...); a match forces them
      together, which is seldom right.
    - `undecidable`: one side gives at most one identity group (a name alone): no steward can
      tell from the records; set apart.
    """
    from whiteglove.clustering import customer_profiles, joined_conflicts

    guards = guards or {}
    sizes = xref.group_by("golden_id").agg(pl.len().alias("size"))
    identity = identity_counts(records)
    pairs = (
        queue.join(
            identity.rename({"record_key": "record_key_l", "identity": "identity_l"}),
            on="record_key_l",
            how="left",
        )
        .join(
            identity.rename({"record_key": "record_key_r", "identity": "identity_r"}),
            on="record_key_r",
            how="left",
        )
        .join(sizes.rename({"golden_id": "golden_id_l", "size": "size_l"}), on="golden_id_l")
        .join(sizes.rename({"golden_id": "golden_id_r", "size": "size_r"}), on="golden_id_r")
        .with_columns(
            (pl.min_horizontal("identity_l", "identity_r").fill_null(0) <= NEARLY_EMPTY).alias(
                "undecidable"
            ),
            (pl.col("golden_id_l") == pl.col("golden_id_r")).alias("one"),
            pl.min_horizontal("golden_id_l", "golden_id_r").alias("customer_a"),
            pl.max_horizontal("golden_id_l", "golden_id_r").alias("customer_b"),
        )
    )
    order = ["match_probability", "record_key_l", "record_key_r"]
    undecidable = pairs.filter(pl.col("undecidable")).sort(order, descending=[True, False, False])
    across = (
        pairs.filter(~pl.col("undecidable") & ~pl.col("one"))
        .sort(order, descending=[True, False, False])
        .group_by("customer_a", "customer_b", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("pairs"))
        .with_columns(
            (pl.col("match_probability") * pl.col("size_l") * pl.col("size_r")).alias("impact")
        )
    )
    strong = tuple(g["field"] for g in guards.get("identifiers", []) if g.get("splits_clusters"))
    singles = tuple(guards.get("one_record_per_customer") or ())
    profiles = customer_profiles(
        records.join(xref.select("record_key", "golden_id"), on="record_key"), strong, singles
    )
    limit = int(guards.get("max_cluster_size") or 10**9)
    conflicts = [
        "; ".join(joined_conflicts(profiles[a], profiles[b], limit))
        for a, b in across.select("golden_id_l", "golden_id_r").rows()
    ]
    across = across.with_columns(pl.Series("guard", conflicts, dtype=pl.String)).sort(
        ["impact", "match_probability", "record_key_l", "record_key_r"],
        descending=[True, True, False, False],
    )
    one = pairs.filter(~pl.col("undecidable") & pl.col("one"))
    counts = one.group_by("golden_id_l").agg(pl.len().alias("pairs_in_customer"))
    one_customer = one.join(counts, on="golden_id_l").sort(
        ["pairs_in_customer", "golden_id_l", "match_probability"],
        descending=[True, False, True],
    )
    return {
        "decide": across.filter(pl.col("guard") == ""),
        "one_customer": one_customer,
        "guarded": across.filter(pl.col("guard") != ""),
        "undecidable": undecidable,
    }


def page_order(parts: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The queue's pairs (record_key_l, record_key_r) in the order the review page shows
    them: `decide`, `one_customer`, `guarded`, then `undecidable`."""
    return pl.concat([parts[k].select("record_key_l", "record_key_r") for k in PAGE_SECTIONS])


PAGE_SECTIONS = ("decide", "one_customer", "guarded", "undecidable")
