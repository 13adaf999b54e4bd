"""The linkage model derived from the mapped fields: which comparison level a pair falls in.

Trained weights are measured by the accuracy tests; these check the design decisions that no
training can undo (two fields scored as one piece of evidence, a level that is not evidence).
"""

from __future__ import annotations

import polars as pl
import pytest

from tests.frames import match_records
from whiteglove.linkage import (
    MATCH_COLUMNS,
    LinkageError,
    build_comparisons,
    check_saved_model,
    default_blocking_rules,
    in_dialect,
    present_columns,
)

ALL = set(MATCH_COLUMNS) - {"unique_id"}


def levels(rows: list[dict]) -> tuple[dict[tuple[str, str], dict[str, int]], set[str]]:
    """Each pair's comparison levels (gamma values) and the names of the comparisons."""
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = match_records(rows)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=build_comparisons(present_columns(frame)),
        blocking_rules_to_generate_predictions=[block_on("first_name_key")],
        probability_two_random_records_match=0.01,
    )
    linker = Linker(DuckDBAPI().register(frame, dataset_display_name="records"), settings)
    scored = pl.from_pandas(linker.inference.predict().as_pandas_dataframe())
    gammas = [c for c in scored.columns if c.startswith("gamma_")]
    by_pair = {
        (row["unique_id_l"], row["unique_id_r"]): {g.removeprefix("gamma_"): row[g] for g in gammas}
        for row in scored.iter_rows(named=True)
    }
    return by_pair, {g.removeprefix("gamma_") for g in gammas}


SARA = {"first_name": "Sara", "last_name": "Martín González", "city": "Donostia"}


@pytest.mark.filterwarnings("ignore")
def test_postcode_and_city_are_one_piece_of_evidence():
    # two postcodes a typo apart are always in one city: counting the city as well scores the
    # same place twice, enough for namesakes born the same day in one town to link
    pairs, comparisons = levels(
        [
            {**SARA, "record_key": "a", "postcode": "20010"},
            {**SARA, "record_key": "b", "postcode": "20011"},
            {**SARA, "record_key": "c", "postcode": "20500"},
            {**SARA, "record_key": "d", "postcode": None, "city": "Bilbao"},
            {**SARA, "record_key": "e", "postcode": "20010"},
            {**SARA, "record_key": "f", "postcode": None},
            {**SARA, "record_key": "g", "postcode": None, "city": None},
            {**SARA, "record_key": "h", "postcode": None, "city": "Donosita"},
        ]
    )
    assert "location" in comparisons
    assert not {"postcode", "city_key"} & comparisons
    missing, other, similar_city, same_city, typo, exact = -1, 0, 1, 2, 3, 4
    assert pairs["a", "e"]["location"] == exact
    assert pairs["a", "b"]["location"] == typo
    assert pairs["a", "c"]["location"] == same_city
    assert pairs["a", "h"]["location"] == similar_city  # a slip in the city's name
    assert pairs["a", "f"]["location"] == same_city  # one postcode missing, same city
    assert pairs["a", "d"]["location"] == other  # a postcode against another city only
    assert pairs["a", "g"]["location"] == missing  # g has no location at all
    assert pairs["f", "g"]["location"] == missing


@pytest.mark.filterwarnings("ignore")
def test_a_username_shared_across_providers_is_not_evidence():
    # sara.martin38@gmail and sara.martin38@yahoo: addresses built from a common name collide
    # across providers (at 1M records, 99% of such pairs are two people)
    pairs, _ = levels(
        [
            {**SARA, "record_key": "a", "email": "sara.martin38@gmail.com"},
            {**SARA, "record_key": "b", "email": "sara.martin38@yahoo.es"},
            {**SARA, "record_key": "c", "email": "sara.martin38@gmail.com"},
            {**SARA, "record_key": "d", "email": "sara.martin39@gmail.com"},
            {**SARA, "record_key": "e", "email": "sara.martn38@gmail.com"},
            {**SARA, "record_key": "f", "email": "sara.martin38@gmial.com"},
        ]
    )
    exact, typo, domain_typo, other = 3, 2, 1, 0
    assert pairs["a", "c"]["email"] == exact
    assert pairs["a", "b"]["email"] == other  # another provider: three edits or more away
    assert pairs["a", "d"]["email"] == other  # one character apart, but other digits
    assert pairs["a", "e"]["email"] == typo
    assert pairs["a", "f"]["email"] == domain_typo  # the same user, a provider mistyped


def test_a_source_with_only_a_postcode_or_only_a_city_keeps_its_own_comparison():
    only_postcode = build_comparisons({"first_name_key", "postcode"})
    only_city = build_comparisons({"first_name_key", "city_key"})
    [postcode] = [c.create_comparison_dict("duckdb") for c in only_postcode][1:]
    [city] = [c.create_comparison_dict("duckdb") for c in only_city][1:]
    assert postcode["output_column_name"] == "postcode"
    assert city["output_column_name"] == "city_key"


@pytest.mark.parametrize("present", [{"postcode"}, {"city_key"}, {"postcode", "city_key"}])
def test_a_saved_model_moves_between_dialects_whatever_location_fields_it_has(present):
    comparisons = build_comparisons({"first_name_key", *present})
    spark = {
        "sql_dialect": "spark",
        "comparisons": [c.create_comparison_dict("spark") for c in comparisons],
    }
    moved = in_dialect(spark, "duckdb")
    assert moved["comparisons"] == [c.create_comparison_dict("duckdb") for c in comparisons]


def test_a_saved_model_that_compares_a_column_no_longer_derived_is_refused(tmp_path):
    current = {"comparisons": [c.create_comparison_dict("duckdb") for c in build_comparisons(ALL)]}
    columns = set(MATCH_COLUMNS)
    check_saved_model(current, columns, tmp_path / "model.json")  # today's model loads
    old = {
        "comparisons": [
            {
                "output_column_name": "email",
                "comparison_levels": [
                    {"sql_condition": '"email_user_with_digits_l" = "email_user_with_digits_r"'}
                ],
            }
        ]
    }
    with pytest.raises(LinkageError, match=r"email_user_with_digits.*retrain"):
        check_saved_model(old, columns, tmp_path / "model.json")


def test_surname_and_postcode_block_on_the_first_initial_when_first_names_are_mapped():
    frame = match_records(
        [
            {"record_key": "a", "first_name": "Pepe", "last_name": "García López"},
            {"record_key": "b", "first_name": "Álvaro", "last_name": "García"},
            {"record_key": "c", "last_name": "García"},
        ]
    )
    # the initial of the formal name a nickname stands for, folded; none without a name
    assert frame["first_initial"].to_list() == ["j", "a", None]

    rules = [r.columns for r in default_blocking_rules(ALL)]
    assert ("first_initial", "surname_key", "postcode") in rules
    assert ("surname_key", "postcode") not in rules
    # a sources file that maps no first name keeps surname + postcode as it was
    nameless = ALL - {"first_name_key", "first_initial", "given_tokens"}
    rules = [r.columns for r in default_blocking_rules(nameless)]
    assert ("surname_key", "postcode") in rules
