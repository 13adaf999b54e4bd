"""Validity rules are settings: what a source's data needs overrides what suits most data.

The rule that nulls a birth date outside 1900-today suits customers of today; a register of
historical records sets its own window, globally (`validity:`) or for one source.
"""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from whiteglove.config import SourcesConfigError, ValidityConfig, load_sources
from whiteglove.extract import extract_source
from whiteglove.metrics import nulled_field_warnings
from whiteglove.quarantine import accepted
from whiteglove.schema import QUARANTINE_SCHEMA
from whiteglove.standardize import standardize_source
from whiteglove.summary import run_summary
from whiteglove.validation import validate

CSV = (
    "id,email,name,born\n"
    "1,a@x.es,Ana,1850-03-01\n2,b@x.es,Bea,1980-05-02\n3,c@x.es,Cruz,1850-07-09\n"
)


def sources_file(tmp_path: Path, **extra) -> Path:
    (tmp_path / "people.csv").write_text(CSV)
    source = {
        "name": "people",
        "path": "people.csv",
        "format": "csv",
        "id": "id",
        "trust": 1,
        "fields": {"email": "email", "first_name": "name", "date_of_birth": "born"},
    }
    source |= extra.pop("source", {})
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [source], **extra}))
    return path


def standardized(path: Path) -> pl.DataFrame:
    config = load_sources(path)
    source = config.source("people")
    raw = extract_source(source, config.files(source), limits=config.limits)
    return standardize_source(
        raw, source, "ES", date(2026, 11, 30), config.limits, config.validity_for(source)
    )


def records(path: Path) -> pl.DataFrame:
    return accepted([standardized(path)])


def summary_warnings(frame: pl.DataFrame) -> list[dict]:
    summary = run_summary(
        run_id="r",
        sources_file="s",
        raw_rows={"people": frame.height},
        customer_records=frame,
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        tables={
            "customer_xref": frame.select("record_key", "source").with_columns(
                pl.col("record_key").alias("golden_id")
            ),
            "golden_customers": frame.head(0),
        },
        step_seconds={},
        linkage_choices={"match_threshold": {"value": 0.5}},
        check_results=[],
    )
    return summary["warnings"]["nulled_fields"]


def test_by_default_a_birth_date_of_1850_is_nulled_counted_and_named(tmp_path):
    frame = records(sources_file(tmp_path))
    assert frame["date_of_birth"].to_list() == [None, date(1980, 5, 2), None]
    assert frame["invalid_fields"].to_list() == [["date_of_birth"], [], ["date_of_birth"]]
    (warning,) = summary_warnings(frame)
    assert warning["field"] == "date_of_birth" and warning["share"] == pytest.approx(2 / 3, 1e-3)
    assert "validity.birth_date_earliest" in warning["setting"]
    # a date the mapping's format does not read is nulled too: the hint names both
    assert "the field's format" in warning["setting"]


@pytest.mark.parametrize("where", ["file", "source"])
def test_a_source_whose_settings_allow_1850_keeps_and_uses_it(tmp_path, where):
    window = {"birth_date_earliest": "1800-01-01"}
    extra = {"validity": window} if where == "file" else {"source": {"validity": window}}
    frame = records(sources_file(tmp_path, **extra))
    assert frame["date_of_birth"].to_list() == [
        date(1850, 3, 1),
        date(1980, 5, 2),
        date(1850, 7, 9),
    ]
    assert frame["invalid_fields"].to_list() == [[], [], []]
    assert summary_warnings(frame) == []


def test_a_source_can_only_override_known_rules_with_valid_values(tmp_path):
    with pytest.raises(SourcesConfigError) as info:
        load_sources(sources_file(tmp_path, source={"validity": {"birth_window": 3}}))
    assert any("(people).validity.birth_window: unknown key" in p for p in info.value.problems)
    with pytest.raises(SourcesConfigError, match="not a regular expression"):
        load_sources(sources_file(tmp_path, validity={"email_pattern": "(unclosed"}))


def test_each_rule_is_a_setting():
    strict = ValidityConfig()
    loose = ValidityConfig(
        phone="digits", postcode_patterns={}, national_id_checksum=False, email_pattern=r".+@.+"
    )
    assert strict.phone == "valid" and loose.postcode_patterns == {}


def test_a_rule_that_nulls_a_fifth_or_less_is_not_a_warning():
    counts = pl.DataFrame(
        {"source": ["s", "s"], "field": ["email", "phone"], "kept": [80, 79], "nulled": [20, 21]}
    )
    assert [w["field"] for w in nulled_field_warnings(counts)] == ["phone"]


BIRTH_WINDOW = {
    "type": "expect_column_values_to_be_between",
    "kwargs": {"column": "date_of_birth", "min_value": "1900-01-01", "max_value": "today"},
    "meta": {"stage": "standardized", "severity": "WARN"},
}


@pytest.mark.parametrize("mostly", [None, 0.5])
def test_a_value_check_counts_the_values_nulled_as_invalid(tmp_path, mostly):
    """Two of three birth dates were 1850: nulled, they used to pass "between 1900 and today"
    as nulls. Counted on the values the source gave, two of three are unexpected."""
    exp = {**BIRTH_WINDOW, "kwargs": {**BIRTH_WINDOW["kwargs"], "mostly": mostly}}
    if mostly is None:
        del exp["kwargs"]["mostly"]
    suite = {"name": "people", "expectations": [exp]}
    result = validate(standardized(sources_file(tmp_path)), suite, "standardized")
    (outcome,) = result.outcomes
    assert (outcome.unexpected_count, outcome.nulled_as_invalid) == (2, 2)
    assert outcome.unexpected_percent == pytest.approx(200 / 3)
    assert outcome.success is False  # 2/3 unexpected breaks "all" and "at least half"
    (gx,) = result.gx_result["results"]
    assert gx["success"] is False and gx["result"]["unexpected_count"] == 2
    assert result.gx_result["success"] is False


def test_a_value_check_passes_when_the_settings_keep_the_values(tmp_path):
    path = sources_file(tmp_path, validity={"birth_date_earliest": "1800-01-01"})
    suite = {"name": "people", "expectations": [BIRTH_WINDOW]}
    (outcome,) = validate(standardized(path), suite, "standardized").outcomes
    # the suite's own window still finds them: the setting changes nulling, not the check
    assert (outcome.unexpected_count, outcome.nulled_as_invalid) == (2, 0)
