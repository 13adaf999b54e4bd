"""Seeded, realistic sample exports for whiteglove.

Simulates four Spanish systems (CRM, billing, marketing, support) that each hold a
partial, dirty view of the same customers, plus ``truth.csv`` linking every exported
row to the person behind it, ``truth_values.csv`` holding each person's current (and
outdated) email, phone, birth date, address and postcode, and the bundled
``sources.yaml`` that maps them::

    python -m whiteglove.sample_data --people 3000 --seed 7 --out data

The reference tables (names, places, streets, email domains, ticket subjects) are CSV files
in ``data/`` (see ``tables.py``).
"""

from whiteglove.sample_data.exports import (
    BILLING_SCHEMA,
    CRM_COLUMNS,
    MARKETING_KEYS,
    SUPPORT_COLUMNS,
    TRUTH_COLUMNS,
    TRUTH_VALUE_COLUMNS,
)
from whiteglove.sample_data.generator import SOURCES, SampleSummary, generate, main
from whiteglove.sample_data.people import build_people
from whiteglove.sample_data.sources_file import write_sources
from whiteglove.sample_data.tables import (
    CITIES,
    FEMALE_NAMES,
    MALE_NAMES,
    NICKNAMES,
    PROVINCES,
    SURNAMES,
)
from whiteglove.schema import DNI_LETTERS

# The tests reach the population through its old private name.
_build_people = build_people

__all__ = [
    "BILLING_SCHEMA",
    "CITIES",
    "CRM_COLUMNS",
    "DNI_LETTERS",
    "FEMALE_NAMES",
    "MALE_NAMES",
    "MARKETING_KEYS",
    "NICKNAMES",
    "PROVINCES",
    "SOURCES",
    "SUPPORT_COLUMNS",
    "SURNAMES",
    "TRUTH_COLUMNS",
    "TRUTH_VALUE_COLUMNS",
    "SampleSummary",
    "build_people",
    "generate",
    "main",
    "write_sources",
]
