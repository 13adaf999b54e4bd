"""The generator's reference tables: names, places, streets, email domains, ticket subjects.

Each is a CSV file in `data/` beside this module, read once when the package is imported.
Row order matters: the generator draws rows by position, so reordering a file changes every
sample generated from a given seed.

Weights (`weight`) are rough INE frequencies in thousands, and only their ratios matter; shares
(`share`) are probabilities and must sum to 1. Aliases (other spellings other systems use) are
separated by `|`. In the email domain files, `COMPANY` stands for the domain of the person's
employer, drawn from company_domains.csv.
"""

from __future__ import annotations

import csv
from importlib.resources import files

import numpy as np

COMPANY_DOMAIN = "COMPANY"


def _rows(name: str) -> list[dict[str, str]]:
    with (files(__package__) / "data" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _column(name: str, column: str) -> tuple[str, ...]:
    return tuple(row[column] for row in _rows(name))


def _weighted(name: str) -> tuple[list[str], np.ndarray]:
    rows = _rows(name)
    weights = np.array([float(row["weight"]) for row in rows])
    return [row["name"] for row in rows], weights / weights.sum()


def _shares(name: str, key: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    rows = _rows(name)
    return tuple(row[key] for row in rows), tuple(float(row["share"]) for row in rows)


def _aliases(text: str) -> tuple[str, ...]:
    return tuple(text.split("|")) if text else ()


def _nicknames() -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for row in _rows("nicknames.csv"):
        grouped.setdefault(row["name"], []).append(row["nickname"])
    return {name: tuple(nicks) for name, nicks in grouped.items()}


MALE_NAMES, MALE_P = _weighted("male_first_names.csv")
FEMALE_NAMES, FEMALE_P = _weighted("female_first_names.csv")
SURNAMES, SURNAME_P = _weighted("surnames.csv")
NICKNAMES: dict[str, tuple[str, ...]] = _nicknames()

# province code -> (name, aliases)
PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    row["code"]: (row["name"], _aliases(row["aliases"])) for row in _rows("provinces.csv")
}

# (city, province code, first postcode suffix, last postcode suffix, weight, aliases)
CITIES: tuple[tuple[str, str, int, int, int, tuple[str, ...]], ...] = tuple(
    (
        row["city"],
        row["province"],
        int(row["first_postcode_suffix"]),
        int(row["last_postcode_suffix"]),
        int(row["weight"]),
        _aliases(row["aliases"]),
    )
    for row in _rows("cities.csv")
)
CITY_P = np.array([c[4] for c in CITIES], dtype=float)
CITY_P /= CITY_P.sum()

STREET_TYPES, STREET_TYPE_P = _shares("street_types.csv", "type")
STREET_ABBR: dict[str, str] = {
    row["type"]: row["abbreviation"] for row in _rows("street_types.csv")
}
STREETS = _column("streets.csv", "street")

DOMAINS, DOMAIN_P = _shares("email_domains.csv", "domain")
OLD_DOMAINS, OLD_DOMAIN_P = _shares("old_email_domains.csv", "domain")
COMPANIES = _column("company_domains.csv", "domain")
SUBJECTS = _column("ticket_subjects.csv", "subject")
