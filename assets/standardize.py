"""Standardized sources, the union of usable records, and the quarantine of the rest."""

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
)

from assets.checks import validated_asset, validated_outputs
from assets.metadata import table_metadata
from assets.resources import REUSED_TAG, RunSettings
from whiteglove.config import SourceConfig
from whiteglove.incremental import SourceFingerprints, source_stage_version
from whiteglove.quarantine import accepted, invalid_value_counts, quarantine_reasons, rejected
from whiteglove.validation import Suite


def standardized_source_asset(source: SourceConfig, suite: Suite) -> AssetsDefinition:
    name = f"standardized_{source.name}"
    table = AssetOut(
        kinds={"polars"},
        code_version=source_stage_version(),
        description=(
            f"'{source.name}' in the canonical schema: names split and cased, emails lowered, "
            "phones in E.164, dates parsed, postcodes padded. Invalid values are nulled and "
            "named in _invalid; unusable rows carry their _reasons."
        ),
    )

    @validated_asset(
        name,
        group_name="standardize",
        stage="standardized",
        suite=suite,
        out=table,
        ins={"raw": AssetIn(f"raw_{source.name}")},
    )
    def standardized(context: AssetExecutionContext, settings: RunSettings, raw: pl.DataFrame):
        from whiteglove.standardize import standardize_source

        config = settings.config
        fingerprints = SourceFingerprints(settings.layout)
        fingerprints.standardizing(source.name)
        frame = standardize_source(raw, config.source(source.name), config.defaults.country)
        nulled = invalid_value_counts(frame)
        rejects = frame.filter(pl.col("_reasons").list.len() > 0).height
        context.log.info(
            f"{source.name}: {frame.height - rejects} usable, {rejects} rejected, "
            f"invalid values nulled: {nulled or 'none'}"
        )
        metadata = table_metadata(
            frame,
            reveal_personal_data=settings.reveal_personal_data,
            rejected_rows=rejects,
            invalid_values=MetadataValue.json(nulled),
        )
        if (yield from validated_outputs(context, name, frame, suite, "standardized", metadata)):
            # an incremental run may now reuse this source's tables while its files stay as
            # they are (a fingerprint is pending only if the raw tables passed theirs)
            fingerprints.standardized(source.name)

    return standardized


def _standardized_ins(sources: list[SourceConfig]) -> dict[str, AssetIn]:
    return {s.name: AssetIn(f"standardized_{s.name}") for s in sources}


def customer_records_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    @asset(
        group_name="standardize",
        kinds={"polars"},
        ins=_standardized_ins(sources),
        description="All usable records of all sources in one canonical schema (linkage input).",
    )
    def customer_records(
        context: AssetExecutionContext, settings: RunSettings, **standardized: pl.DataFrame
    ) -> Output[pl.DataFrame]:
        reused = [s for s in context.run.tags.get(REUSED_TAG, "").split(",") if s]
        fingerprints = SourceFingerprints(settings.layout)
        problems = fingerprints.reuse_problems(settings.config, list(standardized), reused)
        if problems:
            raise RuntimeError("cannot use the stored source tables: " + "; ".join(problems))
        frame = accepted(list(standardized.values()))
        per_source = frame.group_by("source").len().sort("source")
        return Output(
            frame,
            metadata=table_metadata(
                frame,
                reveal_personal_data=settings.reveal_personal_data,
                records_per_source=MetadataValue.json(dict(per_source.iter_rows())),
            ),
        )

    return customer_records


def quarantine_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    @asset(
        group_name="standardize",
        kinds={"polars"},
        ins=_standardized_ins(sources),
        description=(
            "Input rows that cannot be used (unparseable, no id, duplicate id, no identity "
            "field), with the raw row, its row number and every reason."
        ),
    )
    def quarantine(
        context: AssetExecutionContext, settings: RunSettings, **standardized: pl.DataFrame
    ) -> Output[pl.DataFrame]:
        frame = rejected(list(standardized.values()))
        for source, n in frame.group_by("source").len().sort("source").iter_rows():
            context.log.warning(f"{source}: {n} row(s) quarantined")
        return Output(
            frame,
            metadata=table_metadata(
                frame,
                reveal_personal_data=settings.reveal_personal_data,
                by_reason=MetadataValue.json(quarantine_reasons(frame)),
            ),
        )

    return quarantine
