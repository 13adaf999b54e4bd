"""Golden changes: what this run changes in the published golden table, for incremental loads."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.metadata import table_metadata
from assets.resources import PreviousPublicationResource, RunSettings
from whiteglove import changes as history


def run_snapshot(context: AssetExecutionContext, settings: RunSettings) -> Path:
    """The snapshot folder this run publishes into (`published_outputs` writes it)."""
    return settings.layout.snapshot(run_timestamp(context), context.run_id)


def run_timestamp(context: AssetExecutionContext) -> datetime:
    """The one timestamp of this run that every history column and change row carries.

    Taken from the run record, not the clock, so the changes table and the golden table's
    `last_changed` agree even though different steps (processes) write them.
    """
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time is not None:
        return datetime.fromtimestamp(record.start_time, tz=UTC)
    if record is not None:
        created = record.create_timestamp
        return created if created.tzinfo else created.replace(tzinfo=UTC)
    return datetime.now(UTC)


@asset(
    group_name="golden",
    kinds={"polars"},
    description=(
        "What this run changes for downstream readers: one row per golden id that is new, "
        "updated (with the changed columns), merged into another id, or retired, compared with "
        "the previously published golden table and crosswalk."
    ),
)
def golden_changes(
    context: AssetExecutionContext,
    settings: RunSettings,
    previous_publication: PreviousPublicationResource,
    golden_customers: pl.DataFrame,
    customer_xref: pl.DataFrame,
    golden_contract: dict,
) -> Output[pl.DataFrame]:
    previous_golden = previous_publication.table("golden_customers")
    previous_xref = previous_publication.table("customer_xref")
    changes = history.golden_changes(
        golden_customers, customer_xref, previous_golden, previous_xref, run_timestamp(context)
    )
    counts = history.change_counts(changes)
    context.log.info(
        "golden changes: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        if previous_golden is not None
        else f"first publication: {counts['new']} new golden customers"
    )
    return Output(
        changes,
        metadata=table_metadata(
            changes,
            reveal_personal_data=settings.reveal_personal_data,
            **counts,
            compared_with_previous=previous_golden is not None,
            # columns new in this run's contract (whiteglove/contract.py): a shape change
            contract_version=golden_contract["decision"]["version"],
            added_columns=MetadataValue.json(golden_contract["decision"]["added_columns"]),
        ),
    )
