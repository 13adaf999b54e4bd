"""Scoring: each candidate pair's match probability, and the band a steward reviews."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.backends import Backend
from whiteglove.linkage.choices import ThresholdChoice, choose_threshold
from whiteglove.review import top_reasons

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator


def score(
    backend: Backend,
    model: dict,
    blocking: list[BlockingRuleCreator],
    config: LinkageConfig,
    threshold: ThresholdChoice | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, ThresholdChoice]:
    """The pairs `blocking` generates, scored by `model`, kept at linkage.keep_pairs_above or
    more; the match threshold (`threshold`, else chosen on these pairs); and the pairs in the
    review band below it, with their reasons."""
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
    threshold = threshold or choose_threshold(pairs["match_probability"], config)
    band = (min(config.review_threshold, threshold.value), threshold.value)
    return pairs, review_band(backend, table, model, band), threshold


def review_band(
    backend: Backend, table: str, model: dict, band: tuple[float, float]
) -> pl.DataFrame:
    """The scored pairs in `table` with a probability in [low, high) of `band`, each with the
    comparisons that weighed most."""
    low, high = band
    band_pairs = backend.query(
        f"select * from {table} where match_probability >= {float(low)} "
        f"and match_probability < {float(high)}"
    )
    return band_pairs.select(
        "unique_id_l",
        "unique_id_r",
        "match_probability",
        "match_weight",
        top_reasons(band_pairs, model).alias("reasons"),
    )
