"""Every published column is documented, with a type people read, where the Dagster UI shows it."""

import polars as pl
import pytest

from assets.metadata import table_metadata
from whiteglove.columns import (
    CUSTOMER_XREF_DESCRIPTIONS,
    GOLDEN_LINEAGE_DESCRIPTIONS,
    golden_column_descriptions,
    published_golden_schema,
    readable_type,
)
from whiteglove.config import load_sources
from whiteglove.layout import BUNDLED_SOURCES


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (pl.String, "string"),
        (pl.Int64, "integer"),
        (pl.UInt32, "integer"),
        (pl.Float64, "decimal"),
        (pl.Decimal(12, 2), "decimal"),
        (pl.Boolean, "boolean"),
        (pl.Date, "date"),
        (pl.Datetime("us"), "timestamp"),
        (pl.Datetime("us", "UTC"), "timestamp (UTC)"),
        (pl.List(pl.String), "list<string>"),
        (pl.Enum(["new", "updated"]), "string"),
    ],
)
def test_types_read_as_people_name_them(dtype, name):
    assert readable_type(dtype) == name


def test_every_published_column_is_described(fresh_run):
    config = load_sources(fresh_run.sources)
    golden = pl.read_parquet(fresh_run.out / "golden_customers.parquet")
    described = golden_column_descriptions(config)
    assert list(described) == golden.columns  # the published table, in its order
    assert all(len(text) > 20 for text in described.values())
    # attributes name their source columns and their survivorship rule
    assert "support.opened_at" in described["last_contact"]
    assert "Survivorship: max from support" in described["last_contact"]
    assert "crm.Email" in described["email"] and "recent_agreement" in described["email"]
    for name, descriptions in [
        ("customer_xref", CUSTOMER_XREF_DESCRIPTIONS),
        ("golden_lineage", GOLDEN_LINEAGE_DESCRIPTIONS),
    ]:
        assert list(descriptions) == pl.read_parquet(fresh_run.out / f"{name}.parquet").columns


def test_the_golden_schema_in_dagster_is_the_published_one():
    """Declared from the survivorship step, before publication adds the history columns."""
    config = load_sources(BUNDLED_SOURCES)
    frame = pl.DataFrame(
        {"golden_id": ["G1"], "record_count": pl.Series([2], dtype=pl.UInt32)},
    )
    schema = table_metadata(
        frame,
        schema=published_golden_schema(frame.schema),
        descriptions=golden_column_descriptions(config),
    )["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    assert list(columns) == ["golden_id", "record_count", "valid_from", "last_changed"]
    assert columns["record_count"].type == "integer"
    assert columns["valid_from"].type == "timestamp (UTC)"
    assert all(c.description for c in schema.columns)
