"""Default suites, derived from a source's mapping, and the suite a run uses for each source.

A source without a suite file gets a starting point: edit the JSON it would have been to
tune it (`expectations/<source>.json`).
"""

from __future__ import annotations

from typing import Any

from whiteglove.config import SourceConfig, SourcesConfig
from whiteglove.schema import (
    COUNTRY_PATTERN,
    E164_PATTERN,
    EARLIEST_BIRTH_DATE,
    EMAIL_PATTERN,
    ES_NATIONAL_ID_PATTERN,
    ES_POSTCODE_PATTERN,
    IDENTITY_FIELDS,
    RAW_EMAIL_PATTERN,
)
from whiteglove.validation.suites import TODAY, Severity, Suite, load_suite

GOLDEN_SUITE = "golden_customers"  # the suite of the golden table, beside the sources' own


def _exp(
    kind: str,
    stage: str,
    severity: Severity = "WARN",
    description: str | None = None,
    **kwargs: Any,
) -> dict:
    meta: dict[str, Any] = {"stage": stage, "severity": severity}
    if description:
        meta["description"] = description
    return {"type": kind, "kwargs": kwargs, "meta": meta}


def default_suite(source: SourceConfig) -> Suite:
    """A starting-point suite derived from a source's mapping; edit the JSON to tune it.

    Thresholds are deliberately loose: they catch a broken export, not ordinary gaps.
    """
    exps: list[dict] = [
        _exp("expect_table_row_count_to_be_between", "raw", min_value=1, max_value=None),
        _exp("expect_column_to_exist", "raw", "ERROR", column=source.id),
        _exp("expect_column_values_to_not_be_null", "raw", column=source.id, mostly=0.99),
        _exp(
            "expect_column_values_to_be_null",
            "raw",
            description="rows split into the export's columns",
            column="_parse_error",
            mostly=0.99,
        ),
    ]
    if "email" in source.fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                "raw",
                description=f"{source.fields['email'].column} looks like an email",
                column=source.fields["email"].column,
                regex=RAW_EMAIL_PATTERN,
                mostly=0.95,
            )
        )
    exps += [
        _exp(
            "expect_column_values_to_not_be_null",
            "standardized",
            "ERROR",
            column="source_record_id",
        ),
        _exp(
            "expect_column_values_to_be_unique", "standardized", "ERROR", column="source_record_id"
        ),
    ]
    fields = set(source.fields)
    if "full_name" in fields:  # standardize splits it into first and last name
        fields |= {"first_name", "last_name"}
    exps += _identity_checks("standardized", fields)
    if source.updated_at:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                "standardized",
                column="updated_at",
                min_value="1990-01-01",
                max_value=TODAY,
                mostly=0.99,
            )
        )
    for name in source.attributes:
        exps.append(
            _exp("expect_column_values_to_not_be_null", "standardized", column=name, mostly=0.5)
        )
    suite = {
        "name": source.name,
        "expectations": exps,
        "meta": {"default_stage": "standardized", "source": source.name},
    }
    return Suite.parse(suite, f"the default suite of {source.name}")


# The validity of each identity field's canonical form, in suite order; country, which every
# record has, is checked on its own.
_VALIDITY: dict[str, tuple[str, dict[str, Any]]] = {
    "email": (
        "expect_column_values_to_match_regex",
        {"description": "email matches an email pattern", "regex": EMAIL_PATTERN, "mostly": 0.99},
    ),
    "phone": (
        "expect_column_values_to_match_regex",
        {
            "description": "phone is in E.164 form, like +34612345678",
            "regex": E164_PATTERN,
            "mostly": 0.99,
        },
    ),
    "date_of_birth": (
        "expect_column_values_to_be_between",
        {"min_value": EARLIEST_BIRTH_DATE, "max_value": TODAY},
    ),
    "postcode": (
        "expect_column_values_to_match_regex",
        {
            "description": "postcode is a Spanish postcode (five digits)",
            "regex": ES_POSTCODE_PATTERN,
            "mostly": 0.95,
        },
    ),
    "national_id": (
        "expect_column_values_to_match_regex",
        {
            "description": "national_id is shaped like a Spanish DNI/NIE",
            "regex": ES_NATIONAL_ID_PATTERN,
            "mostly": 0.95,
        },
    ),
}


def _identity_checks(stage: str, fields: set[str]) -> list[dict]:
    """Completeness and validity of the canonical identity fields a frame carries."""
    exps: list[dict] = []
    # full_name is always derived; country is defaulted, so its completeness says nothing.
    present = [f for f in IDENTITY_FIELDS if (f in fields or f == "full_name") and f != "country"]
    for name in present:
        exps.append(_exp("expect_column_values_to_not_be_null", stage, column=name, mostly=0.5))
    for field, check in _VALIDITY.items():
        if field in fields:
            kind, kwargs = check
            exps.append(_exp(kind, stage, column=field, **kwargs))
    exps.append(
        _exp(
            "expect_column_values_to_match_regex",
            stage,
            description="country is an ISO 3166 alpha-2 code",
            column="country",
            regex=COUNTRY_PATTERN,
        )
    )
    return exps


def default_golden_suite(filled: set[str] | None = None) -> Suite:
    """A starting-point suite for the golden table; its identity checks only on the fields
    some source fills (`filled`; all without it): a field no source maps is null in every
    customer, and a check on it would fail on every run and say nothing."""
    stage = "golden"
    exps = [
        _exp(
            "expect_table_row_count_to_be_between",
            stage,
            "ERROR",
            description="the golden table is not empty",
            min_value=1,
            max_value=None,
        ),
        _exp("expect_column_values_to_not_be_null", stage, "ERROR", column="golden_id"),
        _exp("expect_column_values_to_be_unique", stage, "ERROR", column="golden_id"),
        _exp(
            "expect_column_values_to_be_between",
            stage,
            "ERROR",
            description="every golden record is built from at least one record",
            column="record_count",
            min_value=1,
            max_value=None,
        ),
        _exp(
            "expect_column_values_to_be_between",
            stage,
            description="every golden record has at least one source",
            column="source_count",
            min_value=1,
            max_value=None,
        ),
        _exp(
            "expect_column_pair_values_a_to_be_greater_than_b",
            stage,
            description="record_count is at least source_count",
            column_A="record_count",
            column_B="source_count",
            or_equal=True,
        ),
    ]
    checked = {"email", "phone", "date_of_birth", "postcode"}
    exps += _identity_checks(stage, checked if filled is None else checked & filled)
    exps.append(
        _exp(
            "expect_column_values_to_be_between",
            stage,
            column="last_updated_at",
            min_value="1990-01-01",
            max_value=TODAY,
            mostly=0.99,
        )
    )
    suite = {"name": GOLDEN_SUITE, "expectations": exps, "meta": {"default_stage": "golden"}}
    return Suite.parse(suite, "the default golden suite")


def suite_for(config: SourcesConfig, name: str) -> Suite:
    """The suite of a source (or of the golden table): its file if there is one, else a default.

    Looked up in the sources file's `expectations` folder as `<name>.json`.
    """
    folder = config.expectations_dir
    if folder is not None and (folder / f"{name}.json").exists():
        return load_suite(folder / f"{name}.json")
    if name == GOLDEN_SUITE:
        return default_golden_suite(set().union(*(s.filled_fields() for s in config.sources)))
    return default_suite(config.source(name))
