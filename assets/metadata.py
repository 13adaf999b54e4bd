"""Standard Dagster metadata for a table asset: row count, column schema, masked preview.

Previews mask personal data (whiteglove.masking) unless the sources file says
`privacy: {reveal_personal_data: true}`, a switch for local debugging. The Dagster event log
outlives the data and is read by more people than the data is, so masking is the default and
anything that cannot tell what the switch says masks too.
"""

from typing import Any

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, TableColumn, TableSchema

from whiteglove.config import load_sources
from whiteglove.masking import mask_frame, mask_text

PREVIEW_ROWS = 5
CELL_CHARS = 60


def table_metadata(
    frame: pl.DataFrame, *, reveal_personal_data: bool | None = None, **extra: Any
) -> dict[str, Any]:
    """Row count, schema and a preview; `reveal_personal_data=None` asks the run's settings."""
    reveal = reveal_personal_data if reveal_personal_data is not None else _reveal_from_run()
    visible = [c for c in frame.columns if not c.startswith("_")]
    preview = pl.DataFrame([frame.get_column(c).head(PREVIEW_ROWS) for c in visible])
    if not reveal:
        preview = mask_frame(preview)
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=c, type=str(t)) for c, t in frame.schema.items()]
        ),
        "preview": MetadataValue.md(_markdown(preview)),
        **extra,
    }


def log_text(text: str, reveal_personal_data: bool | None = None) -> str:
    """`text` for context.log: masked unless the run's settings reveal personal data."""
    reveal = reveal_personal_data if reveal_personal_data is not None else _reveal_from_run()
    return text if reveal else mask_text(text)


def _reveal_from_run() -> bool:
    """privacy.reveal_personal_data of the running asset's sources file; False if unknown.

    Only assets that use the `settings` resource can see the file; the others mask.
    """
    try:
        context = AssetExecutionContext.get()
        settings = context.resources.settings
        config = load_sources(settings.sources_path, check_files=False)
    except Exception:  # noqa: BLE001 - outside a run, or an asset without settings: mask
        return False
    return config.privacy.reveal_personal_data


def _markdown(frame: pl.DataFrame) -> str:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)[:CELL_CHARS]
        # a cell must not end the table row or open HTML in the UI's markdown renderer
        return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
