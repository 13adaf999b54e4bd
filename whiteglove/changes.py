"""What changed in the golden table since the previously published run.

Downstream teams load the golden table incrementally, so each run says, per golden id, whether
it is new, updated, merged into another id or retired, and the published golden table carries
`valid_from` (first published) and `last_changed` (last run in which its row changed).

"Updated" means the published row differs in any column the two runs share: identity fields,
attributes, record and source counts. A column added or dropped between releases changes the
schema, not the customers, so it is not compared.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

NEW, UPDATED, MERGED, RETIRED = "new", "updated", "merged", "retired"
CHANGE_TYPES = (NEW, UPDATED, MERGED, RETIRED)
VALID_FROM, LAST_CHANGED = "valid_from", "last_changed"
HISTORY_COLUMNS = (VALID_FROM, LAST_CHANGED)
TIMESTAMP = pl.Datetime("us", "UTC")

CHANGES_SCHEMA = {
    "golden_id": pl.String,
    "change": pl.Enum(CHANGE_TYPES),
    "merged_into": pl.String,
    "changed_fields": pl.List(pl.String),
    "record_count": pl.Int64,
    "previous_record_count": pl.Int64,
    "changed_at": TIMESTAMP,
}


def golden_changes(
    golden: pl.DataFrame,
    xref: pl.DataFrame,
    previous_golden: pl.DataFrame | None,
    previous_xref: pl.DataFrame | None,
    at: datetime,
) -> pl.DataFrame:
    """One row per golden id that is new, updated, merged or retired (CHANGES_SCHEMA).

    A previous id that is gone is `merged` when any of its records now belong to a surviving
    customer (`merged_into` is the id holding most of them), and `retired` when none of its
    records is accepted any more. Without a previous publication every customer is new.
    """
    stamp = pl.lit(at, dtype=TIMESTAMP)
    current = golden.drop(HISTORY_COLUMNS, strict=False)
    previous = (
        previous_golden.drop(HISTORY_COLUMNS, strict=False)
        if previous_golden is not None
        else current.clear()
    )
    new = current.join(previous.select("golden_id"), on="golden_id", how="anti").select(
        "golden_id",
        pl.lit(NEW).alias("change"),
        pl.lit(None, pl.String).alias("merged_into"),
        pl.lit([], pl.List(pl.String)).alias("changed_fields"),
        _count(current, "record_count").alias("record_count"),
        pl.lit(None, pl.Int64).alias("previous_record_count"),
    )
    updated = _updated(current, previous)
    gone = _gone(current, previous, xref, previous_xref)
    return (
        pl.concat(
            [frame.cast(_without_time(CHANGES_SCHEMA)) for frame in (new, updated, gone)],
            how="vertical",
        )
        .with_columns(stamp.alias("changed_at"))
        .select(list(CHANGES_SCHEMA))
        .sort("change", "golden_id")
    )


def with_history(
    golden: pl.DataFrame,
    changes: pl.DataFrame,
    previous_golden: pl.DataFrame | None,
    at: datetime,
) -> pl.DataFrame:
    """The golden table with `valid_from` and `last_changed`, carried from the previous one.

    A previous table published before history was tracked has neither column; its customers
    start their history at `at`, the first run that can vouch for them.
    """
    stamp = pl.lit(at, dtype=TIMESTAMP)
    carried = pl.DataFrame(
        schema={"golden_id": pl.String, VALID_FROM: TIMESTAMP, LAST_CHANGED: TIMESTAMP}
    )
    if previous_golden is not None and set(HISTORY_COLUMNS) <= set(previous_golden.columns):
        carried = previous_golden.select(
            pl.col("golden_id").cast(pl.String),
            *[pl.col(c).cast(TIMESTAMP) for c in HISTORY_COLUMNS],
        )
    touched = changes.filter(pl.col("change").is_in([NEW, UPDATED])).select(
        "golden_id", pl.lit(True).alias("__touched")
    )
    return (
        golden.drop(HISTORY_COLUMNS, strict=False)
        .join(carried, on="golden_id", how="left", maintain_order="left")
        .join(touched, on="golden_id", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce(VALID_FROM, stamp).alias(VALID_FROM),
            pl.when(pl.col("__touched"))
            .then(stamp)
            .otherwise(pl.coalesce(LAST_CHANGED, stamp))
            .alias(LAST_CHANGED),
        )
        .drop("__touched")
    )


def change_counts(changes: pl.DataFrame) -> dict[str, int]:
    """Rows per change type, every type present (zero when none)."""
    counts = dict(changes.group_by("change").len().iter_rows())
    return {kind: int(counts.get(kind, 0)) for kind in CHANGE_TYPES}


def _updated(current: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    shared = [c for c in current.columns if c in previous.columns and c != "golden_id"]
    now, before = current.select("golden_id", *shared), previous.select("golden_id", *shared)
    if now.schema == before.schema:
        # most customers are unchanged between two runs: only rows whose values differ as a
        # whole are compared field by field (3 s -> well under 1 at a million records)
        before = before.join(now, on=now.columns, how="anti", nulls_equal=True)
    both = now.join(before, on="golden_id", suffix="__previous")
    differs = [
        pl.when(_differs(c, current.schema[c], previous.schema[c])).then(pl.lit(c)) for c in shared
    ]
    changed = (
        pl.concat_list(differs).list.drop_nulls() if differs else pl.lit([], pl.List(pl.String))
    )
    return (
        both.with_columns(changed.alias("changed_fields"))
        .filter(pl.col("changed_fields").list.len() > 0)
        .select(
            "golden_id",
            pl.lit(UPDATED).alias("change"),
            pl.lit(None, pl.String).alias("merged_into"),
            "changed_fields",
            _count(both, "record_count").alias("record_count"),
            _count(both, "record_count__previous").alias("previous_record_count"),
        )
    )


def _differs(column: str, dtype: pl.DataType, previous_dtype: pl.DataType) -> pl.Expr:
    now, before = pl.col(column), pl.col(f"{column}__previous")
    if dtype != previous_dtype:
        # a type changed between releases (say, an attribute parsed as a date now): compare text
        now, before = _as_text(now, dtype), _as_text(before, previous_dtype)
    return now.ne_missing(before)


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    # a list (sources) as its comma-joined text, the form older publications wrote
    if isinstance(dtype, pl.List):
        return expr.list.eval(pl.element().cast(pl.String)).list.join(",")
    return expr.cast(pl.String, strict=False)


def _gone(
    current: pl.DataFrame,
    previous: pl.DataFrame,
    xref: pl.DataFrame,
    previous_xref: pl.DataFrame | None,
) -> pl.DataFrame:
    gone = previous.join(current.select("golden_id"), on="golden_id", how="anti").select(
        "golden_id", _count(previous, "record_count").alias("previous_record_count")
    )
    record = ["source", "source_record_id"]
    destinations = pl.DataFrame(schema={"golden_id": pl.String, "merged_into": pl.String})
    if previous_xref is not None and gone.height:
        # where the gone id's records are now; most records wins, ties to the smallest id
        destinations = (
            previous_xref.select(*_record_key(record), "golden_id")
            .join(gone.select("golden_id"), on="golden_id")
            .join(
                xref.select(*_record_key(record), pl.col("golden_id").alias("merged_into")),
                on=record,
            )
            .group_by("golden_id", "merged_into")
            .len()
            .sort(["golden_id", "len", "merged_into"], descending=[False, True, False])
            .unique("golden_id", keep="first", maintain_order=True)
            .select("golden_id", "merged_into")
        )
    return gone.join(destinations, on="golden_id", how="left").select(
        "golden_id",
        pl.when(pl.col("merged_into").is_null())
        .then(pl.lit(RETIRED))
        .otherwise(pl.lit(MERGED))
        .alias("change"),
        "merged_into",
        pl.lit([], pl.List(pl.String)).alias("changed_fields"),
        pl.lit(None, pl.Int64).alias("record_count"),
        "previous_record_count",
    )


def _record_key(columns: list[str]) -> list[pl.Expr]:
    # record ids are text in the crosswalk, but a hand-edited previous file may say otherwise
    return [pl.col(c).cast(pl.String) for c in columns]


def _count(frame: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Int64) if column in frame.columns else pl.lit(None, pl.Int64)


def _without_time(schema: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    return {k: v for k, v in schema.items() if k != "changed_at"}
