"""Standard Dagster metadata for a table asset: row count, column schema, masked preview.

Previews mask personal data (whiteglove.masking) unless the sources file says
`privacy: {reveal_personal_data: true}`, a switch for local debugging. The Dagster event log
outlives the data and is read by more people than the data is, so masking is the default.

A preview is Dagster table metadata, not Markdown: the UI shows it as a table, and a value is
shown as written (Markdown would read the `**` of a mask as bold and the `|` of a value as a
cell border).
"""

from collections.abc import Mapping
from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from whiteglove.columns import readable_type
from whiteglove.masking import mask_frame

PREVIEW_ROWS = 5
CELL_CHARS = 60


def table_metadata(
    frame: pl.DataFrame,
    *,
    reveal_personal_data: bool = False,
    kinds: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    schema: Mapping[str, pl.DataType] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Row count, schema and a preview, masked unless `reveal_personal_data`.

    `kinds` says what columns hold when their names do not (`masking.source_column_kinds`);
    `descriptions` documents columns in the schema the UI shows; `schema` declares the table
    as it is published when a later step adds columns (default: the frame's own). Types read
    as people name them (whiteglove.columns.readable_type).
    """
    visible = [c for c in frame.columns if not c.startswith("_")]
    preview = pl.DataFrame([frame.get_column(c).head(PREVIEW_ROWS) for c in visible])
    if not reveal_personal_data:
        preview = mask_frame(preview, kinds)
    descriptions = descriptions or {}
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": TableSchema(
            columns=[
                TableColumn(name=c, type=readable_type(t), description=descriptions.get(c))
                for c, t in (schema or frame.schema).items()
            ]
        ),
        "preview": preview_table(preview),
        **extra,
    }


def preview_table(frame: pl.DataFrame) -> MetadataValue:
    """A few rows as Dagster table metadata; every cell as text, cut to CELL_CHARS."""

    def cell(value: object) -> str | int | float | bool | None:
        if value is None or isinstance(value, int | float | bool):
            return value
        text = str(value).replace("\n", " ")
        return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"

    return MetadataValue.table(
        records=[
            TableRecord({name: cell(v) for name, v in row.items()})
            for row in frame.iter_rows(named=True)
        ],
        schema=TableSchema(
            columns=[TableColumn(name=c, type=_preview_type(t)) for c, t in frame.schema.items()]
        ),
    )


def _preview_type(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "boolean"
    return "number" if dtype.is_numeric() else "string"
