"""Typed attributes: a declared type is what the golden table publishes, and a value that does
not parse as it is nulled, named in `_invalid` and counted like any invalid field value."""

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from whiteglove.config import SourcesConfigError, load_sources
from whiteglove.extract import extract_source
from whiteglove.golden import survive
from whiteglove.layout import BUNDLED_SOURCES
from whiteglove.quarantine import accepted, invalid_value_counts
from whiteglove.schema import QUARANTINE_SCHEMA
from whiteglove.standardize import standardize_source
from whiteglove.summary import run_summary

CSV = (
    "id;name;alta;vip;visits;amount;level;seen\n"
    "1;Ana;02/11/2007;sí;3;12,50;gold;2024-01-02 10:00:00\n"
    "2;Bea;31/02/2020;maybe;3.5;abc;tin;yesterday\n"
    "3;Cruz;;false;;7;silver;\n"
    "4;Dani;11/02/2007;0;12;1e400;gold;2024-03-04 05:06:07\n"
)
ATTRIBUTES = {
    "signup_date": {"column": "alta", "type": "date", "format": "%d/%m/%Y"},
    "vip": {"column": "vip", "type": "boolean"},
    "visits": {"column": "visits", "type": "integer"},
    "amount": {"column": "amount", "type": "decimal"},
    "level": {"column": "level", "type": "category", "values": ["gold", "silver"]},
    "seen": {"column": "seen", "type": "timestamp", "format": "%Y-%m-%d %H:%M:%S"},
    "note": {"column": "name", "type": "string"},
}


def sources_file(tmp_path: Path, attributes: dict, **extra) -> Path:
    (tmp_path / "people.csv").write_text(CSV)
    source = {
        "name": "people",
        "path": "people.csv",
        "format": "csv",
        "csv": {"delimiter": ";"},
        "id": "id",
        "trust": 1,
        "fields": {"first_name": "name"},
        "attributes": attributes,
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [source, *extra.pop("more", [])], **extra}))
    return path


def standardized(path: Path, name: str = "people") -> pl.DataFrame:
    config = load_sources(path)
    source = config.source(name)
    raw = extract_source(source, config.files(source), limits=config.limits)
    return standardize_source(raw, source, "ES", date(2026, 11, 30), config.limits)


def test_declared_types_parse_and_unparseable_values_are_nulled_and_counted(tmp_path):
    frame = standardized(sources_file(tmp_path, ATTRIBUTES))

    assert frame.schema["signup_date"] == pl.Date
    assert frame.schema["vip"] == pl.Boolean
    assert frame.schema["visits"] == pl.Int64
    assert frame.schema["amount"] == pl.Float64
    assert frame.schema["level"] == pl.String
    assert frame.schema["seen"] == pl.Datetime("us")
    rows = frame.sort("row_number").select(*ATTRIBUTES).rows(named=True)
    # day first, as declared: 02/11/2007 is the 2nd of November, not the 11th of February
    assert rows[0] == {
        "signup_date": date(2007, 11, 2),
        "vip": True,
        "visits": 3,
        "amount": 12.5,
        "level": "gold",
        "seen": datetime(2024, 1, 2, 10),
        "note": "Ana",
    }
    assert rows[3]["signup_date"] == date(2007, 2, 11)
    assert rows[3]["vip"] is False
    # 31 February, "maybe", 3.5 visits, "abc", "tin", "yesterday": nulled, each named
    assert rows[1] == {k: None for k in ATTRIBUTES} | {"note": "Bea"}
    invalid = frame.sort("row_number")["_invalid"].to_list()
    assert sorted(invalid[1]) == ["amount", "level", "seen", "signup_date", "vip", "visits"]
    # an empty cell was not given, so nothing is invalid about it; 1e400 is no amount
    assert invalid[2] == []
    assert invalid[3] == ["amount"]
    # counted in the one place invalid values are counted, with the identity fields'
    assert invalid_value_counts(frame) == {
        "amount": 2,
        "level": 1,
        "seen": 1,
        "signup_date": 1,
        "visits": 1,
        "vip": 1,
    }


def test_nulled_attribute_values_reach_the_run_summary_with_the_setting_to_change(tmp_path):
    records = accepted([standardized(sources_file(tmp_path, ATTRIBUTES))])
    summary = run_summary(
        run_id="r",
        sources_file="s",
        raw_rows={"people": 4},
        customer_records=records,
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        tables={"customer_xref": records.select("source", pl.col("record_key").alias("golden_id"))},
        step_seconds={},
        linkage_choices={"match_threshold": {"value": 0.5}},
        check_results=[],
    )
    assert summary["sources"]["people"]["invalid_values_nulled"]["amount"] == 2
    warned = {w["field"]: w for w in summary["warnings"]["nulled_fields"]}
    # half of the amounts given did not parse: named, with where to look
    assert warned["amount"]["share"] == 0.5
    assert "attribute amount" in warned["amount"]["setting"]


def test_json_exports_keep_their_types_without_a_declaration(tmp_path):
    lines = [
        {"id": 1, "name": "Ana", "optin": True, "score": 3, "ratio": 1, "code": 7},
        {"id": 2, "name": "Bea", "optin": False, "score": None, "ratio": 0.5, "code": "x7"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    source = {
        "name": "m",
        "path": "m.jsonl",
        "format": "jsonl",
        "id": "id",
        "trust": 1,
        "fields": {"first_name": "name"},
        "attributes": {"optin": "optin", "score": "score", "ratio": "ratio", "code": "code"},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"sources": [source]}))
    frame = standardized(tmp_path / "s.yaml", "m").sort("row_number")

    assert frame.schema["optin"] == pl.Boolean
    assert frame["optin"].to_list() == [True, False]
    assert frame.schema["score"] == pl.Int64
    assert frame.schema["ratio"] == pl.Float64
    # mixed JSON types are kept as their JSON text, not guessed
    assert frame["code"].to_list() == ["7", "x7"]
    assert frame["source_record_id"].to_list() == ["1", "2"]


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ({"column": "level", "type": "category"}, "needs its allowed 'values'"),
        ({"column": "level", "type": "string", "values": ["a"]}, "'values' applies to type"),
        ({"column": "visits", "type": "integer", "format": "%d"}, "'format' applies to dates"),
        ({"column": "level", "type": "colour"}, "attributes.x.type"),
    ],
)
def test_a_declaration_that_does_not_fit_its_type_is_refused(tmp_path, attribute, expected):
    with pytest.raises(SourcesConfigError) as refused:
        load_sources(sources_file(tmp_path, {"x": attribute}))
    assert expected in str(refused.value)


def test_two_sources_may_not_declare_one_attribute_as_two_types(tmp_path):
    other = {
        "name": "other",
        "path": "people.csv",
        "format": "csv",
        "csv": {"delimiter": ";"},
        "id": "id",
        "trust": 2,
        "fields": {"first_name": "name"},
        "attributes": {"visits": {"column": "visits", "type": "decimal"}},
    }
    path = sources_file(tmp_path, {"visits": {"column": "visits", "type": "integer"}}, more=[other])
    with pytest.raises(SourcesConfigError) as refused:
        load_sources(path)
    assert "'visits' is declared as integer in people but as decimal in other" in str(refused.value)


def test_aggregates_keep_or_derive_their_types(tmp_path):
    records = accepted([standardized(sources_file(tmp_path, ATTRIBUTES))]).with_columns(
        pl.lit("g1").alias("golden_id")
    )
    rules = {
        "visits": {"rule": "sum"},
        "amount": {"rule": "sum"},
        "seen": {"rule": "max"},
        "signup_date": {"rule": "min"},
        "vip": {"rule": "latest"},
        "level_count": {"rule": "count", "from": "level"},
    }
    from whiteglove.config import GoldenConfig

    golden, _ = survive(records, list(ATTRIBUTES), GoldenConfig.model_validate({"fields": rules}))
    assert golden.schema["visits"] == pl.Int64
    assert golden.schema["amount"] == pl.Float64
    assert golden.schema["seen"] == pl.Datetime("us")
    assert golden.schema["signup_date"] == pl.Date
    assert golden.schema["vip"] == pl.Boolean
    assert golden.schema["level_count"] == pl.Int64
    assert golden.schema["record_count"] == pl.Int64
    assert golden.schema["source_count"] == pl.Int64
    row = golden.row(0, named=True)
    assert (row["visits"], row["amount"], row["level_count"]) == (15, 19.5, 3)
    assert row["signup_date"] == date(2007, 2, 11)


def test_the_bundled_sources_file_declares_the_types_it_publishes():
    config = load_sources(BUNDLED_SOURCES, check_files=False)
    declared = {name: spec.declared_type for name, spec in config.attribute_types().items()}
    assert declared["signup_date"] == "date"
    assert declared["consent_email"] == "boolean"
    assert declared["monthly_amount"] == "decimal"
    assert declared["last_contact"] == "timestamp"
    assert declared["segment"] == "category"
