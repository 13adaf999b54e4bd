"""Reports people read: data quality (with GX Data Docs) and linkage, as self-contained HTML."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.checks import CHECKS_DIR, GX_RESULTS_DIR, run_folder, run_results
from pipelines.resources import WhiteGloveSettings
from whiteglove.config import SourceConfig
from whiteglove.publish import previous_output
from whiteglove.standardize import CANONICAL_FIELDS

REPORTS_DIR = "reports"
DQ_METRICS = "data_quality_metrics.json"


def reports_folder(settings: WhiteGloveSettings, context: AssetExecutionContext) -> Path:
    folder = run_folder(settings, context) / REPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def data_quality_report_asset(sources: list[SourceConfig]) -> AssetsDefinition:
    ins = {s.name: AssetIn(f"standardized_{s.name}") for s in sources}

    @asset(
        group_name="report",
        kinds={"html", "great_expectations"},
        ins={**ins, "quarantine": AssetIn("quarantine")},
        deps=["golden_customers"],  # its checks must have run: the report shows them
        description=(
            "reports/data_quality.html: completeness, validity and distinct counts per source "
            "and field, every expectation result, the quarantine by reason and trends against "
            "the previous run; plus GX Data Docs in reports/data_docs/."
        ),
    )
    def data_quality_report(
        context: AssetExecutionContext, settings: WhiteGloveSettings, **frames: pl.DataFrame
    ) -> MaterializeResult:
        from whiteglove.reports import data_quality_report as render
        from whiteglove.reports import metadata_markdown, profile_source
        from whiteglove.validation import build_data_docs, read_summaries

        quarantine = frames.pop("quarantine")
        unmapped = {
            s.name: [f for f in CANONICAL_FIELDS if f not in s.filled_fields()] for s in sources
        }
        profiles = pl.concat(
            [profile_source(f.drop(unmapped[name]), name) for name, f in frames.items()]
        )
        previous = previous_output(settings.output, f"{REPORTS_DIR}/{DQ_METRICS}")
        run = run_results(settings, context)
        html, metrics = render(
            profiles=profiles,
            expectation_results=read_summaries(run / CHECKS_DIR),
            quarantine=quarantine,
            previous_metrics=json.loads(previous.read_text()) if previous else None,
            generated_at=datetime.now(UTC),
            run_id=context.run_id,
        )
        folder = reports_folder(settings, context)
        (folder / "data_quality.html").write_text(html, encoding="utf-8")
        (folder / DQ_METRICS).write_text(json.dumps(metrics, indent=2, default=str))
        docs = build_data_docs(run / GX_RESULTS_DIR, folder / "data_docs")
        totals = metrics.get("totals", {})
        return MaterializeResult(
            metadata={
                "report": MetadataValue.path(str(folder / "data_quality.html")),
                "data_docs": MetadataValue.path(str(docs)),
                "summary": MetadataValue.md(metadata_markdown(metrics)),
                **{k: v for k, v in totals.items() if isinstance(v, int | float)},
            }
        )

    return data_quality_report


@asset(
    group_name="report",
    kinds={"html"},
    description=(
        "reports/linkage.html: match-weight and cluster-size distributions, overlap between "
        "sources, the review queue size and, when labels are given, accuracy."
    ),
)
def linkage_report(
    context: AssetExecutionContext,
    settings: WhiteGloveSettings,
    match_pairs: pl.DataFrame,
    customer_xref: pl.DataFrame,
    review_queue: pl.DataFrame,
    linkage_accuracy: dict,
) -> MaterializeResult:
    from whiteglove.reports import linkage_report as render
    from whiteglove.reports import metadata_markdown

    linkage = settings.sources().linkage
    review = review_queue.height
    accuracy = linkage_accuracy if linkage_accuracy.get("labels") else None
    html, metrics = render(
        match_pairs=match_pairs,
        xref=customer_xref,
        match_threshold=linkage.match_threshold,
        review_threshold=linkage.review_threshold,
        review_queue_size=review,
        accuracy=accuracy,
        generated_at=datetime.now(UTC),
        run_id=context.run_id,
    )
    path = reports_folder(settings, context) / "linkage.html"
    path.write_text(html, encoding="utf-8")
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(str(path)),
            "summary": MetadataValue.md(metadata_markdown(metrics)),
            "review_queue_pairs": review,
            **({"f1": accuracy["f1"]} if accuracy else {}),
        }
    )
