"""Great Expectations results as Dagster asset checks, and as an asset of their own.

Each expectation of a suite becomes one asset check on the asset it validates. ERROR checks
are blocking: when one fails, nothing downstream runs, so nothing is published from data
that failed it. WARN checks are reported and the run goes on.

The full result of each validation (the outcomes, the row count and GX's own result for Data
Docs) is also a value of the graph: `<asset>_validation`, an output of the asset that was
validated, which the reports and the run summary take as inputs. An incremental run that
reuses an unchanged source reuses its validation with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    AssetsDefinition,
    MetadataValue,
    Output,
    multi_asset,
)

from whiteglove.schema import VALIDATION_SUFFIX
from whiteglove.validation import (
    ExpectationOutcome,
    Suite,
    SuiteResult,
    check_specs,
    validate,
)


def validation_name(asset: str) -> str:
    """The asset holding the validation of `asset`."""
    return f"{asset}{VALIDATION_SUFFIX}"


def validated_asset(
    asset: str,
    *,
    group_name: str,
    stage: str,
    suite: Suite,
    out: AssetOut,
    ins: Mapping[str, AssetIn] | None = None,
    more_outs: Mapping[str, AssetOut] | None = None,
    more_checks: Sequence[AssetCheckSpec] = (),
) -> Callable[..., AssetsDefinition]:
    """The decorator of an asset validated at `stage`: its table `out`, its validation
    (`<asset>_validation`) and one check per expectation the suite runs at that stage."""
    validation = AssetOut(
        kinds={"great_expectations", "json"},
        description=(
            f"The {stage}-stage expectations of {asset}: every outcome, the rows validated "
            "and Great Expectations' own result, for the reports and Data Docs."
        ),
    )
    return multi_asset(
        name=asset,
        group_name=group_name,
        outs={asset: out, validation_name(asset): validation, **(more_outs or {})},
        check_specs=[*suite_check_specs(asset, suite, stage), *more_checks],
        ins=dict(ins or {}),
    )


def validated_outputs(
    context: AssetExecutionContext,
    asset: str,
    frame: pl.DataFrame,
    suite: Suite,
    stage: str,
    metadata: dict[str, Any],
    built_from: str | None = None,
    record: dict[str, Any] | None = None,
) -> Generator[Output | AssetCheckResult]:
    """Yield `frame`, then its validation and check results.

    `built_from` is the fingerprint of the source files `frame` was built from, recorded in
    the validation for incremental runs (whiteglove.incremental.is_reusable), with `record`
    (what extraction read: whiteglove/appended.py).
    """
    yield Output(frame, output_name=asset, metadata=metadata)
    checks, validation = validate_asset(context, asset, frame, suite, stage)
    value = {**validation, **(record or {}), "built_from": built_from}
    yield Output(value, output_name=validation_name(asset))
    yield from checks


def suite_check_specs(asset: str, suite: Suite, stage: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            name=spec.name,
            asset=asset,
            # the name is short (the UI cuts long ones); the sentence and GX type say the rest
            description=f"[{spec.severity}] {spec.description} ({spec.expectation_type})",
            blocking=spec.severity == "ERROR",
        )
        for spec in check_specs(suite, stage)
    ]


def validate_asset(
    context: AssetExecutionContext, asset: str, frame: pl.DataFrame, suite: Suite, stage: str
) -> tuple[list[AssetCheckResult], dict]:
    """Validate `frame` with GX: one check result per expectation, and the validation value."""
    result = validate(frame, suite, stage, run_name=context.run_id)
    _log(context, result)
    checks = [
        AssetCheckResult(
            asset_key=asset,
            check_name=o.name,
            passed=o.success,
            severity=AssetCheckSeverity.ERROR if o.severity == "ERROR" else AssetCheckSeverity.WARN,
            description=o.description,
            metadata=check_metadata(o),
        )
        for o in result.outcomes
    ]
    validation = {"rows": frame.height, **result.as_dict(), "gx_result": result.gx_result}
    return checks, validation


def check_metadata(o: ExpectationOutcome) -> dict[str, Any]:
    """The expectation, its column and what it observed; the counts when GX counted (a row
    count or a column's existence counts nothing, and a 0 there would read as a finding)."""
    metadata: dict[str, Any] = {
        "expectation": o.expectation_type,
        "column": o.column or "",
        "observed": MetadataValue.text(observed(o)),
    }
    if o.element_count is not None and o.unexpected_count is not None:
        metadata["element_count"] = o.element_count
        metadata["unexpected_count"] = o.unexpected_count
        metadata["unexpected_percent"] = float(o.unexpected_percent or 0.0)
    return metadata


# Expectations on several columns count rows, not values.
_ROW_WISE = ("expect_column_pair_", "expect_multicolumn_", "expect_compound_", "expect_select_")
OBSERVED_CHARS = 500


def observed(o: ExpectationOutcome) -> str:
    """What the expectation found, in words, never "None": the figure GX observed ("3,052
    rows"), else the unexpected values counted ("0 of 1,846 values unexpected (0.0%)"), else
    whether the column is there. Figures are never masked; a data value GX quotes was already
    hidden or masked by the runner (whiteglove.validation.gx_runner)."""
    value = o.observed_value
    if isinstance(value, str) and value.startswith("error:"):
        return value[:OBSERVED_CHARS]
    if isinstance(value, int | float) and not isinstance(value, bool):
        figure = f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
        return (
            f"{figure} rows" if o.expectation_type.startswith("expect_table_row_count") else figure
        )
    text = ""
    if o.element_count is not None and o.unexpected_count is not None:
        text = _unexpected(o)
    elif o.expectation_type == "expect_column_to_exist":
        text = "column present" if o.success else "column missing"
    if value is not None:
        quoted = value if isinstance(value, str) else json.dumps(value, default=str)
        text = f"{text}; {quoted}" if text else quoted
    return (text or "nothing reported by Great Expectations")[:OBSERVED_CHARS]


def _unexpected(o: ExpectationOutcome) -> str:
    unit = "rows" if o.expectation_type.startswith(_ROW_WISE) else "values"
    unexpected, rows = o.unexpected_count or 0, o.element_count or 0
    percent = o.unexpected_percent
    if not unexpected or not percent:
        share = unexpected / rows * 100 if rows else 0.0
        return f"{unexpected:,} of {rows:,} {unit} unexpected ({_percent(share)})"
    # GX judges the values present (plus those standardizing nulled as invalid): the percent
    # says of how many, which is fewer than the rows when some had no value
    judged = round(unexpected * 100 / percent)
    nulled = getattr(o, "nulled_as_invalid", 0)
    text = f"{unexpected:,} of {judged:,} {unit} unexpected ({_percent(percent)}"
    text += f"; {nulled:,} of them nulled as invalid when standardizing)" if nulled else ")"
    if judged < rows:
        text += f"; {rows - judged:,} of {rows:,} rows had no value"
    return text


def _percent(share: float) -> str:
    return f"{share:.2g}%" if 0 < share < 0.1 else f"{share:.1f}%"


def _log(context: AssetExecutionContext, result: SuiteResult) -> None:
    for outcome in result.failed_errors:
        context.log.error(
            f"{result.suite}/{result.stage}: ERROR check {outcome.name} failed: "
            f"{outcome.description} (unexpected: {outcome.unexpected_count})"
        )
    for outcome in result.failed_warnings:
        context.log.warning(f"{result.suite}/{result.stage}: {outcome.name}: {outcome.description}")
