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

from assets.checks import validated_asset, validated_outputs, validation_name
from assets.metadata import table_metadata
from assets.resources import REUSED_TAG, RunSettings
from whiteglove.config import SourceConfig
from whiteglove.incremental import STAGES, reuse_problems, source_stage_version
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
        ins={
            "raw": AssetIn(f"raw_{source.name}"),
            "raw_validation": AssetIn(validation_name(f"raw_{source.name}")),
        },
    )
    def standardized(
        context: AssetExecutionContext,
        settings: RunSettings,
        raw: pl.DataFrame,
        raw_validation: dict,
    ):
        from whiteglove.appended import standardize_appended
        from whiteglove.standardize import standardize_source

        config = settings.config
        this = config.source(source.name)
        # rows appended to the raw table are standardized alone (whiteglove/appended.py)
        appended = standardize_appended(raw, raw_validation, config, this, settings.layout)
        if isinstance(appended, tuple):
            frame, new_rows = appended
            context.log.info(f"{source.name}: standardized the {new_rows} appended row(s)")
        else:
            context.log.info(f"{source.name}: standardized whole: {appended}")
            frame = standardize_source(
                raw,
                this,
                config.defaults.country,
                limits=config.limits,
                validity=config.validity_for(this),
            )
            new_rows = frame.height
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
            rows_standardized=new_rows,
        )
        # what the raw table was built from carries on only if it passed its ERROR checks
        built_from = raw_validation["built_from"] if raw_validation["success"] else None
        yield from validated_outputs(
            context, name, frame, suite, "standardized", metadata, built_from
        )

    return standardized


def _standardized_ins(sources: list[SourceConfig]) -> dict[str, AssetIn]:
    return {s.name: AssetIn(f"standardized_{s.name}") for s in sources}


def customer_records_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    # the validations say what each source's tables were built from: an incremental run
    # checks that the tables it reuses still are what a rebuild would give
    validations = {
        validation_name(f"{stage}_{s.name}"): AssetIn(validation_name(f"{stage}_{s.name}"))
        for s in sources
        for stage in STAGES
    }

    @asset(
        group_name="standardize",
        kinds={"polars"},
        ins={**_standardized_ins(sources), **validations},
        description="All usable records of all sources in one canonical schema (linkage input).",
    )
    def customer_records(
        context: AssetExecutionContext, settings: RunSettings, **inputs: pl.DataFrame | dict
    ) -> Output[pl.DataFrame]:
        names = [s.name for s in sources]
        reused = [s for s in context.run.tags.get(REUSED_TAG, "").split(",") if s in names]
        pairs = {
            s: tuple(inputs[validation_name(f"{stage}_{s}")] for stage in STAGES) for s in reused
        }
        problems = reuse_problems(settings.config, names, pairs)
        if problems:
            raise RuntimeError("cannot use the stored source tables: " + "; ".join(problems))
        frame = accepted([inputs[s.name] for s in sources])
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
