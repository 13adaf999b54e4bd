"""The published contract: the shape readers rely on, versioned, and a blocking check that a
run does not break it by accident."""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Output,
    asset,
)

from assets.resources import PreviousPublicationResource, RunSettings
from whiteglove.columns import published_golden_schema
from whiteglove.contract import CONTRACT_FILE, build_contract, column_types, decide_version

SHAPE_CHECK = "published_shape_kept"


def contract_schemas(
    golden_customers: pl.DataFrame, customer_xref: pl.DataFrame, golden_lineage: pl.DataFrame
) -> dict[str, dict[str, pl.DataType]]:
    """The schemas `published_outputs` will publish (it checks that it does)."""
    return {
        # with the history columns publication adds (whiteglove.changes.with_history)
        "golden_customers": published_golden_schema(golden_customers.schema),
        "customer_xref": {c: t for c, t in customer_xref.schema.items() if c != "record_key"},
        "golden_lineage": dict(golden_lineage.schema),
    }


@asset(
    group_name="golden",
    kinds={"json"},
    description=(
        "contract.json: the JSON Schema of golden_customers, customer_xref and golden_lineage "
        "as this run publishes them (types, nullability, descriptions, personal data, "
        "survivorship rules) and its version; an added column raises the minor version."
    ),
    check_specs=[
        AssetCheckSpec(
            name=SHAPE_CHECK,
            asset="golden_contract",
            blocking=True,
            description=(
                "[ERROR] no published column changes type or disappears since the previous "
                "publication, unless the sources file raises contract.major_version"
            ),
        )
    ],
)
def golden_contract(
    context: AssetExecutionContext,
    settings: RunSettings,
    previous_publication: PreviousPublicationResource,
    golden_customers: pl.DataFrame,
    customer_xref: pl.DataFrame,
    golden_lineage: pl.DataFrame,
):
    config = settings.config
    schemas = contract_schemas(golden_customers, customer_xref, golden_lineage)
    previous = previous_publication.document(CONTRACT_FILE)
    decision = decide_version(
        previous if isinstance(previous, dict) else None,
        {table: column_types(schema) for table, schema in schemas.items()},
        config.contract.major_version,
    )
    contract = build_contract(schemas, config, decision.version)
    summary = decision.as_dict()
    for problem in decision.refused:
        context.log.error(f"contract: {problem}")
    if summary["added_columns"]:
        context.log.info(f"contract {decision.version}: added {summary['added_columns']}")
    yield Output(
        {"contract": contract, "decision": summary},
        metadata={
            "version": decision.version,
            "previous_version": decision.previous or "none",
            "added_columns": MetadataValue.json(summary["added_columns"]),
            "breaking_changes": MetadataValue.json(summary["breaking_changes"]),
        },
    )
    yield AssetCheckResult(
        check_name=SHAPE_CHECK,
        asset_key="golden_contract",
        passed=not decision.refused,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(decision.refused) or None,
        metadata={
            "refused": MetadataValue.json(decision.refused),
            "breaking_changes": MetadataValue.json(summary["breaking_changes"]),
            "version": decision.version,
        },
    )
