"""Golden customers: stable ids, survivorship and lineage."""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from assets.checks import suite_check_specs, validate_asset
from assets.metadata import table_metadata
from pipelines.resources import WhiteGloveSettings
from whiteglove.golden import describe_rules, survive
from whiteglove.golden_ids import assign_golden_ids, crosswalk, orphan_counts
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
    records = (
        # only what the crosswalk publishes: joining all record columns took three times longer
        customer_records.select("source", "source_record_id", "record_key", "row_number")
        .join(clusters, on="record_key")
        .join(ids, on="cluster_id")
    )
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


def golden_customers_asset(suite: dict) -> AssetsDefinition:
    crosswalk_check = AssetCheckSpec(
        name="crosswalk_matches_golden_table",
        asset="golden_customers",
        blocking=True,
        description=(
            "[ERROR] every customer_xref row points to a golden customer and every golden "
            "customer has crosswalk rows (no orphans either way)"
        ),
    )

    @multi_asset(
        group_name="golden",
        outs={
            "golden_customers": AssetOut(
                kinds={"polars", "great_expectations"},
                description=(
                    "One row per customer: surviving identity fields, attributes, counts. "
                    "Validated with the golden_customers suite."
                ),
            ),
            "golden_lineage": AssetOut(
                kinds={"polars"},
                description="For every golden value: the source record and rule that supplied it.",
            ),
        },
        check_specs=[*suite_check_specs("golden_customers", suite, "golden"), crosswalk_check],
    )
    def golden_customers(
        context: AssetExecutionContext,
        settings: WhiteGloveSettings,
        customer_records: pl.DataFrame,
        customer_xref: pl.DataFrame,
    ):
        config = settings.sources()
        # profile columns in the order the sources file declares them
        attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
        # survivorship breaks ties by its own ranks, not row order; keeping the left order
        # is simply the cheaper join (1.6 s -> 0.9 s at a million records)
        records = customer_records.join(
            customer_xref.select("record_key", "golden_id"), on="record_key", maintain_order="left"
        )
        golden, lineage = survive(records, attributes, config.golden)
        rules = describe_rules(config.golden, attributes)
        filled = {c: golden.height - golden[c].null_count() for c in rules}
        yield Output(
            golden,
            output_name="golden_customers",
            metadata=table_metadata(
                golden,
                survivorship=MetadataValue.md(
                    "| column | rule | customers with a value |\n|---|---|---|\n"
                    + "\n".join(f"| {c} | {r} | {filled[c]} |" for c, r in rules.items())
                ),
            ),
        )
        per_rule = lineage.group_by("rule").len().sort("rule")
        yield Output(
            lineage,
            output_name="golden_lineage",
            metadata=table_metadata(
                lineage, rows_by_rule=MetadataValue.json(dict(per_rule.iter_rows()))
            ),
        )
        yield from validate_asset(context, settings, golden, suite, "golden")
        orphans = orphan_counts(golden, customer_xref)
        yield AssetCheckResult(
            check_name=crosswalk_check.name,
            asset_key="golden_customers",
            passed=not any(orphans.values()),
            severity=AssetCheckSeverity.ERROR,
            metadata=orphans,
        )

    return golden_customers
