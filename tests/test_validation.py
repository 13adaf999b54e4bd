"""Great Expectations suites: loading, check names, validation outcomes and Data Docs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from whiteglove.config import load_sources
from whiteglove.validation import (
    CHECK_NAME,
    STAGES,
    ExpectationOutcome,
    SuiteError,
    check_specs,
    check_suite,
    data_docs,
    default_golden_suite,
    default_suite,
    load_suite,
    validate,
)
from whiteglove.validation.suites import derived_check_name

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted((ROOT / "expectations").glob("*.json"))
UNIQUE_ID = "source_record_id_unique"
EMAIL_PATTERN = "email_matches_pattern"
DOB_RANGE = "date_of_birth_in_range"


def crm_frame(rows: int = 20) -> pl.DataFrame:
    """Accepted crm records in canonical form that satisfy the committed crm suite."""
    ids = [f"C{i:06d}" for i in range(rows)]
    return pl.DataFrame(
        {
            "record_key": [f"crm:{i}" for i in ids],
            "source": ["crm"] * rows,
            "source_record_id": ids,
            "row_number": list(range(1, rows + 1)),
            "trust": pl.Series([1] * rows, dtype=pl.Int32),
            "updated_at": [datetime(2024, 5, 1, 12, 30)] * rows,
            "first_name": ["Ana"] * rows,
            "last_name": ["García López"] * rows,
            "email": [f"ana{i}@example.es" for i in range(rows)],
            "phone": [f"+3461234{i:04d}" for i in range(rows)],
            "date_of_birth": [date(1980, 1, 1) + timedelta(days=37 * i) for i in range(rows)],
            "address_line": ["Calle Mayor 1"] * rows,
            "city": ["Madrid"] * rows,
            "postcode": ["28001"] * rows,
            "region": ["Madrid"] * rows,
            "country": ["ES"] * rows,
            "national_id": pl.Series([None] * rows, dtype=pl.String),
            "full_name": ["Ana García López"] * rows,
            "signup_date": [date(2015, 2, 1)] * rows,
            "_reasons": pl.Series([[]] * rows, dtype=pl.List(pl.String)),
            "_invalid": pl.Series([[]] * rows, dtype=pl.List(pl.String)),
        }
    )


def with_values(frame: pl.DataFrame, column: str, values: dict[int, object]) -> pl.DataFrame:
    """`frame` with the given rows of `column` replaced."""
    series = frame[column].to_list()
    for index, value in values.items():
        series[index] = value
    return frame.with_columns(pl.Series(column, series, dtype=frame.schema[column]))


@pytest.fixture(scope="module")
def crm_suite() -> dict:
    return load_suite(ROOT / "expectations" / "crm.json")


def test_a_clean_frame_passes_every_check(crm_suite):
    result = validate(crm_frame(), crm_suite, "standardized")
    assert result.outcomes, "the crm suite has standardized checks"
    failed = [(o.name, o.observed_value) for o in result.outcomes if not o.success]
    assert failed == []
    assert result.success
    assert json.loads(json.dumps(result.as_dict()))["success"] is True


def test_duplicate_ids_fail_the_error_uniqueness_check(crm_suite):
    frame = with_values(crm_frame(), "source_record_id", {3: "C000001"})
    result = validate(frame, crm_suite, "standardized")
    assert [o.name for o in result.failed_errors] == [UNIQUE_ID]
    assert not result.success
    outcome = next(o for o in result.outcomes if o.name == UNIQUE_ID)
    assert outcome.severity == "ERROR" and outcome.unexpected_count == 2


def test_rejected_rows_are_not_validated(crm_suite):
    # The second C000001 is rejected (standardize flagged it), so it is not a duplicate here.
    frame = with_values(crm_frame(), "source_record_id", {3: "C000001"})
    frame = with_values(frame, "_reasons", {3: ["duplicate record id (first seen at row 2)"]})
    result = validate(frame, crm_suite, "standardized")
    assert result.success
    assert next(o for o in result.outcomes if o.name == UNIQUE_ID).element_count == 19


def test_a_bad_email_rate_fails_a_warning_not_the_run(crm_suite):
    frame = with_values(crm_frame(), "email", {i: f"broken{i}.example.es" for i in range(4)})
    result = validate(frame, crm_suite, "standardized")
    assert [o.name for o in result.failed_warnings] == [EMAIL_PATTERN]
    outcome = next(o for o in result.outcomes if o.name == EMAIL_PATTERN)
    assert outcome.unexpected_count == 4 and outcome.unexpected_percent == pytest.approx(20.0)
    assert result.success  # a WARN check does not stop publishing


def test_date_of_birth_must_not_be_in_the_future(crm_suite):
    # "today" in the suite is resolved at validation time, never a date that goes stale.
    frame = with_values(crm_frame(), "date_of_birth", {0: date.today() + timedelta(days=1)})
    result = validate(frame, crm_suite, "standardized")
    assert [o.name for o in result.failed_warnings] == [DOB_RANGE]
    ok = validate(
        with_values(crm_frame(), "date_of_birth", {0: date.today()}), crm_suite, "standardized"
    )
    assert ok.failed_warnings == []


def test_only_the_requested_stage_runs(crm_suite):
    raw = pl.DataFrame(
        {
            "IdCliente": [f"C{i}" for i in range(150)],
            "Email": ["a@b.es"] * 150,
            "_parse_error": pl.Series([None] * 150, dtype=pl.String),
        }
    )
    result = validate(raw, crm_suite, "raw")
    assert [o.name for o in result.outcomes] == [c.name for c in check_specs(crm_suite, "raw")]
    assert {o.stage for o in result.outcomes} == {"raw"}
    assert UNIQUE_ID not in {o.name for o in result.outcomes}
    assert result.success and not result.failed_warnings
    assert validate(raw, crm_suite, "golden").outcomes == []


def test_a_check_gx_cannot_run_fails_instead_of_passing():
    suite = {
        "name": "t",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "not_there"},
                "meta": {"severity": "ERROR"},
            }
        ],
    }
    result = validate(pl.DataFrame({"a": [1, 2]}), suite, "standardized")
    (outcome,) = result.outcomes
    assert not outcome.success and "not_there" in str(outcome.observed_value)
    assert not result.success


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_committed_suites_have_unique_dagster_safe_check_names(path):
    suite = check_suite(path)  # also builds every expectation with GX
    for stage in STAGES:
        specs = check_specs(suite, stage)
        names = [s.name for s in specs]
        assert all(CHECK_NAME.match(n) for n in names), names
        assert len(names) == len(set(names)), names
        assert all(s.description and s.severity in ("ERROR", "WARN") for s in specs)
    stages = {s for stage in STAGES for s in [c.stage for c in check_specs(suite, stage)]}
    assert stages == ({"golden"} if suite.name == "golden_customers" else {"raw", "standardized"})


@pytest.mark.parametrize(
    ("kind", "kwargs", "name"),
    [
        ("expect_column_values_to_not_be_null", {"column": "account_id"}, "account_id_not_null"),
        (
            "expect_column_values_to_match_regex",
            {"column": "email_facturacion", "regex": "@"},
            "email_facturacion_matches_pattern",
        ),
        ("expect_table_row_count_to_be_between", {"min_value": 1}, "row_count_in_range"),
        ("expect_column_to_exist", {"column": "Teléfono"}, "Telefono_exists"),
        ("expect_column_values_to_be_null", {"column": "_parse_error"}, "parse_error_is_null"),
        ("expect_column_mean_to_be_between", {"column": "amount"}, "amount_mean_in_range"),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "record_count", "column_B": "source_count", "or_equal": True},
            "record_count_at_least_source_count",
        ),
        (
            "expect_column_values_to_be_json_parseable",
            {"column": "payload"},
            "payload_json_parseable",
        ),
    ],
)
def test_check_names_put_the_column_first_and_say_what_is_checked(kind, kwargs, name):
    assert derived_check_name(kind, kwargs) == name
    # a column with nothing to keep still gets a valid name, the same one every time
    odd = derived_check_name("expect_column_to_exist", {"column": "日本"})
    assert CHECK_NAME.fullmatch(odd) and odd == derived_check_name(
        "expect_column_to_exist", {"column": "日本"}
    )


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_check_names_of_committed_suites_are_short_and_differ_at_the_start(path):
    """The Dagster UI cuts a long check name in the middle: names stay short, and two checks
    of one asset differ before the cut (the column comes first)."""
    suite = load_suite(path)
    for stage in STAGES:
        names = [s.name for s in check_specs(suite, stage)]
        assert all(len(n) <= 40 for n in names), names
        assert len({(n[:18], n[-14:]) for n in names}) == len(names), names


def test_every_source_and_the_golden_table_have_a_committed_suite():
    config = load_sources(ROOT / "data" / "sources.yaml", check_files=False)
    names = {p.stem for p in SUITES}
    assert names == {s.name for s in config.sources} | {"golden_customers"}
    for source in config.sources:
        errors = [
            c.name
            for c in check_specs(
                load_suite(ROOT / "expectations" / f"{source.name}.json"), "standardized"
            )
            if c.severity == "ERROR"
        ]
        assert UNIQUE_ID in errors


def test_default_suites_are_valid_starting_points():
    config = load_sources(ROOT / "data" / "sources.yaml", check_files=False)
    for suite in [default_suite(s) for s in config.sources] + [default_golden_suite()]:
        names = [c.name for stage in STAGES for c in check_specs(suite, stage)]
        assert names and all(CHECK_NAME.match(n) for n in names)
    crm = default_suite(config.source("crm"))
    raw = {c.name: c.severity for c in check_specs(crm, "raw")}
    assert raw["IdCliente_exists"] == "ERROR"
    assert raw["Email_matches_pattern"] == "WARN"
    golden = {c.name: c.severity for c in check_specs(default_golden_suite(), "golden")}
    assert golden["golden_id_unique"] == "ERROR"
    assert golden["record_count_in_range"] == "ERROR"
    assert golden[EMAIL_PATTERN] == "WARN"


def test_the_default_golden_suite_checks_only_fields_some_source_fills():
    names = lambda suite: {c.name for c in check_specs(suite, "golden")}  # noqa: E731
    every = names(default_golden_suite())
    some = names(default_golden_suite({"email", "first_name", "country"}))
    assert "postcode_not_null" in every and "postcode_not_null" not in some
    assert "date_of_birth_not_null" in every and "date_of_birth_not_null" not in some
    assert "email_not_null" in some and EMAIL_PATTERN in some
    assert "golden_id_unique" in some


def test_load_suite_names_the_file_and_the_problem(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "expectations": [', encoding="utf-8")
    with pytest.raises(SuiteError, match="(?s)broken.json.*not valid JSON"):
        load_suite(broken)

    bad = tmp_path / "bad.json"
    expectation = {"type": "expect_column_to_exist", "kwargs": {"column": "id"}}
    bad.write_text(
        json.dumps(
            {
                "name": "x",
                "expectations": [
                    {**expectation, "meta": {"severity": "FATAL"}},
                    {**expectation, "meta": {"stage": "raw"}},
                    {**expectation, "meta": {"stage": "raw"}},
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(SuiteError) as info:
        load_suite(bad)
    message = str(info.value)
    assert str(bad) in message
    assert "meta.severity must be ERROR or WARN" in message
    assert "'id_exists' repeats expectations[1]" in message

    with pytest.raises(SuiteError, match="(?s)missing.json.*file not found"):
        load_suite(tmp_path / "missing.json")


def test_check_suite_reports_arguments_gx_rejects(tmp_path):
    path = tmp_path / "gx.json"
    path.write_text(
        json.dumps(
            {
                "name": "x",
                "expectations": [
                    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}},
                    {"type": "expect_nothing_that_exists", "kwargs": {}},
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(SuiteError) as info:
        check_suite(path)
    assert str(path) in str(info.value)
    assert "expectations[0]" in str(info.value) and "expectations[1]" in str(info.value)


def test_importing_the_module_does_not_import_great_expectations():
    code = (
        "import sys, whiteglove.validation as v; "
        "v.check_specs(v.default_golden_suite(), 'golden'); "
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_docs_cover_every_validation_given(tmp_path, crm_suite):
    golden = pl.DataFrame(
        {
            "golden_id": ["G1", "G2"],
            "record_count": [2, 1],
            "source_count": [2, 1],
            "email": ["secret.person@example.es", "not-an-email"],
        }
    )
    suite = load_suite(ROOT / "expectations" / "golden_customers.json")
    crm = validate(crm_frame(), crm_suite, "standardized", run_name="run-1")
    gold = validate(golden, suite, "golden", run_name="run-1")
    # Results and docs count failures but do not quote personal values.
    assert "not-an-email" not in json.dumps([crm.gx_result, gold.gx_result])

    site = data_docs([crm.gx_result, gold.gx_result], tmp_path)
    assert list(tmp_path.iterdir()) == []  # built in a scratch folder, then removed
    html = site.text("index.html")
    assert "crm.standardized" in html and "golden_customers.golden" in html
    pages = [name for name in site if name.startswith("validations/") and name.endswith(".html")]
    assert len(pages) == 2
    assert "not-an-email" not in "".join(site.text(p) for p in pages)

    # Only what is given is in the site: nothing stale from an earlier build.
    html = data_docs([crm.gx_result], tmp_path).text("index.html")
    assert "crm.standardized" in html and "golden_customers.golden" not in html


def test_a_suite_name_that_is_a_path_is_refused(tmp_path):
    # Data Docs make a folder of the name: "../../elsewhere/pwned" would leave --out
    path = tmp_path / "crm.json"
    expectation = {"type": "expect_column_to_exist", "kwargs": {"column": "id"}}
    for name in ("../../../../elsewhere/pwned", "a/b", ".hidden", "crm\n"):
        path.write_text(json.dumps({"name": name, "expectations": [expectation]}))
        with pytest.raises(SuiteError, match="must be a plain name") as info:
            load_suite(path)
        assert str(path) in str(info.value)
    assert not (tmp_path.parent / "elsewhere").exists()


def outcome(kind: str, **found) -> ExpectationOutcome:
    base = dict(
        name="x",
        stage="standardized",
        expectation_type=kind,
        column="email",
        severity="WARN",
        success=True,
        element_count=None,
        unexpected_count=None,
        unexpected_percent=None,
        observed_value=None,
        description="email matches an email pattern",
    )
    return ExpectationOutcome(**{**base, **found})


def test_check_metadata_says_what_was_observed_and_never_none():
    from assets.checks import check_metadata, observed

    counted = dict(element_count=1846, unexpected_count=0, unexpected_percent=0.0)
    regex = outcome("expect_column_values_to_match_regex", **counted)
    assert observed(regex) == "0 of 1,846 values unexpected (0.0%)"
    # GX's percent is of the values present: the rows without one are said apart
    some = dict(element_count=2580, unexpected_count=7, unexpected_percent=7 / 2414 * 100)
    text = observed(outcome("expect_column_values_to_match_regex", **some))
    assert text == "7 of 2,414 values unexpected (0.3%); 166 of 2,580 rows had no value"
    exists = outcome("expect_column_to_exist")
    assert observed(exists) == "column present"
    assert observed(outcome("expect_column_to_exist", success=False)) == "column missing"
    rows = outcome("expect_table_row_count_to_be_between", column=None, observed_value=3052)
    assert observed(rows) == "3,052 rows"  # a figure, not masked
    for o in (regex, exists, rows):
        assert "None" not in str(check_metadata(o))
    # no counts where GX counted nothing, rather than zeros that read as findings
    assert "element_count" not in check_metadata(rows)
    assert check_metadata(regex)["unexpected_count"] == 0
