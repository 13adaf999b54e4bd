"""The model's comparison levels in plain words, as a steward reads them.

Splink names a level the way its SQL is built ("Levenshtein distance of phone <= 1"); a
steward wants "phone differs by one digit: +4.1". The review queue, `whiteglove explain` and
the review page all say it this way.
"""

from __future__ import annotations

import re

FIELD_WORDS = {
    "first_name": "first name",
    "last_name": "surname",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "birth date",
    "national_id": "national id",
    "location": "postcode and city",
    "address_key": "address",
}
# fields whose single-character difference is a digit
_DIGITS = {"phone", "date_of_birth", "postcode", "location"}
_JARO = re.compile(r"jaro-winkler\D*([0-9.]+)", re.IGNORECASE)
_DISTANCE = re.compile(r"levenshtein distance(?: of \w+)? <= (\d)", re.IGNORECASE)
_DATE = re.compile(r"abs date difference <= (\d+) (month|year)", re.IGNORECASE)


def field_words(name: str) -> str:
    return FIELD_WORDS.get(name, name.replace("_", " "))


def level_words(name: str, label: str, null: bool = False) -> str:
    """What a comparison level says about two records, e.g. 'birth date differs by one digit'."""
    field = field_words(name)
    text = (label or "").strip()
    lower = text.lower()
    if name == "location" and not null:
        # one comparison over two columns: its levels say which one agreed
        if lower.startswith(("same city", "city ")):
            return f"{text[:1].lower()}{text[1:]}"
        field = "postcode" if "postcode" in lower and "city" not in lower else field
    if null or lower.endswith("is null") or "missing" in lower and "differs" not in lower:
        return f"{field} missing on one side"
    if lower.startswith("exact match"):
        return f"{field} the same"
    if lower.startswith("all other"):
        return f"{field} differs"
    if m := _DISTANCE.search(text):
        unit = "digit" if name in _DIGITS else "character"
        n = int(m.group(1))
        return f"{field} differs by {'one' if n == 1 else n} {unit}{'' if n == 1 else 's'}"
    if m := _DATE.search(text):
        n, unit = int(m.group(1)), m.group(2).lower()
        return f"{field} within {'a' if n == 1 else n} {unit}{'' if n == 1 else 's'}"
    if m := _JARO.search(text):
        return f"{field} similar (Jaro-Winkler at least {m.group(1)})"
    return f"{field}: {text[:1].lower()}{text[1:]}" if text else field


def step_words(name: str, label: str, weight: float, null: bool = False) -> str:
    """One step of a waterfall: 'birth date differs by one digit: +4.1'."""
    return f"{level_words(name, label, null)}: {weight:+.1f}"


def prior_words(prior_weight: float, prior_probability: float) -> str:
    """The start of every waterfall: how likely two records picked at random match."""
    return (
        f"prior (two records picked at random match with probability "
        f"{prior_probability:.2g}): {prior_weight:+.1f}"
    )
