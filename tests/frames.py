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


MATCHED_TEXT = ("first_name", "last_name", "email", "phone", "national_id", "postcode")
MATCHED_TEXT += ("city", "address_line")


def canonical_records(rows: list[dict]) -> pl.DataFrame:
    """Canonical records given as dicts, with the fields the model compares (absent: null)."""
    return pl.DataFrame(
        [{c: row.get(c) for c in ("record_key", *MATCHED_TEXT, "date_of_birth")} for row in rows],
        schema={c: pl.String for c in ("record_key", *MATCHED_TEXT)} | {"date_of_birth": pl.Date},
    )


def match_records(rows: list[dict]) -> pl.DataFrame:
    """The match frame of canonical records given as dicts (absent fields are null)."""
    from whiteglove.linkage import match_frame

    return match_frame(canonical_records(rows))
