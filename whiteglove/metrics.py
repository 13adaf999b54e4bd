"""Cluster-size figures, computed one way for the run summary, the reports and Dagster."""

from __future__ import annotations

import polars as pl

from whiteglove.quarantine import quarantine_reasons


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


# A validity rule that nulls more than this share of a field's values is named in the run
# summary and first in the data-quality report: the data may be fine and the rule wrong
# for it (a window of birth dates that does not suit historical records, say).
NULLED_SHARE_WARNING = 0.2
# A source that quarantines more than this share of its rows is named in the run summary with
# its most common reason: the run goes on and publishes what the other rows give, but a whole
# export misread (a delimiter, a column mapped to the wrong field) would otherwise only show as
# customers retired.
QUARANTINED_SHARE_WARNING = 0.2


def nulled_field_warnings(counts: pl.DataFrame) -> list[dict]:
    """Fields whose validity rules nulled more than NULLED_SHARE_WARNING of the values a
    source gave, worst first, each with the setting that decides it.

    `counts` has source, field, kept (values left after standardizing) and nulled (values
    nulled as invalid) per source and identity field or attribute.
    """
    given = pl.col("kept") + pl.col("nulled")
    found = (
        counts.filter(pl.col("nulled") > 0)
        .with_columns((pl.col("nulled") / given).alias("share"))
        .filter(pl.col("share") > NULLED_SHARE_WARNING)
        .sort(["share", "source", "field"], descending=[True, False, False])
    )
    return [
        {
            "source": row["source"],
            "field": row["field"],
            "nulled": int(row["nulled"]),
            "share": round(float(row["share"]), 4),
            "setting": _setting(row["source"], row["field"]),
        }
        for row in found.iter_rows(named=True)
    ]


def _setting(source: str, field: str) -> str:
    """The setting that decides what a field's invalid values are."""
    from whiteglove.config import ValidityConfig
    from whiteglove.schema import IDENTITY_FIELDS

    if field not in IDENTITY_FIELDS:  # an attribute's values are invalid for its type
        return f"the type or format of attribute {field} in source {source}"
    return ValidityConfig.SETTING_OF_FIELD.get(field, "limits.max_field_chars")


def quarantined_source_warnings(sources: dict[str, dict], quarantine: pl.DataFrame) -> list[dict]:
    """Sources that quarantined more than QUARANTINED_SHARE_WARNING of the rows they gave,
    worst first, each with its most common reason (`sources`: name -> rows_read and
    quarantined, as in the run summary; `quarantine`: source and reasons per row)."""
    found = []
    for name, figures in sources.items():
        read, dropped = figures.get("rows_read"), figures.get("quarantined", 0)
        if not read or dropped / read <= QUARANTINED_SHARE_WARNING:
            continue
        # by kind, as the data-quality report counts them: "duplicate record id (first seen
        # at row 12)" and "... row 40" are one reason
        reasons = quarantine_reasons(quarantine.filter(pl.col("source") == name))
        top = next(iter(reasons.items()), (None, 0))
        found.append(
            {
                "source": name,
                "quarantined": dropped,
                "rows_read": read,
                "share": round(dropped / read, 4),
                "top_reason": top[0],
                "top_reason_rows": int(top[1]),
            }
        )
    return sorted(found, key=lambda w: (-w["share"], w["source"]))
