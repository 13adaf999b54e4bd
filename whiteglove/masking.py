"""Mask personal data before it reaches metadata, logs or reports: `m***@gmail.com`.

Two layers. By column: the canonical fields known to be personal are masked by their shape
(an email keeps its first letter and domain, a birth date its year). By content: any other
text that looks like an email, a phone number, a date or a national id is masked wherever it
appears, because raw exports name their columns anything ("Teléfono", "nif",
"email_facturacion") and quarantined rows carry whole raw lines.

Masking is for what people see (previews, logs); it is not a security boundary for the
published tables, which hold the data in full by design.
"""

from __future__ import annotations

import re

import polars as pl

MASKED_FIELDS = {"email", "phone", "date_of_birth", "national_id", "address_line"}
# Columns that hold keys and bookkeeping, never personal data: left readable so a preview
# still identifies its rows.
KEY_COLUMNS = {
    "golden_id",
    "record_key",
    "unique_id_l",
    "unique_id_r",
    "cluster_id",
    "source",
    "source_record_id",
    "file",
    "row_number",
    "field",
    "rule",
    "reasons",
}
BIRTH_COLUMN = re.compile(r"birth|nacim|dob", re.IGNORECASE)

_LOCAL = r"[\w.%+'\-]"
EMAIL = re.compile(rf"({_LOCAL}){_LOCAL}*@([\w\-]+(?:\.[\w\-]+)+)")
DATE = re.compile(r"(?<!\d)\d{1,4}([-/.])\d{1,2}\1\d{1,4}(?!\d)")
NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])[0-9XYZxyz]\d{7}[A-Za-z](?![0-9A-Za-z])")
# Seven digits or more, with the separators people write in phone numbers.
DIGIT_RUN = re.compile(r"\+?\d[\d \-.()/]{5,}\d")
KEEP_DIGITS = 3
VALUE = "value"  # the name a column is masked under, see _apply


def mask_email(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(r"^(.)[^@]*@", "${1}***@")


def mask_tail(expr: pl.Expr, keep: int = KEEP_DIGITS) -> pl.Expr:
    """Hide all but the last `keep` characters, and the length: '+34612345678' -> '****678'."""
    return pl.lit("****") + expr.cast(pl.String).str.slice(-keep)


def mask_text(text: str) -> str:
    """`text` with emails, dates, national ids and phone-like digit runs masked.

    'ana.ruiz@gmail.com, +34 612 345 678, 05/11/1953' ->
    'a***@gmail.com, ****678, **/**/****'
    """
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = DATE.sub(lambda m: re.sub(r"\d", "*", m.group(0)), text)
    text = NATIONAL_ID.sub(lambda m: "****" + m.group(0)[-KEEP_DIGITS:], text)
    return DIGIT_RUN.sub(_mask_digit_run, text)


def _mask_digit_run(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "****" + digits[-KEEP_DIGITS:] if len(digits) >= 7 else match.group(0)


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame with personal values masked, for previews a person will see.

    Meant for a few rows: text columns are masked value by value in Python.
    """
    columns = []
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        if name in KEY_COLUMNS:
            columns.append(column)
        elif name == "email" or name.endswith("email"):
            columns.append(_apply(column, mask_email(pl.col(VALUE).cast(pl.String))))
        elif dtype.is_temporal() and (name == "date_of_birth" or BIRTH_COLUMN.search(name)):
            columns.append(_apply(column, pl.col(VALUE).cast(pl.String).str.slice(0, 4) + "-**-**"))
        elif name in MASKED_FIELDS:
            columns.append(_apply(column, mask_tail(pl.col(VALUE))))
        elif dtype == pl.String or dtype.is_integer():
            # integers too: exports store phone numbers as numbers (612345678)
            values = column.cast(pl.String).to_list()
            masked = [None if v is None else mask_text(v) for v in values]
            columns.append(pl.Series(name, masked, dtype=pl.String))
        else:
            columns.append(column)
    return pl.DataFrame(columns) if columns else frame


def _apply(column: pl.Series, expr: pl.Expr) -> pl.Series:
    """`expr` (written on pl.col(VALUE)) evaluated on `column`, whatever its name.

    A column called "*" or "^a.*$" would be read by pl.col as a wildcard or a regex.
    """
    return column.alias(VALUE).to_frame().select(expr).to_series().alias(column.name)
