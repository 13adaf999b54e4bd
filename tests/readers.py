"""The published tables as each reader a downstream team uses sees them: rows as Python values,
in golden_id order, and each column's type in the contract's words (contract.json x-type).

Shared by tests/test_published_readers.py and the Spark reader in tests/test_spark.py.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from whiteglove.columns import readable_type

# The order every reader sorts by, per table: unique keys.
ORDER = {
    "golden_customers": ["golden_id"],
    "customer_xref": ["source", "source_record_id"],
    "golden_lineage": ["golden_id", "field"],
}


def canonical(value: object) -> object:
    """A value as all readers can agree on it: timestamps as UTC ISO text (naive ones as
    written), NaN as None, lists as lists."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, list | tuple | np.ndarray):
        return [canonical(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def rows(columns: list[str], records: list[tuple]) -> list[tuple]:
    return [tuple(canonical(v) for v in row) for row in records]


def arrow_type(dtype: pa.DataType) -> str:
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"list<{arrow_type(dtype.value_type)}>"
    if pa.types.is_timestamp(dtype):
        return f"timestamp ({dtype.tz})" if dtype.tz else "timestamp"
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "decimal"
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    ):
        return "string"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_date(dtype):
        return "date"
    return str(dtype)


DUCKDB_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "INTEGER": "integer",
    "DOUBLE": "decimal",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    # DuckDB keeps instants, not zones: the contract's UTC timestamps
    "TIMESTAMP WITH TIME ZONE": "timestamp (UTC)",
}


def duckdb_type(text: str) -> str:
    if text.endswith("[]"):
        return f"list<{duckdb_type(text[:-2])}>"
    return DUCKDB_TYPES.get(text, text)


def read_polars(out: Path, table: str) -> tuple[dict[str, str], list[tuple]]:
    frame = pl.read_parquet(out / f"{table}.parquet").sort(ORDER[table])
    types = {c: readable_type(t) for c, t in frame.schema.items()}
    return types, rows(frame.columns, frame.rows())


def read_pyarrow(out: Path, table: str) -> tuple[dict[str, str], list[tuple]]:
    data = pq.read_table(out / f"{table}.parquet")
    data = data.sort_by([(c, "ascending") for c in ORDER[table]])
    types = {f.name: arrow_type(f.type) for f in data.schema}
    columns = [data.column(c).to_pylist() for c in data.column_names]
    return types, rows(data.column_names, list(zip(*columns, strict=True)))


def read_pandas(out: Path, table: str) -> tuple[dict[str, str], list[tuple]]:
    frame = pd.read_parquet(out / f"{table}.parquet", dtype_backend="pyarrow")
    frame = frame.sort_values(ORDER[table], kind="stable").reset_index(drop=True)
    types = {c: arrow_type(t.pyarrow_dtype) for c, t in frame.dtypes.items()}
    columns = [frame[c].tolist() for c in frame.columns]
    return types, rows(list(frame.columns), list(zip(*columns, strict=True)))


def read_duckdb(out: Path, table: str) -> tuple[dict[str, str], list[tuple]]:
    con = duckdb.connect(str(out / "customers.duckdb"), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        described = con.execute(f'describe "{table}"').fetchall()
        order = ", ".join(f'"{c}"' for c in ORDER[table])
        records = con.execute(f'select * from "{table}" order by {order}').fetchall()
    finally:
        con.close()
    types = {name: duckdb_type(kind) for name, kind, *_ in described}
    return types, rows([d[0] for d in described], records)


def read_duckdb_parquet(out: Path, table: str) -> tuple[dict[str, str], list[tuple]]:
    """DuckDB SQL over the Parquet file, as a reader without the database file does."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        path = str(out / f"{table}.parquet")
        described = con.execute("describe select * from read_parquet($1)", [path]).fetchall()
        order = ", ".join(f'"{c}"' for c in ORDER[table])
        records = con.execute(f"select * from read_parquet($1) order by {order}", [path]).fetchall()
    finally:
        con.close()
    return {n: duckdb_type(k) for n, k, *_ in described}, rows([d[0] for d in described], records)


READERS = {
    "polars": read_polars,
    "pyarrow": read_pyarrow,
    "pandas": read_pandas,
    "duckdb": read_duckdb,
    "duckdb_parquet": read_duckdb_parquet,
}
