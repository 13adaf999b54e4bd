"""Standardized sources, the union of usable records, and the quarantine of the rest."""

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
)

from assets.checks import passed_errors, suite_check_specs, validate_asset
from assets.metadata import table_metadata
from pipelines.resources import REUSED_TAG, WORK_DIR, WhiteGloveSettings
from whiteglove.config import SourceConfig
from whiteglove.incremental import confirm_fingerprint, demote_fingerprint, reuse_problems
from whiteglove.quarantine import accepted, invalid_value_counts, rejected


def standardized_source_asset(source: SourceConfig, suite: dict) -> AssetsDefinition:
    name = f"standardized_{source.name}"

    @asset(
        name=name,
        group_name="standardize",
        kinds={"polars", "great_expectations"},
        check_specs=suite_check_specs(name, suite, "standardized"),
        ins={"raw": AssetIn(f"raw_{source.name}")},
        description=(
            f"'{source.name}' in the canonical schema: names split and cased, emails lowered, "
            "phones in E.164, dates parsed, postcodes padded. Invalid values are nulled and "
            "named in _invalid; unusable rows carry their _reasons."
        ),
    )
    def standardized(
        context: AssetExecutionContext, settings: WhiteGloveSettings, raw: pl.DataFrame
    ):
        from whiteglove.standardize import standardize_source

        config = settings.sources()
        demote_fingerprint(settings.output / WORK_DIR, source.name)
        frame = standardize_source(raw, config.source(source.name), config.defaults.country)
        nulled = invalid_value_counts(frame)
        rejects = frame.filter(pl.col("_reasons").list.len() > 0).height
        context.log.info(
            f"{source.name}: {frame.height - rejects} usable, {rejects} rejected, "
            f"invalid values nulled: {nulled or 'none'}"
        )
        yield Output(
            frame,
            metadata=table_metadata(
                frame, rejected_rows=rejects, invalid_values=MetadataValue.json(nulled)
            ),
        )
        results = validate_asset(context, settings, frame, suite, "standardized")
        yield from results
        if passed_errors(results):
            # an incremental run may now reuse this source's tables while its files stay as
            # they are (a fingerprint is pending only if the raw tables passed theirs)
            confirm_fingerprint(settings.output / WORK_DIR, source.name)

    return standardized


def customer_records_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    ins = {s.name: AssetIn(f"standardized_{s.name}") for s in sources}

    @asset(
        group_name="standardize",
        kinds={"polars"},
        ins=ins,
        description="All usable records of all sources in one canonical schema (linkage input).",
    )
    def customer_records(
        context: AssetExecutionContext, settings: WhiteGloveSettings, **standardized: pl.DataFrame
    ) -> Output[pl.DataFrame]:
        reused = [s for s in context.run.tags.get(REUSED_TAG, "").split(",") if s]
        problems = reuse_problems(
            settings.sources(), settings.output / WORK_DIR, list(standardized), reused
        )
        if problems:
            raise RuntimeError("cannot use the stored source tables: " + "; ".join(problems))
        frame = accepted(list(standardized.values()))
        per_source = frame.group_by("source").len().sort("source")
        return Output(
            frame,
            metadata=table_metadata(
                frame, records_per_source=MetadataValue.json(dict(per_source.iter_rows()))
            ),
        )

    return customer_records


def quarantine_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    ins = {s.name: AssetIn(f"standardized_{s.name}") for s in sources}

    @asset(
        group_name="standardize",
        kinds={"polars"},
        ins=ins,
        description=(
            "Input rows that cannot be used (unparseable, no id, duplicate id, no identity "
            "field), with the raw row, its row number and every reason."
        ),
    )
    def quarantine(
        context: AssetExecutionContext, **standardized: pl.DataFrame
    ) -> Output[pl.DataFrame]:
        frame = rejected(list(standardized.values()))
        by_reason = (
            frame.explode("reasons")
            .with_columns(pl.col("reasons").str.replace(r" \(.*", ""))
            .group_by("reasons")
            .len()
            .sort("len", descending=True)
        )
        for source, n in frame.group_by("source").len().sort("source").iter_rows():
            context.log.warning(f"{source}: {n} row(s) quarantined")
        return Output(
            frame,
            metadata=table_metadata(
                frame, by_reason=MetadataValue.json(dict(by_reason.iter_rows()))
            ),
        )

    return quarantine
