"""Accuracy of a clustering against known truth: pairwise precision, recall and F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class PairwiseScores:
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict:
        return asdict(self)


def _pairs(n: pl.Expr) -> pl.Expr:
    return (n * (n - 1) // 2).sum()


def pairwise_scores(predicted: pl.DataFrame, truth: pl.DataFrame) -> PairwiseScores:
    """Compare two partitions of the same records.

    `predicted` has record_key, cluster; `truth` has record_key, entity. Only records present
    in both are scored, so quarantined rows neither help nor hurt the linkage figures.
    """
    joined = predicted.select("record_key", "cluster").join(
        truth.select("record_key", "entity"), on="record_key", how="inner"
    )
    count = pl.len().cast(pl.Int64)
    tp = joined.group_by("cluster", "entity").agg(count.alias("n")).select(_pairs(pl.col("n")))
    pp = joined.group_by("cluster").agg(count.alias("n")).select(_pairs(pl.col("n")))
    tt = joined.group_by("entity").agg(count.alias("n")).select(_pairs(pl.col("n")))
    true_positives, predicted_pairs, true_pairs = tp.item(), pp.item(), tt.item()
    precision = true_positives / predicted_pairs if predicted_pairs else 1.0
    recall = true_positives / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(
        records=joined.height,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positives=true_positives,
        precision=precision,
        recall=recall,
        f1=f1,
    )
