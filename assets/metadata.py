"""Standard Dagster metadata for a table asset: row count, column schema, masked preview."""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

from whiteglove.masking import mask_frame

PREVIEW_ROWS = 5


def table_metadata(frame: pl.DataFrame, **extra: Any) -> dict[str, Any]:
    visible = [c for c in frame.columns if not c.startswith("_")]
    preview = mask_frame(frame.select(visible).head(PREVIEW_ROWS))
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=c, type=str(t)) for c, t in frame.schema.items()]
        ),
        "preview": MetadataValue.md(_markdown(preview)),
        **extra,
    }


def _markdown(frame: pl.DataFrame) -> str:
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")[:60]

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
