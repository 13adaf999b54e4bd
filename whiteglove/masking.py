"""Mask personal data before it reaches metadata, logs or reports: `m***@gmail.com`.

Masking knows what it masks. A column is masked by what it holds: the field the sources file
maps it to (`Teléfono` is a phone, `nif` a national id), or its canonical name in whiteglove's
own tables (`email`, `date_of_birth`). Columns known to hold something else (record ids,
update times, names, cities, postcodes, counts, whiteglove's bookkeeping) stay as they are, so
a steward can look a record up from a preview and no figure is garbled. Only what nothing
describes (an export column the sources file does not mention, a quarantined row's raw text, a
value a failed check quotes) is masked by content: any text in it that looks like an email, a
phone number, a date or a national id. whiteglove's own text (descriptions, reasons, counts,
thresholds) is never passed through a masker.

One rule per kind of value, whichever layer finds it:

- email: first letter and domain, `m***@gmail.com`;
- phone, or any run of 7 or more digits (the shortest phone or id): the last 3 digits,
  `****678`; shorter numbers (counts, amounts, postcodes, house numbers) stay readable;
- national id (DNI/NIE): the last 3 characters, `****78Z`;
- birth date: its year, `1953-**-**`; a date found in text: every digit, `**/**/****`;
- address, where one is known to be (an address column, a raw line): each word down to its
  initial, `C*** M*** 12`. Names stay readable in previews: they are how a person tells the
  rows apart, and a name alone is not among the masked kinds (raw lines mask them too).

Masking is for what people see (previews, logs, reports); it is not a security boundary for
the published tables, which hold the data in full by design.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from whiteglove.schema import (
    GOLDEN_SUMMARY_COLUMNS,
    IDENTITY_FIELDS,
    PERSONAL_FIELDS,
    RECORD_BOOKKEEPING_COLUMNS,
)

if TYPE_CHECKING:
    from whiteglove.config import SourceConfig

# A column's kind when masking: a personal field's name, or one of these.
KEEP = "keep"  # known not to be personal: shown as it is
UNKNOWN = "unknown"  # nothing says what it holds: masked by content
RAW = "raw"  # a quarantined row's text as read (the quarantine's `raw`): `mask_raw`
# Columns that hold keys and bookkeeping, never personal data: left readable so a preview
# still identifies its rows.
KEY_COLUMNS = {
    *RECORD_BOOKKEEPING_COLUMNS,
    *GOLDEN_SUMMARY_COLUMNS,
    "golden_id",
    "unique_id_l",
    "unique_id_r",
    "cluster_id",
    "field",
    "rule",
    "reasons",
    "previous_record_count",
    "valid_from",
    "last_changed",
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


def mask_frame(frame: pl.DataFrame, kinds: Mapping[str, str] | None = None) -> pl.DataFrame:
    """The same frame with personal values masked, for previews a person will see.

    `kinds` says what a column holds, as `source_column_kinds` reads it from the sources
    file: a personal field's name masks it as that kind, `KEEP` leaves it as it is. Other
    columns go by their name (`column_kind`). Meant for a few rows: text columns without a
    known kind are masked value by value in Python.
    """
    kinds = kinds or {}
    columns = [
        _mask_column(frame.get_column(name), kinds.get(name) or column_kind(name, dtype))
        for name, dtype in frame.schema.items()
    ]
    return pl.DataFrame(columns) if columns else frame


def column_kind(name: str, dtype: pl.DataType) -> str:
    """What a column holds, judged by its name and type when nothing else says.

    whiteglove's own tables name personal fields canonically; its bookkeeping columns, the
    other canonical fields and typed dates and times (an update time, a last contact) are not
    personal. Anything else is `UNKNOWN` and masked by content.
    """
    if name == RAW:  # the quarantine's raw text: masked as a raw row, names included
        return RAW
    if name in KEY_COLUMNS or name.startswith("_"):
        return KEEP
    if name in PERSONAL_FIELDS:
        return name
    if name[-2:] in ("_l", "_r") and name[:-2] in PERSONAL_FIELDS:  # the two sides of a pair
        return name[:-2]
    if name.endswith("email"):
        return "email"
    if BIRTH_COLUMN.search(name) and dtype.is_temporal():
        return "date_of_birth"
    if name in IDENTITY_FIELDS or dtype.is_temporal() or dtype.is_float() or dtype == pl.Boolean:
        return KEEP
    if dtype == pl.String and ADDRESS_KEY.search(name):
        return "address_line"
    return UNKNOWN


def source_column_kinds(source: SourceConfig) -> dict[str, str]:
    """What each column of a source's export holds, from its mapping in the sources file.

    Mapped fields are their field (names and places are kept); the record id, the update
    time and attributes parsed with a format (dates, timestamps) are kept. Unparsed attributes
    and unmapped columns are left out: masked by content.
    """
    kinds = {
        spec.column: field if field in PERSONAL_FIELDS else KEEP
        for field, spec in source.fields.items()
    }
    kinds |= {spec.column: KEEP for spec in source.attributes.values() if spec.format}
    kinds[source.id] = KEEP
    if source.updated_at is not None:
        kinds[source.updated_at.column] = KEEP
    return kinds


def _mask_column(column: pl.Series, kind: str) -> pl.Series:
    dtype = column.dtype
    if kind == KEEP:
        return column
    if kind == "email":
        return _apply(column, mask_email(pl.col(VALUE).cast(pl.String)))
    if kind == "date_of_birth":
        if dtype.is_temporal():
            return _apply(column, pl.col(VALUE).cast(pl.String).str.slice(0, 4) + "-**-**")
        return _map_text(column, mask_text)
    if kind in ("phone", "national_id"):
        return _apply(column, mask_tail(pl.col(VALUE)))
    if kind == "address_line":
        return _map_text(column, mask_words)
    if kind == RAW:
        return _map_text(column, mask_raw)
    if dtype == pl.String or dtype.is_integer():
        # integers too: exports store phone numbers as numbers (612345678)
        return _map_text(column, mask_text)
    return column


def _map_text(column: pl.Series, mask: Callable[[str], str]) -> pl.Series:
    values = column.cast(pl.String).to_list()
    return pl.Series(column.name, [None if v is None else mask(v) for v in values], pl.String)


def _apply(column: pl.Series, expr: pl.Expr) -> pl.Series:
    """`expr` (written on pl.col(VALUE)) evaluated on `column`, whatever its name.

    A column called "*" or "^a.*$" would be read by pl.col as a wildcard or a regex.
    """
    return column.alias(VALUE).to_frame().select(expr).to_series().alias(column.name)
