"""Match fields the sources file declares (linkage.match_fields): attributes such as a gender,
a customer number or an occupation that the model compares beside the canonical fields.

Each kind has one form in the match frame (folded text, an identifier's letters and digits,
a date, a number) and one comparison, built from Splink's level library like the canonical
fields' comparisons. A declared field's column and comparison take the attribute's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from whiteglove.config import MatchField
from whiteglove.names import fold

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator


def declared_column(records: pl.DataFrame, name: str, field: MatchField) -> pl.Expr:
    """The attribute `name` of `records` in the form its kind compares; empty is null."""
    column = pl.col(name)
    dtype = records.schema[name]
    if field.kind == "date":
        if dtype.is_temporal():
            return column.cast(pl.Date).alias(name)
        # ISO text only: a guessed format would read 03/01/2020 as one day in one export and
        # another in the next; other forms are parsed with the attribute's `format:`
        text = column.cast(pl.String).str.strip_chars()
        return text.str.to_date("%Y-%m-%d", strict=False).alias(name)
    if field.kind == "number":
        if dtype.is_numeric():
            return column.cast(pl.Float64).alias(name)
        return column.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).alias(name)
    text = column.cast(pl.String)
    if field.kind == "identifier":
        # "B-1234 567" and "b1234567" are one customer number; letters of any alphabet count
        text = text.str.replace_all(r"[^\p{L}\p{N}]", "").str.to_uppercase()
    else:
        text = fold(text).str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(text != "").then(text).alias(name)


def declared_comparison(name: str, field: MatchField) -> ComparisonCreator:
    """The comparison of the declared match field `name`, strongest evidence first."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if field.kind == "date":
        comparison = cl.DateOfBirthComparison(
            name,
            input_is_string=False,
            datetime_metrics=["month", "year"],
            datetime_thresholds=[1, 1],
        )
        return comparison.configure(term_frequency_adjustments=field.term_frequency)
    exact = cll.ExactMatchLevel(name)
    if field.term_frequency:
        exact = exact.configure(tf_adjustment_column=name)
    if field.kind == "identifier":
        close = [
            cll.LevenshteinLevel(name, 1).configure(label_for_charts="One typo"),
            cll.LevenshteinLevel(name, 2).configure(label_for_charts="Two typos"),
        ]
    elif field.kind == "name":
        close = [cll.JaroWinklerLevel(name, 0.92), cll.JaroWinklerLevel(name, 0.8)]
    elif field.kind == "text":
        close = [cll.JaroWinklerLevel(name, 0.9), cll.JaroWinklerLevel(name, 0.7)]
    elif field.kind == "number":
        within = cll.AbsoluteDifferenceLevel(name, field.tolerance)
        close = [within.configure(label_for_charts=f"Within {field.tolerance:g}")]
    else:  # exact: a code is equal or not
        close = []
    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[cll.NullLevel(name), exact, *close, cll.ElseLevel()],
    )
