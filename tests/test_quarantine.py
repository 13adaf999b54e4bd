"""Damaged rows land in quarantine with the right reasons; invalid values are nulled."""

from datetime import date
from pathlib import Path

import polars as pl

from whiteglove.config import SourceConfig
from whiteglove.extract import extract_source
from whiteglove.quarantine import accepted, invalid_value_counts, rejected
from whiteglove.standardize import standardize_source

CRM = SourceConfig.model_validate(
    {
        "name": "crm",
        "path": "crm.csv",
        "format": "csv",
        "csv": {"delimiter": ";"},
        "id": "Id",
        "trust": 1,
        "fields": {
            "first_name": "Nombre",
            "last_name": "Apellidos",
            "email": "Email",
            "phone": "Telefono",
            "date_of_birth": {"column": "Nacimiento", "format": "%d/%m/%Y"},
            "postcode": "CP",
        },
    }
)
CRM_ROWS = """Id;Nombre;Apellidos;Email;Telefono;Nacimiento;CP
C1;María;García López;maria@example.com;+34 612 345 678;02/03/1980;8001
C2;José;Pérez;jose@;612345679;01/01/2099;28001
;Sin;Id;sin.id@example.com;;;
C3;Corta;Fila
C1;Otra;Persona;otra@example.com;;;
C4;;;;;;
C5;"Ana ""la""
grande";Ruiz;ana@example.com;699111222;15/05/1990;41001
"""
MARKETING = SourceConfig.model_validate(
    {
        "name": "marketing",
        "path": "m.jsonl",
        "format": "jsonl",
        "id": "id",
        "trust": 2,
        "fields": {"full_name": "name", "email": "email"},
    }
)
MARKETING_ROWS = (
    '{"id": 1, "name": "Ana Ruiz", "email": "ANA@example.com "}\n{"id": 2, "name": broken\n'
)


def standardized(tmp_path: Path, source: SourceConfig, text: str) -> pl.DataFrame:
    path = tmp_path / source.path
    path.write_text(text, encoding="utf-8")
    raw = extract_source(source, [path])
    return standardize_source(raw, source, "ES", today=date(2026, 11, 23))


def reasons_by_row(frame: pl.DataFrame) -> dict[int, list[str]]:
    return {
        row: reasons
        for row, reasons in rejected([frame]).select("row_number", "reasons").iter_rows()
    }


def test_each_damaged_row_is_quarantined_with_its_reason(tmp_path):
    frame = standardized(tmp_path, CRM, CRM_ROWS)
    reasons = reasons_by_row(frame)
    assert reasons == {
        3: ["missing record id"],
        4: ["wrong number of fields: 3, header has 7"],
        5: ["duplicate record id (first seen at row 1)"],
        6: ["no identity field"],
    }
    quarantine = rejected([frame])
    assert quarantine.filter(pl.col("row_number") == 4)["raw"].item() == "C3;Corta;Fila"
    assert '"Nombre":"Otra"' in quarantine.filter(pl.col("row_number") == 5)["raw"].item()


def test_counts_add_up_and_nothing_is_lost(tmp_path):
    crm = standardized(tmp_path, CRM, CRM_ROWS)
    marketing = standardized(tmp_path, MARKETING, MARKETING_ROWS)
    good, bad = accepted([crm, marketing]), rejected([crm, marketing])
    assert good.height + bad.height == crm.height + marketing.height == 7 + 2
    assert sorted(good["record_key"]) == ["crm:C1", "crm:C2", "crm:C5", "marketing:1"]
    assert (
        bad.filter(pl.col("source") == "marketing")["reasons"]
        .item()[0]
        .startswith("unparseable JSON")
    )


def test_invalid_values_are_nulled_and_counted_not_kept(tmp_path):
    frame = standardized(tmp_path, CRM, CRM_ROWS)
    jose = frame.filter(pl.col("record_key") == "crm:C2").row(0, named=True)
    assert jose["email"] is None and jose["date_of_birth"] is None
    assert sorted(jose["_invalid"]) == ["date_of_birth", "email"]
    assert invalid_value_counts(frame) == {"date_of_birth": 1, "email": 1}


def test_values_are_standardized(tmp_path):
    crm = standardized(tmp_path, CRM, CRM_ROWS)
    maria = crm.filter(pl.col("record_key") == "crm:C1").row(0, named=True)
    assert maria["phone"] == "+34612345678"
    assert maria["postcode"] == "08001"  # the leading zero the export lost
    assert maria["date_of_birth"] == date(1980, 3, 2)
    ana = crm.filter(pl.col("record_key") == "crm:C5").row(0, named=True)
    assert ana["first_name"] == 'Ana "la" grande'  # quoted newline kept in one field, then folded
    marketing = standardized(tmp_path, MARKETING, MARKETING_ROWS)
    assert marketing.filter(pl.col("record_key") == "marketing:1")["email"].item() == (
        "ana@example.com"
    )
