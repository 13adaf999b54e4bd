"""One record as a caller gives it, standardized by the batch's own code.

A lookup record is a mapping of field names to raw text, typed as an agent types it: the
canonical identity fields (whiteglove/schema.py) and the attributes the sources file declares
as match fields. It goes through `standardize_source` exactly as an export's row would, so a
phone "612 000 001" or a name "RUIZ GIL" means what it meant in the batch.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime

import polars as pl

from whiteglove.config import FieldSpec, LimitsConfig, SourceConfig, ValidityConfig
from whiteglove.linkage.model import match_frame
from whiteglove.quarantine import accepted
from whiteglove.schema import CANONICAL_FIELDS, RAW_LINEAGE_COLUMNS
from whiteglove.standardize import standardize_source

LOOKUP_SOURCE = "lookup"
_ID = "lookup_id"
# At most this many fields in one record: the identity fields and a few declared ones.
MAX_FIELDS = 64


class LookupInputError(ValueError):
    """A lookup record that cannot be used, with what is wrong in words a caller can act on."""


def lookup_fields(declared: list[str]) -> list[str]:
    """The field names a lookup record may hold."""
    return [*CANONICAL_FIELDS, *declared]


def query_frame(
    values: Mapping[str, object],
    *,
    declared: Mapping[str, object],
    country: str,
    validity: ValidityConfig,
    limits: LimitsConfig,
) -> tuple[pl.DataFrame, list[str]]:
    """The record's match columns (one row, as the model compares them), and the fields whose
    values were not valid (nulled, as the batch nulls them)."""
    allowed = lookup_fields(list(declared))
    if not isinstance(values, Mapping):
        raise LookupInputError("a lookup record is an object of field names and values")
    if len(values) > MAX_FIELDS:
        raise LookupInputError(f"a lookup record holds at most {MAX_FIELDS} fields")
    unknown = sorted(str(k)[:40] for k in values if k not in allowed)
    if unknown:
        raise LookupInputError(f"unknown field(s) {unknown}; a lookup record may hold {allowed}")
    given = {k: _text(k, v, limits.max_field_chars) for k, v in values.items()}
    given = {k: v for k, v in given.items() if v}
    if not given:
        raise LookupInputError(f"give at least one field with a value, out of {allowed}")
    raw = pl.DataFrame(
        {
            "_source": [LOOKUP_SOURCE],
            "_file": [LOOKUP_SOURCE],
            "_row_number": [1],
            "_loaded_at": [datetime.now(UTC)],
            "_raw": [""],
            "_parse_error": [None],
            _ID: ["query"],
            **{k: [v] for k, v in given.items()},
        },
        schema_overrides={"_parse_error": pl.String},
    ).select(*RAW_LINEAGE_COLUMNS, _ID, *given)
    source = SourceConfig(
        name=LOOKUP_SOURCE,
        path="-",
        format="csv",
        id=_ID,
        trust=1,
        fields={k: FieldSpec(column=k) for k in given if k in CANONICAL_FIELDS},
        attributes={k: FieldSpec(column=k) for k in given if k in declared},
    )
    standardized = standardize_source(raw, source, country, limits=limits, validity=validity)
    invalid = sorted(standardized["_invalid"][0].drop_nulls().to_list())
    records = accepted([standardized])
    if records.height == 0:
        raise LookupInputError("the record cannot be used: " + "; ".join(_reasons(standardized)))
    missing = [pl.lit(None, pl.String).alias(n) for n in declared if n not in records.columns]
    return match_frame(records.with_columns(missing), declared), invalid  # type: ignore[arg-type]


def _text(name: str, value: object, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LookupInputError(f"field {name!r}: give text or a number")
    text = str(value)
    if len(text) > max_chars:
        raise LookupInputError(f"field {name!r}: longer than {max_chars} characters")
    # control characters never belong to a name, a phone or an email; they are dropped, as a
    # line break pasted from a form would be
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(text.split()) or None


def _reasons(standardized: pl.DataFrame) -> list[str]:
    reasons = standardized["_reasons"][0]
    return [str(r) for r in reasons] if reasons is not None else ["no usable value"]
