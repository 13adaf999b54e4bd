"""Cluster-size figures, computed one way for the run summary, the reports and Dagster."""

from __future__ import annotations

import polars as pl


def cluster_sizes(
    members: pl.DataFrame, cluster: str, source: str | None = "source"
) -> pl.DataFrame:
    """One row per cluster: `size` (records) and, given a source column, `sources` (distinct)."""
    counts = [pl.len().alias("size")]
    if source is not None:
        counts.append(pl.col(source).n_unique().alias("sources"))
    return members.group_by(cluster).agg(counts)


def cluster_figures(sizes: pl.DataFrame) -> dict:
    """Customers, those with several records or sources, singletons, the largest cluster, and
    how many clusters there are of each size (`distribution`, sizes as text, ascending)."""
    size = pl.col("size")
    row = sizes.select(
        pl.len().alias("customers"),
        (size > 1).sum().alias("multi_record"),
        (size == 1).sum().alias("singletons"),
        size.max().alias("largest"),
    ).row(0, named=True)
    per_size = sizes.group_by("size").len(name="clusters").sort("size")
    figures = {k: int(v or 0) for k, v in row.items()}
    if "sources" in sizes.columns:
        figures["multi_source"] = sizes.filter(pl.col("sources") > 1).height
    figures["distribution"] = {str(s): n for s, n in per_size.iter_rows()}
    return figures
