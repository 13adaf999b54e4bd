"""What a lookup of one caller needs, published with the golden table (whiteglove/lookup/)."""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.resources import RunSettings
from whiteglove.linkage.blocking import capped_rules, with_block_keys
from whiteglove.linkage.model import match_frame
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
    customer_records: pl.DataFrame,
    customer_xref: pl.DataFrame,
    linkage_choices: dict,
) -> Output[pl.DataFrame]:
    config = settings.config
    # with the keys of the rules kept for rare values, so explain sees the blocks linkage saw
    frame = with_block_keys(
        match_frame(customer_records, config.linkage.match_fields), capped_rules(linkage_choices)
    )
    records = records_with_golden_ids(frame, customer_xref)
    lookup = match_settings(config, linkage_choices)
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
