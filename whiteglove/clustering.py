"""Clusters of records that are the same customer, guarded against chaining.

Plain connected components over pairwise matches chain namesakes together as data grows: one
wrong link joins two people, and each of them brings their own links. So after the first
pass, a cluster that is implausible (larger than `max_cluster_size`, or holding two different
birth dates) is re-clustered from its own strongest links only, at stricter and stricter
thresholds, until it is plausible. Steward decisions force or forbid single links first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Thresholds tried, in order, on clusters that are still implausible.
STRICTER = (0.99, 0.999, 0.9999, 0.99999, 0.999999)


@dataclass
class Clustering:
    clusters: pl.DataFrame  # record_key, cluster_id
    split: int = 0  # implausible clusters re-clustered at a stricter threshold
    still_implausible: list[int] = field(default_factory=list)  # sizes of those left as they are
    forced: int = 0  # steward decisions applied
    forbidden: int = 0

    def size_distribution(self) -> dict[str, int]:
        sizes = self.clusters.group_by("cluster_id").len()
        counts = sizes.group_by("len").len(name="clusters").sort("len")
        return {str(size): n for size, n in counts.iter_rows()}


def cluster_records(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float,
    max_cluster_size: int,
    decisions: pl.DataFrame | None = None,
    strong: tuple[str, ...] = ("date_of_birth",),
) -> Clustering:
    """record_key -> cluster_id for `records` (record_key and the `strong` columns).

    `pairs`: unique_id_l, unique_id_r, match_probability. `decisions`: record_key_l,
    record_key_r, decision ('match' or 'no_match'). `strong`: identifiers one person has
    one value of (birth date, national id); two values more than a typo apart make a
    cluster implausible.
    """
    keys = records.select("record_key", *strong).sort("record_key")
    index = keys.with_row_index("node").select("record_key", "node")
    edges = _edges(pairs, index)
    forced = forbidden = 0
    if decisions is not None and decisions.height:
        edges, forced, forbidden = _apply_decisions(edges, decisions, index)

    labels = _components(keys.height, edges.filter(pl.col("p") >= threshold))
    bad = _implausible(keys, labels, max_cluster_size, strong)
    split = int(bad.size)
    for stricter in (t for t in STRICTER if t > threshold):
        if not bad.size:
            break
        labels = _recluster(labels, bad, edges.filter(pl.col("p") >= stricter), keys.height)
        bad = _implausible(keys, labels, max_cluster_size, strong)
    sizes = np.bincount(labels)
    remaining = sorted((int(sizes[b]) for b in bad), reverse=True)
    clusters = keys.select("record_key").with_columns(pl.Series("cluster_id", labels))
    return Clustering(clusters, split, remaining, forced, forbidden)


def _edges(pairs: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    return (
        pairs.select("unique_id_l", "unique_id_r", pl.col("match_probability").alias("p"))
        .join(index.rename({"record_key": "unique_id_l", "node": "a"}), on="unique_id_l")
        .join(index.rename({"record_key": "unique_id_r", "node": "b"}), on="unique_id_r")
        .select("a", "b", "p")
    )


def _apply_decisions(
    edges: pl.DataFrame, decisions: pl.DataFrame, index: pl.DataFrame
) -> tuple[pl.DataFrame, int, int]:
    """Forced links become certain edges; forbidden links are removed in both directions."""
    decided = (
        decisions.join(index.rename({"record_key": "record_key_l", "node": "a"}), on="record_key_l")
        .join(index.rename({"record_key": "record_key_r", "node": "b"}), on="record_key_r")
        .with_columns(
            pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b")
        )
    )
    ordered = edges.with_columns(
        pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b")
    )
    forbid = decided.filter(pl.col("decision") == "no_match").select("a", "b")
    force = decided.filter(pl.col("decision") == "match").select("a", "b", pl.lit(1.0).alias("p"))
    kept = ordered.join(forbid, on=["a", "b"], how="anti").join(force, on=["a", "b"], how="anti")
    return pl.concat([kept, force]), force.height, forbid.height


def _components(n: int, edges: pl.DataFrame) -> np.ndarray:
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _implausible(
    keys: pl.DataFrame, labels: np.ndarray, max_size: int, strong: tuple[str, ...]
) -> np.ndarray:
    """Cluster labels that are too large or hold two strong-identifier values a typo apart."""
    frame = keys.with_columns(pl.Series("cluster", labels))
    stats = frame.group_by("cluster").agg(
        pl.len().alias("size"),
        *[pl.col(c).drop_nulls().cast(pl.String).unique().alias(c) for c in strong],
    )
    bad = set(stats.filter(pl.col("size") > max_size)["cluster"].to_list())
    # few clusters hold several values, so the pairwise check runs on those only
    for column in strong:
        several = stats.filter(pl.col(column).list.len() > 1).select("cluster", column)
        bad |= {cluster for cluster, values in several.iter_rows() if _conflicting(values)}
    return np.array(sorted(bad), dtype=np.int64)


def _conflicting(values: list[str]) -> bool:
    return any(not _one_typo_apart(a, b) for i, a in enumerate(values) for b in values[i + 1 :])


def _one_typo_apart(a: str, b: str) -> bool:
    """One wrong character, two swapped neighbours, or (ISO dates) day and month swapped."""
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    ):
        return True
    # 1980-03-02 vs 1980-02-03
    return len(a) == 10 and a[:5] == b[:5] and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def _recluster(labels: np.ndarray, bad: np.ndarray, strong: pl.DataFrame, n: int) -> np.ndarray:
    """Re-cluster the members of `bad` clusters from `strong` edges among themselves only."""
    members = np.isin(labels, bad)
    inside = strong.filter(
        pl.col("a").is_in(np.flatnonzero(members)) & pl.col("b").is_in(np.flatnonzero(members))
    )
    sub = _components(n, inside)
    # fresh labels for the re-clustered members, past every existing label
    relabelled = labels.copy()
    relabelled[members] = sub[members] + labels.max() + 1
    _, dense = np.unique(relabelled, return_inverse=True)
    return dense.astype(np.int64)
