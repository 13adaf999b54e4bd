"""The canonical schema: field names, the column sets of each table, and the value patterns.

One home for what several stages must agree on. The standardizers produce these forms, the
default expectation suites check them, masking recognises them and the sample generator
writes data that exercises them; each reads the definition from here.
"""

from __future__ import annotations

import polars as pl

# Identity fields a source may map (docs/ARCHITECTURE.md, the sources file). full_name is
# split into first_name and last_name when mapped, and rebuilt from them for display.
IDENTITY_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line",
    "city",
    "postcode",
    "region",
    "country",
    "national_id",
)
# The identity fields of a canonical record, in column order: the derived full name last.
CANONICAL_FIELDS = [f for f in IDENTITY_FIELDS if f != "full_name"] + ["full_name"]
# Fields whose every value names a person closely enough to be masked wherever it is shown.
PERSONAL_FIELDS = ("email", "phone", "date_of_birth", "national_id", "address_line")
# The kind of personal data each identity field holds, as the published contract declares it
# (whiteglove/contract.py). Names and the parts of an address count: with the rest they identify
# a person, although previews leave them readable (whiteglove/masking.py masks PERSONAL_FIELDS).
PERSONAL_DATA_KINDS = {
    "first_name": "name",
    "last_name": "name",
    "full_name": "name",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "birth_date",
    "national_id": "national_id",
    "address_line": "address",
    "city": "address",
    "postcode": "address",
    "region": "address",
}
# Source, attribute and golden column names chosen in the sources file.
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# The results of validating an asset are the asset `<asset>_validation`; no source name may
# end so, or two assets would share a name.
VALIDATION_SUFFIX = "_validation"

# The lineage columns extraction adds to every raw row, before the export's own columns.
RAW_LINEAGE_COLUMNS = ["_source", "_file", "_row_number", "_loaded_at", "_raw", "_parse_error"]
# A record's key and provenance.
RECORD_KEY_COLUMNS = [
    "record_key",
    "source",
    "source_record_id",
    "row_number",
    "trust",
    "updated_at",
]
# A canonical customer record: its key and provenance, then the identity fields; attribute
# columns follow, in the order the sources file declares them.
RECORD_COLUMNS = [*RECORD_KEY_COLUMNS, *CANONICAL_FIELDS]
# Columns of customer_records that describe a record rather than the customer.
RECORD_BOOKKEEPING_COLUMNS = (*RECORD_KEY_COLUMNS, "file", "loaded_at", "invalid_fields")
# quarantine.parquet: one row per input row that cannot be used.
QUARANTINE_SCHEMA = {
    "source": pl.String,
    "row_number": pl.Int64,
    "source_record_id": pl.String,
    "file": pl.String,
    "raw": pl.String,
    "reasons": pl.List(pl.String),
}
# golden_lineage.parquet: one row per non-null golden value, naming the record that gave it.
GOLDEN_LINEAGE_COLUMNS = [
    "golden_id",
    "field",
    "value",
    "source",
    "source_record_id",
    "record_key",
    "rule",
    # how sure a pick rule is of the value (null for aggregates): whiteglove/golden.py
    "agreeing_sources",
    "value_dated_at",
    "runner_up",
    "low_confidence",
]
# Columns of the golden table that describe the cluster rather than one chosen value.
GOLDEN_SUMMARY_COLUMNS = ["record_count", "source_count", "sources", "last_updated_at"]

# Canonical value forms. A standardized email is trimmed and lower-cased; a phone is E.164.
EMAIL_PATTERN = r"^[a-z0-9._%+'\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}$"
# What a raw export's email column looks like before standardizing (spaces, upper case).
RAW_EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\s*$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
# Spanish postcodes: five digits, the first two a province from 01 to 52.
ES_POSTCODE_PATTERN = r"^(?:0[1-9]|[1-4][0-9]|5[0-2])[0-9]{3}$"
# Spanish DNI (eight digits) or NIE (X, Y or Z and seven digits), then a check letter: the
# letter at position number % 23 of DNI_LETTERS, with X, Y, Z read as 0, 1, 2.
ES_NATIONAL_ID_PATTERN = r"^[0-9XYZ][0-9]{7}[A-Z]$"
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
EARLIEST_BIRTH_DATE = "1900-01-01"

# The match frame: the columns the linkage model reads, derived from a canonical record
# (whiteglove/linkage/model.py, match_frame).
MATCH_COLUMNS = [
    "unique_id",
    "first_name_key",
    "last_name_key",
    "surname_key",
    "first_initial",
    "given_tokens",
    "name_tokens",
    "email",
    "email_user",
    "email_domain",
    "email_digits",
    "phone",
    "date_of_birth",
    "national_id",
    "postcode",
    "city_key",
    "address_key",
]
# A match field declared in the sources file (linkage.match_fields) is a column of the match
# frame and a comparison of the model under its attribute's name, so it may not take one of
# these (nor an identity field's, which no attribute takes): the match columns, the location
# comparison, the incremental run's flag, and the columns Splink adds to scored pairs.
RESERVED_MATCH_NAMES = frozenset(MATCH_COLUMNS) | {
    "location",
    "changed_record",
    "match_weight",
    "match_probability",
    "match_key",
    "source_dataset",
}
RESERVED_MATCH_PREFIXES = ("gamma_", "bf_", "tf_", "mw_")


def record_key(source: pl.Expr, source_record_id: pl.Expr) -> pl.Expr:
    """The record's key across the whole run: "<source>:<source record id>"."""
    return source + pl.lit(":") + source_record_id
