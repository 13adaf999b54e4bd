"""Accuracy of a clustering against known truth: pairwise precision, recall and F1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from whiteglove.clustering import LinkGraph, clusters_at


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
    return _scores(joined)


def _scores(joined: pl.DataFrame) -> PairwiseScores:
    """Pairwise scores of the records in `joined` (cluster, entity)."""
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


def precision_recall_curve(
    graph: LinkGraph, truth: pl.DataFrame, thresholds: Iterable[float]
) -> list[dict[str, float]]:
    """Pairwise precision and recall of the graph clustered at each threshold (guards and
    all, as the run clusters), against `truth` (record_key, entity).

    The graph is prepared once and the truth matched to its records once, as integer codes:
    each threshold then costs its clustering and three integer group-bys.
    """
    labelled = (
        graph.keys.select("record_key")
        .with_row_index("node")
        .join(truth.select("record_key", "entity"), on="record_key", how="inner")
        .select("node", pl.col("entity").rank("dense"))
    )
    curve = []
    for threshold in thresholds:
        clusters = clusters_at(graph, threshold).clusters.get_column("cluster_id")
        joined = labelled.select(clusters.gather(labelled["node"]).alias("cluster"), "entity")
        point = _scores(joined)
        curve.append({"threshold": threshold, "precision": point.precision, "recall": point.recall})
    return curve


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


# ------------------------------------------------------------------------ golden values
# The fields a truth of values can score; each has a current and possibly an outdated value.
VALUE_FIELDS = ("email", "phone", "date_of_birth", "address_line", "postcode")


@dataclass(frozen=True)
class ValueScores:
    """How often one golden column holds a customer's true value.

    Customers are the true entities with at least one accepted record; each is scored on the
    golden customer that holds most of its records. `available` counts those whose current
    value is in at least one of their records: survivorship can only pick what it is given.
    """

    field: str
    customers: int
    current: float  # the golden value is the current one
    outdated: float  # an earlier value of the same customer
    missing: float  # no golden value
    wrong: float  # anything else (another customer's, a typo, a value never true)
    available: int
    current_where_available: float

    def as_dict(self) -> dict:
        return asdict(self)


def _value_key(field: str, expr: pl.Expr) -> pl.Expr:
    """Values compared as a reader would: emails without case, addresses without the way a
    system spells them (accents, case, punctuation, the street type abbreviated or not)."""
    text = expr.cast(pl.String).str.strip_chars()
    if field == "email":
        return text.str.to_lowercase()
    if field == "address_line":
        folded = (
            text.str.to_lowercase()
            .str.normalize("NFKD")
            .str.replace_all(r"\p{Mn}", "")
            .str.replace_all(r"[^a-z0-9]+", " ")
            .str.strip_chars()
        )
        # the first word is the street type ("calle", "c", "avenida", "avda")
        return folded.str.replace(r"^\S+\s*", "")
    return text


def golden_value_accuracy(
    golden: pl.DataFrame,
    xref: pl.DataFrame,
    truth: pl.DataFrame,
    truth_values: pl.DataFrame,
    records: pl.DataFrame,
    fields: tuple[str, ...] = VALUE_FIELDS,
) -> dict[str, ValueScores]:
    """Golden-value accuracy per field against a truth of values.

    `golden`: golden_id and the fields; `xref`: record_key, golden_id; `truth`: record_key,
    entity; `truth_values`: entity, then per field its current value and optionally
    `old_<field>`, an outdated one; `records`: record_key and the fields as standardized.
    Fields the truth or the golden table lacks are skipped.
    """
    fields = tuple(
        f
        for f in fields
        if f in truth_values.columns and f in golden.columns and f in records.columns
    )
    joined = xref.select("record_key", "golden_id").join(
        truth.select("record_key", pl.col("entity").cast(pl.String)), on="record_key"
    )
    # the golden customer holding most of an entity's records (ties: the smallest id)
    home = (
        joined.group_by("entity", "golden_id")
        .len()
        .sort(["entity", "len", "golden_id"], descending=[False, True, False])
        .unique("entity", keep="first")
        .select("entity", "golden_id")
    )
    values = truth_values.with_columns(pl.col("entity").cast(pl.String))
    scores = {}
    for field in fields:
        old = f"old_{field}"
        seen = (
            joined.join(records.select("record_key", field), on="record_key")
            .join(values.select("entity", field), on="entity", suffix="_true")
            .group_by("entity")
            .agg(
                (_value_key(field, pl.col(field)) == _value_key(field, pl.col(f"{field}_true")))
                .fill_null(False)
                .any()
                .alias("available")
            )
        )
        frame = (
            home.join(golden.select("golden_id", pl.col(field).alias("golden")), on="golden_id")
            .join(
                values.select(
                    "entity",
                    pl.col(field).alias("true"),
                    (pl.col(old) if old in values.columns else pl.lit(None)).alias("old"),
                ),
                on="entity",
            )
            .join(seen, on="entity", how="left")
            .select(
                (g := _value_key(field, pl.col("golden"))).is_null().alias("missing"),
                (g == _value_key(field, pl.col("true"))).fill_null(False).alias("current"),
                (g == _value_key(field, pl.col("old"))).fill_null(False).alias("outdated"),
                pl.col("available").fill_null(False),
            )
            .with_columns(pl.col("outdated") & ~pl.col("current"))
        )
        n = frame.height

        def share(k: int, n: int = n) -> float:
            return k / n if n else 0.0

        current = int(frame["current"].sum())
        outdated = int(frame["outdated"].sum())
        missing = int(frame["missing"].sum())
        available = frame.filter("available")
        scores[field] = ValueScores(
            field=field,
            customers=n,
            current=share(current),
            outdated=share(outdated),
            missing=share(missing),
            wrong=share(n - current - outdated - missing),
            available=available.height,
            current_where_available=(
                int(available["current"].sum()) / available.height if available.height else 1.0
            ),
        )
    return scores


def load_truth_values(file: Path, entity: str = "person_id") -> pl.DataFrame:
    """A truth of values (the generator's truth_values.csv), its entity column as `entity`."""
    raw = pl.read_csv(file, infer_schema=False)
    if entity not in raw.columns:
        raise LabelsError(f"truth values file {file}: missing column {entity!r}")
    return raw.rename({entity: "entity"})
