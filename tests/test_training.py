"""Training's u values: an exact-match level's u is counted from the records, not sampled.

Random sampling sees an identifier agree about once in a million pairs; at a few million
records its sample held no agreeing email at all, Splink scored an exact email match with its
default weight (about 10 instead of about 20) and recall fell from 0.94 to 0.88.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from tests.frames import match_records
from whiteglove.config import LinkageConfig
from whiteglove.linkage import (
    build_comparisons,
    default_blocking_rules,
    present_columns,
)
from whiteglove.linkage.backends import duckdb_connection, open_backend
from whiteglove.linkage.training import agreeing_share, counted_u, train


def test_the_agreeing_share_counts_pairs_of_non_null_values():
    # four values, six ordered pairs of the three "a" agree out of twelve
    assert agreeing_share(pl.Series(["a", "a", "a", "b", None])) == pytest.approx(0.5)
    assert agreeing_share(pl.Series(["a", "b", "a", "c"])) == pytest.approx(2 / 12)
    # no two agree, or too few values: nothing to count
    assert agreeing_share(pl.Series(["a", "b", "c"])) is None
    assert agreeing_share(pl.Series(["a", None], dtype=pl.String)) is None


def email_model(exact_u: float | None, typo_u: float | None) -> dict:
    def level(condition: str, u: float | None) -> dict:
        return {"sql_condition": condition, "m_probability": 0.3} | (
            {} if u is None else {"u_probability": u}
        )

    return {
        "comparisons": [
            {
                "output_column_name": "email",
                "comparison_levels": [
                    {
                        "sql_condition": '"email_l" IS NULL OR "email_r" IS NULL',
                        "is_null_level": True,
                    },
                    level('"email_l" = "email_r"', exact_u),
                    level('levenshtein("email_l", "email_r") <= 1', typo_u),
                    level("ELSE", 0.999),
                ],
            },
            {
                # null when both parts are: an exact postcode's u is not a count of postcodes
                "output_column_name": "location",
                "comparison_levels": [
                    {
                        "sql_condition": '("postcode_l" IS NULL OR "postcode_r" IS NULL) AND '
                        '("city_l" IS NULL OR "city_r" IS NULL)',
                        "is_null_level": True,
                    },
                    level('"postcode_l" = "postcode_r"', 0.01),
                    level("ELSE", 0.99),
                ],
            },
        ]
    }


def test_exact_u_is_counted_and_an_unseen_level_gets_the_samples_bound():
    frame = pl.DataFrame({"email": ["a@x.es", "a@x.es", "b@x.es", "c@x.es", None]})
    model = counted_u(email_model(None, None), frame, sampled_pairs=1e4)
    email, location = (c["comparison_levels"] for c in model["comparisons"])
    assert email[1]["u_probability"] == pytest.approx(2 / 12)
    # five records make ten pairs, six of them with an email on both sides: a level never
    # seen among six pairs gets 1/6, then shares with the sampled ones what the count leaves
    assert email[2]["u_probability"] == pytest.approx((1 / 6) * (10 / 12) / (1 / 6 + 0.999))
    assert sum(lvl["u_probability"] for lvl in email[1:]) == pytest.approx(1.0)
    # a sampled exact u is replaced too: the count is exact, the sample an estimate of it
    resampled = counted_u(email_model(0.5, 1e-3), frame, sampled_pairs=1e4)
    assert resampled["comparisons"][0]["comparison_levels"][1]["u_probability"] == pytest.approx(
        2 / 12
    )
    # a comparison that is not null exactly when its column is keeps its sampled u
    assert [lvl["u_probability"] for lvl in location[1:]] == [0.01, 0.99]


def test_a_field_with_one_value_keeps_its_sampled_u():
    # every pair agrees: counting would leave the other levels nothing (u = 0, which Splink
    # refuses), so sampling's figures stand
    frame = pl.DataFrame({"email": ["same@x.es"] * 6})
    model = counted_u(email_model(0.999, None), frame, sampled_pairs=1e4)
    email = model["comparisons"][0]["comparison_levels"]
    assert all(lvl["u_probability"] > 0 for lvl in email[1:])
    assert sum(lvl["u_probability"] for lvl in email[1:]) == pytest.approx(1.0)
    assert email[1]["u_probability"] == pytest.approx(0.999 / (0.999 + 1 / 15 + 0.999))


def identifiers(people: int) -> pl.DataFrame:
    """The match frame of each person twice, sharing email and phone; names from a small pool,
    so sampling sees names agree often and identifiers almost never."""
    return match_records(
        [
            {
                "record_key": f"crm:{p}-{copy}",
                "first_name": f"Ana{p % 50}",
                "last_name": f"Ruiz{p % 70}",
                "email": f"person{p}@mail.es",
                "phone": f"+346{p:08d}",
            }
            for p in range(people)
            for copy in range(2)
        ]
    )


def test_training_weighs_an_exact_identifier_by_its_count_when_sampling_misses_it():
    frame = identifiers(3000)
    # 6,000 records: 3,000 of 18 million pairs share an email; 10,000 sampled pairs hold
    # about two, so the sampled u is noise or missing
    config = LinkageConfig(u_sample_pairs=1e4, seed=1)
    present = present_columns(frame)
    with duckdb_connection(config) as con:
        backend = open_backend(config, con, frame)
        model = train(
            frame,
            backend.records,
            build_comparisons(present),
            default_blocking_rules(present),
            present,
            config,
        )
    email = next(c for c in model["comparisons"] if c["output_column_name"] == "email")
    exact = email["comparison_levels"][1]
    assert exact["u_probability"] == pytest.approx(agreeing_share(frame["email"]))
    # one agreeing pair in 6,000: about 12.5 bits of evidence with m near 1
    assert math.log2(exact["m_probability"] / exact["u_probability"]) > 11
