"""Scoring: each candidate pair's match probability, and the band a steward reviews."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.backends import Backend
from whiteglove.review import top_reasons

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator


def score(
    backend: Backend, model: dict, blocking: list[BlockingRuleCreator], config: LinkageConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The pairs `blocking` generates, scored by `model`, kept at linkage.keep_pairs_above or
    more; and those of them in the review band, with their reasons."""
    from splink import Linker

    # predict with the model as data: what is saved is exactly what scored the pairs; the
    # per-comparison Bayes factors are kept only to explain the pairs a steward will review
    prediction = {**model, "blocking_rules_to_generate_predictions": blocking}
    linker = Linker(
        backend.records,
        {**prediction, "retain_intermediate_calculation_columns": True},
        log_level=logging.ERROR,
    )
    scored = linker.inference.predict(threshold_match_probability=config.keep_pairs_above)
    # plain SQL that DuckDB and Spark read alike, so the backends share this code
    table = scored.physical_name
    pairs = backend.query(
        f"select unique_id_l, unique_id_r, match_weight, match_probability from {table}"
    )
    return pairs, review_band(backend, table, model, config)


def review_band(backend: Backend, table: str, model: dict, config: LinkageConfig) -> pl.DataFrame:
    """The scored pairs in `table` between the review and match thresholds, each with the
    comparisons that weighed most."""
    band = backend.query(
        f"select * from {table} where match_probability >= {float(config.review_threshold)} "
        f"and match_probability < {float(config.match_threshold)}"
    )
    return band.select(
        "unique_id_l",
        "unique_id_r",
        "match_probability",
        "match_weight",
        top_reasons(band, model).alias("reasons"),
    )
