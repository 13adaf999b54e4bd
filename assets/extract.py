"""raw_<source>: every row of a source's exports, as read, with lineage columns."""

import polars as pl
from dagster import AssetExecutionContext, AssetOut, AssetsDefinition

from assets.checks import validated_asset, validated_outputs
from assets.metadata import table_metadata
from assets.resources import INCREMENTAL_TAG, RunSettings
from whiteglove.appended import read_source
from whiteglove.config import SourceConfig
from whiteglove.incremental import (
    source_fingerprint,
    source_settings_fingerprint,
    source_stage_version,
)
from whiteglove.masking import source_column_kinds
from whiteglove.suppression import SUPPRESSION_REASON
from whiteglove.validation import Suite


def raw_source_asset(source: SourceConfig, suite: Suite) -> AssetsDefinition:
    name = f"raw_{source.name}"
    table = AssetOut(
        kinds={"polars", "parquet"},
        code_version=source_stage_version(),
        description=(
            f"Every row of the '{source.name}' export ({source.path}) as read, unparsed rows "
            "included, with lineage columns _source, _file, _row_number and _loaded_at. "
            "Validated with the raw-stage expectations of its suite."
        ),
    )

    @validated_asset(name, group_name="extract", stage="raw", suite=suite, out=table)
    def raw(context: AssetExecutionContext, settings: RunSettings):
        config = settings.config
        this = config.source(source.name)
        # taken before reading: a file replaced meanwhile makes the next run read it again
        fingerprint = source_fingerprint(config, this, suite)
        source_settings = source_settings_fingerprint(config, this, suite)
        # an incremental run reads only what was appended, when it can (whiteglove/appended.py);
        # before anything else sees the rows, an erased person's rows are emptied there
        incremental = context.run.tags.get(INCREMENTAL_TAG) == "true"
        stored = settings.layout if incremental else None
        read = read_source(config, this, source_settings, settings.suppression, stored)
        frame, erased = read.frame, read.erased
        context.log.info(f"{source.name}: {read.note}")
        if erased:
            context.log.info(f"{source.name}: {erased} row(s) emptied: {SUPPRESSION_REASON}")
        unparsed = frame.filter(pl.col("_parse_error").is_not_null()).height - erased
        context.log.info(f"{source.name}: {frame.height} rows, {unparsed} unparseable")
        metadata = table_metadata(
            frame,
            reveal_personal_data=settings.reveal_personal_data,
            kinds=source_column_kinds(this),
            unparseable_rows=unparsed,
            erased_on_request=erased,
            rows_appended=read.appended_rows,
            rows_reread=read.reread_rows,
            extraction=read.note,
        )
        record = read.record(source_settings, settings.suppression.fingerprint())
        yield from validated_outputs(
            context, name, frame, suite, "raw", metadata, fingerprint, record
        )

    return raw
