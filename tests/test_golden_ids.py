"""The crosswalk's match confidence: a record's strongest link into its own cluster."""

from __future__ import annotations

import polars as pl

from whiteglove.golden_ids import crosswalk


def test_confidence_is_the_strongest_link_inside_the_records_own_cluster():
    records = pl.DataFrame(
        {
            "source": ["crm"] * 5,
            "source_record_id": ["1", "2", "3", "4", "5"],
            "record_key": ["crm:1", "crm:2", "crm:3", "crm:4", "crm:5"],
            "golden_id": ["G1", "G1", "G2", "G3", "G2"],
            "row_number": [1, 2, 3, 4, 5],
        }
    )
    pairs = pl.DataFrame(
        {
            "unique_id_l": ["crm:1", "crm:1", "crm:2", "crm:3", "crm:3"],
            "unique_id_r": ["crm:2", "crm:2", "crm:3", "crm:5", "gone:9"],
            "match_probability": [0.90, 0.95, 0.99, 0.60, 0.80],
        }
    )
    xref = crosswalk(records, pairs)
    confidence = dict(xref.select("record_key", "match_confidence").iter_rows())
    assert confidence == {
        "crm:1": 0.95,  # the stronger of two scores for one pair
        "crm:2": 0.95,  # its 0.99 link goes to another cluster and does not count
        "crm:3": 0.60,  # nor does crm:2's, nor a pair with a record not in the run
        "crm:5": 0.60,
        "crm:4": 1.0,  # alone in its cluster: nothing competes with it
    }
    assert xref.height == records.height
    assert xref["golden_id"].to_list() == sorted(xref["golden_id"].to_list())
