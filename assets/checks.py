"""Great Expectations results as Dagster asset checks.

Each expectation of a suite becomes one asset check on the asset it validates. ERROR checks
are blocking: when one fails, nothing downstream runs, so nothing is published from data
that failed it. WARN checks are reported and the run goes on.
"""

import shutil
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
)

from pipelines.resources import WORK_DIR, WhiteGloveSettings
from whiteglove.incremental import replace_folder
from whiteglove.validation import SuiteResult, check_specs, suite_for, write_summary

CHECKS_DIR = "checks"
GX_RESULTS_DIR = "gx_results"
# <out>/.work/last_validation/<suite>.<stage>/: each validated asset's latest results, which
# an incremental run that does not rebuild the asset reports as they are
LAST_VALIDATION_DIR = "last_validation"


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
    _keep_as_last(settings, folder, f"{result.suite}.{result.stage}")
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


def passed_errors(results: list[AssetCheckResult]) -> bool:
    """No ERROR check among `results` failed."""
    return all(r.passed or r.severity != AssetCheckSeverity.ERROR for r in results)


def _log(context: AssetExecutionContext, result: SuiteResult) -> None:
    for outcome in result.failed_errors:
        context.log.error(
            f"{result.suite}/{result.stage}: ERROR check {outcome.name} failed: "
            f"{outcome.description} (unexpected: {outcome.unexpected_count})"
        )
    for outcome in result.failed_warnings:
        context.log.warning(f"{result.suite}/{result.stage}: {outcome.name}: {outcome.description}")


def run_results(settings: WhiteGloveSettings, context: AssetExecutionContext) -> Path:
    """This run's validation folder, completed with the results of the assets it reused.

    An incremental run does not rebuild unchanged sources, so their latest results, from
    the run that built what is being reused, are copied in for the reports and the summary.
    """
    folder = run_folder(settings, context)
    last = settings.output / WORK_DIR / LAST_VALIDATION_DIR
    if not last.is_dir():
        return folder
    config = settings.sources()
    current = {suite_for(config, s.name)["name"] for s in config.sources}
    for kept in sorted(last.iterdir()):
        summary = kept / CHECKS_DIR / f"{kept.name}.json"
        ran = (folder / CHECKS_DIR / summary.name).exists()
        if ran or not summary.exists() or kept.name.rsplit(".", 1)[0] not in current:
            continue
        for sub in (CHECKS_DIR, GX_RESULTS_DIR):
            if (kept / sub).is_dir():
                shutil.copytree(kept / sub, folder / sub, dirs_exist_ok=True)
    return folder


def _keep_as_last(settings: WhiteGloveSettings, folder: Path, name: str) -> None:
    """Replace the stored latest results of one suite and stage with this run's."""

    def fill(staging: Path) -> None:
        (staging / CHECKS_DIR).mkdir()
        shutil.copy2(folder / CHECKS_DIR / f"{name}.json", staging / CHECKS_DIR)
        for result in (folder / GX_RESULTS_DIR).glob(f"{name}.*.json"):
            (staging / GX_RESULTS_DIR).mkdir(exist_ok=True)
            shutil.copy2(result, staging / GX_RESULTS_DIR)

    replace_folder(settings.output / WORK_DIR / LAST_VALIDATION_DIR / name, fill)
