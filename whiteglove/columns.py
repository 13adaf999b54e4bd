"""What each published column holds, in words, and column types as people name them.

One home for the documentation of the published tables: the Dagster column schemas show it
(assets/), and a data contract written beside the outputs can reuse it. The golden table's
columns follow the sources file (its attributes and survivorship rules), so its descriptions
are made from it. No Dagster import.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from whiteglove.changes import LAST_CHANGED, TIMESTAMP, VALID_FROM
from whiteglove.config import SourcesConfig
from whiteglove.golden import RULE_DERIVED, describe_rules, golden_columns

# The identity fields as the standardizers leave them (whiteglove/standardize.py).
IDENTITY_DESCRIPTIONS = {
    "first_name": (
        "Given name(s), spaces tidied, title-cased when a source wrote it all upper or lower case"
    ),
    "last_name": (
        "Surname(s), spaces tidied, title-cased when a source wrote it all upper or lower case"
    ),
    "full_name": "first_name and last_name joined with a space, for display",
    "email": "Email address, trimmed and lower-cased; a value that is no email was nulled",
    "phone": "Phone number in E.164 form (+34612345678); a value that is no phone was nulled",
    "date_of_birth": "Date of birth; a date outside the validity window was nulled",
    "address_line": "Street address, spaces tidied",
    "city": "City or town",
    "postcode": "Postcode; a Spanish one is five digits, its first two the province (01-52)",
    "region": "Region or province",
    "country": "Country as an ISO 3166-1 alpha-2 code (ES)",
    "national_id": (
        "National identity number (a Spanish DNI or NIE, check letter verified), upper case"
    ),
}

# Columns of the golden table that no survivorship rule chooses.
GOLDEN_BOOKKEEPING_DESCRIPTIONS = {
    "golden_id": (
        "The customer's id: kept from the previous publication by the cluster holding most of "
        "its records; a new customer gets G and 16 hex digits derived from its first record key"
    ),
    "record_count": "Accepted source records of this customer (its rows in customer_xref)",
    "source_count": "Sources holding at least one record of this customer",
    "sources": "Those sources' names, a list in name order",
    "last_updated_at": (
        "When the customer's most recently updated record was updated, as its source gave the "
        "time (no time zone)"
    ),
    VALID_FROM: "When this golden id was first published (UTC); set at publication",
    LAST_CHANGED: (
        "When this customer's row last changed: the run that published it new or updated (UTC); "
        "set at publication"
    ),
}

CUSTOMER_XREF_DESCRIPTIONS = {
    "source": "The source system of the record, as named in the sources file",
    "source_record_id": "The record's id in its source (the source's `id` column)",
    "golden_id": "The golden customer the record belongs to (golden_customers.golden_id)",
    "row_number": "The record's row in its export file, counting data rows from 1",
    "match_confidence": (
        "How surely the record belongs: its strongest match probability to another record of "
        "the same customer; 1.0 when the customer has this record only"
    ),
}

GOLDEN_LINEAGE_DESCRIPTIONS = {
    "golden_id": "The golden customer the value belongs to",
    "field": "The golden_customers column the value is in",
    "value": "The golden value, as text",
    "source": "The source of the record that supplied the value",
    "source_record_id": "That record's id in its source",
    "record_key": "That record's key across the run: <source>:<source_record_id>",
    "rule": (
        f"The survivorship rule that chose or computed the value ({RULE_DERIVED} for "
        "full_name, latest for last_updated_at)"
    ),
    # how sure a pick rule is (null for aggregates and derived values): whiteglove/golden.py
    "agreeing_sources": "How many distinct sources hold this same value for the customer",
    "value_dated_at": (
        "When the newest record holding this value was updated (updated_at, or the source's "
        "dated_by column): the value's age"
    ),
    "runner_up": (
        "The value the rule would have chosen without this one (null when the customer's "
        "records agree); personal, masked like the value"
    ),
    "low_confidence": (
        "True when a runner-up exists and at least as many sources hold it as hold the value"
    ),
}


# Columns each row of a published table always fills; every other column may be null.
NOT_NULL_COLUMNS = {
    "golden_customers": frozenset(
        {"golden_id", "record_count", "source_count", "sources", VALID_FROM, LAST_CHANGED}
    ),
    "customer_xref": frozenset(CUSTOMER_XREF_DESCRIPTIONS),
    # a lineage row exists only for a non-null value
    "golden_lineage": frozenset(
        {"golden_id", "field", "value", "source", "source_record_id", "record_key", "rule"}
    ),
}


def readable_type(dtype: pl.DataType) -> str:
    """A column type as people name it: string, integer, decimal, date, timestamp (UTC),
    boolean, list<string>, ..."""
    if isinstance(dtype, pl.List | pl.Array):
        return f"list<{readable_type(dtype.inner)}>"
    if isinstance(dtype, pl.Struct):
        fields = ", ".join(f"{f.name}: {readable_type(f.dtype)}" for f in dtype.fields)
        return f"struct<{fields}>"
    if isinstance(dtype, pl.Datetime):
        return f"timestamp ({dtype.time_zone})" if dtype.time_zone else "timestamp"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or dtype.is_decimal():
        return "decimal"
    named = {
        pl.String: "string",
        pl.Categorical: "string",
        pl.Enum: "string",
        pl.Boolean: "boolean",
        pl.Date: "date",
        pl.Time: "time",
        pl.Duration: "duration",
        pl.Binary: "binary",
        pl.Null: "null",
    }
    return next((text for kind, text in named.items() if dtype == kind), str(dtype).lower())


def published_golden_schema(schema: Mapping[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The golden table's schema as published: the survivorship step's columns, then the
    history columns publication adds (whiteglove.changes.with_history)."""
    return {**schema, VALID_FROM: TIMESTAMP, LAST_CHANGED: TIMESTAMP}


def golden_column_descriptions(config: SourcesConfig) -> dict[str, str]:
    """Every column of the published golden table, in its order: what it holds, the source
    columns it is read from and the survivorship rule that picks or computes it."""
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    rules = describe_rules(config.golden, attributes)
    described = {}
    for name in [*golden_columns(config.golden, attributes), VALID_FROM, LAST_CHANGED]:
        if name in GOLDEN_BOOKKEEPING_DESCRIPTIONS:
            described[name] = GOLDEN_BOOKKEEPING_DESCRIPTIONS[name]
            continue
        if name == "full_name":
            described[name] = f"{IDENTITY_DESCRIPTIONS[name]} (rule {RULE_DERIVED})"
            continue
        read = _source_columns(config, name)
        if name in IDENTITY_DESCRIPTIONS:
            what = IDENTITY_DESCRIPTIONS[name]
        elif name in attributes:
            what = "Profile attribute" + _declared(config, name)
        else:
            what = "Computed from the customer's records"
        text = f"{what}. " + (f"From {read}. " if read else "") + f"Survivorship: {rules[name]}"
        described[name] = text
    return described


def _declared(config: SourcesConfig, name: str) -> str:
    """How an attribute's values are read, when the sources file declares a type."""
    spec = config.attribute_types().get(name)
    if spec is None:
        return ""
    read = f", read as {spec.declared_type}"
    if spec.format:
        read += f" (written {spec.format} in the export)"
    if spec.values:
        read += f": one of {', '.join(spec.values)}"
    return read


def _source_columns(config: SourcesConfig, name: str) -> str:
    """The source columns a golden column is read from, as source.column."""
    found = []
    for source in config.sources:
        if name in source.fields:
            found.append(f"{source.name}.{source.fields[name].column}")
        elif name in ("first_name", "last_name") and "full_name" in source.fields:
            found.append(f"{source.name}.{source.fields['full_name'].column} (split)")
        elif name in source.attributes:
            found.append(f"{source.name}.{source.attributes[name].column}")
    if name == "country":
        found.append(f"defaults.country ({config.defaults.country}) for the sources mapping none")
    return ", ".join(found)
