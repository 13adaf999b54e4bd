"""Cluster-size figures: one computation for the run summary, the reports and Dagster."""

import polars as pl

from whiteglove.metrics import cluster_figures, cluster_sizes


def test_cluster_figures_count_customers_sizes_and_sources():
    xref = pl.DataFrame(
        {
            "golden_id": ["A", "A", "A", "B", "B", "C", "D"],
            "source": ["crm", "crm", "billing", "crm", "crm", "support", "crm"],
        }
    )
    figures = cluster_figures(cluster_sizes(xref, "golden_id"))
    assert figures == {
        "customers": 4,
        "multi_record": 2,  # A (3 records) and B (2)
        "singletons": 2,
        "largest": 3,
        "multi_source": 1,  # only A holds two sources
        "distribution": {"1": 2, "2": 1, "3": 1},
    }


def test_without_sources_and_without_records():
    clusters = pl.DataFrame({"cluster_id": [1, 1, 2], "record_key": ["a", "b", "c"]})
    figures = cluster_figures(cluster_sizes(clusters, "cluster_id", source=None))
    assert "multi_source" not in figures and figures["largest"] == 2
    empty = cluster_figures(cluster_sizes(clusters.clear(), "cluster_id", source=None))
    assert empty["customers"] == 0 and empty["largest"] == 0 and empty["distribution"] == {}


def test_a_mostly_quarantined_source_is_named_with_its_most_common_kind_of_reason():
    from whiteglove.metrics import quarantined_source_warnings
    from whiteglove.schema import QUARANTINE_SCHEMA

    reasons = [[f"duplicate record id (first seen at row {n})"] for n in (3, 7, 9)]
    reasons += [["missing record id"]] * 2
    quarantine = pl.DataFrame(
        {"source": ["crm"] * 5, "reasons": reasons},
        schema={"source": QUARANTINE_SCHEMA["source"], "reasons": QUARANTINE_SCHEMA["reasons"]},
    )
    sources = {
        "crm": {"rows_read": 20, "quarantined": 5},
        "web": {"rows_read": 9, "quarantined": 1},
    }
    (warning,) = quarantined_source_warnings(sources, quarantine)
    assert warning["source"] == "crm" and warning["share"] == 0.25
    # by kind, as the data-quality report counts them, not by each row's own text
    assert warning["top_reason"] == "duplicate record id" and warning["top_reason_rows"] == 3
