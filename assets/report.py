"""Reports people read: data quality (with GX Data Docs) and linkage, as self-contained HTML.

Each report is a value of the graph (its files, as Documents) that `published_outputs`
writes into the snapshot under reports/.
"""

import json
from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
)

from assets.changes import run_snapshot
from assets.checks import validation_name
from assets.resources import PreviousPublicationResource, RunSettings
from whiteglove.config import SourceConfig
from whiteglove.documents import Documents
from whiteglove.layout import (
    DATA_DOCS_DIR,
    DATA_QUALITY_REPORT,
    LINKAGE_REPORT,
    REPORTS_DIR,
    report_paths,
)
from whiteglove.schema import CANONICAL_FIELDS

DQ_METRICS = "data_quality_metrics.json"


def validated_assets(sources: list[SourceConfig]) -> list[str]:
    """Every asset the graph validates, in the order its validations are reported."""
    per_source = [f"{stage}_{s.name}" for s in sources for stage in ("raw", "standardized")]
    return [*per_source, "golden_customers"]


def validation_ins(sources: list[SourceConfig]) -> dict[str, AssetIn]:
    return {validation_name(a): AssetIn(validation_name(a)) for a in validated_assets(sources)}


def in_report_order(validations: list[dict]) -> list[dict]:
    """Validation results by suite, then stage: the order reports and the summary list them."""
    return sorted(validations, key=lambda v: (v["suite"], v["stage"]))


def data_quality_report_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    tables = {f"standardized_{s.name}": s for s in sources}
    validations = validation_ins(sources)

    @asset(
        group_name="report",
        kinds={"html", "great_expectations"},
        ins={**{k: AssetIn(k) for k in tables}, "quarantine": AssetIn(), **validations},
        description=(
            "reports/data_quality.html: completeness, validity and distinct counts per source "
            "and field, every expectation result, the quarantine by reason and trends against "
            "the previous run; plus GX Data Docs in reports/data_docs/."
        ),
    )
    def data_quality_report(
        context: AssetExecutionContext,
        settings: RunSettings,
        previous_publication: PreviousPublicationResource,
        quarantine: pl.DataFrame,
        **inputs,
    ) -> Output[Documents]:
        from whiteglove.reports import data_quality_report as render
        from whiteglove.reports import metadata_markdown, profile_source
        from whiteglove.validation import data_docs

        profiles = pl.concat(
            [
                profile_source(inputs[name].drop(_unmapped(source)), source.name)
                for name, source in tables.items()
            ]
        )
        results = in_report_order([inputs[name] for name in validations])
        html, metrics = render(
            profiles=profiles,
            expectation_results=results,
            quarantine=quarantine,
            previous_metrics=previous_publication.document(f"{REPORTS_DIR}/{DQ_METRICS}"),
            generated_at=datetime.now(UTC),
            run_id=context.run_id,
        )
        docs = data_docs([r["gx_result"] for r in results if r["gx_result"]], settings.layout.work)
        files = Documents(
            {DATA_QUALITY_REPORT: html, DQ_METRICS: json.dumps(metrics, indent=2, default=str)}
        )
        published = report_paths(run_snapshot(context, settings))
        totals = metrics.get("totals", {})
        return Output(
            files | docs.under(DATA_DOCS_DIR),
            metadata={
                # where this run publishes it: a snapshot outlives the runs after it
                "report": MetadataValue.url(published["data_quality_report"].as_uri()),
                "data_docs": MetadataValue.url(published["data_docs"].as_uri()),
                "summary": MetadataValue.md(metadata_markdown(metrics)),
                **{k: v for k, v in totals.items() if isinstance(v, int | float)},
            },
        )

    return data_quality_report


def _unmapped(source: SourceConfig) -> list[str]:
    """Canonical fields the source cannot fill: not profiled, they would read as 0% complete."""
    return [f for f in CANONICAL_FIELDS if f not in source.filled_fields()]


@asset(
    group_name="report",
    kinds={"html"},
    description=(
        "reports/linkage.html: the match threshold and cluster guards with why, the model's "
        "comparisons and weights, match-weight and cluster-size distributions, overlap "
        "between sources, example pairs per match-weight band with the waterfall of their "
        "weights (masked), the review queue size and, when labels are given, accuracy."
    ),
)
def linkage_report(
    context: AssetExecutionContext,
    settings: RunSettings,
    match_pairs: pl.DataFrame,
    customer_xref: pl.DataFrame,
    review_queue: pl.DataFrame,
    linkage_accuracy: dict,
    linkage_choices: dict,
    linkage_model: dict,
    customer_records: pl.DataFrame,
    match_records: pl.DataFrame,
    steward_decisions: dict,
) -> Output[Documents]:
    from whiteglove.reports import linkage_report as render
    from whiteglove.reports import metadata_markdown
    from whiteglove.reports.examples import example_pairs

    review = review_queue.height
    accuracy = linkage_accuracy if linkage_accuracy.get("labels") else None
    # the records as the model compared them, already computed by match_records
    examples = example_pairs(
        match_pairs,
        customer_records,
        match_records,
        linkage_model,
        linkage_choices,
        settings.config.linkage,
    )
    html, metrics = render(
        match_pairs=match_pairs,
        xref=customer_xref,
        choices=linkage_choices,
        model=linkage_model,
        review_queue_size=review,
        accuracy=accuracy,
        generated_at=datetime.now(UTC),
        run_id=context.run_id,
        examples=examples,
        decisions=steward_decisions,
    )
    return Output(
        Documents({LINKAGE_REPORT: html}),
        metadata={
            "report": MetadataValue.url(
                report_paths(run_snapshot(context, settings))["linkage_report"].as_uri()
            ),
            "summary": MetadataValue.md(metadata_markdown(metrics)),
            "review_queue_pairs": review,
            **({"f1": accuracy["f1"]} if accuracy else {}),
        },
    )
