"""What a lookup of one caller needs, published with the golden table (whiteglove/lookup/)."""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.resources import RunSettings
from whiteglove.lookup import match_records as records_with_golden_ids
from whiteglove.lookup import match_settings


@asset(
    group_name="golden",
    kinds={"polars"},
    description=(
        "Every accepted record as the model compared it (folded names, name keys, email parts) "
        "with the golden id that holds it, and the settings a lookup needs to treat one record "
        "as this run treated its records: `whiteglove lookup` and `whiteglove serve` resolve a "
        "caller against it without a scan of the records."
    ),
)
def match_records(
    context: AssetExecutionContext,
    settings: RunSettings,
    compared_records: pl.DataFrame,
    customer_xref: pl.DataFrame,
    linkage_choices: dict,
) -> Output[pl.DataFrame]:
    # with the keys of the rules kept for rare values, so explain sees the blocks linkage saw
    records = records_with_golden_ids(compared_records, customer_xref)
    lookup = match_settings(settings.config, linkage_choices)
    context.log.info(f"{records.height:,} records indexed for lookups")
    # no preview: every column but the golden id is a person's data in another form
    return Output(
        records,
        metadata={
            "dagster/row_count": records.height,
            "blocking_rules": MetadataValue.json(lookup["blocking_rules"]),
            "match_threshold": lookup["match_threshold"],
            "match_settings": MetadataValue.json(lookup),
        },
    )
