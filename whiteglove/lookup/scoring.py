"""The published model, compiled to score one record against a few candidates in milliseconds.

Splink scores pairs through a pipeline of SQL tables built for millions of pairs: a hundred
milliseconds and more for a single record. A lookup needs the same numbers for a handful of
pairs, so the model is compiled once: each comparison's levels become one SQL CASE over the
two records (the model's own level conditions, evaluated by DuckDB as in the batch), and each
level's match weight and term-frequency adjustment are read from Splink's own objects. The
batch's match weights are reproduced to the last decimal (tests/test_lookup.py checks it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl


@dataclass(frozen=True)
class Level:
    """One comparison level as the scorer uses it."""

    gamma: int  # Splink's comparison vector value: -1 null, then n-1 .. 0
    label: str
    weight: float  # log2 Bayes factor; 0 for the null level
    tf_column: str | None  # a term-frequency adjusted exact level: its column
    tf_weight: float
    tf_minimum_u: float
    log2_u_exact: float  # log2 of the u of the comparison's exact-match level


@dataclass(frozen=True)
class Comparison:
    name: str
    case_sql: str  # evaluates to the level's gamma over columns <col>_l, <col>_r
    levels: dict[int, Level]


class CompiledModel:
    """A trained Splink model (model.json) ready to score pairs with DuckDB and NumPy."""

    def __init__(self, model: Mapping[str, Any], records: pl.DataFrame) -> None:
        """`records`: every record the batch scored, for the term frequencies it used."""
        from splink.internals.settings_creator import SettingsCreator

        settings = SettingsCreator.from_path_or_dict(dict(model)).get_settings("duckdb")
        lam = float(model["probability_two_random_records_match"])
        self.prior = math.log2(lam / (1 - lam))
        self.comparisons = [_compile(c) for c in settings.comparisons]
        self.columns = sorted(
            {c for comp in settings.comparisons for c in _input_columns(comp)}
            & set(records.columns)
        )
        self.term_frequencies = {
            column: _term_frequencies(records, column)
            for column in {lv.tf_column for c in self.comparisons for lv in c.levels.values()}
            if column
        }

    def score(
        self, con: duckdb.DuckDBPyConnection, query: pl.DataFrame, candidates: pl.DataFrame
    ) -> pl.DataFrame:
        """`query` (one record) against every row of `candidates`: unique_id_r, match_weight,
        match_probability, and per comparison gamma_<name> and mw_<name> (tf included)."""
        left = query.select([pl.col(c).alias(f"{c}_l") for c in self.columns])
        right = candidates.select(
            pl.col("unique_id").alias("unique_id_r"),
            *[pl.col(c).alias(f"{c}_r") for c in self.columns],
        )
        con.register("lookup_l", left.to_arrow())
        con.register("lookup_r", right.to_arrow())
        try:
            items = [
                "unique_id_r",
                *[f"{c.case_sql} as {_quoted(_gamma(c.name))}" for c in self.comparisons],
                *[_quoted(f"{c}_r") for c in self.term_frequencies],
            ]
            pairs = con.sql(f"select {', '.join(items)} from lookup_l cross join lookup_r").pl()
        finally:
            con.unregister("lookup_l")
            con.unregister("lookup_r")
        total = np.full(pairs.height, self.prior)
        weights = []
        for comparison in self.comparisons:
            weight = self._weights(comparison, pairs, query)
            weights.append(pl.Series(f"mw_{comparison.name}", weight))
            total = total + weight
        return pairs.drop([f"{c}_r" for c in self.term_frequencies]).with_columns(
            *weights,
            pl.Series("match_weight", total),
            pl.Series("match_probability", 1.0 / (1.0 + np.exp2(-total))),
        )

    def _weights(self, comparison: Comparison, pairs: pl.DataFrame, query: pl.DataFrame):
        gamma = pairs[_gamma(comparison.name)].to_numpy()
        out = np.zeros(len(gamma))
        for value, level in comparison.levels.items():
            hit = gamma == value
            out[hit] = level.weight
            if level.tf_column is None or not hit.any():
                continue
            # Splink's adjustment: weight * (log2 u_exact - log2 max(tf_l, tf_r, minimum)),
            # each side's tf taken from the other where it has none (a value the batch never
            # saw); on an exact level both values are equal
            frequencies = self.term_frequencies[level.tf_column]
            mine = frequencies.get(query[level.tf_column][0])
            theirs = pairs[f"{level.tf_column}_r"].to_list()
            for i in np.flatnonzero(hit).tolist():
                known = [x for x in (mine, frequencies.get(theirs[i])) if x is not None]
                if known:
                    tf = max(*known, level.tf_minimum_u)
                    out[i] += level.tf_weight * (level.log2_u_exact - math.log2(tf))
        return out


def _compile(comparison: Any) -> Comparison:
    levels = comparison.comparison_levels
    when = []
    compiled = {}
    for level in levels:
        gamma = int(level.comparison_vector_value)
        condition = level.sql_condition
        if condition.strip().upper() != "ELSE":
            when.append(f"when {condition} then {gamma}")
        tf = level._tf_adjustment_input_column_name if level._has_tf_adjustments else None
        compiled[gamma] = Level(
            gamma=gamma,
            label=str(level.label_for_charts or ""),
            weight=0.0 if level.is_null_level else float(level._match_weight),
            tf_column=tf if (tf and level._tf_adjustment_weight) else None,
            tf_weight=float(level._tf_adjustment_weight or 0.0),
            tf_minimum_u=float(level._tf_minimum_u_value or 0.0),
            log2_u_exact=(
                math.log2(level._u_probability_corresponding_to_exact_match(levels)) if tf else 0.0
            ),
        )
    case_sql = "case " + " ".join(when) + " else 0 end"
    return Comparison(comparison.output_column_name, case_sql, compiled)


def _input_columns(comparison: Any) -> set[str]:
    columns = set()
    for level in comparison.comparison_levels:
        for column in level._input_columns_used_by_sql_condition:
            columns.add(column.unquote().name)
        if level._has_tf_adjustments:
            columns.add(level._tf_adjustment_input_column_name)
    return columns


def _term_frequencies(records: pl.DataFrame, column: str) -> dict[Any, float]:
    """Each value's share of the column's non-null values, as Splink computes it."""
    counts = records.group_by(column).len().drop_nulls(column)
    total = counts["len"].sum()
    return dict(zip(counts[column].to_list(), (counts["len"] / total).to_list(), strict=True))


def _gamma(name: str) -> str:
    return f"gamma_{name}"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
