"""Clustering guards against chaining; steward decisions force and forbid links."""

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.frames import pairs
from whiteglove.clustering import cluster_records, link_graph
from whiteglove.decisions import DecisionsError, read_decisions
from whiteglove.evaluation import pairwise_scores, precision_recall_curve
from whiteglove.review import review_queue, top_reasons


def records(*rows: tuple[str, date | None]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"record_key": pl.String, "date_of_birth": pl.Date}, orient="row"
    )


def together(result, a: str, b: str) -> bool:
    ids = dict(result.clusters.iter_rows())
    return ids[a] == ids[b]


def chained_namesakes() -> tuple[pl.DataFrame, pl.DataFrame]:
    """a and b are one person, c and d another; one namesake link (0.8) chains them, and their
    birth dates say they are two."""
    recs = records(
        ("a", date(1980, 1, 2)),
        ("b", None),
        ("c", date(1975, 6, 7)),
        ("d", date(1975, 6, 7)),
    )
    return recs, pairs(("a", "b", 0.999), ("b", "c", 0.8), ("c", "d", 0.9999))


def test_a_weak_link_between_two_birth_dates_is_cut():
    recs, links = chained_namesakes()
    result = cluster_records(recs, links, 0.7, max_cluster_size=50)
    assert together(result, "a", "b") and together(result, "c", "d")
    assert not together(result, "b", "c")
    assert result.split == 1 and result.still_implausible == []


@pytest.mark.parametrize(
    ("x_to_a", "b_to_c"),
    [
        (0.996, 0.995),  # a wrong but confident link: cutting below it would strand x
        (0.7, 0.6),  # x joined by a merely likely link, which a 0.99 rebuild would drop
    ],
)
def test_a_rebuild_keeps_every_link_that_does_not_conflict(x_to_a, b_to_c):
    # the b-c link joins two people (two birth dates); only that link goes
    recs = records(
        ("a", date(1980, 1, 2)),
        ("b", None),
        ("x", None),
        ("c", None),
        ("d", date(1975, 6, 7)),
    )
    links = pairs(("a", "b", 0.9999), ("x", "a", x_to_a), ("b", "c", b_to_c), ("c", "d", 0.9999))
    result = cluster_records(recs, links, 0.5, max_cluster_size=50)
    assert together(result, "a", "b") and together(result, "a", "x")
    assert together(result, "c", "d") and not together(result, "b", "c")
    assert result.split == 1 and result.still_implausible == []


def test_two_records_of_a_one_per_customer_source_are_two_customers():
    recs = pl.DataFrame(
        {
            "record_key": ["billing:1", "billing:2", "support:1", "support:2"],
            "source": ["billing", "billing", "support", "support"],
            "date_of_birth": [None, None, None, None],
        },
        schema_overrides={"date_of_birth": pl.Date},
    )
    # a support ticket links both accounts; the stronger link keeps it
    links = pairs(
        ("billing:1", "support:1", 0.999),
        ("support:1", "billing:2", 0.995),
        ("support:2", "billing:2", 0.999),
    )
    plain = cluster_records(recs, links, 0.5, max_cluster_size=50)
    assert plain.clusters["cluster_id"].n_unique() == 1
    guarded = cluster_records(recs, links, 0.5, max_cluster_size=50, one_per_customer=("billing",))
    assert together(guarded, "billing:1", "support:1")
    assert together(guarded, "billing:2", "support:2")
    assert not together(guarded, "billing:1", "billing:2")


def test_a_birth_date_typo_is_not_a_conflict():
    # a day/month swap and a one-digit slip of the same date
    recs = records(("a", date(1980, 3, 2)), ("b", date(1980, 2, 3)), ("c", date(1980, 3, 3)))
    links = pairs(("a", "b", 0.8), ("a", "c", 0.8))
    result = cluster_records(recs, links, 0.7, max_cluster_size=50)
    assert result.clusters["cluster_id"].n_unique() == 1
    assert result.split == 0


def test_without_strong_identifiers_birth_dates_do_not_split():
    recs = records(("a", date(1980, 1, 2)), ("b", date(1999, 9, 9)))
    result = cluster_records(recs, pairs(("a", "b", 0.9)), 0.7, max_cluster_size=50, strong=())
    assert together(result, "a", "b")


def test_oversize_clusters_are_split_at_their_weakest_links():
    chain = [(f"r{i}", f"r{i + 1}", 0.999 if i % 3 else 0.8) for i in range(29)]
    recs = records(*[(f"r{i}", None) for i in range(30)])
    for strong in (("date_of_birth",), ()):
        result = cluster_records(recs, pairs(*chain), 0.7, max_cluster_size=5, strong=strong)
        sizes = result.clusters.group_by("cluster_id").len()["len"]
        assert sizes.max() <= 5 and sizes.sum() == 30
        assert result.split == 1


def test_the_precision_recall_curve_clusters_with_the_guards_at_each_threshold():
    recs, links = chained_namesakes()
    truth = pl.DataFrame({"record_key": ["a", "b", "c", "d"], "entity": ["1", "1", "2", "2"]})
    curve = precision_recall_curve(link_graph(recs, links, 50), truth, (0.5, 0.9995))
    # at 0.5 the guard splits the chain (a plain component would score precision 1/3)
    assert curve == [
        {"threshold": 0.5, "precision": 1.0, "recall": 1.0},
        {"threshold": 0.9995, "precision": 1.0, "recall": 0.5},
    ]


def test_the_curve_scores_what_cluster_records_gives_at_each_threshold():
    rng = np.random.default_rng(7)
    n = 400
    entity = rng.integers(0, 120, n)
    born = [date(1950 + int(e) % 40, 1 + int(e) % 12, 1 + int(e) % 28) for e in entity]
    # a few birth dates wrong, some missing, so guards split some clusters
    dates = [
        None if rng.random() < 0.2 else (date(1999, 9, 9) if rng.random() < 0.1 else d)
        for d in born
    ]
    keys = [f"r{i:03d}" for i in range(n)]
    recs = pl.DataFrame(
        {"record_key": keys, "date_of_birth": dates},
        schema={"record_key": pl.String, "date_of_birth": pl.Date},
    ).sample(fraction=1.0, shuffle=True, seed=7)  # nodes are numbered in key order, not this
    left, right = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    same = entity[left] == entity[right]
    prob = np.where(same, rng.beta(5, 1, 3000), rng.beta(1, 5, 3000))
    rows = [
        (keys[a], keys[b], float(p)) for a, b, p in zip(left, right, prob, strict=True) if a != b
    ]
    links = pairs(*rows)
    # labels for some records only, not a prefix of them in key order
    truth = pl.DataFrame({"record_key": keys[1::3], "entity": entity[1::3]})  # any type of id
    thresholds = (0.2, 0.5, 0.8, 0.95)
    curve = precision_recall_curve(link_graph(recs, links, 8), truth, thresholds)
    expected, split = [], []
    for t in thresholds:
        at = cluster_records(recs, links, t, max_cluster_size=8)
        split.append(at.split)
        point = pairwise_scores(at.clusters.rename({"cluster_id": "cluster"}), truth)
        expected.append({"threshold": t, "precision": point.precision, "recall": point.recall})
    assert curve == expected
    assert split[0] > split[-1]  # the guards rebuild clusters, more at a low threshold
    assert len({(p["precision"], p["recall"]) for p in curve}) == len(thresholds)


def test_decisions_force_and_forbid_links():
    recs = records(("a", None), ("b", None), ("c", None))
    links = pairs(("a", "b", 0.99), ("b", "c", 0.4))
    decisions = pl.DataFrame(
        {"record_key_l": ["b", "c"], "record_key_r": ["a", "b"], "decision": ["no_match", "match"]}
    )
    result = cluster_records(recs, links, 0.7, max_cluster_size=50, decisions=decisions)
    assert not together(result, "a", "b")
    assert together(result, "b", "c")
    assert (result.forced, result.forbidden) == (1, 1)


def test_decisions_file_is_read_and_typos_are_refused(tmp_path: Path):
    good = tmp_path / "decisions.csv"
    good.write_text(
        "record_key_l,record_key_r,decision,full_name_l\n"
        "crm:C1,billing:B1,match,x\ncrm:C2,billing:B2,,y\ncrm:C3,billing:B3, No_Match ,z\n"
    )
    found = [(d.records, d.kind) for d in read_decisions(good)]
    assert found == [(("crm:C1", "billing:B1"), "match"), (("crm:C3", "billing:B3"), "no_match")]
    bad = tmp_path / "bad.csv"
    bad.write_text("record_key_l,record_key_r,decision\ncrm:C1,billing:B1,yes\n")
    with pytest.raises(DecisionsError, match=r"bad.csv, line 2: decision 'yes'"):
        read_decisions(bad)


def test_review_queue_puts_both_records_side_by_side_with_reasons():
    model = {
        "comparisons": [
            {
                "output_column_name": "email",
                "comparison_levels": [
                    {"is_null_level": True, "label_for_charts": "null"},
                    {
                        "label_for_charts": "Exact match",
                        "m_probability": 0.5,
                        "u_probability": 0.5 / 2**11,
                    },
                    {"label_for_charts": "All other", "m_probability": 0.5, "u_probability": 0.9},
                ],
            },
            {
                "output_column_name": "phone",
                "comparison_levels": [
                    {
                        "label_for_charts": "Exact match",
                        "m_probability": 0.9,
                        "u_probability": 0.01,
                    },
                    {
                        "label_for_charts": "All other",
                        "m_probability": 1 / 64,
                        "u_probability": 1.0,
                    },
                ],
            },
        ]
    }
    scored = pl.DataFrame(
        {
            "unique_id_l": ["crm:C1"],
            "unique_id_r": ["support:T1"],
            "match_probability": [0.6],
            "match_weight": [0.58],
            "mw_email": [11.0],
            "mw_phone": [-6.0],
        }
    )
    reasons = top_reasons(scored, model)
    assert reasons.to_list() == ["email the same: +11.0; phone differs: -6.0"]
    recs = pl.DataFrame(
        {
            "record_key": ["crm:C1", "support:T1"],
            "source": ["crm", "support"],
            "source_record_id": ["C1", "T1"],
            "full_name": ["Ana Ruiz", "Ana R."],
            "email": ["ana@example.com", "ana@example.com"],
        }
    )
    queue = review_queue(scored.with_columns(reasons), recs)
    row = queue.row(0, named=True)
    assert (row["full_name_l"], row["full_name_r"]) == ("Ana Ruiz", "Ana R.")
    assert row["decision"] == "" and row["reasons"].startswith("email the same: +11.0")
