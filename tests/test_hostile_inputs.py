"""Hostile and broken exports: each is read, quarantined row by row, or refused with a clear
message naming the source, the file and the problem. Nothing is silently lost or guessed."""

import csv
import json
import os
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.config import LimitsConfig, SourceConfig, SourcesConfigError, load_sources
from whiteglove.extract import ExtractError, extract_source
from whiteglove.quarantine import accepted, rejected
from whiteglove.standardize import standardize_source

FIELDS = {"first_name": "name", "email": "email"}


def source(fmt: str = "csv", **extra) -> SourceConfig:
    spec = {"name": "s", "path": f"s.{fmt}", "format": fmt, "id": "id", "trust": 1}
    return SourceConfig.model_validate(spec | {"fields": FIELDS} | extra)


def write(tmp_path: Path, fmt: str, content: str | bytes | pa.Table) -> Path:
    path = tmp_path / f"s.{fmt}"
    if isinstance(content, pa.Table):
        pq.write_table(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def extract(tmp_path: Path, content, fmt: str = "csv", **extra) -> pl.DataFrame:
    config = source(fmt, **extra)
    return extract_source(config, [write(tmp_path, fmt, content)])


def standardized(tmp_path: Path, content, fmt: str = "csv", **extra) -> pl.DataFrame:
    config = source(fmt, **extra)
    raw = extract_source(config, [write(tmp_path, fmt, content)])
    return standardize_source(raw, config, "ES", today=date(2026, 11, 23))


def refusal(tmp_path: Path, content, fmt: str = "csv", **extra) -> str:
    """The problems load_sources names for an export, as one text."""
    write(tmp_path, fmt, content)
    spec = {"name": "s", "path": f"s.{fmt}", "format": fmt, "id": "id", "trust": 1}
    sources = {"sources": [spec | {"fields": FIELDS} | extra]}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    with pytest.raises(SourcesConfigError) as info:
        load_sources(tmp_path / "sources.yaml")
    return "\n".join(info.value.problems)


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    raw = extract(tmp_path, "\ufeffid,email,name\n1,a@example.com,Ana\n")
    assert raw["id"].to_list() == ["1"]
    raw = extract(tmp_path, '\ufeff{"id": "1", "email": "a@example.com"}\n', "jsonl")
    assert raw["id"].to_list() == ["1"]


def test_quoted_line_breaks_stay_inside_their_field(tmp_path):
    text = 'id,email,name\r\n1,a@example.com,"Ana\r\nMaría"\r\n2,b@example.com,"Bo\nb"\r\n'
    raw = extract(tmp_path, text)
    assert raw["name"].to_list() == ["Ana\r\nMaría", "Bo\nb"]
    assert raw["_parse_error"].null_count() == 2


def test_an_unbalanced_quote_costs_one_row_not_the_rest_of_the_file(tmp_path):
    text = 'id,email,name\n1,a@example.com,"Ana\n2,b@example.com,Bob\n3,c@example.com,Cy\n'
    frame = standardized(tmp_path, text)
    assert accepted([frame])["source_record_id"].to_list() == ["2", "3"]
    (row,) = rejected([frame]).iter_rows(named=True)
    assert row["row_number"] == 1 and row["raw"] == '1,a@example.com,"Ana'
    assert "unbalanced quote" in row["reasons"][0]


def test_a_stray_quote_inside_a_field_quarantines_that_row_only(tmp_path):
    frame = standardized(tmp_path, 'id,email,name\n1,a@example.com,"Bo"b\n2,b@example.com,Bob\n')
    assert accepted([frame])["source_record_id"].to_list() == ["2"]
    assert rejected([frame])["reasons"].item()[0].startswith("unparseable CSV")


def test_very_long_fields_and_one_megabyte_lines_are_read(tmp_path):
    long_name = "x" * 300_000  # over the csv module's default 128 KiB field limit
    line = "lorem ipsum " * 90_000  # a 1 MB line
    text = f"id,email,name,notes\n1,a@example.com,{long_name},\n2,b@example.com,Bob,{line}\n"
    # the limit is process-wide: start from a fresh process's, whatever ran before
    default = csv.field_size_limit(131_072)
    try:
        raw = extract(tmp_path, text)
    finally:
        csv.field_size_limit(default)
    assert raw["_parse_error"].null_count() == 2
    assert len(raw["name"][0]) == 300_000 and len(raw["notes"][1]) == len(line)


def test_binary_garbage_is_refused_as_not_text(tmp_path):
    garbage = bytes(range(256)) * 40
    with pytest.raises(ExtractError, match="not valid utf-8 at line .*binary data"):
        extract(tmp_path, b"id,email,name\n" + garbage)
    # latin-1 decodes any byte, so the NUL bytes are what give binary data away
    with pytest.raises(ExtractError, match="not a CSV text file"):
        extract(tmp_path, garbage, csv={"encoding": "latin-1"})
    assert "binary" in refusal(tmp_path, garbage)


def test_a_nul_byte_in_a_row_quarantines_the_row(tmp_path):
    frame = standardized(tmp_path, b"id,email,name\n1,a@example.com,A\x00na\n2,b@example.com,B\n")
    assert accepted([frame])["source_record_id"].to_list() == ["2"]
    assert "NUL" in rejected([frame])["reasons"].item()[0]


def test_mixed_encodings_are_refused_naming_the_line(tmp_path):
    text = b"id,email,name\n1,a@example.com,Ana\n" + "2,b@x.com,Ñoño\n".encode("latin-1")
    with pytest.raises(ExtractError) as info:
        extract(tmp_path, text)
    assert "not valid utf-8 at line 3" in str(info.value)
    assert "csv.encoding" in str(info.value)


def test_utf16_is_recognized(tmp_path):
    with pytest.raises(ExtractError, match="UTF-16"):
        extract(tmp_path, "id,email,name\n1,a@example.com,Ana\n".encode("utf-16"))


def test_old_mac_line_endings_are_read(tmp_path):
    raw = extract(tmp_path, "id,email,name\r1,a@example.com,Ana\r2,b@example.com,Bob\r")
    assert raw["id"].to_list() == ["1", "2"]


def test_one_broken_json_line_is_quarantined_and_the_rest_read(tmp_path):
    lines = [
        '{"id": "1", "email": "a@example.com", "name": "Ana"}',
        '{"id": "2", "email": ',  # cut short
        b'{"id": "3", "name": "\xd1o\xf1o"}'.decode("latin-1"),  # written in latin-1
        '{"id": "4", "email": "d@example.com", "email": "e@example.com"}',
        '["not", "an", "object"]',
        '{"id": "5", "email": "f@example.com", "name": "Eva"}',
    ]
    data = b"\n".join(line.encode("latin-1") if "\xd1" in line else line.encode() for line in lines)
    frame = standardized(tmp_path, data + b"\n", "jsonl")
    assert accepted([frame])["source_record_id"].to_list() == ["1", "5"]
    reasons = {r: why[0] for r, why in rejected([frame]).select("row_number", "reasons").rows()}
    assert reasons[2].startswith("unparseable JSON")
    assert reasons[3].startswith("not valid utf-8")
    assert "repeated key(s) 'email'" in reasons[4]
    assert "not a JSON object" in reasons[5]


def test_a_jsonl_file_of_garbage_is_refused(tmp_path):
    with pytest.raises(ExtractError, match="not a JSON-lines file"):
        extract(tmp_path, b"\x00\x01\x02 garbage\nmore garbage\n", "jsonl")


def test_a_json_object_or_list_under_a_mapped_key_is_not_read_as_its_text(tmp_path):
    lines = [
        {"id": "1", "email": "a@example.com", "name": "Ana"},
        {"id": "2", "email": "b@example.com", "name": {"given": "Bea", "mail": "b@x.es"}},
        {"id": "3", "email": ["c@example.com", "d@example.com"], "name": "Cris"},
        {"id": "4", "email": "e@example.com", "name": "Eva", "extra": {"kept": "as text"}},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines)
    frame = standardized(tmp_path, data, "jsonl")
    assert accepted([frame])["source_record_id"].to_list() == ["1", "4"]
    reasons = {r: why[0] for r, why in rejected([frame]).select("row_number", "reasons").rows()}
    assert reasons[2] == "key 'name' (field first_name) holds an object, not one value"
    assert reasons[3] == "key 'email' (field email) holds a list, not one value"
    raw = extract(tmp_path, data, "jsonl")  # an unmapped nested key stays, as its JSON text
    assert raw["extra"].to_list() == [None, None, None, '{"kept": "as text"}']
    # so does an attribute's: the profile carries it as written
    profile = extract(tmp_path, data, "jsonl", attributes={"extra": "extra"})
    assert profile["_parse_error"].to_list()[3] is None
    # on every line: the mapping is wrong, not the rows
    every = "".join(json.dumps(lines[1] | {"id": str(i)}) + "\n" for i in range(3))
    with pytest.raises(ExtractError, match=r"no line can be read \(3 of 3: key 'name' \(field"):
        extract(tmp_path, every, "jsonl")
    with pytest.raises(ExtractError, match=r"no line can be read \(1 of 2: key 'name'"):
        extract(tmp_path, json.dumps(lines[1]) + "\n" + '{"id": "9", "email": \n', "jsonl")


def test_a_list_or_struct_column_mapped_to_a_field_is_refused(tmp_path):
    table = pa.table(
        {
            "id": ["1", "2"],
            "email": [["a@example.com", "b@example.com"], []],
            "name": [{"given": "Ana"}, {"given": "Bob"}],
        }
    )
    problems = refusal(tmp_path, table, "parquet")
    assert "field email maps column 'email'" in problems and "list<" in problems
    assert "field first_name maps column 'name'" in problems and "struct<" in problems
    with pytest.raises(ExtractError, match="cannot be read as one value"):
        extract(tmp_path, table, "parquet")


def test_unmapped_nested_and_binary_parquet_columns_are_kept_as_text(tmp_path):
    table = pa.table(
        {
            "id": [None, "2"],
            "email": ["a@example.com", "b@example.com"],
            "name": ["Ana", "Bob"],
            "tags": [["vip"], []],
            "blob": pa.array([b"\xff\x00", b"ok"], pa.binary()),
        }
    )
    frame = standardized(tmp_path, table, "parquet")
    (row,) = rejected([frame]).iter_rows(named=True)  # no id: quarantined with its raw row
    assert json.loads(row["raw"]) == {
        "id": None,
        "email": "a@example.com",
        "name": "Ana",
        "tags": '["vip"]',
        "blob": "0xff00",
    }


def test_float_ids_infinities_and_huge_numbers_do_not_fail_the_source(tmp_path):
    table = pa.table(
        {
            "id": [1.0, float("inf"), float("nan"), 1e30],
            "email": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
            "name": ["A", "B", "C", "D"],
        }
    )
    frame = standardized(tmp_path, table, "parquet")
    assert frame["source_record_id"].to_list()[0] == "1"
    assert frame.height == 4


@pytest.mark.parametrize(
    ("fmt", "content", "problem"),
    [
        ("csv", "", "is empty"),
        ("csv", "\n\n", "is empty"),
        ("jsonl", "", "lacks"),
    ],
)
def test_an_empty_export_is_refused_before_the_run(tmp_path, fmt, content, problem):
    assert problem in refusal(tmp_path, content, fmt)


def test_an_export_with_only_a_header_fails_clearly(tmp_path):
    with pytest.raises(ExtractError, match="header but no rows"):
        extract(tmp_path, "id,email,name\n")
    empty = pa.table({"id": pa.array([], pa.string()), "email": pa.array([], pa.string())})
    with pytest.raises(ExtractError, match="no rows"):
        extract(tmp_path, empty.append_column("name", pa.array([], pa.string())), "parquet")


def test_duplicate_column_names_are_refused_naming_them(tmp_path):
    text = "id,email,name,email\n1,a@example.com,Ana,b@example.com\n"
    assert "repeats column name(s) 'email'" in refusal(tmp_path, text)
    with pytest.raises(ExtractError, match="repeated column names in the header: 'email'"):
        extract(tmp_path, text)
    table = pa.table(
        [["1"], ["a@example.com"], ["Ana"], ["x"]], names=["id", "email", "name", "id"]
    )
    assert "repeats column name(s) 'id'" in refusal(tmp_path, table, "parquet")


def test_unnamed_columns_from_trailing_delimiters_do_not_collide(tmp_path):
    raw = extract(tmp_path, "id,email,name,,\n1,a@example.com,Ana,,\n")
    assert raw["name"].to_list() == ["Ana"] and raw["_parse_error"].null_count() == 1
    assert {"column_4", "column_5"} <= set(raw.columns)


def test_a_trailing_delimiter_on_the_data_rows_or_the_header_alone_loses_no_row(tmp_path):
    # many exports end every data row with a delimiter and not the header, or the other way
    rows = extract(tmp_path, "id,email,name\r\n1,a@example.com,Ana,\r\n2,b@example.com,Bea,\r\n")
    assert rows["name"].to_list() == ["Ana", "Bea"] and rows["_parse_error"].null_count() == 2
    header = extract(tmp_path, "id,email,name,\n1,a@example.com,Ana\n2,b@example.com,Bea\n")
    assert header["name"].to_list() == ["Ana", "Bea"] and header["_parse_error"].null_count() == 2
    assert header["column_4"].to_list() == ["", ""]
    # a delimiter too many that holds a value is still a row of the wrong shape
    extra = extract(tmp_path, "id,email,name\n1,a@example.com,Ana,x\n")
    assert extra["_parse_error"].to_list() == ["wrong number of fields: 4, header has 3"]


def test_a_row_one_field_off_is_not_taken_for_a_trailing_delimiter(tmp_path):
    """The shape is the file's, from its first row: a row one field off for another reason
    (a delimiter inside a value, a value left out) keeps its values out of the wrong columns."""
    plain = extract(tmp_path, "id,name,email\n1,Ana,a@example.com\n2,Lee, Bob,\n")
    assert plain["_parse_error"].to_list() == [None, "wrong number of fields: 4, header has 3"]
    both = extract(tmp_path, "id,name,email,\n1,Ana,a@example.com,\n2,b@example.com,\n")
    assert both["_parse_error"].to_list()[1] == "wrong number of fields: 3, header has 4"
    trailing = extract(tmp_path, "id,name,email\n1,Ana,a@example.com,\n2,Bea,b@example.com\n")
    assert trailing["_parse_error"].to_list() == [
        None,
        "wrong number of fields: 3, header has 3 and this file's rows have 4",
    ]


def test_a_source_whose_every_row_is_quarantined_is_named_and_the_run_still_reports(tmp_path):
    """A whole export misread (a value past the last column on every row) leaves the source no
    accepted record: the reports still render, and the summary names the source, the share
    and the most common reason instead of leaving it to show as customers retired."""
    sources = make_sample(tmp_path, people=40, seed=5)
    support = tmp_path / "exports" / "support.csv"
    with support.open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    with support.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *[[*row, "x"] for row in rows]])

    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, tmp_path / "out", instance=instance, log_level="ERROR")

    assert outcome.success, outcome.failures
    (warning,) = outcome.summary["warnings"]["quarantined_sources"]
    assert warning["source"] == "support" and warning["share"] == 1.0
    assert warning["quarantined"] == warning["rows_read"] == len(rows)
    assert warning["top_reason"].startswith("wrong number of fields")
    report = (tmp_path / "out" / "reports" / "data_quality.html").read_text(encoding="utf-8")
    assert "support" in report


def test_column_names_that_look_like_patterns_are_read_as_names(tmp_path):
    # polars reads "*" and "^...$" in select() as a wildcard and a regex
    raw = extract(tmp_path, "id,email,name,*,^.*$\n1,a@example.com,Ana,star,caret\n")
    assert raw["*"].to_list() == ["star"] and raw["^.*$"].to_list() == ["caret"]


def test_hostile_exports_run_end_to_end_with_nothing_lost(tmp_path):
    """BOM, quoted line breaks, an unbalanced quote, a lone carriage return between two
    records, a 1 MB field in the first rows (the ones previews show) and broken JSON lines in
    one run: the run succeeds and every input row ends in the crosswalk or the quarantine,
    as its own row."""
    sources = make_sample(tmp_path, people=100, seed=11)
    config = load_sources(sources)
    crm = tmp_path / "exports" / "crm.csv"
    rows_before = extract_source(config.source("crm"), [crm]).height
    text = crm.read_text(encoding="utf-8")
    columns = text.split("\n", 1)[0].split(";")

    def row(record_id: str, address: str) -> str:
        cells = dict.fromkeys(columns, "")
        cells |= {"IdCliente": record_id, "Nombre": "Ana", "Apellidos": "Ruiz"}
        cells |= {"Email": f"{record_id.lower()}@example.com", "Dirección": address}
        return ";".join(cells.values())

    header, body = text.split("\n", 1)
    # a ~1 MB field with no space in it, first of the rows a preview shows (masked)
    first = row("H0", "Calle " + "A" * 1_000_000)
    extra = [
        row("H1", '"Calle Mayor 1\nPiso 2"'),  # a quoted line break
        row("H2", '"Calle sin cerrar'),  # an unbalanced quote
        row("H3", "Calle " + "larga " * 180_000),  # a ~1 MB line
        row("H4", "Calle 4") + "\r" + row("H5", "Calle 5"),  # a lone CR between two records
    ]
    crm.write_text(
        "\ufeff"
        + header
        + "\n"
        + first
        + "\n"
        + body.rstrip("\n")
        + "\n"
        + "\n".join(extra)
        + "\n",
        encoding="utf-8",
    )
    marketing = tmp_path / "exports" / "marketing.jsonl"
    with marketing.open("ab") as fh:
        fh.write(b'{"id": "broken", "name": \n{"id": "latin", "name": "\xd1o\xf1o"}\n')

    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, tmp_path / "out", instance=instance, log_level="ERROR")

    assert outcome.success, outcome.failures
    out = tmp_path / "out"
    xref = pl.read_parquet(out / "customer_xref.parquet")
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    for name, counts in outcome.summary["sources"].items():
        kept = xref.filter(pl.col("source") == name).height
        rejected_rows = quarantine.filter(pl.col("source") == name).height
        assert kept + rejected_rows == counts["rows_read"], name
    crm_ids = set(xref.filter(pl.col("source") == "crm")["source_record_id"])
    assert {"H0", "H1", "H3", "H4", "H5"} <= crm_ids
    crm_quarantine = quarantine.filter(pl.col("source") == "crm")
    assert crm_quarantine.filter(pl.col("raw").str.contains("Calle sin cerrar")).height == 1
    assert outcome.summary["sources"]["crm"]["rows_read"] == rows_before + 6
    assert quarantine.filter(pl.col("source") == "marketing").height >= 2


def test_a_lone_carriage_return_separates_two_rows(tmp_path):
    raw = extract(tmp_path, "id,email,name\n1,a@example.com,Ana\r2,b@example.com,Bob\n")
    assert raw["id"].to_list() == ["1", "2"] and raw["_parse_error"].null_count() == 2


def test_duplicate_ids_across_the_files_of_a_glob_keep_the_first_by_file_then_row(tmp_path):
    (tmp_path / "a.csv").write_text("id,email,name\n1,a@x.es,Ana\n2,b@x.es,Bea\n")
    # row numbers restart in each file: id 1 is at row 1 of both
    (tmp_path / "b.csv").write_text("id,email,name\n1,c@x.es,Cruz\n3,d@x.es,Dani\n")
    config = source(path="*.csv")
    raw = extract_source(config, [tmp_path / "a.csv", tmp_path / "b.csv"])
    frame = standardize_source(raw, config, "ES", today=date(2026, 11, 23))
    kept = accepted([frame])
    assert sorted(kept["source_record_id"]) == ["1", "2", "3"]
    assert kept.filter(pl.col("source_record_id") == "1")["email"].item() == "a@x.es"
    (reason,) = rejected([frame])["reasons"].to_list()
    assert reason == ["duplicate record id (first seen at row 1 of a.csv)"]


@pytest.mark.parametrize("special", ["device", "fifo"])
def test_an_export_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, special):
    path = tmp_path / "s.csv"
    if special == "device":
        path.symlink_to("/dev/zero")  # never ends
    else:
        os.mkfifo(path)  # opening it would block forever
    spec = {"name": "s", "path": "s.csv", "format": "csv", "id": "id", "trust": 1}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [spec | {"fields": FIELDS}]}))
    with pytest.raises(SourcesConfigError, match="not a regular file"):
        load_sources(tmp_path / "sources.yaml")
    with pytest.raises(ExtractError, match="not a regular file"):
        extract_source(source(), [path])


def test_limits_refuse_large_exports_before_reading_them(tmp_path):
    # the limits are settings; small ones here stand for the generous defaults
    small = LimitsConfig(max_file_mb=1, max_rows=100, max_columns=50)
    rows = pa.table({"id": [str(i) for i in range(200)], "email": ["a@b.es"] * 200})
    with pytest.raises(ExtractError, match=r"more than limits.max_rows \(100\)"):
        extract_source(source("parquet"), [write(tmp_path, "parquet", rows)], limits=small)
    lines = "id,email,name\n" + "".join(f"{i},a@b.es,Ana\n" for i in range(101))
    with pytest.raises(ExtractError, match="max_rows"):
        extract_source(source(), [write(tmp_path, "csv", lines)], limits=small)
    wide = ",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join(["1"] * 100_000) + "\n"
    with pytest.raises(ExtractError, match=r"100,000 columns, more than limits.max_columns"):
        extract_source(source(), [write(tmp_path, "csv", wide)], limits=small)
    big = write(tmp_path, "csv", "id,email,name\n" + "1,a@b.es," + "x" * 2 * 2**20 + "\n")
    with pytest.raises(ExtractError, match="larger than limits.max_file_mb"):
        extract_source(source(), [big], limits=small)


def test_the_sources_check_refuses_what_is_over_the_limits(tmp_path):
    rows = pa.table({"id": [str(i) for i in range(200)], "email": ["a@b.es"] * 200})
    write(tmp_path, "parquet", rows)
    spec = {"name": "s", "path": "s.parquet", "format": "parquet", "id": "id", "trust": 1}
    config = {"sources": [spec | {"fields": {"email": "email"}}], "limits": {"max_rows": 100}}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SourcesConfigError, match=r"holds 200 rows, more than limits.max_rows"):
        load_sources(tmp_path / "sources.yaml")


def test_an_identity_value_too_long_to_be_one_is_nulled_and_counted(tmp_path):
    long_name = "A" * 5_000
    frame = standardized(tmp_path, f"id,email,name\n1,a@example.com,{long_name}\n2,,{long_name}\n")
    first, second = frame.sort("row_number").iter_rows(named=True)
    # row 1 keeps its email; its name (linkage would compare it for minutes) is nulled
    assert first["email"] == "a@example.com" and first["first_name"] is None
    assert first["_invalid"] == ["first_name"] and first["_reasons"] == []
    # row 2 has nothing else: quarantined, its raw row kept whole for a steward
    assert second["_reasons"] == ["no identity field"]
    assert long_name in second["_raw"]
