"""raw_<source>: every row of a source's exports, as read, with lineage columns."""

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, Output, asset

from assets.metadata import table_metadata
from pipelines.resources import WhiteGloveSettings
from whiteglove.config import SourceConfig
from whiteglove.extract import extract_source


def raw_source_asset(source: SourceConfig) -> AssetsDefinition:
    @asset(
        name=f"raw_{source.name}",
        group_name="extract",
        kinds={"polars", "parquet", source.format},
        description=(
            f"Every row of the '{source.name}' export ({source.path}) as read, unparsed rows "
            "included, with lineage columns _source, _file, _row_number and _loaded_at."
        ),
    )
    def raw(context: AssetExecutionContext, settings: WhiteGloveSettings) -> Output[pl.DataFrame]:
        config = settings.sources()
        frame = extract_source(config.source(source.name), config.files(config.source(source.name)))
        unparsed = frame.filter(pl.col("_parse_error").is_not_null()).height
        context.log.info(f"{source.name}: read {frame.height} rows, {unparsed} unparseable")
        return Output(frame, metadata=table_metadata(frame, unparseable_rows=unparsed))

    return raw
