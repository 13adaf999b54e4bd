"""The model's levels in the words stewards, `explain` and lookups use."""

from __future__ import annotations

import pytest

from whiteglove.plain_words import level_words, step_words


@pytest.mark.parametrize(
    ("name", "label", "null", "words"),
    [
        ("first_name", "Exact match on first_name_key", False, "first name the same"),
        ("phone", "Levenshtein distance of phone <= 1", False, "phone differs by one digit"),
        ("email", "All other comparisons", False, "email differs"),
        ("date_of_birth", "Abs date difference <= 1 month", False, "birth date within a month"),
        ("date_of_birth", "date_of_birth is NULL", True, "birth date missing on one side"),
        ("location", "Exact match on postcode", False, "postcode the same"),
        (
            "location",
            "Levenshtein distance of postcode <= 1",
            False,
            "postcode differs by one digit",
        ),
        (
            "location",
            "Same city, postcode differs or missing",
            False,
            "same city, postcode differs or missing",
        ),
        ("location", "City a typo or two apart", False, "city a typo or two apart"),
        ("location", "Postcode and city missing", True, "postcode and city missing on one side"),
        ("location", "All other comparisons", False, "postcode and city differs"),
    ],
)
def test_levels_in_plain_words(name: str, label: str, null: bool, words: str) -> None:
    assert level_words(name, label, null) == words


def test_a_step_carries_its_signed_weight() -> None:
    assert step_words("phone", "Exact match on phone", 11.84) == "phone the same: +11.8"
    assert step_words("email", "All other comparisons", -2.7) == "email differs: -2.7"
