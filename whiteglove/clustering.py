"""Clusters of records that are the same customer, guarded against chaining.

Plain connected components over pairwise matches chain namesakes together as data grows: one
wrong link joins two people, and each of them brings their own links. So after the first
pass, a cluster that is implausible (larger than `max_cluster_size`, holding two values of a
strong identifier such as a birth date, or two records of a source that holds one record per
customer) is rebuilt from its links, strongest first, skipping every link that would make the
growing cluster implausible. A wrong link is dropped where it conflicts with
stronger evidence; the right links around it stay. Steward decisions (whiteglove/decisions.py)
come first: forced links are always taken, forbidden ones never; a locked customer's records
link to no one outside it; records a decision keeps apart (a no_match, a split) make a
cluster that holds both implausible, so it is rebuilt without joining them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from whiteglove.decisions import Constraints, constraints, pair_frame_decisions
from whiteglove.metrics import cluster_figures, cluster_sizes


@dataclass
class Clustering:
    clusters: pl.DataFrame  # record_key, cluster_id
    split: int = 0  # implausible clusters rebuilt link by link
    still_implausible: list[int] = field(default_factory=list)  # sizes of those left as they are
    forced: int = 0  # steward decisions applied
    forbidden: int = 0

    def size_figures(self) -> dict:
        """How many clusters, the largest, and how many of each size (whiteglove.metrics)."""
        return cluster_figures(cluster_sizes(self.clusters, "cluster_id", source=None))


def cluster_records(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float,
    max_cluster_size: int,
    decisions: Constraints | pl.DataFrame | None = None,
    strong: tuple[str, ...] = ("date_of_birth",),
    one_per_customer: tuple[str, ...] = (),
) -> Clustering:
    """record_key -> cluster_id for `records` (record_key, the `strong` columns, and source).

    `pairs`: unique_id_l, unique_id_r, match_probability. `decisions`: the constraints of the
    steward decisions that apply (or pair decisions as a frame: record_key_l, record_key_r,
    decision 'match' or 'no_match'). `strong`: identifiers one person has
    one value of (birth date, national id); two values more than a typo apart make a
    cluster implausible. `one_per_customer`: sources with at most one record per customer.
    """
    graph = link_graph(records, pairs, max_cluster_size, decisions, strong, one_per_customer)
    return clusters_at(graph, threshold)


@dataclass(frozen=True)
class LinkGraph:
    """Records as numbered nodes and scored pairs as edges, steward decisions applied: what
    every clustering of one run's pairs starts from, whatever the threshold. Preparing it
    joins every pair to its records by key (about a second at a million records), so a
    precision-recall curve prepares it once and clusters it at each threshold."""

    keys: pl.DataFrame  # record_key, the strong columns, source; node i is row i
    edges: pl.DataFrame  # a, b (nodes), p (match probability), forced
    limits: _Limits
    forced: int = 0
    forbidden: int = 0


def link_graph(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    max_cluster_size: int,
    decisions: Constraints | pl.DataFrame | None = None,
    strong: tuple[str, ...] = ("date_of_birth",),
    one_per_customer: tuple[str, ...] = (),
) -> LinkGraph:
    """The graph `cluster_records` clusters (its arguments are the same, but the threshold)."""
    if isinstance(decisions, pl.DataFrame):
        decisions = constraints(pair_frame_decisions(decisions))
    source = pl.col("source") if one_per_customer else pl.lit(None, pl.String).alias("source")
    keys = records.select("record_key", *strong, source).sort("record_key")
    index = keys.with_row_index("node").select("record_key", "node")
    edges = _edges(pairs, index)
    forced = forbidden = 0
    apart: dict[int, frozenset[tuple[int, int]]] = {}
    if decisions is not None:
        edges, forced, forbidden = _apply_decisions(edges, decisions, index)
        apart = _apart_tokens(decisions, index)
    limits = _Limits(max_cluster_size, strong, frozenset(one_per_customer), apart)
    return LinkGraph(keys, edges, limits, forced, forbidden)


def clusters_at(graph: LinkGraph, threshold: float) -> Clustering:
    """The graph's clusters from its edges at or above `threshold`, implausible ones rebuilt."""
    keys, limits = graph.keys, graph.limits
    linked = graph.edges.filter(pl.col("p") >= threshold)
    labels = _components(keys.height, linked)
    bad = _implausible(keys, labels, limits)
    split = int(bad.size)
    if bad.size:
        labels = _rebuild(labels, bad, linked, keys, limits)
        bad = _implausible(keys, labels, limits)
    sizes = np.bincount(labels)
    remaining = sorted((int(sizes[b]) for b in bad), reverse=True)
    clusters = keys.select("record_key").with_columns(pl.Series("cluster_id", labels))
    return Clustering(clusters, split, remaining, graph.forced, graph.forbidden)


@dataclass(frozen=True)
class _Limits:
    """What no single customer's cluster can hold."""

    max_size: int
    strong: tuple[str, ...]
    one_per_customer: frozenset[str]
    # node -> (token, side) of the steward decisions keeping records apart
    apart: dict[int, frozenset[tuple[int, int]]] = field(default_factory=dict)


def _edges(pairs: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    return (
        pairs.select("unique_id_l", "unique_id_r", pl.col("match_probability").alias("p"))
        .join(index.rename({"record_key": "unique_id_l", "node": "a"}), on="unique_id_l")
        .join(index.rename({"record_key": "unique_id_r", "node": "b"}), on="unique_id_r")
        .select("a", "b", "p", pl.lit(False).alias("forced"))
    )


def _apply_decisions(
    edges: pl.DataFrame, decided: Constraints, index: pl.DataFrame
) -> tuple[pl.DataFrame, int, int]:
    """Forced links become certain edges; forbidden links, and links leaving a locked
    customer, are removed in both directions."""

    def nodes(pairs: pl.DataFrame) -> pl.DataFrame:
        return (
            pairs.join(index.rename({"record_key": "record_key_l", "node": "a"}), on="record_key_l")
            .join(index.rename({"record_key": "record_key_r", "node": "b"}), on="record_key_r")
            .select(pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"))
            .unique()
        )

    ordered = edges.with_columns(
        pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b")
    )
    forbid = nodes(decided.forbidden)
    force = nodes(decided.forced).select(
        "a", "b", pl.lit(1.0).alias("p"), pl.lit(True).alias("forced")
    )
    kept = ordered.join(forbid, on=["a", "b"], how="anti").join(force, on=["a", "b"], how="anti")
    if decided.locked.height:
        locks = decided.locked.join(index, on="record_key").select("node", "lock")
        kept = (
            kept.join(locks.rename({"node": "a", "lock": "lock_a"}), on="a", how="left")
            .join(locks.rename({"node": "b", "lock": "lock_b"}), on="b", how="left")
            .filter(pl.col("lock_a").eq_missing(pl.col("lock_b")))
            .drop("lock_a", "lock_b")
        )
    return pl.concat([kept, force]), force.height, forbid.height


def _apart_tokens(decided: Constraints, index: pl.DataFrame) -> dict[int, frozenset]:
    rows = decided.apart.join(index, on="record_key").group_by("node").agg("token", "side")
    return {
        int(node): frozenset(zip(tokens, sides, strict=True))
        for node, tokens, sides in rows.select("node", "token", "side").iter_rows()
    }


def _components(n: int, edges: pl.DataFrame) -> np.ndarray:
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _implausible(keys: pl.DataFrame, labels: np.ndarray, limits: _Limits) -> np.ndarray:
    """Cluster labels that are too large, hold two strong-identifier values more than a typo
    apart, or two records of a one-record-per-customer source."""
    frame = keys.with_columns(pl.Series("cluster", labels))
    stats = frame.group_by("cluster").agg(
        pl.len().alias("size"),
        pl.col("source").is_in(list(limits.one_per_customer)).sum().alias("single"),
        pl.col("source")
        .filter(pl.col("source").is_in(list(limits.one_per_customer)))
        .n_unique()
        .alias("single_sources"),
        *[pl.col(c).drop_nulls().cast(pl.String).unique().alias(c) for c in limits.strong],
    )
    bad = set(
        stats.filter(
            (pl.col("size") > limits.max_size) | (pl.col("single") > pl.col("single_sources"))
        )["cluster"].to_list()
    )
    if limits.apart:
        rows = [(int(labels[node]), t, side) for node, ts in limits.apart.items() for t, side in ts]
        kept_apart = pl.DataFrame(
            rows, schema={"cluster": pl.Int64, "token": pl.Int64, "side": pl.Int64}, orient="row"
        )
        both = kept_apart.group_by("cluster", "token").agg(pl.col("side").n_unique().alias("n"))
        bad |= set(both.filter(pl.col("n") > 1)["cluster"].to_list())
    # few clusters hold several values, so the pairwise check runs on those only
    for column in limits.strong:
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


class _Group:
    """A growing cluster during a rebuild: its size and what it already holds."""

    # a rebuild makes one per record of every implausible cluster (250,000 at a low threshold)
    __slots__ = ("apart", "single", "size", "values")

    def __init__(
        self, values: list[str | None], source: str, limits: _Limits, apart: frozenset = frozenset()
    ) -> None:
        self.size = 1
        self.values = [{v} if v is not None else set() for v in values]
        self.single = {source} & limits.one_per_customer
        self.apart = set(apart)

    def accepts(self, other: _Group, limits: _Limits) -> bool:
        if self.size + other.size > limits.max_size or self.single & other.single:
            return False
        if any((token, 1 - side) in self.apart for token, side in other.apart):
            return False
        return all(
            x == y or _one_typo_apart(x, y)
            for mine, theirs in zip(self.values, other.values, strict=True)
            for x in mine
            for y in theirs
        )

    def absorb(self, other: _Group) -> None:
        self.size += other.size
        self.single |= other.single
        self.apart |= other.apart
        for mine, theirs in zip(self.values, other.values, strict=True):
            mine |= theirs


def _rebuild(
    labels: np.ndarray, bad: np.ndarray, edges: pl.DataFrame, keys: pl.DataFrame, limits: _Limits
) -> np.ndarray:
    """Re-cluster the members of `bad` clusters from `edges` among themselves, strongest first.

    An edge is taken unless the two groups it joins would together be implausible; steward-
    forced links are always taken. Ties are broken by record order, so every run gives the
    same clusters.
    """
    members = np.flatnonzero(np.isin(labels, bad))
    inside = edges.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members)).sort(
        ["forced", "p", "a", "b"], descending=[True, True, False, False]
    )
    member_keys = keys[members.tolist()]
    strong_values = (
        member_keys.select(pl.col(c).cast(pl.String) for c in limits.strong).rows()
        if limits.strong
        else [()] * len(members)
    )
    groups = {
        m: _Group(list(v), source, limits, limits.apart.get(m, frozenset()))
        for m, v, source in zip(
            members.tolist(), strong_values, member_keys["source"].to_list(), strict=True
        )
    }
    parent = {m: m for m in groups}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, forced in inside.select("a", "b", "forced").iter_rows():
        ra, rb = find(a), find(b)
        if ra == rb or not (forced or groups[ra].accepts(groups[rb], limits)):
            continue
        if groups[ra].size < groups[rb].size:
            ra, rb = rb, ra
        parent[rb] = ra
        groups[ra].absorb(groups.pop(rb))
    relabelled = labels.copy()
    # fresh labels for the rebuilt members, past every existing label
    past = int(labels.max()) + 1
    relabelled[members] = [find(int(m)) + past for m in members]
    _, dense = np.unique(relabelled, return_inverse=True)
    return dense.astype(np.int64)


@dataclass
class Profile:
    """What the guards look at in one customer: its size, its strong-identifier values and
    its records of one-record-per-customer sources."""

    size: int = 0
    values: dict[str, set[str]] = field(default_factory=dict)
    singles: dict[str, int] = field(default_factory=dict)


def customer_profiles(
    records: pl.DataFrame, strong: tuple[str, ...], one_per_customer: tuple[str, ...]
) -> dict[str, Profile]:
    """golden_id -> Profile, from `records` (golden_id, source and the `strong` columns)."""
    strong = tuple(c for c in strong if c in records.columns)
    stats = records.group_by("golden_id").agg(
        pl.len().alias("size"),
        *[pl.col(c).drop_nulls().cast(pl.String).unique().alias(c) for c in strong],
        *[(pl.col("source") == s).sum().alias(f"__single_{s}") for s in one_per_customer],
    )
    return {
        row["golden_id"]: Profile(
            row["size"],
            {c: set(row[c]) for c in strong},
            {s: row[f"__single_{s}"] for s in one_per_customer},
        )
        for row in stats.iter_rows(named=True)
    }


def joined_conflicts(a: Profile, b: Profile, max_cluster_size: int) -> list[str]:
    """Why the guards would keep the two customers apart, in words (empty: they would not)."""
    found = []
    if a.size + b.size > max_cluster_size:
        found.append(f"together they hold {a.size + b.size} records, more than {max_cluster_size}")
    for source, n in a.singles.items():
        if n and b.singles.get(source, 0):
            found.append(f"each holds a record of {source}, which has one record per customer")
    for column, mine in a.values.items():
        if _conflicting(sorted(mine | b.values.get(column, set()))):
            found.append(f"they hold two values of {column} more than a typo apart")
    return found
