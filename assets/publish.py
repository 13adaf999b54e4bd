"""Publication: every output of contract 3, switched into place atomically."""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.checks import CHECKS_DIR, run_folder
from assets.report import REPORTS_DIR
from pipelines.resources import WhiteGloveSettings
from whiteglove.publish import publish
from whiteglove.summary import run_summary
from whiteglove.validation import read_summaries


@asset(
    group_name="publish",
    deps=["data_quality_report", "linkage_report"],
    kinds={"parquet", "duckdb"},
    description=(
        "The published output folder: golden_customers, customer_xref, golden_lineage, "
        "match_pairs and quarantine as Parquet and in customers.duckdb, the trained model, "
        "reports/ and run_summary.json, switched into place atomically."
    ),
)
def published_outputs(
    context: AssetExecutionContext,
    settings: WhiteGloveSettings,
    customer_records: pl.DataFrame,
    quarantine: pl.DataFrame,
    match_pairs: pl.DataFrame,
    customer_xref: pl.DataFrame,
    golden_customers: pl.DataFrame,
    golden_lineage: pl.DataFrame,
) -> MaterializeResult:
    # reports are passed as files, not frames: see deps in the decorator
    config = settings.sources()
    started = datetime.now(UTC)
    raw_rows = {s.name: _row_count(context, f"raw_{s.name}") for s in config.sources}
    summary = run_summary(
        run_id=context.run_id,
        sources_file=settings.sources_path,
        raw_rows=raw_rows,
        customer_records=customer_records,
        quarantine=quarantine,
        tables={
            "match_pairs": match_pairs,
            "customer_xref": customer_xref,
            "golden_customers": golden_customers,
            "golden_lineage": golden_lineage,
        },
        step_seconds=_step_seconds(context),
        match_threshold=config.linkage.match_threshold,
        check_results=read_summaries(run_folder(settings, context) / CHECKS_DIR),
    )
    snapshot_name = f"{started:%Y%m%dT%H%M%S}Z-{context.run_id[:8]}"
    model = settings.output / ".work" / "model.json"
    reports = run_folder(settings, context) / REPORTS_DIR
    publication = publish(
        settings.output,
        snapshot_name,
        tables={
            "golden_customers": golden_customers,
            "customer_xref": customer_xref.drop("record_key"),
            "golden_lineage": golden_lineage,
            "match_pairs": match_pairs,
            "quarantine": quarantine,
        },
        documents={"run_summary.json": summary},
        files={"model.json": model, REPORTS_DIR: reports},
    )
    context.log.info(f"published {len(publication.files)} files to {publication.snapshot}")
    return MaterializeResult(
        metadata={
            "snapshot": MetadataValue.path(str(publication.snapshot)),
            "files": MetadataValue.json(publication.files),
            "golden_customers": golden_customers.height,
            "quarantined_rows": quarantine.height,
        }
    )


def _row_count(context: AssetExecutionContext, asset: str) -> int | None:
    event = context.instance.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("dagster/row_count")
    return int(value.value) if value is not None else None


def _step_seconds(context: AssetExecutionContext) -> dict[str, float]:
    """Wall time of each finished step of this run, from the run's own event log."""
    records = context.instance.all_logs(
        context.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    )
    starts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in records:
        if not entry.step_key or entry.dagster_event is None:
            continue
        if entry.dagster_event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.step_key in starts:
            seconds[entry.step_key] = round(entry.timestamp - starts[entry.step_key], 3)
    return seconds
