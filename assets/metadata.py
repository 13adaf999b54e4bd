"""Standard Dagster metadata for a table asset: row count, column schema, masked preview.

Previews mask personal data (whiteglove.masking) unless the sources file says
`privacy: {reveal_personal_data: true}`, a switch for local debugging. The Dagster event log
outlives the data and is read by more people than the data is, so masking is the default.
"""

from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

from whiteglove.masking import mask_frame

PREVIEW_ROWS = 5
CELL_CHARS = 60


def table_metadata(
    frame: pl.DataFrame, *, reveal_personal_data: bool = False, **extra: Any
) -> dict[str, Any]:
    """Row count, schema and a preview, masked unless `reveal_personal_data`."""
    visible = [c for c in frame.columns if not c.startswith("_")]
    preview = pl.DataFrame([frame.get_column(c).head(PREVIEW_ROWS) for c in visible])
    if not reveal_personal_data:
        preview = mask_frame(preview)
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
        text = "" if value is None else str(value)[:CELL_CHARS]
        # a cell must not end the table row or open HTML in the UI's markdown renderer
        return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
