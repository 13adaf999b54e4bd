"""Publication: every output of a run, switched into place atomically."""

import json
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.changes import run_snapshot, run_timestamp
from assets.golden import current_key
from assets.report import in_report_order, validation_ins
from assets.resources import INPUTS_TAG, PreviousPublicationResource, RunSettings
from whiteglove.changes import change_counts, with_history
from whiteglove.config import SourceConfig, SourcesConfig
from whiteglove.contract import (
    CONTRACT_FILE,
    VERSION_KEY,
    build_contract,
    contract_descriptions,
)
from whiteglove.documents import Documents
from whiteglove.layout import REPORTS_DIR, report_paths
from whiteglove.lookup import MATCH_RECORDS, MATCH_SETTINGS, match_settings
from whiteglove.publish import publish
from whiteglove.review import PHONE_COLUMNS, QUEUE_NOTE, queue_for_people
from whiteglove.safe_csv import csv_for_people
from whiteglove.summary import run_summary

# Published for whiteglove's own tools (lookups, explain, the review page) as Parquet only.
TOOL_TABLES = frozenset({MATCH_RECORDS, "customer_records", "review_queue"})


def published_outputs_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    validations = validation_ins(sources)

    @asset(
        group_name="publish",
        kinds={"parquet", "duckdb"},
        ins=validations,
        description=(
            "The published output folder: golden_customers (with valid_from and last_changed), "
            "golden_changes, customer_xref, golden_lineage, match_pairs and quarantine as "
            "Parquet and in customers.duckdb, the trained model, review_queue.csv, reports/ and "
            "run_summary.json, switched into place atomically."
        ),
    )
    def published_outputs(
        context: AssetExecutionContext,
        settings: RunSettings,
        previous_publication: PreviousPublicationResource,
        customer_records: pl.DataFrame,
        quarantine: pl.DataFrame,
        match_pairs: pl.DataFrame,
        customer_xref: pl.DataFrame,
        match_records: pl.DataFrame,
        golden_customers: pl.DataFrame,
        golden_lineage: pl.DataFrame,
        golden_changes: pl.DataFrame,
        golden_contract: dict,
        review_queue: pl.DataFrame,
        linkage_accuracy: dict,
        linkage_model: dict,
        linkage_choices: dict,
        steward_decisions: dict,
        data_quality_report: Documents,
        linkage_report: Documents,
        **validated: dict,
    ) -> MaterializeResult:
        results = in_report_order(list(validated.values()))
        summary = run_summary(
            run_id=context.run_id,
            sources_file=settings.sources_path,
            raw_rows={s.name: validated[f"raw_{s.name}_validation"]["rows"] for s in sources},
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
            linkage_choices=linkage_choices,
            check_results=results,
        )
        summary["changes"] = change_counts(golden_changes)
        # runs started outside `whiteglove run` (the UI, the sensor) carry none: the next
        # incremental run then rebuilds what changed rather than trusting nothing did
        summary["inputs_fingerprint"] = context.run.tags.get(INPUTS_TAG)
        summary["contract"] = golden_contract["decision"]
        # what the next incremental run's survivorship compares with (assets/golden.py)
        summary["golden"]["survivorship_key"] = current_key(settings.config)
        summary["linkage"]["review_queue_pairs"] = review_queue.height
        if steward_decisions.get("entries"):
            summary["decisions"] = {
                "file": steward_decisions["file"],
                "applied": len(steward_decisions["applied"]),
                "not_applied": steward_decisions["not_applied"],
            }
        if linkage_accuracy.get("labels"):
            summary["accuracy"] = {k: v for k, v in linkage_accuracy.items() if k != "curve"}
        golden_published = with_history(
            golden_customers,
            golden_changes,
            previous_publication.table("golden_customers"),
            run_timestamp(context),
        )
        queue = queue_for_people(review_queue, customer_xref, linkage_model)
        files = Documents(
            {
                "model.json": json.dumps(linkage_model, indent=2, default=str),
                # stewards open it in spreadsheets: cells that look like formulas are neutralized
                "review_queue.csv": csv_for_people(
                    queue, phones=PHONE_COLUMNS, first_line=QUEUE_NOTE
                ),
            }
        )
        reports = (data_quality_report | linkage_report).under(REPORTS_DIR)
        tables = {
            "golden_customers": golden_published,
            "golden_changes": golden_changes,
            "customer_xref": customer_xref.drop("record_key"),
            "golden_lineage": golden_lineage,
            "match_pairs": match_pairs,
            "quarantine": quarantine,
            # the values the model compared: lookups, and `whiteglove explain` (its blocking
            # rules run on these, its waterfalls are scored from them)
            MATCH_RECORDS: match_records,
            # each record as linked, for `whiteglove explain` and the review page
            "customer_records": customer_records,
            "review_queue": queue,
        }
        contract = published_contract(tables, golden_contract, settings.config)
        publication = publish(
            settings.layout.root,
            run_snapshot(context, settings).name,
            tables=tables,
            documents={
                "run_summary.json": summary,
                MATCH_SETTINGS: match_settings(settings.config, linkage_choices),
                CONTRACT_FILE: contract,
                "steward_decisions.json": steward_decisions,
            },
            files=files | reports,
            descriptions=contract_descriptions(contract),
            keep_snapshots=settings.config.publication.keep_snapshots,
            max_snapshot_age_days=settings.config.publication.max_snapshot_age_days,
            # the tools' tables, not SQL readers': 7 s of the publication at a million records
            parquet_only=TOOL_TABLES,
        )
        context.log.info(f"published {len(publication.files)} files to {publication.snapshot}")
        # the run's headline numbers as run tags: visible in the Runs list without opening it
        context.instance.add_run_tags(context.run_id, summary_tags(summary))
        return MaterializeResult(
            metadata={
                "snapshot": MetadataValue.path(str(publication.snapshot)),
                **report_links(publication.snapshot),
                "files": MetadataValue.json(publication.files),
                "golden_customers": golden_customers.height,
                "quarantined_rows": quarantine.height,
                **{f"golden_{kind}": n for kind, n in summary["changes"].items()},
                # through JSON text first: the summary may hold dates, which metadata refuses
                "run_summary": MetadataValue.json(json.loads(json.dumps(summary, default=str))),
            }
        )

    return published_outputs


def published_contract(
    tables: dict[str, pl.DataFrame], golden_contract: dict, config: SourcesConfig
) -> dict:
    """The contract of the tables exactly as they are published, with the version the
    golden_contract asset decided; refused if their shape is not the one it checked."""
    checked = golden_contract["contract"]
    contract = build_contract(
        {name: tables[name].schema for name in checked["$defs"]},
        config,
        checked[VERSION_KEY],
    )
    if contract != checked:
        raise RuntimeError(
            "the tables about to be published differ from the contract golden_contract "
            "checked; nothing was published"
        )
    return contract


def report_links(snapshot: Path) -> dict[str, MetadataValue]:
    """Clickable links to the reports as this run published them: a snapshot is kept after
    later runs (up to `publication.keep_snapshots`), where `latest/` moves on."""
    return {name: MetadataValue.url(path.as_uri()) for name, path in report_paths(snapshot).items()}


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
