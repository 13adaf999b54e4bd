"""Mask personal data before it reaches metadata, logs or reports: `m***@gmail.com`.

Two layers. By column: the canonical fields known to be personal are masked by their shape
(an email keeps its first letter and domain, a birth date its year). By content: any other
text that looks like an email, a phone number, a date or a national id is masked wherever it
appears, because raw exports name their columns anything ("Teléfono", "nif",
"email_facturacion") and quarantined rows carry whole raw lines.

One rule per kind of value, whichever layer finds it:

- email: first letter and domain, `m***@gmail.com`;
- phone, or any run of 7 or more digits (the shortest phone or id): the last 3 digits,
  `****678`; shorter numbers (counts, amounts, postcodes, house numbers) stay readable;
- national id (DNI/NIE): the last 3 characters, `****78Z`;
- date in text: every digit, `**/**/****` (a typed birth-date column keeps its year,
  `1953-**-**`: there the year is known to be one);
- name or address, where one is known to be (a name or address column, a raw line): each
  word down to its initial, `M*** G***`.

Masking is for what people see (previews, logs, reports); it is not a security boundary for
the published tables, which hold the data in full by design.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import polars as pl

MASKED_FIELDS = {"email", "phone", "date_of_birth", "national_id"}
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
# Linear in the text's length, which comes from the data: a match starts only where a run of
# address characters starts, and possessive repeats never give characters back, so a long
# run without "@" is scanned once, not once per position (quadratic: 3 s at 40,000 chars).
EMAIL = re.compile(rf"(?<!{_LOCAL})({_LOCAL}){_LOCAL}*+@([\w\-]++(?:\.[\w\-]++)+)")
# Not inside a longer run such as 612-34-56-19: that is a phone, masked as one below.
DATE = re.compile(r"(?<![\d\-/.])\d{1,4}([-/.])\d{1,2}\1\d{1,4}(?![\d\-/.]*\d)")
NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])[0-9XYZxyz]\d{7}[A-Za-z](?![0-9A-Za-z])")
# Seven digits or more, with the separators people write in phone numbers.
DIGIT_RUN = re.compile(r"\+?\d[\d \-.()/]{5,}\d")
KEEP_DIGITS = 3
# Columns or keys whose text is an address (address_line, "Dirección") or, in a raw record,
# a name: masked down to initials. Previews keep names readable: they are how a person tells
# the rows apart, and a name alone is not among the masked kinds.
ADDRESS_KEY = re.compile(r"addr|street|calle|direcc|line", re.IGNORECASE)
NAME_KEY = re.compile(r"name|surname|nombre|apellido", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]{2,}")
_EMAIL_OR_WORD = re.compile(rf"(?P<email>{EMAIL.pattern})|{WORD.pattern}")
# In a raw line no column says which cell is a name; these cells cannot be one.
CODE = re.compile(r'\s*"?[A-Z]{1,3}"?\s*')
CELL_SEPARATOR = re.compile(r"([,;\t|])")
RAW_LIMIT = 240
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


def mask_words(text: str) -> str:
    """A name or an address down to initials, plus whatever `mask_text` masks.

    'María García' -> 'M*** G***'; 'Calle Mayor 12, ana@x.es' -> 'C*** M*** 12, a***@x.es'
    """
    # Emails are left whole for mask_text: their domain stays readable.
    return mask_text(_EMAIL_OR_WORD.sub(_initial, text))


def _initial(match: re.Match[str]) -> str:
    return match.group(0) if match.group("email") else match.group(0)[0] + "***"


def mask_data(value: Any, key: str = "") -> Any:
    """A JSON-like value read from the data, masked, its shape kept.

    Text is masked as `mask_text` does, and down to initials under a key that names a person
    or an address (`key`, or the key of an enclosing object). A number is masked like the
    same digits in text, since exports store phone numbers as numbers: 34612345678 ->
    '****678', while 12 stays 12. Object keys are column names and stay readable.
    """
    return _mask_data(value, words=_is_person_key(key))


def _mask_data(value: Any, *, words: bool) -> Any:
    if isinstance(value, dict):
        return {
            str(k): _mask_data(v, words=words or _is_person_key(str(k))) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_mask_data(v, words=words) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    return (mask_words if words else mask_text)(str(value))


def _is_person_key(key: str) -> bool:
    return bool(NAME_KEY.search(key) or ADDRESS_KEY.search(key))


def mask_raw(raw: str | None, limit: int = RAW_LIMIT) -> str:
    """A quarantined row's raw text, masked, shortened to `limit` characters.

    A JSON object is masked value by value (`mask_data`, which knows names and addresses by
    their keys). Any other text, such as a broken CSV line, is masked cell by cell as a name or
    address would be, since there is no column name to go by; only short upper-case codes
    (ES, Y) stay readable.
    """
    if raw is None:
        return ""
    try:
        parsed = json.loads(raw)
    except (ValueError, TypeError):
        parsed = None
    if isinstance(parsed, dict):
        text = json.dumps(mask_data(parsed), ensure_ascii=False)
    else:
        cells = CELL_SEPARATOR.split(raw)  # separators at the odd positions
        text = "".join(
            c if i % 2 or CODE.fullmatch(c) else mask_words(c) for i, c in enumerate(cells)
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        elif dtype == pl.String and ADDRESS_KEY.search(name):
            columns.append(_map_text(column, mask_words))
        elif dtype == pl.String or dtype.is_integer():
            # integers too: exports store phone numbers as numbers (612345678)
            columns.append(_map_text(column, mask_text))
        else:
            columns.append(column)
    return pl.DataFrame(columns) if columns else frame


def _map_text(column: pl.Series, mask: Callable[[str], str]) -> pl.Series:
    values = column.cast(pl.String).to_list()
    return pl.Series(column.name, [None if v is None else mask(v) for v in values], pl.String)


def _apply(column: pl.Series, expr: pl.Expr) -> pl.Series:
    """`expr` (written on pl.col(VALUE)) evaluated on `column`, whatever its name.

    A column called "*" or "^a.*$" would be read by pl.col as a wildcard or a regex.
    """
    return column.alias(VALUE).to_frame().select(expr).to_series().alias(column.name)
