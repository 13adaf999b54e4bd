"""raw_<source>: every row of a source's exports, as read, with lineage columns."""

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, Output, asset

from assets.checks import suite_check_specs, validate_asset
from assets.metadata import table_metadata
from pipelines.resources import WhiteGloveSettings
from whiteglove.config import SourceConfig
from whiteglove.extract import extract_source


def raw_source_asset(source: SourceConfig, suite: dict) -> AssetsDefinition:
    name = f"raw_{source.name}"

    @asset(
        name=name,
        group_name="extract",
        kinds={"polars", "parquet", "great_expectations"},
        check_specs=suite_check_specs(name, suite, "raw"),
        description=(
            f"Every row of the '{source.name}' export ({source.path}) as read, unparsed rows "
            "included, with lineage columns _source, _file, _row_number and _loaded_at. "
            "Validated with the raw-stage expectations of its suite."
        ),
    )
    def raw(context: AssetExecutionContext, settings: WhiteGloveSettings):
        config = settings.sources()
        this = config.source(source.name)
        frame = extract_source(this, config.files(this))
        unparsed = frame.filter(pl.col("_parse_error").is_not_null()).height
        context.log.info(f"{source.name}: read {frame.height} rows, {unparsed} unparseable")
        yield Output(frame, metadata=table_metadata(frame, unparseable_rows=unparsed))
        yield from validate_asset(context, settings, frame, suite, "raw")

    return raw
