"""raw_<source>: every row of a source's exports, as read, with lineage columns."""

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, Output, asset

from assets.checks import passed_errors, suite_check_specs, validate_asset
from assets.metadata import table_metadata
from pipelines.resources import WORK_DIR, WhiteGloveSettings
from whiteglove.config import SourceConfig
from whiteglove.extract import extract_source
from whiteglove.incremental import forget_fingerprint, source_fingerprint, stage_fingerprint


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
        work = settings.output / WORK_DIR
        forget_fingerprint(work, source.name)
        # taken before reading: a file replaced meanwhile makes the next run read it again
        fingerprint = source_fingerprint(config, this, suite)
        frame = extract_source(this, config.files(this))
        unparsed = frame.filter(pl.col("_parse_error").is_not_null()).height
        context.log.info(f"{source.name}: read {frame.height} rows, {unparsed} unparseable")
        yield Output(frame, metadata=table_metadata(frame, unparseable_rows=unparsed))
        results = validate_asset(context, settings, frame, suite, "raw")
        yield from results
        if passed_errors(results):
            stage_fingerprint(work, source.name, fingerprint)

    return raw
