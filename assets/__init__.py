"""Asset definitions by stage: extract, standardize, link, golden, report, publish.

Assets stay thin: each reads its inputs and resources, calls the domain functions of
`whiteglove/`, and returns its value with metadata. This package never imports `pipelines/`.
"""

from __future__ import annotations

from dagster import AssetsDefinition

from assets.changes import golden_changes
from assets.contract import golden_contract
from assets.extract import raw_source_asset
from assets.golden import customer_xref, golden_customers_asset
from assets.link import clusters, linkage, linkage_accuracy, steward_decisions
from assets.lookup import match_records
from assets.publish import published_outputs_asset
from assets.report import data_quality_report_asset, linkage_report
from assets.standardize import customer_records_asset, quarantine_asset, standardized_source_asset
from whiteglove.config import SourcesConfig
from whiteglove.validation import GOLDEN_SUITE, suite_for


def build_assets(config: SourcesConfig) -> list[AssetsDefinition]:
    """The asset graph (docs/ARCHITECTURE.md) for the sources this file names."""
    per_source = [
        factory(source, suite_for(config, source.name))
        for source in config.sources
        for factory in (raw_source_asset, standardized_source_asset)
    ]
    return [
        *per_source,
        customer_records_asset(config.sources),
        quarantine_asset(config.sources),
        linkage,
        steward_decisions,
        clusters,
        linkage_accuracy,
        customer_xref,
        match_records,
        golden_customers_asset(suite_for(config, GOLDEN_SUITE)),
        golden_contract,
        golden_changes,
        data_quality_report_asset(config.sources),
        linkage_report,
        published_outputs_asset(config.sources),
    ]
