"""Golden customers: stable ids, survivorship and lineage."""

import polars as pl
from dagster import AssetExecutionContext, AssetOut, Output, asset, multi_asset

from assets.metadata import table_metadata
from pipelines.resources import WhiteGloveSettings
from whiteglove.golden import assign_golden_ids, crosswalk, survive
from whiteglove.publish import previous_output
from whiteglove.standardize import record_key


@asset(
    group_name="golden",
    kinds={"polars"},
    description=(
        "Crosswalk: every accepted source record, the golden id it belongs to and the match "
        "confidence. Golden ids published by the previous run are kept."
    ),
)
def customer_xref(
    context: AssetExecutionContext,
    settings: WhiteGloveSettings,
    customer_records: pl.DataFrame,
    clusters: pl.DataFrame,
    match_pairs: pl.DataFrame,
) -> Output[pl.DataFrame]:
    previous_path = previous_output(settings.output, "customer_xref.parquet")
    previous = (
        pl.read_parquet(previous_path).with_columns(
            record_key(pl.col("source"), pl.col("source_record_id")).alias("record_key")
        )
        if previous_path
        else None
    )
    ids = assign_golden_ids(clusters, previous)
    records = customer_records.join(clusters, on="record_key").join(ids, on="cluster_id")
    xref = crosswalk(records, match_pairs)
    kept = 0
    if previous is not None:
        kept = xref.join(
            previous.select("record_key", "golden_id"), on=["record_key", "golden_id"]
        ).height
        context.log.info(
            f"{kept} of {previous.height} previously published records kept their golden id"
        )
    return Output(xref, metadata=table_metadata(xref, records_keeping_previous_golden_id=kept))


@multi_asset(
    group_name="golden",
    outs={
        "golden_customers": AssetOut(
            kinds={"polars"},
            description="One row per customer: surviving identity fields, attributes, counts.",
        ),
        "golden_lineage": AssetOut(
            kinds={"polars"},
            description="For every golden value: the source record and rule that supplied it.",
        ),
    },
)
def golden_customers(
    settings: WhiteGloveSettings, customer_records: pl.DataFrame, customer_xref: pl.DataFrame
):
    attributes = sorted({a for s in settings.sources().sources for a in s.attributes})
    records = customer_records.join(
        customer_xref.select("record_key", "golden_id"), on="record_key"
    )
    golden, lineage = survive(records, attributes)
    yield Output(golden, output_name="golden_customers", metadata=table_metadata(golden))
    yield Output(lineage, output_name="golden_lineage", metadata=table_metadata(lineage))
