"""What a linkage run hands on, and what the next run is given back of it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from whiteglove.linkage.choices import ThresholdChoice


@dataclass
class LinkageResult:
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_weight, match_probability
    model_json: dict
    comparisons_per_rule: dict[str, int]
    review: pl.DataFrame  # pairs between the review and match thresholds, with reasons
    left_out_rules: dict[str, int]  # derived blocking rules too costly at this size
    records: pl.DataFrame  # unique_id, record_hash: what each record looked like when linked
    # unique_id and the columns the model compares (block keys included): every record as linkage
    # saw it, what match_records and the report's examples read instead of folding them again
    compared: pl.DataFrame
    design: list[str]  # blocking rules and compared fields: what decides which pairs exist
    mode: str  # "trained", "loaded" (linkage.model) or "incremental"
    records_rescored: int  # records whose pairs were scored in this run
    threshold: ThresholdChoice  # the match threshold, and what chose it
    blocking_rules: list[list[str]]  # the rules that generated the candidate pairs
    # of those, the ones kept only for their rare values: columns and max_block each
    capped_rules: list[dict]


@dataclass(frozen=True)
class PreviousLinkage:
    """What an earlier run's linkage left, so the next one scores only what changed."""

    match_threshold: float  # an incremental run keeps it, as it keeps the model
    model: dict
    records: pl.DataFrame  # unique_id, record_hash
    pairs: pl.DataFrame
    review: pl.DataFrame
    design: list[str]
