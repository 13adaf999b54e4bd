"""Every reader sees the same thing: DuckDB (the database file and the Parquet files), Polars,
pandas and PyArrow read the same rows, types and values of each published table, and the
types are the contract's. (Spark: tests/test_spark.py, `make test-spark`.)"""

import json

import pytest

from tests.readers import READERS
from whiteglove.contract import CONTRACT_FILE, TABLES


@pytest.mark.parametrize("table", list(TABLES))
def test_every_reader_reads_the_same_rows_types_and_values(fresh_run, table):
    contract = json.loads((fresh_run.out / CONTRACT_FILE).read_text())
    promised = {
        name: spec["x-type"] for name, spec in contract["$defs"][table]["properties"].items()
    }
    seen = {name: read(fresh_run.out, table) for name, read in READERS.items()}
    reference_types, reference_rows = seen["polars"]
    assert reference_types == promised
    assert reference_rows, table
    for reader, (types, rows) in seen.items():
        assert types == promised, reader
        assert len(rows) == len(reference_rows), reader
        for got, want in zip(rows, reference_rows, strict=True):
            assert got == want, (reader, got, want)


def test_the_bundled_types_reach_every_reader(fresh_run):
    # the examples: a date, a boolean and a list, whichever library reads them
    for reader, read in READERS.items():
        types, _ = read(fresh_run.out, "golden_customers")
        assert types["signup_date"] == "date", reader
        assert types["consent_email"] == "boolean", reader
        assert types["sources"] == "list<string>", reader
        assert types["last_contact"] == "timestamp", reader
        assert types["valid_from"] == "timestamp (UTC)", reader
