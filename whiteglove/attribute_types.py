"""Attribute values read as the type the sources file declares (`type:` on an attribute).

A declared attribute becomes one typed column of the golden table: a date that reads the same
in every locale, a boolean no language takes for text, a number that adds up. A value that
does not parse as its type is nulled and named in `_invalid`, the one place standardization
records values nulled as invalid (counted by whiteglove/quarantine.py, the run summary, the
reports and the standardized-stage checks), so nothing is dropped silently.

An attribute without a type keeps what the export gives: Parquet's and JSON's own types,
text for CSV. No Dagster import.
"""

from __future__ import annotations

import polars as pl

from whiteglove.config import AttributeSpec

# The Polars type each declared type is published as. A category is text limited to its
# values (the contract lists them): an Enum would differ per source and per reader.
POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "decimal": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "category": pl.String(),
}
# Texts read as booleans, compared lower-cased and trimmed; any other text is invalid.
TRUE_TEXTS = ("true", "t", "yes", "y", "1", "si", "sí")
FALSE_TEXTS = ("false", "f", "no", "n", "0")


def parse_attribute(
    column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec
) -> tuple[pl.Expr, pl.Expr | None]:
    """(value, invalid) of one attribute: `column` as read, with the export's `dtype`, and
    `text`, the same column as text. `invalid` is true where a value was given but does not
    parse as the declared type (None: nothing can be invalid)."""
    kind = spec.declared_type
    if kind is None:
        return column, None
    trimmed = text.str.strip_chars()
    given = trimmed.ne("").fill_null(False)
    if kind == "string":
        return text, None
    value = _parsers[kind](column, dtype, trimmed, spec)
    return value, given & value.is_null()


def _integer(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    if dtype.is_integer():
        return column.cast(pl.Int64, strict=False)
    if dtype.is_float():
        whole = column.is_finite() & (column == column.round(0)) & (column.abs() < 2.0**63)
        return pl.when(whole).then(column.cast(pl.Int64, strict=False))
    return text.cast(pl.Int64, strict=False)


def _decimal(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    if dtype.is_numeric() and dtype != pl.Boolean:
        number = column.cast(pl.Float64, strict=False)
    else:
        # a decimal comma (12,50) is how much of Europe writes amounts; 1,234.50 is not read
        comma = text.str.contains(r"^[+-]?\d+,\d+$")
        number = (pl.when(comma).then(text.str.replace(",", ".")).otherwise(text)).cast(
            pl.Float64, strict=False
        )
    # NaN and infinities are no amount anyone meant
    return pl.when(number.is_finite()).then(number)


def _boolean(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    if dtype == pl.Boolean:
        return column
    folded = text.str.to_lowercase()
    return (
        pl.when(folded.is_in(TRUE_TEXTS))
        .then(pl.lit(True))
        .when(folded.is_in(FALSE_TEXTS))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    )


def _date(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return column.cast(pl.Date)
    # without a format, ISO 8601 only: a guessed 03/01/2020 is one day here, another there
    return text.str.strptime(pl.Date, spec.format or "%Y-%m-%d", strict=False)


def _timestamp(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        # as the source gave the time, like updated_at (whiteglove/standardize.py)
        value = column.dt.replace_time_zone(None) if dtype.time_zone else column
        return value.cast(pl.Datetime("us"))
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us"))
    if spec.format:
        return text.str.strptime(pl.Datetime("us"), spec.format, strict=False)
    return text.str.to_datetime(strict=False, time_zone=None).cast(pl.Datetime("us"))


def _category(column: pl.Expr, dtype: pl.DataType, text: pl.Expr, spec: AttributeSpec) -> pl.Expr:
    return pl.when(text.is_in(spec.values or [])).then(text)


_parsers = {
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "category": _category,
}
