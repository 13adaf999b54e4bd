"""run_summary.json: what a run read, kept, rejected and published, and how long it took."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from whiteglove.metrics import (
    cluster_figures,
    cluster_sizes,
    nulled_field_warnings,
    quarantined_source_warnings,
)
from whiteglove.schema import CANONICAL_FIELDS, RECORD_BOOKKEEPING_COLUMNS
from whiteglove.suppression import SUPPRESSION_REASON


class ConservationError(RuntimeError):
    """Rows were lost or counted twice between extraction and publication."""


def run_summary(
    *,
    run_id: str,
    sources_file: str,
    raw_rows: dict[str, int | None],
    customer_records: pl.DataFrame,
    quarantine: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    step_seconds: dict[str, float],
    linkage_choices: dict,
    check_results: list[dict],
) -> dict:
    accepted = dict(customer_records.group_by("source").len().iter_rows())
    rejected = dict(quarantine.group_by("source").len().iter_rows())
    # rows of people erased on request (whiteglove/suppression.py): while a source still
    # exports them, its suppression entries are needed
    erased = dict(
        quarantine.filter(pl.col("reasons").list.contains(SUPPRESSION_REASON))
        .group_by("source")
        .len()
        .iter_rows()
    )
    invalid = (
        customer_records.select("source", pl.col("invalid_fields").alias("field"))
        .explode("field")
        .drop_nulls("field")
        .group_by("source", "field")
        .len()
    )
    sources = {}
    for name, read in raw_rows.items():
        kept, dropped = accepted.get(name, 0), rejected.get(name, 0)
        if read is not None and read != kept + dropped:
            raise ConservationError(
                f"source '{name}': read {read} rows but {kept} accepted + {dropped} quarantined"
            )
        sources[name] = {
            "rows_read": read,
            "accepted": kept,
            "quarantined": dropped,
            "erased_on_request": erased.get(name, 0),
            "invalid_values_nulled": {
                f: n for s, f, n in invalid.sort("field").iter_rows() if s == name
            },
        }
    clusters = cluster_figures(cluster_sizes(tables["customer_xref"], "golden_id"))
    return {
        # listed first: a rule that nulled much of a field is the first thing to look at
        "warnings": {
            "nulled_fields": nulled_field_warnings(_kept_and_nulled(customer_records)),
            "quarantined_sources": quarantined_source_warnings(sources, quarantine),
        },
        "run_id": run_id,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources_file": sources_file,
        "sources": sources,
        "stages": {
            "customer_records": customer_records.height,
            "quarantine": quarantine.height,
            **{name: frame.height for name, frame in tables.items()},
        },
        "linkage": {
            "match_threshold": linkage_choices["match_threshold"]["value"],
            # what chose the threshold and the cluster guards, and what the model estimates
            "choices": linkage_choices,
            "multi_record_customers": clusters["multi_record"],
            "largest_cluster": clusters["largest"],
            "multi_source_customers": clusters["multi_source"],
        },
        "golden": {"low_confidence_values": _low_confidence(tables.get("golden_lineage"))},
        "checks": _checks(check_results),
        "step_seconds": step_seconds,
    }


def _low_confidence(lineage: pl.DataFrame | None) -> dict[str, int]:
    """Golden values per field whose runner-up has as many sources behind it (golden.py)."""
    if lineage is None or "low_confidence" not in lineage.columns:
        return {}
    low = lineage.filter(pl.col("low_confidence").fill_null(False))
    return dict(low.group_by("field").len().sort("field").iter_rows())


def _kept_and_nulled(customer_records: pl.DataFrame) -> pl.DataFrame:
    """source, field, kept and nulled (as invalid) values of each identity field and
    attribute (a typed attribute's value that does not parse is nulled as invalid too)."""
    fields = [
        c
        for c in customer_records.columns
        if c in CANONICAL_FIELDS or not (c in RECORD_BOOKKEEPING_COLUMNS or c.startswith("_"))
    ]
    kept = customer_records.group_by("source").agg(pl.col(fields).is_not_null().sum())
    kept = kept.unpivot(index="source", variable_name="field", value_name="kept")
    nulled = (
        customer_records.select("source", pl.col("invalid_fields").alias("field"))
        .explode("field")
        .drop_nulls("field")
        .group_by("source", "field")
        .len("nulled")
    )
    return kept.join(nulled, on=["source", "field"], how="left").with_columns(
        pl.col("nulled").fill_null(0), pl.col("kept").cast(pl.Int64)
    )


def _checks(results: list[dict]) -> dict:
    """Expectation outcomes of the run, by suite and stage, with what failed."""
    return {
        "evaluated": sum(r["evaluated"] for r in results),
        "failed_errors": [
            f"{r['suite']}.{r['stage']}.{n}" for r in results for n in r["failed_errors"]
        ],
        "failed_warnings": [
            f"{r['suite']}.{r['stage']}.{n}" for r in results for n in r["failed_warnings"]
        ],
        "suites": {f"{r['suite']}.{r['stage']}": r["success"] for r in results},
    }
