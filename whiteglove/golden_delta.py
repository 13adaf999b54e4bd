"""Survivorship for what changed: an incremental run recomputes only the customers whose
records changed and carries every other golden row and its lineage from the previous
publication.

Survivorship is per customer: a customer's golden values and lineage depend on its own
records (all their columns but the bookkeeping ones below), the survivorship settings and
the survivorship code, and on nothing else. So a customer whose golden id holds exactly the
records it held in the previous publication, under the same settings and code, has exactly
the golden row and lineage it had then; `tests/test_golden_delta.py` checks that against a
full recomputation after adds, edits, deletes, merges and splits.

A customer counts as unchanged when a digest of its records (the XOR of one hash per record,
and their number) equals the previous publication's for the same golden id. The previous
publication is read like any other input from the output folder: a table missing, of
another shape, inconsistent with itself (a golden id or a record repeated, lineage of a
customer the golden table lacks), or made under other settings or code means computing every
customer. Its values are not checked against the records: they are carried as published
until the customer's records change, and a full run computes every customer again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import polars as pl

from whiteglove.config import GoldenConfig, SourceConfig, SourcesConfig
from whiteglove.golden import survive

log = logging.getLogger(__name__)

# Columns of customer_records that survivorship never reads: where and when a record was
# read. A record moved to another line of its export (a line deleted above it) or read again
# is the same record to survivorship.
NOT_SURVIVED = ("row_number", "file", "loaded_at")
_DIGEST, _COUNT = "__digest", "__records"


@dataclass(frozen=True)
class PreviousGolden:
    """What the previous publication holds for survivorship to carry over."""

    key: str  # survivorship_key() of the run that published it
    records: pl.DataFrame  # its customer_records
    xref: pl.DataFrame  # its customer_xref: source, source_record_id, golden_id
    golden: pl.DataFrame  # its golden_customers, without the history columns
    lineage: pl.DataFrame  # its golden_lineage


@dataclass(frozen=True)
class Survived:
    golden: pl.DataFrame
    lineage: pl.DataFrame
    recomputed: int  # customers whose values were computed by this run
    carried: int  # customers whose row and lineage were carried from the previous publication
    why_all: str | None = None  # why every customer was recomputed, when it was not a choice


def survivorship_key(config: SourcesConfig, code: str) -> str:
    """Equal keys: the same records give the same golden values and lineage.

    `code` is the version of the survivorship code (whiteglove.incremental.code_version)."""
    settings = {
        "golden": config.golden.model_dump(mode="json"),
        "sources": [s.model_dump(mode="json") for s in config.sources],
        "code": code,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def record_digests(records: pl.DataFrame) -> pl.Series:
    """One hash per record of everything survivorship reads of it."""
    values = records.drop(*NOT_SURVIVED, "golden_id", strict=False)
    # categories hash by their codes, which depend on the frame: hash their text
    values = values.with_columns(
        pl.col(c).cast(pl.String)
        for c, dtype in values.schema.items()
        if isinstance(dtype, pl.Categorical | pl.Enum)
    )
    return values.select(sorted(values.columns)).hash_rows()  # whatever the column order


def customer_digests(golden_ids: pl.Series, digests: pl.Series) -> pl.DataFrame:
    """golden_id, the XOR of its records' digests, and their number."""
    return (
        pl.DataFrame({"golden_id": golden_ids, _DIGEST: digests})
        .group_by("golden_id")
        .agg(pl.col(_DIGEST).bitwise_xor(), pl.len().alias(_COUNT))
    )


def survive_changed(
    records: pl.DataFrame,
    attributes: list[str],
    golden: GoldenConfig,
    sources: list[SourceConfig],
    key: str,
    previous: PreviousGolden | None,
) -> Survived:
    """`survive(records, ...)`, computing only the customers whose records differ from the
    previous publication's (all of them without a usable one).

    The carried customers come first, in their previous order, then the computed ones in
    golden id order: reordering the lineage (one row per value) would cost more than
    everything else here.
    """
    why = _unusable(previous, key, records)
    if why is None:
        assert previous is not None
        # the shape survivorship gives now, from one customer's records
        first = records.filter(pl.col("golden_id") == records["golden_id"].min())
        shape = tuple(t.schema for t in survive(first, attributes, golden, sources))
        if shape != (previous.golden.schema, previous.lineage.schema):
            why = "the previous golden table or lineage has another shape"
    if why is not None:
        log.info("every customer computed: %s", why)
        table, lineage = survive(records, attributes, golden, sources)
        return Survived(table, lineage, table.height, 0, why)
    assert previous is not None
    current = customer_digests(records["golden_id"], record_digests(records))
    keys = ["source", "source_record_id"]
    was_in = previous.records.select(keys).join(
        previous.xref, on=keys, how="left", maintain_order="left"
    )
    before = customer_digests(was_in["golden_id"], record_digests(previous.records))
    same = current.join(before, on=["golden_id", _DIGEST, _COUNT], how="semi")["golden_id"]
    kept = pl.col("golden_id").is_in(same.implode())
    carried = previous.golden.select("golden_id").filter(kept)["golden_id"]
    changed = records.filter(~pl.col("golden_id").is_in(carried.implode()))
    # looked up by the few previous customers that are not carried, not the many that are
    not_carried = previous.golden.select("golden_id").filter(~kept)["golden_id"].implode()
    carried_golden = previous.golden.filter(~pl.col("golden_id").is_in(not_carried))
    carried_lineage = previous.lineage.filter(~pl.col("golden_id").is_in(not_carried))
    if changed.is_empty():
        return Survived(carried_golden, carried_lineage, 0, carried_golden.height)
    table, lineage = survive(changed, attributes, golden, sources)
    return Survived(
        pl.concat([carried_golden, table]),
        pl.concat([carried_lineage, lineage]),
        table.height,
        carried_golden.height,
    )


def _unusable(previous: PreviousGolden | None, key: str, records: pl.DataFrame) -> str | None:
    if previous is None:
        return "no previous publication made under these survivorship settings and code"
    if previous.key != key:
        return "survivorship settings or code changed"
    if not previous.golden["golden_id"].is_unique().all():
        return "the previous golden table repeats a golden id"
    if set(previous.records.columns) != set(records.columns) - {"golden_id"}:
        return "the records' columns changed"
    keys = ["source", "source_record_id"]
    if previous.xref.select(keys).is_duplicated().any():
        return "the previous crosswalk repeats a record"
    # lineage of no customer of the golden table would be carried beside a recomputed one
    strays = (
        previous.lineage.select("golden_id")
        .unique()
        .join(previous.golden.select("golden_id"), on="golden_id", how="anti")
    )
    if strays.height:
        return "the previous lineage names customers the golden table does not hold"
    return None
