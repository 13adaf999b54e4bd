"""Incremental reuse: which records changed since the previous run, and what of its pairs
and review rows still holds, so that only the pairs with a new or changed record are scored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from whiteglove.config import MatchField
from whiteglove.linkage.blocking import BlockingRule
from whiteglove.linkage.model import in_dialect, read_model
from whiteglove.linkage.results import PreviousLinkage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reuse:
    """What this run keeps of the previous one: its model, and the pairs and review rows
    between two records that did not change."""

    model: dict
    match_threshold: float  # the previous run's, kept with its model
    changed: pl.Series  # for each current record, in order: new, or changed
    pairs: pl.DataFrame
    review: pl.DataFrame

    @property
    def nothing_changed(self) -> bool:
        return not self.changed.any()

    @property
    def rescored(self) -> int:
        """Records whose pairs this run scores."""
        return int(self.changed.sum())

    def merged(
        self, pairs: pl.DataFrame, review: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The kept pairs and review rows with this run's newly scored ones."""
        return (
            pl.concat([self.pairs, pairs], how="vertical_relaxed"),
            pl.concat([self.review, review], how="vertical_relaxed"),
        )


def record_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    """unique_id and a hash of every value the model compares: equal hash, same scores."""
    values = frame.drop("unique_id")
    return frame.select("unique_id", values.hash_rows().alias("record_hash"))


def linkage_design(rules: list[BlockingRule], present: set[str]) -> list[str]:
    """Blocking rules and compared fields: what decides which pairs exist."""
    return [r.label for r in rules] + ["fields: " + ", ".join(sorted(present))]


def reusable(
    previous: PreviousLinkage | None,
    design: list[str],
    hashes: pl.DataFrame,
    model_path: Path | None,
    declared: Mapping[str, MatchField] | None = None,
) -> Reuse | None:
    """What this run keeps of `previous`; None when every pair is to be scored again."""
    if previous is None or not can_continue(previous, design, model_path, declared):
        return None
    changed = changed_records(hashes, previous.records)
    log.info("incremental linkage: %d of %d records new or changed", changed.sum(), len(hashes))
    # the records whose old pairs no longer hold: changed, or gone since
    dropped = _dropped(previous, hashes, changed)
    if changed.any() or dropped.len() > 0:
        # Records came, changed or went, so the term frequencies of names and city moved and
        # with them a kept pair's score, a little; near the match threshold that would link
        # what a full run keeps apart. Those pairs' records are scored again, as if changed.
        near = near_threshold(previous)
        unsettled = hashes["unique_id"].is_in(near.implode())
        log.info(
            "incremental linkage: %d records rescored near the threshold",
            (unsettled & ~changed).sum(),
        )
        changed = changed | unsettled
        # their old pairs go too (every record of a previous pair was a previous record)
        dropped = pl.concat([dropped, near.rename(dropped.name)]).unique()
    return Reuse(
        previous.model,
        previous.match_threshold,
        changed,
        _without(previous.pairs, dropped),
        _without(previous.review, dropped),
    )


# How far from the match threshold (in match weight) a kept pair's score is trusted to stay on
# its side: a term frequency moves a weight by log2 of the change in its count, so a bit is a
# name or city twice (or half) as common as when the pair was scored. A margin, not a bound:
# a name going from one record to three, or a first name, surname and city all moving, can
# move a weight further; a nightly delta rarely does.
TF_DRIFT_BITS = 1.0


def near_threshold(previous: PreviousLinkage) -> pl.Series:
    """The records of the previous run's pairs within TF_DRIFT_BITS of its match threshold."""
    t = min(max(previous.match_threshold, 1e-9), 1 - 1e-9)
    at = math.log2(t / (1 - t))
    near = previous.pairs.filter((pl.col("match_weight") - at).abs() <= TF_DRIFT_BITS)
    return pl.concat([near["unique_id_l"], near["unique_id_r"]]).unique()


def can_continue(
    previous: PreviousLinkage,
    design: list[str],
    model_path: Path | None,
    declared: Mapping[str, MatchField] | None = None,
) -> bool:
    """Whether the previous run's pairs can be kept: same blocking, fields and model."""
    if previous.design != design:
        log.info("blocking rules or compared fields changed since the previous run: full scoring")
        return False
    if model_path is not None:
        saved = read_model(model_path)
        dialect = previous.model.get("sql_dialect", "duckdb")
        if in_dialect(saved, dialect, declared) != previous.model:
            log.info("linkage.model is not the model of the previous run: scoring every pair")
            return False
    return True


def changed_records(current: pl.DataFrame, previous: pl.DataFrame) -> pl.Series:
    """For each current record, in order: new, or compared values differ from before."""
    known = current.join(
        previous, on="unique_id", how="left", suffix="_before", maintain_order="left"
    )
    return (
        known["record_hash_before"].is_null()
        | (known["record_hash"] != known["record_hash_before"])
    ).alias("changed")


def _dropped(previous: PreviousLinkage, hashes: pl.DataFrame, changed: pl.Series) -> pl.Series:
    """The previous run's records that are not here unchanged: changed, or gone."""
    kept = hashes.filter(~changed)
    return previous.records.join(kept, on=["unique_id", "record_hash"], how="anti")["unique_id"]


def _without(pairs: pl.DataFrame, dropped: pl.Series) -> pl.DataFrame:
    """The pairs with neither record in `dropped`."""
    gone = dropped.implode()
    return pairs.filter(~pl.col("unique_id_l").is_in(gone) & ~pl.col("unique_id_r").is_in(gone))
