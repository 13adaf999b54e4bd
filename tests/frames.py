"""Small frames that several tests build by hand."""

from __future__ import annotations

import polars as pl


def pairs(*rows: tuple[str, str, float]) -> pl.DataFrame:
    """Scored pairs: (unique_id_l, unique_id_r, match_probability) per row."""
    return pl.DataFrame(
        rows,
        schema={
            "unique_id_l": pl.String,
            "unique_id_r": pl.String,
            "match_probability": pl.Float64,
        },
        orient="row",
    )
