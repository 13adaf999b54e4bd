"""contract.json: a JSON Schema of the published tables that validates, covers every published
column, describes it where the Parquet metadata and DuckDB comments do too, and is versioned."""

import json
from datetime import date, datetime

import duckdb
import jsonschema
import polars as pl
import pyarrow.parquet as pq
import pytest

from whiteglove.config import load_sources
from whiteglove.contract import (
    CONTRACT_FILE,
    DIALECT,
    TABLES,
    VERSION_KEY,
    decide_version,
)
from whiteglove.golden import describe_rules

PERSONAL = {
    "email": "email",
    "phone": "phone",
    "date_of_birth": "birth_date",
    "national_id": "national_id",
    "first_name": "name",
    "last_name": "name",
    "full_name": "name",
    "address_line": "address",
}


@pytest.fixture(scope="module")
def contract(fresh_run) -> dict:
    return json.loads((fresh_run.out / CONTRACT_FILE).read_text())


def test_the_contract_is_a_valid_json_schema(contract):
    assert contract["$schema"] == DIALECT
    # raises SchemaError when the document breaks the 2020-12 meta-schema
    jsonschema.Draft202012Validator.check_schema(contract)
    assert contract[VERSION_KEY] == "1.0"


def test_every_published_column_is_in_the_contract_with_a_description(fresh_run, contract):
    for table in TABLES:
        published = pq.read_schema(fresh_run.out / f"{table}.parquet").names
        described = contract["$defs"][table]["properties"]
        assert list(described) == published, table
        assert contract["$defs"][table]["required"] == published
        for name, spec in described.items():
            assert spec["description"].strip(), f"{table}.{name} has no description"
            assert spec["x-type"], f"{table}.{name} has no type"


def test_personal_data_is_marked_with_its_kind(contract):
    golden = contract["$defs"]["golden_customers"]["properties"]
    for column, kind in PERSONAL.items():
        assert golden[column]["x-personal-data"] == kind, column
    for column in ("golden_id", "record_count", "sources", "consent_email", "valid_from"):
        assert "x-personal-data" not in golden[column], column
    xref = contract["$defs"]["customer_xref"]["properties"]
    assert not any("x-personal-data" in spec for spec in xref.values())
    # lineage values are golden values: an email among them is still an email
    lineage = contract["$defs"]["golden_lineage"]["properties"]
    assert lineage["value"]["x-personal-data"].startswith("varies")
    assert [c for c, spec in lineage.items() if "x-personal-data" in spec] == ["value"]


def test_golden_columns_name_their_survivorship_rule(fresh_run, contract):
    golden = contract["$defs"]["golden_customers"]["properties"]
    config = load_sources(fresh_run.sources)
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    for column, rule in describe_rules(config.golden, attributes).items():
        assert golden[column]["x-survivorship"] == rule, column
    assert golden["monthly_amount"]["x-survivorship"] == "sum from billing"
    assert golden["ticket_count"]["x-survivorship"] == "count of records from support"
    assert golden["record_count"]["x-survivorship"] == "computed for every customer"
    assert golden["segment"]["enum"][:-1] == ["premium", "familia", "joven", "senior", "estandar"]


def _json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def test_every_published_row_validates_against_its_table_in_the_contract(fresh_run, contract):
    # types and nullability as promised: a null in a not-null column, a text where a boolean
    # is promised, a value outside a category, each fails here
    for table in ("golden_customers", "customer_xref"):
        schema = {**contract, **contract["$defs"][table]}
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        rows = pl.read_parquet(fresh_run.out / f"{table}.parquet").rows(named=True)
        for row in rows:
            errors = list(validator.iter_errors({k: _json_value(v) for k, v in row.items()}))
            assert not errors, (table, row["golden_id"], errors[0].message)


def test_descriptions_reach_parquet_field_metadata_and_duckdb_comments(fresh_run, contract):
    con = duckdb.connect(str(fresh_run.out / "customers.duckdb"), read_only=True)
    try:
        comments = {
            (t, c): text
            for t, c, text in con.execute(
                "select table_name, column_name, comment from duckdb_columns()"
            ).fetchall()
        }
    finally:
        con.close()
    for table in TABLES:
        schema = pq.read_schema(fresh_run.out / f"{table}.parquet")
        for name, spec in contract["$defs"][table]["properties"].items():
            metadata = schema.field(name).metadata or {}
            assert metadata.get(b"description", b"").decode() == spec["description"]
            assert comments[(table, name)] == spec["description"]


def test_declared_types_are_in_the_descriptions(contract):
    golden = contract["$defs"]["golden_customers"]["properties"]
    assert "read as date (written %d/%m/%Y in the export)" in golden["signup_date"]["description"]
    assert golden["signup_date"]["format"] == "date"
    assert golden["consent_email"]["type"] == ["boolean", "null"]
    assert golden["sources"] == golden["sources"] | {"type": "array", "x-type": "list<string>"}


SHAPE = {"golden_customers": {"golden_id": "string", "signup_date": "date"}}


def previous(version: str, shape: dict = SHAPE) -> dict:
    return {
        VERSION_KEY: version,
        "$defs": {
            t: {"properties": {c: {"x-type": k} for c, k in cols.items()}}
            for t, cols in shape.items()
        },
    }


def test_a_first_contract_takes_the_major_version_of_the_sources_file():
    assert decide_version(None, SHAPE, 1).version == "1.0"
    assert decide_version(None, SHAPE, 3).version == "3.0"


def test_the_same_shape_keeps_the_version_and_an_added_column_raises_the_minor():
    assert decide_version(previous("1.4"), SHAPE, 1).version == "1.4"
    grown = {"golden_customers": {**SHAPE["golden_customers"], "tier": "string"}}
    decision = decide_version(previous("1.4"), grown, 1)
    assert (decision.version, decision.refused) == ("1.5", [])
    assert decision.as_dict()["added_columns"] == ["golden_customers.tier"]


def test_a_changed_type_or_a_dropped_column_is_refused_naming_it():
    changed = {"golden_customers": {"golden_id": "string", "signup_date": "string"}}
    decision = decide_version(previous("1.2"), changed, 1)
    assert len(decision.refused) == 1
    assert (
        "golden_customers.signup_date would change type from date to string"
        in (decision.refused[0])
    )
    assert "raise contract.major_version to 2" in decision.refused[0]
    dropped = {"golden_customers": {"golden_id": "string"}}
    refused = decide_version(previous("1.2"), dropped, 1).refused
    assert refused and "golden_customers.signup_date (date) would be dropped" in refused[0]


def test_a_raised_major_version_lets_breaking_changes_through_and_says_so():
    changed = {"golden_customers": {"golden_id": "string", "signup_date": "string"}}
    decision = decide_version(previous("1.2"), changed, 2)
    assert (decision.version, decision.refused) == ("2.0", [])
    assert decision.as_dict()["breaking_changes"] == [
        "golden_customers.signup_date would change type from date to string"
    ]
    assert decide_version(previous("2.0"), SHAPE, 1).refused  # never back
