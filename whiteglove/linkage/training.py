"""Training: a model for this run's records, when no saved or previous one scores them."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.blocking import BlockingRule, declared_identifiers, splink_rules
from whiteglove.linkage.model import M_FLOOR, floor_m_probabilities

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.splink_dataframe import SplinkDataFrame


def train(
    frame: pl.DataFrame,
    records: SplinkDataFrame,
    comparisons: list[ComparisonCreator],
    rules: list[BlockingRule],
    present: set[str],
    config: LinkageConfig,
) -> dict:
    """u by random sampling, m by EM on strong-identifier blocks; returns the model as data.

    `frame` is what `records` was registered from: exact-match u is counted from it.
    """
    from splink import Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=splink_rules(rules),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(records, settings, log_level=logging.ERROR)
    deterministic = [block_on(*r.columns) for r in rules if r.columns in (("email",), ("phone",))]
    linker.training.estimate_probability_two_random_records_match(
        deterministic or splink_rules(rules[:1]), recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.u_sample_pairs, seed=config.seed
    )
    sampled = linker.misc.save_model_to_json()
    linker = Linker(
        records, counted_u(sampled, frame, config.u_sample_pairs), log_level=logging.ERROR
    )
    for columns in _em_rules(present, declared_identifiers(config)):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), record_sample_proportion=1.0
        )
    return floor_m_probabilities(linker.misc.save_model_to_json(), M_FLOOR)


def _em_rules(present: set[str], identifiers: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """EM sessions blocked on strong identifiers, so each estimates the others' m values.

    Blocking on names is avoided: namesakes would enter EM's "match" class and teach it that
    true matches often disagree on birth date and phone.
    """
    candidates = ("email", "phone", "national_id", *identifiers, "date_of_birth")
    strong = [c for c in candidates if c in present]
    sessions = [(c,) for c in strong[:2]]
    if len(sessions) < 2 and {"first_name_key", "surname_key"} <= present:
        sessions.append(("first_name_key", "surname_key"))
    return sessions or [("postcode",)]


# a level's condition as Splink writes it, its columns quoted "..." (DuckDB) or `...` (Spark)
_EXACT = re.compile(r'["`](\w+)_l["`] = ["`]\1_r["`]')
_NULL = re.compile(r'["`](\w+)_l["`] IS NULL OR ["`]\1_r["`] IS NULL')


def counted_u(model: dict, frame: pl.DataFrame, sampled_pairs: float) -> dict:
    """The model with each exact-match level's u counted from the records, and a bound for
    levels random sampling never saw.

    Random sampling estimates u from `sampled_pairs` pairs, and an identifier such as an email
    agrees in about one random pair in a million: at a few million records the sample holds
    none, Splink leaves u untrained and scores the level with its default weight (about 10
    instead of about 20), so an exact email match stops counting. The share of all pairs that
    agree exactly is a count of values, so it is computed instead. A level the sample never saw
    gets u = 1 / the pairs the sample compared on that field, the most that sample allows.
    """
    model = json.loads(json.dumps(model))
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        column = _single_column(comparison, frame)
        unseen = 1.0 / _pairs_compared(frame, column, sampled_pairs)
        counted = _counted_levels(levels, column, frame) if column else {}
        rest = [lvl for lvl in levels if id(lvl) not in counted]
        room = 1.0 - sum(counted.values())
        if room < len(rest) * unseen:
            # (nearly) every pair agrees, a field with one value: sampling's figures stand
            counted, rest, room = {}, levels, 1.0
        for level in rest:
            if level.get("u_probability") is None:
                level["u_probability"] = unseen
        # the other levels share what the counted ones leave, as sampling's shares sum to one
        total = sum(lvl["u_probability"] for lvl in rest)
        for level in rest:
            level["u_probability"] *= room / total
        for level in levels:
            if id(level) in counted:
                level["u_probability"] = counted[id(level)]
    return model


def _single_column(comparison: dict, frame: pl.DataFrame) -> str | None:
    """The column a comparison is null on exactly when one side lacks it (None: several)."""
    levels = comparison["comparison_levels"]
    nulls = [_NULL.fullmatch(lvl["sql_condition"]) for lvl in levels if lvl.get("is_null_level")]
    if len(nulls) != 1 or nulls[0] is None or nulls[0].group(1) not in frame.columns:
        return None
    return nulls[0].group(1)


def _pairs_compared(frame: pl.DataFrame, column: str | None, sampled_pairs: float) -> float:
    """About how many of the sampled pairs had `column` on both sides (all of them when the
    comparison has several columns): sampling draws at most every pair there is."""
    n = frame.height
    drawn = min(sampled_pairs, n * (n - 1) / 2)
    k = n if column is None else n - frame.get_column(column).null_count()
    return max(drawn * (k * (k - 1)) / (n * (n - 1)) if n > 1 else 0.0, 1.0)


def _counted_levels(levels: list[dict], column: str, frame: pl.DataFrame) -> dict[int, float]:
    """u per exact-match level on `column` (by id): the share of pairs of its non-null values
    that agree, as the comparison is null exactly when one side's value is."""
    counted = {}
    for level in levels:
        exact = _EXACT.fullmatch(level["sql_condition"])
        if exact and exact.group(1) == column:
            share = agreeing_share(frame.get_column(column))
            if share is not None:
                counted[id(level)] = share
    return counted


def agreeing_share(values: pl.Series) -> float | None:
    """The share of pairs of non-null values that are equal (None under two values or when no
    two agree, which says nothing about u)."""
    counts = values.drop_nulls().value_counts()["count"].cast(pl.Float64)
    n = float(counts.sum())
    agreeing = float((counts * (counts - 1.0)).sum())
    if n < 2 or agreeing == 0:
        return None
    return agreeing / (n * (n - 1.0))
