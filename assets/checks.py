"""Great Expectations results as Dagster asset checks.

Each expectation of a suite becomes one asset check on the asset it validates. ERROR checks
are blocking: when one fails, nothing downstream runs, so nothing is published from data
that failed it. WARN checks are reported and the run goes on.
"""

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
)

from pipelines.resources import WhiteGloveSettings
from whiteglove.validation import SuiteResult, check_specs, write_summary

CHECKS_DIR = "checks"
GX_RESULTS_DIR = "gx_results"


def suite_check_specs(asset: str, suite: dict, stage: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            name=spec.name,
            asset=asset,
            description=f"[{spec.severity}] {spec.description}",
            blocking=spec.severity == "ERROR",
        )
        for spec in check_specs(suite, stage)
    ]


def run_folder(settings: WhiteGloveSettings, context: AssetExecutionContext) -> Path:
    """Where this run's validation results gather until the reports read them."""
    return settings.output / ".work" / "runs" / context.run_id


def validate_asset(
    context: AssetExecutionContext,
    settings: WhiteGloveSettings,
    frame,
    suite: dict,
    stage: str,
) -> list[AssetCheckResult]:
    """Validate `frame` with GX; one AssetCheckResult per expectation of `stage`."""
    from whiteglove.validation import validate

    folder = run_folder(settings, context)
    result = validate(frame, suite, stage, folder / GX_RESULTS_DIR, run_name=context.run_id)
    write_summary(result, folder / CHECKS_DIR)
    _log(context, result)
    return [
        AssetCheckResult(
            check_name=o.name,
            passed=o.success,
            severity=AssetCheckSeverity.ERROR if o.severity == "ERROR" else AssetCheckSeverity.WARN,
            description=o.description,
            metadata={
                "expectation": o.expectation_type,
                "column": o.column or "",
                "element_count": o.element_count or 0,
                "unexpected_count": o.unexpected_count or 0,
                "unexpected_percent": float(o.unexpected_percent or 0.0),
                "observed": MetadataValue.text(str(o.observed_value)[:500]),
            },
        )
        for o in result.outcomes
    ]


def _log(context: AssetExecutionContext, result: SuiteResult) -> None:
    for outcome in result.failed_errors:
        context.log.error(
            f"{result.suite}/{result.stage}: ERROR check {outcome.name} failed: "
            f"{outcome.description} (unexpected: {outcome.unexpected_count})"
        )
    for outcome in result.failed_warnings:
        context.log.warning(f"{result.suite}/{result.stage}: {outcome.name}: {outcome.description}")
