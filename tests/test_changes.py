"""golden_changes and the history columns: new, updated, merged, retired, carried timestamps."""

from datetime import UTC, datetime

import polars as pl
import pytest

from whiteglove.changes import (
    CHANGES_SCHEMA,
    change_counts,
    golden_changes,
    with_history,
)

FIRST = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def golden(rows: list[tuple[str, str, str | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "golden_id": pl.String,
            "first_name": pl.String,
            "email": pl.String,
            "record_count": pl.UInt32,
        },
        orient="row",
    )


def xref(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["source", "source_record_id", "golden_id"], orient="row"
    ).with_columns(pl.concat_str("source", pl.lit(":"), "source_record_id").alias("record_key"))


@pytest.fixture
def before() -> tuple[pl.DataFrame, pl.DataFrame]:
    published = golden(
        [
            ("GA", "ana", "ana@x.es", 1),
            ("GB", "bea", None, 2),
            ("GC", "carla", "c@x.es", 1),
            ("GD", "dani", "d@x.es", 1),
            ("GE", "eva", "e@x.es", 1),
        ]
    )
    links = xref(
        [
            ("crm", "1", "GA"),
            ("crm", "2", "GB"),
            ("billing", "2", "GB"),
            ("crm", "3", "GC"),
            ("crm", "4", "GD"),
            ("crm", "5", "GE"),
        ]
    ).drop("record_key")
    first = golden_changes(published, links, None, None, FIRST)
    return with_history(published, first, None, FIRST), links


def test_first_publication_makes_everyone_new():
    now = golden([("GA", "ana", None, 1), ("GB", "bea", None, 1)])
    changes = golden_changes(now, xref([]), None, None, FIRST)
    assert changes.schema == pl.Schema(CHANGES_SCHEMA)
    assert changes["change"].to_list() == ["new", "new"]
    assert changes["changed_at"].to_list() == [FIRST, FIRST]
    history = with_history(now, changes, None, FIRST)
    assert history["valid_from"].to_list() == [FIRST, FIRST]
    assert history["last_changed"].to_list() == [FIRST, FIRST]


def test_new_updated_merged_and_retired(before):
    previous, previous_xref = before
    now = golden(
        [
            ("GA", "ana", "ana@x.es", 1),  # unchanged
            ("GB", "bea", "bea@x.es", 3),  # email filled in, and GC's record joined it
            ("GE", "eva", "e@x.es", 1),  # unchanged
            ("GF", "fran", None, 1),  # a new customer
        ]
    )
    links = xref(
        [
            ("crm", "1", "GA"),
            ("crm", "2", "GB"),
            ("billing", "2", "GB"),
            ("crm", "3", "GB"),
            ("crm", "5", "GE"),
            ("crm", "6", "GF"),
        ]
    )  # crm:4 (GD's only record) is gone from the sources
    changes = golden_changes(now, links, previous, previous_xref, SECOND)
    rows = {r["golden_id"]: r for r in changes.iter_rows(named=True)}
    assert {k: r["change"] for k, r in rows.items()} == {
        "GB": "updated",
        "GC": "merged",
        "GD": "retired",
        "GF": "new",
    }
    assert sorted(rows["GB"]["changed_fields"]) == ["email", "record_count"]
    assert (rows["GB"]["previous_record_count"], rows["GB"]["record_count"]) == (2, 3)
    assert rows["GC"]["merged_into"] == "GB"
    assert rows["GD"]["merged_into"] is None
    assert change_counts(changes) == {"new": 1, "updated": 1, "merged": 1, "retired": 1}


def test_history_is_carried_for_unchanged_and_stamped_for_changed(before):
    previous, previous_xref = before
    now = golden([("GA", "ana", "ana@x.es", 1), ("GB", "bea", "bea@x.es", 2)])
    links = xref([("crm", "1", "GA"), ("crm", "2", "GB"), ("billing", "2", "GB")])
    changes = golden_changes(now, links, previous, previous_xref, SECOND)
    history = with_history(now, changes, previous, SECOND)
    assert history.columns == [*now.columns, "valid_from", "last_changed"]
    by_id = {r["golden_id"]: r for r in history.iter_rows(named=True)}
    assert (by_id["GA"]["valid_from"], by_id["GA"]["last_changed"]) == (FIRST, FIRST)
    assert (by_id["GB"]["valid_from"], by_id["GB"]["last_changed"]) == (FIRST, SECOND)


def test_a_rerun_on_the_same_data_reports_nothing(before):
    previous, previous_xref = before
    # the previous table is read back with its history columns; they are not values
    changes = golden_changes(previous, xref([]), previous, previous_xref, SECOND)
    assert changes.height == 0
    assert with_history(previous, changes, previous, SECOND).equals(previous)


def test_a_merge_goes_to_the_id_holding_most_records():
    previous = golden([("GA", "ana", None, 1), ("GB", "bea", None, 3)])
    previous_xref = xref(
        [("crm", "1", "GA"), ("crm", "2", "GB"), ("crm", "3", "GB"), ("crm", "4", "GB")]
    )
    now = golden([("GA", "ana", None, 2), ("GX", "bea", None, 2)])
    links = xref([("crm", "1", "GA"), ("crm", "2", "GA"), ("crm", "3", "GX"), ("crm", "4", "GX")])
    changes = golden_changes(now, links, previous, previous_xref, SECOND)
    merged = changes.filter(pl.col("change") == "merged")
    assert merged.select("golden_id", "merged_into").rows() == [("GB", "GX")]


def test_a_type_change_between_releases_is_compared_as_text(before):
    previous, previous_xref = before
    now = previous.with_columns(pl.col("record_count").cast(pl.Int64))
    assert golden_changes(now, xref([]), previous, previous_xref, SECOND).height == 0


def test_previous_table_without_history_starts_history_now():
    previous = golden([("GA", "ana", None, 1)])
    changes = golden_changes(previous, xref([]), previous, None, SECOND)
    history = with_history(previous, changes, previous, SECOND)
    assert history.row(0, named=True)["valid_from"] == SECOND
    assert history.row(0, named=True)["last_changed"] == SECOND


def test_sources_published_as_text_before_and_as_a_list_now_is_no_update():
    # a publication from before sources became a list holds "billing,crm"; the same names
    # as a list are the same customer, not a change for every multi-source customer
    before = golden([("GA", "ana", "a@x.es", 2), ("GB", "bea", "b@x.es", 2)]).with_columns(
        pl.Series("sources", ["billing,crm", "crm"])
    )
    now = before.with_columns(pl.Series("sources", [["billing", "crm"], ["billing", "crm"]]))
    links = xref([("crm", "1", "GA"), ("billing", "1", "GA"), ("crm", "2", "GB")])
    changes = golden_changes(now, links, before, links, SECOND)
    assert changes.select("golden_id", "changed_fields").rows() == [("GB", ["sources"])]
