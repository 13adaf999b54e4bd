"""Survivorship of what changed: carrying unchanged customers gives what a full survivorship
of all records gives, after adds, edits, deletes, merges and splits."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from whiteglove.config import load_sources
from whiteglove.golden import survive
from whiteglove.golden_delta import PreviousGolden, survive_changed

KEY = "settings-and-code"


@pytest.fixture(scope="module")
def before(fresh_run):
    """The records of a generated run, each with its golden id, and the config."""
    config = load_sources(fresh_run.sources)
    work = fresh_run.out / ".work"
    xref = pl.read_parquet(work / "customer_xref.parquet").select("record_key", "golden_id")
    records = pl.read_parquet(work / "customer_records.parquet").join(xref, on="record_key")
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    return records, config, attributes


def full(records: pl.DataFrame, config, attributes) -> tuple[pl.DataFrame, pl.DataFrame]:
    return survive(records, attributes, config.golden, config.sources)


def previous_of(records: pl.DataFrame, config, attributes) -> PreviousGolden:
    golden, lineage = full(records, config, attributes)
    xref = records.select("source", "source_record_id", "golden_id")
    return PreviousGolden(KEY, records.drop("golden_id"), xref, golden, lineage)


def in_golden_id_order(delta) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The golden table and lineage in the order one survivorship of all records gives."""
    return (
        delta.golden.sort("golden_id", maintain_order=True),
        delta.lineage.sort("golden_id", maintain_order=True),
    )


def changed_records(records: pl.DataFrame) -> tuple[pl.DataFrame, set[str]]:
    """Edits, deletes, arrivals, a merge and a split; and the golden ids they touch."""
    sizes = records.group_by("golden_id").len().sort("golden_id")
    multi = sizes.filter(pl.col("len") >= 3)["golden_id"].to_list()
    edited, deleted, grown, merged_from, merged_into, split = (
        multi[0:5],
        multi[5:10],
        multi[10:15],
        multi[15],
        multi[16],
        multi[17],
    )
    key = pl.col("record_key")
    first_of = records.group_by("golden_id", maintain_order=True).agg(pl.col("record_key").first())
    firsts = dict(first_of.iter_rows())
    edits = [firsts[g] for g in edited]
    deletes = [firsts[g] for g in deleted]
    arrivals = (
        records.filter(pl.col("golden_id").is_in(grown))
        .group_by("golden_id", maintain_order=True)
        .first()
        .with_columns(
            (pl.lit("support:NEW-") + pl.col("source_record_id")).alias("record_key"),
            pl.lit("support").alias("source"),
            ("NEW-" + pl.col("source_record_id")).alias("source_record_id"),
            pl.lit("new.address@example.org").alias("email"),
        )
        .select(records.columns)
    )
    after = (
        records.filter(~key.is_in(deletes))
        .with_columns(
            pl.when(key.is_in(edits))
            .then(pl.lit("edited@example.org"))
            .otherwise("email")
            # every record moved one line up in its export: not a change to survivorship
            .alias("email"),
            pl.col("row_number") - 1,
            pl.when(pl.col("golden_id") == merged_from)
            .then(pl.lit(merged_into))
            .when(key == firsts[split])
            .then(pl.lit("G-SPLIT-OUT"))
            .otherwise("golden_id")
            .alias("golden_id"),
        )
        .vstack(arrivals)
    )
    touched = {*edited, *deleted, *grown, merged_into, split, "G-SPLIT-OUT"}
    return after, touched


def test_carrying_unchanged_customers_equals_a_full_survivorship(before):
    records, config, attributes = before
    previous = previous_of(records, config, attributes)
    after, touched = changed_records(records)

    delta = survive_changed(after, attributes, config.golden, config.sources, KEY, previous)
    golden, lineage = full(after, config, attributes)

    assert_frame_equal(in_golden_id_order(delta)[0], golden)
    assert_frame_equal(in_golden_id_order(delta)[1], lineage)
    assert delta.recomputed == len(touched)
    assert delta.carried == golden.height - len(touched)
    assert delta.why_all is None
    # the merged-away customer is gone, the split-out record is a customer of its own
    assert "G-SPLIT-OUT" in delta.golden["golden_id"].to_list()


def test_nothing_changed_carries_every_customer(before):
    records, config, attributes = before
    previous = previous_of(records, config, attributes)
    delta = survive_changed(records, attributes, config.golden, config.sources, KEY, previous)
    assert (delta.recomputed, delta.carried) == (0, previous.golden.height)
    assert_frame_equal(delta.golden, previous.golden)
    assert_frame_equal(delta.lineage, previous.lineage)


@pytest.mark.parametrize(
    "spoil", ["key", "shape", "repeated", "stray lineage", "repeated record", "none"]
)
def test_a_previous_publication_that_cannot_be_trusted_means_computing_all(before, spoil):
    records, config, attributes = before
    previous = previous_of(records, config, attributes)
    if spoil == "key":  # other survivorship settings or code
        previous = replace(previous, key="other")
    elif spoil == "shape":  # a column of another type in the previous golden table
        golden = previous.golden.with_columns(pl.col("record_count").cast(pl.Float64))
        previous = replace(previous, golden=golden)
    elif spoil == "repeated":
        previous = replace(previous, golden=pl.concat([previous.golden, previous.golden.head(1)]))
    elif spoil == "stray lineage":  # a value of a customer the golden table does not hold
        stray = previous.lineage.head(1).with_columns(golden_id=pl.lit("G-NOT-IN-GOLDEN"))
        previous = replace(previous, lineage=pl.concat([previous.lineage, stray]))
    elif spoil == "repeated record":  # one record in two customers
        previous = replace(previous, xref=pl.concat([previous.xref, previous.xref.head(1)]))
    else:
        previous = None
    after, _ = changed_records(records)

    delta = survive_changed(after, attributes, config.golden, config.sources, KEY, previous)
    golden, lineage = full(after, config, attributes)

    assert_frame_equal(in_golden_id_order(delta)[0], golden)
    assert_frame_equal(in_golden_id_order(delta)[1], lineage)
    assert (delta.recomputed, delta.carried) == (golden.height, 0)
    assert delta.why_all


def test_a_record_the_previous_crosswalk_lacks_only_recomputes_its_customer(before):
    records, config, attributes = before
    previous = previous_of(records, config, attributes)
    lost = previous.xref.row(0, named=True)
    previous = replace(
        previous, xref=previous.xref.filter(pl.col("source_record_id") != lost["source_record_id"])
    )
    delta = survive_changed(records, attributes, config.golden, config.sources, KEY, previous)
    golden, lineage = full(records, config, attributes)
    assert_frame_equal(in_golden_id_order(delta)[0], golden)
    assert_frame_equal(in_golden_id_order(delta)[1], lineage)
    assert delta.recomputed == 1 and delta.why_all is None


def test_a_previous_table_of_another_shape_is_not_carried_even_when_nothing_changed(before):
    records, config, attributes = before
    previous = previous_of(records, config, attributes)
    previous = replace(previous, lineage=previous.lineage.drop("runner_up"))
    delta = survive_changed(records, attributes, config.golden, config.sources, KEY, previous)
    assert delta.carried == 0 and "shape" in delta.why_all
    assert_frame_equal(delta.lineage, full(records, config, attributes)[1])
