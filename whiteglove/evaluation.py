"""Accuracy of a clustering against known truth: pairwise precision, recall and F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

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


class LabelsError(ValueError):
    """The labels named in the sources file cannot be used."""


def load_labels(records: pl.DataFrame, entity: str, file: Path | None) -> pl.DataFrame:
    """record_key -> entity from a truth file (source, source_record_id, <entity>) or from an
    attribute column of the records that holds the true entity id."""
    if file is None:
        if entity not in records.columns:
            raise LabelsError(f"labels: no file given and no attribute named {entity!r}")
        truth = records.select("record_key", pl.col(entity).cast(pl.String).alias("entity"))
        return truth.drop_nulls("entity")
    try:
        raw = (
            pl.read_parquet(file)
            if file.suffix == ".parquet"
            else pl.read_csv(file, infer_schema=False)
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise LabelsError(f"labels file {file}: cannot read it: {exc}") from None
    missing = {"source", "source_record_id", entity} - set(raw.columns)
    if missing:
        raise LabelsError(f"labels file {file}: missing column(s) {sorted(missing)}")
    return (
        raw.select(
            (pl.col("source") + ":" + pl.col("source_record_id").cast(pl.String)).alias(
                "record_key"
            ),
            pl.col(entity).cast(pl.String).alias("entity"),
        )
        .drop_nulls()
        .unique("record_key", keep="first")
    )


def cluster_metrics(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """How many true customers were rebuilt exactly, split, or merged with others."""
    joined = predicted.select("record_key", "cluster").join(truth, on="record_key")
    per_entity = joined.group_by("entity").agg(pl.col("cluster").n_unique().alias("clusters"))
    per_cluster = joined.group_by("cluster").agg(pl.col("entity").n_unique().alias("entities"))
    exact = (
        joined.group_by("entity")
        .agg(pl.col("cluster").first(), pl.len().alias("n"))
        .join(joined.group_by("cluster").len(), on="cluster")
        .join(per_entity, on="entity")
        .filter((pl.col("clusters") == 1) & (pl.col("n") == pl.col("len")))
        .height
    )
    return {
        "true_customers": per_entity.height,
        "predicted_customers": per_cluster.height,
        "rebuilt_exactly": exact,
        "rebuilt_exactly_share": exact / per_entity.height if per_entity.height else 1.0,
        "split_customers": per_entity.filter(pl.col("clusters") > 1).height,
        "merged_clusters": per_cluster.filter(pl.col("entities") > 1).height,
    }
