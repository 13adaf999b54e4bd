"""Running a suite on a frame with Great Expectations (pandas engine).

Great Expectations is imported inside the functions that need it: importing it costs seconds,
and Dagster loads the suites at definition time only to read check names.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from whiteglove.masking import mask_data
from whiteglove.quarantine import invalid_value_counts
from whiteglove.validation.results import ExpectationOutcome, SuiteResult, json_safe
from whiteglove.validation.suites import TODAY, Expectation, Suite, SuiteError, load_suite

# Values a failed check found are kept in results only when an expectation opts in with
# meta.show_values, and masked even then: results end up in the Dagster event log, reports
# and Data Docs, and most checked columns hold personal data (emails, phones, names).
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts")
HIDDEN = "(values hidden; set meta.show_values to show them)"
# GX keeps its current project in a process-wide singleton; one validation at a time per
# process keeps two threads from swapping each other's context mid-run.
GX_LOCK = threading.Lock()


def check_suite(path: Path) -> Suite:
    """`load_suite`, plus building every expectation with GX so bad arguments are caught."""
    suite = load_suite(path)
    exps = [_resolve_today(e, pl.Schema()) for e in suite.expectations]
    problems = [p for _, p in _build_expectations(suite, exps) if p]
    if problems:
        raise SuiteError(path, problems)
    return suite


def validate(
    frame: pl.DataFrame,
    suite: Suite | dict,
    stage: str,
    *,
    run_name: str = "whiteglove",
) -> SuiteResult:
    """Run the suite's expectations for `stage` on `frame` with GX.

    On the standardized stage only accepted rows (empty `_reasons`) are checked: rejected
    rows are quarantined and reported elsewhere. The result keeps GX's own result for
    `data_docs`; `run_name` labels it there.
    """
    suite = Suite.parse(suite, "given")
    exps = suite.for_stage(stage)
    if not exps:
        return SuiteResult(suite.name, stage, [])

    if stage == "standardized" and "_reasons" in frame.columns:
        frame = frame.filter(pl.col("_reasons").list.len() == 0)
    resolved = [_resolve_today(e, frame.schema) for e in exps]
    pdf = _to_pandas(frame, resolved, blank_is_missing=stage == "raw")

    with GX_LOCK:
        gx_result = _run_gx(pdf, suite, stage, resolved, run_name)
    for r in gx_result.results:
        if r.expectation_config.meta.get("show_values"):
            _mask_values(r.result, r.expectation_config.kwargs.get("column") or "")
        else:
            _hide_values(r.result)
    by_name = {r.expectation_config.meta["check_name"]: r for r in gx_result.results}
    outcomes = [_outcome(e, stage, by_name.get(e.check_name)) for e in exps]
    gx_json = json.loads(json.dumps(gx_result.to_json_dict(), default=str))
    if stage == "standardized":
        outcomes = count_nulled_values(frame, resolved, outcomes, gx_json)
    return SuiteResult(suite.name, stage, outcomes, gx_json)


# Expectations on a column's values, which the values standardization nulled as invalid would
# have failed. Null checks already count them (as missing); uniqueness has no say on them.
_NOT_ON_VALUES = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_unique",
}


def count_nulled_values(
    frame: pl.DataFrame,
    exps: list[Expectation],
    outcomes: list[ExpectationOutcome],
    gx_json: dict,
) -> list[ExpectationOutcome]:
    """Standardized-stage outcomes with the values nulled as invalid counted as unexpected.

    Standardization nulls a value it finds invalid (a birth date of 1850 under the default
    window, a phone that is no number) and names the field in `_invalid`. GX then sees a null
    and "birth date between 1900 and today" passes although a value broke it. So each value
    expectation on such a field adds the nulled values to its unexpected count and is judged
    again against its `mostly`; GX's own result (for Data Docs) is corrected the same way.
    """
    if "_invalid" not in frame.columns or frame.height == 0:
        return outcomes
    nulled = invalid_value_counts(frame, usable_only=False)
    by_name = {r["expectation_config"]["meta"].get("check_name"): r for r in gx_json["results"]}
    out = []
    for exp, outcome in zip(exps, outcomes, strict=True):
        count = nulled.get(exp.column or "", 0) if exp.column in frame.columns else 0
        if (
            not count
            or not exp.type.startswith("expect_column_values_to_")
            or (exp.type in _NOT_ON_VALUES or outcome.unexpected_count is None)
        ):
            out.append(outcome)
            continue
        judged = frame.get_column(exp.column).count() + count
        unexpected = outcome.unexpected_count + count
        share = unexpected / judged
        success = outcome.success and share <= 1 - float(exp.kwargs.get("mostly") or 1.0) + 1e-12
        outcome = replace(
            outcome,
            success=success,
            unexpected_count=unexpected,
            unexpected_percent=100 * share,
            nulled_as_invalid=count,
        )
        out.append(outcome)
        gx = by_name.get(exp.check_name)
        if gx is not None:
            gx["success"] = success
            gx["result"] = {
                **(gx.get("result") or {}),
                "unexpected_count": unexpected,
                "unexpected_percent": 100 * share,
                "unexpected_percent_nonmissing": 100 * share,
            }
    _restate_statistics(gx_json)
    return out


def _restate_statistics(gx_json: dict) -> None:
    results = gx_json.get("results") or []
    passed = sum(bool(r.get("success")) for r in results)
    gx_json["success"] = passed == len(results)
    stats = gx_json.setdefault("statistics", {})
    stats.update(
        evaluated_expectations=len(results),
        successful_expectations=passed,
        unsuccessful_expectations=len(results) - passed,
        success_percent=100 * passed / len(results) if results else None,
    )


def _hide_values(result: dict) -> None:
    """Drop the data values GX quotes in a result, keeping counts and numeric statistics."""
    for key in _VALUE_KEYS:
        result.pop(key, None)
    observed = result.get("observed_value")
    if observed is not None and not isinstance(observed, int | float):
        result["observed_value"] = HIDDEN


def _mask_values(result: dict, column: str) -> None:
    """Mask the data values GX quotes in a result (meta.show_values): a value that is an
    email, phone, date or id is masked like everywhere else, and in a name or address column
    down to initials. The result feeds Dagster's event log, the reports and Data Docs."""
    for key in _VALUE_KEYS:
        if key in result:
            result[key] = mask_data(result[key], key=column)
    observed = result.get("observed_value")
    if observed is not None and not isinstance(observed, int | float):
        result["observed_value"] = mask_data(observed, key=column)


def _resolve_today(exp: Expectation, schema: pl.Schema) -> Expectation:
    """Replace "today" bounds, and make date bounds timestamps on temporal columns.

    Temporal columns reach GX as timestamps (see `_to_pandas`), and GX reads "YYYY-MM-DD"
    bounds as dates, which pandas refuses to compare with timestamps. So on such a column a
    date bound becomes a timestamp: the start of the day for a minimum, the end of the day
    for a maximum (a "today" maximum therefore admits all of today).
    """
    kwargs = dict(exp.kwargs)
    dtype = schema.get(kwargs.get("column", ""))
    temporal = isinstance(dtype, pl.Date | pl.Datetime)
    for key in ("min_value", "max_value"):
        value = kwargs.get(key)
        if value == TODAY:
            value = date.today().isoformat()
        if temporal and isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min if key == "min_value" else time.max)
            if isinstance(dtype, pl.Datetime) and dtype.time_zone:
                moment = moment.replace(tzinfo=UTC)
            value = moment.isoformat()
        if key in kwargs:
            kwargs[key] = value
    return exp.model_copy(update={"kwargs": kwargs})


def _to_pandas(frame: pl.DataFrame, exps: list[Expectation], blank_is_missing: bool = False) -> Any:
    """The columns the expectations read, as a pandas frame GX handles correctly and fast.

    Text and numbers stay Arrow-backed: converting is nearly free and GX's regex, set and null
    checks run on them vectorized. Dates and timestamps become numpy datetime64[ns], the only
    temporal type GX compares vectorized (on Arrow dates it calls Python per value, ~4 s per
    million; plain to_pandas gives datetime64[ms], which GX cannot compare at all). Values
    outside datetime64[ns]'s range (years 1677-2262) are clipped to it, which keeps them
    outside any sensible bound. List columns are dropped: GX has no use for them. With
    `blank_is_missing` (raw exports), a blank text value counts as missing, because that is
    how CSV exports write a missing value.
    """
    wanted: set[str] = set()
    whole_table = False
    for exp in exps:
        cols = exp.columns
        wanted.update(cols)
        # Table-level expectations other than row counts look at every column.
        if not cols and exp.type != "expect_table_row_count_to_be_between":
            whole_table = True
    keep = [
        name
        for name, dtype in frame.schema.items()
        if (whole_table or name in wanted) and not isinstance(dtype, pl.List | pl.Array | pl.Struct)
    ]
    if not keep:
        # A frame with no columns loses its row count; keep one cheap column.
        keep = [c for c, t in frame.schema.items() if t.is_numeric()][:1] or frame.columns[:1]
    frame = frame.select(keep)
    if blank_is_missing:
        text = pl.col(pl.String)
        frame = frame.with_columns(
            pl.when(text.str.strip_chars() == "").then(None).otherwise(text).name.keep()
        )
    temporal = [c for c, t in frame.schema.items() if isinstance(t, pl.Date | pl.Datetime)]
    frame = frame.with_columns(_as_ns_timestamp(frame.schema[c], c) for c in temporal)
    pdf = frame.to_pandas(use_pyarrow_extension_array=True)
    for name in temporal:
        # Arrow's timestamp[ns] -> numpy datetime64[ns] (or pandas' tz-aware equivalent).
        tz = frame.schema[name].time_zone  # type: ignore[union-attr]
        pdf[name] = pdf[name].astype(f"datetime64[ns, {tz}]" if tz else "datetime64[ns]")
    return pdf


_NS_MIN, _NS_MAX = datetime(1677, 9, 22), datetime(2262, 4, 11)


def _as_ns_timestamp(dtype: pl.DataType, name: str) -> pl.Expr:
    tz = dtype.time_zone if isinstance(dtype, pl.Datetime) else None
    col = pl.col(name).cast(pl.Datetime("us", tz))
    low, high = (
        (pl.lit(_NS_MIN).dt.replace_time_zone(tz), pl.lit(_NS_MAX).dt.replace_time_zone(tz))
        if tz
        else (pl.lit(_NS_MIN), pl.lit(_NS_MAX))
    )
    return col.clip(low, high).cast(pl.Datetime("ns", tz)).alias(name)


def gx() -> Any:
    """The great_expectations module, imported on first use."""
    import great_expectations
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch by hashing all of it (frames under 1 GB); the hash
    # is metadata only and costs seconds per million rows, twice per validation.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return great_expectations


def _build_expectations(suite: Suite, exps: list[Expectation]) -> list[tuple[Any, str | None]]:
    """GX expectation objects, each with None or the problem GX found in its arguments.

    GX's ExpectationSuite logs and silently drops an expectation it cannot build; building
    them one by one here turns that into an error naming the expectation.
    """
    gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for i, exp in enumerate(exps):
        meta = {
            **exp.meta.model_dump(exclude_none=True, exclude_defaults=True),
            "stage": suite.stage_of(exp),
            "severity": exp.severity,
            "check_name": exp.check_name,
        }
        try:
            config = ExpectationConfiguration(
                type=exp.type,
                kwargs=exp.kwargs,
                meta=meta,
                notes=exp.notes,
                description=exp.description,
                # GX's own severity, so Data Docs show which failures block publishing.
                severity="critical" if meta["severity"] == "ERROR" else "warning",
            )
            built.append((config.to_domain_obj(), None))
        except Exception as exc:  # noqa: BLE001 - GX raises many types; each is reported
            message = " ".join(str(exc).split()) or type(exc).__name__
            message = message if len(message) <= 500 else message[:500] + "..."
            built.append((None, f"expectations[{i}] ({exp.type}): {message}"))
    return built


def _run_gx(pdf: Any, suite: Suite, stage: str, exps: list[Expectation], run_name: str) -> Any:
    great_expectations = gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    built = _build_expectations(suite, exps)
    problems = [p for _, p in built if p]
    if problems:
        raise SuiteError(f"'{suite.name}'", problems)
    # A fresh in-memory context per call: nothing leaks between calls, and it costs ~10 ms.
    context = great_expectations.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_name = f"{suite.name}.{stage}"
    asset = context.data_sources.add_pandas("whiteglove").add_dataframe_asset(gx_name)
    batch_definition = asset.add_batch_definition_whole_dataframe("frame")
    gx_suite = context.suites.add(
        great_expectations.ExpectationSuite(
            name=gx_name,
            expectations=[e for e, _ in built],
            meta=suite.meta.model_dump(),
        )
    )
    definition = context.validation_definitions.add(
        great_expectations.ValidationDefinition(name=gx_name, data=batch_definition, suite=gx_suite)
    )
    with warnings.catch_warnings():
        # GX runs regexes through pandas' str.contains, which warns about capture groups.
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular")
        return definition.run(
            batch_parameters={"dataframe": pdf},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
            run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
        )


def _outcome(exp: Expectation, stage: str, result: Any) -> ExpectationOutcome:
    base = {
        "name": exp.check_name,
        "stage": stage,
        "expectation_type": exp.type,
        "column": exp.column,
        "severity": exp.severity,
        "description": exp.sentence,
        "mostly": exp.kwargs.get("mostly"),
    }
    if result is None:  # cannot happen unless GX drops an expectation; never pass silently
        return ExpectationOutcome(
            **base,
            success=False,
            element_count=None,
            unexpected_count=None,
            unexpected_percent=None,
            observed_value="GX returned no result for this expectation",
        )
    info = result.exception_info or {}
    # GX reports metric errors per metric when the expectation ran but a metric failed.
    errors = [info] if "raised_exception" in info else list(info.values())
    messages = [e.get("exception_message") for e in errors if e.get("raised_exception")]
    res = result.result or {}
    observed = res.get("observed_value")
    if observed is None and res.get("partial_unexpected_counts"):
        # Only present when the expectation opted in with meta.show_values.
        observed = {"unexpected_values": res["partial_unexpected_counts"]}
    if messages:
        observed = f"error: {messages[0]}"
    return ExpectationOutcome(
        **base,
        success=bool(result.success) and not messages,
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        observed_value=json_safe(observed),
    )
