"""Publication: every output of contract 3, switched into place atomically."""

import json
from datetime import UTC, datetime

import polars as pl
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.changes import read_previous, run_timestamp
from assets.checks import CHECKS_DIR, run_folder, run_results
from assets.report import REPORTS_DIR
from pipelines.resources import WORK_DIR, WhiteGloveSettings
from whiteglove.changes import change_counts, with_history
from whiteglove.publish import publish
from whiteglove.safe_csv import write_csv_for_people
from whiteglove.summary import run_summary
from whiteglove.validation import read_summaries


@asset(
    group_name="publish",
    deps=["data_quality_report", "linkage_report"],
    kinds={"parquet", "duckdb"},
    description=(
        "The published output folder: golden_customers (with valid_from and last_changed), "
        "golden_changes, customer_xref, golden_lineage, match_pairs and quarantine as Parquet "
        "and in customers.duckdb, the trained model, review_queue.csv, reports/ and "
        "run_summary.json, switched into place atomically."
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
    golden_changes: pl.DataFrame,
    review_queue: pl.DataFrame,
    linkage_accuracy: dict,
) -> MaterializeResult:
    # reports are passed as files, not frames: see deps in the decorator
    config = settings.sources()
    started = datetime.now(UTC)
    raw_rows = {s.name: _row_count(settings, f"raw_{s.name}") for s in config.sources}
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
            "golden_changes": golden_changes,
        },
        step_seconds=_step_seconds(context),
        match_threshold=config.linkage.match_threshold,
        check_results=read_summaries(run_results(settings, context) / CHECKS_DIR),
    )
    summary["changes"] = change_counts(golden_changes)
    summary["linkage"]["review_queue_pairs"] = review_queue.height
    if linkage_accuracy.get("labels"):
        summary["accuracy"] = {k: v for k, v in linkage_accuracy.items() if k != "curve"}
    snapshot_name = f"{started:%Y%m%dT%H%M%S}Z-{context.run_id[:8]}"
    # read before the switch below: afterwards `latest` is this run
    golden_published = with_history(
        golden_customers,
        golden_changes,
        read_previous(settings.output, "golden_customers"),
        run_timestamp(context),
    )
    model = settings.output / WORK_DIR / "linkage_model.json"
    reports = run_folder(settings, context) / REPORTS_DIR
    # stewards open it in spreadsheets: cells that look like formulas are neutralized
    queue = write_csv_for_people(review_queue, run_folder(settings, context) / "review_queue.csv")
    publication = publish(
        settings.output,
        snapshot_name,
        tables={
            "golden_customers": golden_published,
            "golden_changes": golden_changes,
            "customer_xref": customer_xref.drop("record_key"),
            "golden_lineage": golden_lineage,
            "match_pairs": match_pairs,
            "quarantine": quarantine,
        },
        documents={"run_summary.json": summary},
        files={"model.json": model, "review_queue.csv": queue, REPORTS_DIR: reports},
    )
    context.log.info(f"published {len(publication.files)} files to {publication.snapshot}")
    # the run's headline numbers as run tags: visible in the Runs list without opening a run
    context.instance.add_run_tags(context.run_id, summary_tags(summary))
    return MaterializeResult(
        metadata={
            "snapshot": MetadataValue.path(str(publication.snapshot)),
            "files": MetadataValue.json(publication.files),
            "golden_customers": golden_customers.height,
            "quarantined_rows": quarantine.height,
            **{f"golden_{kind}": n for kind, n in summary["changes"].items()},
            # through JSON text first: the summary may hold dates, which metadata refuses
            "run_summary": MetadataValue.json(json.loads(json.dumps(summary, default=str))),
        }
    )


def summary_tags(summary: dict) -> dict[str, str]:
    """Run tags summarizing a published run (the CLI prints the same numbers)."""
    stages, checks = summary["stages"], summary["checks"]
    return {
        "whiteglove/golden_customers": str(stages.get("golden_customers", 0)),
        "whiteglove/quarantined": str(stages.get("quarantine", 0)),
        "whiteglove/changes": " ".join(f"{k}={n}" for k, n in summary["changes"].items()),
        "whiteglove/checks_failed": str(
            len(checks["failed_errors"]) + len(checks["failed_warnings"])
        ),
    }


def _row_count(settings: WhiteGloveSettings, asset: str) -> int | None:
    """Rows of a stored raw table, from its Parquet footer: the run may have reused it."""
    path = settings.output / WORK_DIR / f"{asset}.parquet"
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else None


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
