"""Probabilistic record linkage with Splink on DuckDB, or on Spark when one machine is not enough.

The model is data, derived from whichever canonical fields the sources map: each present
field brings its comparison (from Splink's comparison library) and its blocking rules. The
sources are linked and de-duplicated in one model over the union of all customer records
(a dedupe over the union is link-and-dedupe: every pair within and across sources is a
candidate).

The modules, in the order `link` uses them: `model` (the columns compared, the comparisons,
the model as data), `declared` (the match fields the sources file adds), `blocking`
(candidate pairs and their cost), `reuse` (what an incremental run keeps), `backends` and
`spark` (where Splink runs), `training`, `scoring`, `choices` (the match threshold and the
cluster guards, from what the model estimates).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.backends import duckdb_config, duckdb_connection, open_backend
from whiteglove.linkage.blocking import (
    DERIVED_RULE_FLOOR,
    DERIVED_RULE_PER_RECORD,
    BlockingPlan,
    BlockingRule,
    count_comparisons,
    default_blocking_rules,
    plan_blocking,
    splink_rules,
    with_block_keys,
)
from whiteglove.linkage.choices import (
    ThresholdChoice,
    kept_threshold,
    linkage_choices,
    strong_fields,
)
from whiteglove.linkage.errors import LinkageError
from whiteglove.linkage.model import (
    M_FLOOR,
    MATCH_COLUMNS,
    build_comparisons,
    check_saved_model,
    disagreement_shares,
    floor_m_probabilities,
    in_dialect,
    load_model,
    match_frame,
    present_columns,
)
from whiteglove.linkage.results import LinkageResult, PreviousLinkage
from whiteglove.linkage.reuse import linkage_design, record_hashes, reusable
from whiteglove.linkage.scoring import score
from whiteglove.linkage.spark import spark_session
from whiteglove.linkage.training import train

__all__ = [
    "DERIVED_RULE_FLOOR",
    "DERIVED_RULE_PER_RECORD",
    "MATCH_COLUMNS",
    "M_FLOOR",
    "BlockingRule",
    "LinkageError",
    "LinkageResult",
    "PreviousLinkage",
    "build_comparisons",
    "check_saved_model",
    "count_comparisons",
    "default_blocking_rules",
    "duckdb_config",
    "floor_m_probabilities",
    "in_dialect",
    "link",
    "match_frame",
    "present_columns",
    "record_hashes",
    "spark_session",
    "disagreement_shares",
    "linkage_choices",
    "strong_fields",
]


def link(
    records: pl.DataFrame,
    config: LinkageConfig,
    model_path: Path | None = None,
    previous: PreviousLinkage | None = None,
) -> LinkageResult:
    """Score candidate pairs with a model trained on this run's records, or a saved one.

    Given what a previous run left (`previous`), nothing is trained: its model scores only
    the pairs that involve a new or changed record, and the other pairs keep their scores.
    A different blocking or a different saved model makes that unsafe; then every pair is
    scored again.
    """
    with duckdb_connection(config) as con:
        declared = config.match_fields
        frame = match_frame(records, declared)
        present = present_columns(frame)
        comparisons = build_comparisons(present, declared)
        blocking = plan_blocking(con, frame, present, config)
        # a record whose rare name becomes common (or back) is rescored like a changed one
        frame = compared = with_block_keys(frame, blocking.rules)
        hashes = record_hashes(frame)
        design = linkage_design(blocking.rules, present)
        reuse = reusable(previous, design, hashes, model_path, declared)
        kept = kept_threshold(reuse.match_threshold, config) if reuse is not None else None
        if reuse is not None and reuse.nothing_changed:
            scored = (reuse.pairs, reuse.review, kept)
            return _result(
                blocking, compared, hashes, design, reuse.model, "incremental", scored, 0
            )
        if reuse is not None:
            frame = frame.with_columns(reuse.changed.alias("changed_record"))
        backend = open_backend(config, con, frame)
        if reuse is not None:
            model, mode = reuse.model, "incremental"
        elif model_path is not None:
            columns = set(frame.columns)
            model, mode = load_model(model_path, columns, backend.dialect, declared), "loaded"
        else:
            model = train(frame, backend.records, comparisons, blocking.rules, present, config)
            mode = "trained"
        only_changed = reuse is not None
        rules = splink_rules(blocking.rules, only_changed)
        pairs, review, threshold = score(backend, model, rules, config, kept)
        if reuse is None:
            scored = (pairs, review, threshold)
            return _result(blocking, compared, hashes, design, model, mode, scored, len(hashes))
        scored = (*reuse.merged(pairs, review), threshold)
        return _result(blocking, compared, hashes, design, model, mode, scored, reuse.rescored)


def _result(
    blocking: BlockingPlan,
    compared: pl.DataFrame,
    hashes: pl.DataFrame,
    design: list[str],
    model: dict,
    mode: str,
    scored: tuple[pl.DataFrame, pl.DataFrame, ThresholdChoice],
    rescored: int,
) -> LinkageResult:
    pairs, review, threshold = scored
    return LinkageResult(
        pairs=pairs,
        model_json=model,
        comparisons_per_rule=blocking.counts,
        review=review,
        left_out_rules=blocking.left_out,
        records=hashes,
        compared=compared,
        design=design,
        mode=mode,
        records_rescored=rescored,
        threshold=threshold,
        blocking_rules=[list(rule.columns) for rule in blocking.rules],
        capped_rules=[
            {"columns": list(r.columns), "max_block": r.max_block}
            for r in blocking.rules
            if r.max_block is not None
        ],
    )
