"""The published contract: `contract.json`, a JSON Schema (draft 2020-12) of the tables
downstream teams read, written beside them on every run.

Each published table is a `$defs` entry describing one row: every column with its JSON type
(and `format` for dates and timestamps, `enum` for a category), whether it may be null, its
description (whiteglove/columns.py), the kind of personal data it holds, and the survivorship
rule that fills it. The contract carries a version, `major.minor`:

- an added column raises the minor version;
- a changed type or a dropped column is a breaking change: a run is refused (the blocking
  check of the `golden_contract` asset) unless the sources file raises `contract.major_version`
  above the published contract's, which starts the new major version at `.0`.

It is built from the schemas actually published, so a column someone adds later is in the
contract (with an empty description until columns.py documents it; a test requires one).
No Dagster import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from whiteglove.columns import (
    CUSTOMER_XREF_DESCRIPTIONS,
    GOLDEN_LINEAGE_DESCRIPTIONS,
    NOT_NULL_COLUMNS,
    golden_column_descriptions,
    readable_type,
)
from whiteglove.config import SourcesConfig
from whiteglove.golden import describe_rules
from whiteglove.schema import PERSONAL_DATA_KINDS

CONTRACT_FILE = "contract.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONTRACT_ID = "urn:whiteglove:contract:golden_customers"
VERSION_KEY = "x-contract-version"
# The tables the contract covers, with what one row is.
TABLES = {
    "golden_customers": "one golden customer",
    "customer_xref": "one accepted source record and the golden customer it belongs to",
    "golden_lineage": "one non-null golden value and the record and rule that supplied it",
}
_JSON_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
}


@dataclass(frozen=True)
class ShapeChanges:
    """How the tables about to be published differ from the previous contract's."""

    changed: list[dict] = field(default_factory=list)  # table, column, was, now
    dropped: list[dict] = field(default_factory=list)  # table, column, was
    added: list[dict] = field(default_factory=list)  # table, column, now

    @property
    def breaking(self) -> list[str]:
        """Each breaking change in words, naming the table and column."""
        return [
            f"{c['table']}.{c['column']} would change type from {c['was']} to {c['now']}"
            for c in self.changed
        ] + [f"{d['table']}.{d['column']} ({d['was']}) would be dropped" for d in self.dropped]


@dataclass(frozen=True)
class VersionDecision:
    """The contract version of this run, and whether the run may publish."""

    version: str
    previous: str | None
    changes: ShapeChanges
    refused: list[str]  # empty: the run may publish

    def as_dict(self) -> dict:
        """For the run summary and Dagster metadata."""
        return {
            "version": self.version,
            "previous_version": self.previous,
            "added_columns": [f"{a['table']}.{a['column']}" for a in self.changes.added],
            "breaking_changes": self.changes.breaking,
            "refused": self.refused,
        }


def column_types(schema: Mapping[str, pl.DataType]) -> dict[str, str]:
    """Each column's type as the contract names it."""
    return {name: readable_type(dtype) for name, dtype in schema.items()}


def shape_changes(previous: dict | None, schemas: Mapping[str, Mapping[str, str]]) -> ShapeChanges:
    """Compare `schemas` (table -> column -> contract type) with a previous contract's."""
    found = ShapeChanges()
    if not previous:
        return found
    defs = previous.get("$defs") or {}
    for table, columns in schemas.items():
        before = {
            name: spec.get("x-type")
            for name, spec in ((defs.get(table) or {}).get("properties") or {}).items()
        }
        if not before:
            continue  # a table the previous contract did not cover is not a change
        for name, was in before.items():
            if name not in columns:
                found.dropped.append({"table": table, "column": name, "was": was})
            elif columns[name] != was:
                found.changed.append(
                    {"table": table, "column": name, "was": was, "now": columns[name]}
                )
        for name, now in columns.items():
            if name not in before:
                found.added.append({"table": table, "column": name, "now": now})
    return found


def decide_version(
    previous: dict | None, schemas: Mapping[str, Mapping[str, str]], major: int
) -> VersionDecision:
    """The version this run publishes under, and the breaking changes that refuse it.

    `major` is the sources file's `contract.major_version`.
    """
    changes = shape_changes(previous, schemas)
    before = _version(previous)
    if before is None:
        return VersionDecision(f"{major}.0", None, changes, [])
    was_major, was_minor = before
    previous_text = f"{was_major}.{was_minor}"
    if major > was_major:
        return VersionDecision(f"{major}.0", previous_text, changes, [])
    if major < was_major:
        return VersionDecision(
            previous_text,
            previous_text,
            changes,
            [
                f"contract.major_version {major} is below the published contract's "
                f"{previous_text}; a version never goes back"
            ],
        )
    refused = [
        f"{problem}; the published contract is version {previous_text}: keep the column as "
        f"published, or raise contract.major_version to {was_major + 1} in the sources file to "
        "publish the change as a new major version"
        for problem in changes.breaking
    ]
    minor = was_minor + 1 if changes.added else was_minor
    return VersionDecision(f"{was_major}.{minor}", previous_text, changes, refused)


def _version(contract: dict | None) -> tuple[int, int] | None:
    if not contract:
        return None
    try:
        major, minor = str(contract.get(VERSION_KEY, "")).split(".")
        return int(major), int(minor)
    except ValueError:
        return None  # a contract without a readable version promised nothing to compare


def table_descriptions(config: SourcesConfig) -> dict[str, dict[str, str]]:
    """Every documented column of each contract table (whiteglove/columns.py)."""
    return {
        "golden_customers": golden_column_descriptions(config),
        "customer_xref": CUSTOMER_XREF_DESCRIPTIONS,
        "golden_lineage": GOLDEN_LINEAGE_DESCRIPTIONS,
    }


def build_contract(
    schemas: Mapping[str, Mapping[str, pl.DataType]], config: SourcesConfig, version: str
) -> dict:
    """The contract (a JSON Schema document) of the tables whose published `schemas` are
    given, table by table."""
    descriptions = table_descriptions(config)
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    rules = describe_rules(config.golden, attributes)
    categories = {
        name: spec.values
        for name, spec in config.attribute_types().items()
        if spec.values is not None
    }
    defs = {}
    for table, schema in schemas.items():
        described = descriptions.get(table, {})
        not_null = NOT_NULL_COLUMNS.get(table, frozenset())
        golden = table == "golden_customers"
        properties = {
            name: _column(
                dtype,
                description=described.get(name, ""),
                nullable=name not in not_null,
                personal=_personal(table, name),
                rule=(rules.get(name) or _computed(name)) if golden else None,
                allowed=categories.get(name) if golden else None,
            )
            for name, dtype in schema.items()
        }
        defs[table] = {
            "title": table,
            "description": (
                f"One row per {TABLES.get(table, 'row')}; published as {table}.parquet and as "
                f"the table {table} of customers.duckdb."
            ),
            "type": "object",
            "properties": properties,
            "required": list(schema),
            "additionalProperties": False,
        }
    return {
        "$schema": DIALECT,
        "$id": CONTRACT_ID,
        "title": "whiteglove published tables",
        "description": (
            "The shape of the tables a whiteglove run publishes: each entry of $defs describes "
            "one row of a table. x-type names the column's type, x-personal-data the kind of "
            "personal data it holds (absent: none), x-survivorship the rule that fills a "
            f"golden column. {VERSION_KEY} is major.minor: an added column raises the minor "
            "version, a changed type or a dropped column needs a new major version."
        ),
        VERSION_KEY: version,
        "$defs": defs,
    }


# golden_lineage.value holds every golden value as text, emails and birth dates included
LINEAGE_VALUE_KIND = "varies: the kind of the golden column named in field"


def _personal(table: str, name: str) -> str | None:
    if table == "golden_lineage":
        return LINEAGE_VALUE_KIND if name == "value" else None
    return PERSONAL_DATA_KINDS.get(name) if table == "golden_customers" else None


def _computed(name: str) -> str:
    return "derived" if name == "full_name" else "computed for every customer"


def _column(
    dtype: pl.DataType,
    *,
    description: str,
    nullable: bool,
    personal: str | None,
    rule: str | None,
    allowed: list[str] | None,
) -> dict:
    kind = readable_type(dtype)
    spec = _json_type(dtype)
    if nullable:
        spec = {"anyOf": [spec, {"type": "null"}]} if "type" not in spec else _or_null(spec)
    if allowed is not None:
        spec["enum"] = [*allowed, *([None] if nullable else [])]
    spec |= {"description": description, "x-type": kind, "x-nullable": nullable}
    if personal:
        spec["x-personal-data"] = personal
    if rule:
        spec["x-survivorship"] = rule
    return spec


def _json_type(dtype: pl.DataType) -> dict:
    if isinstance(dtype, pl.List | pl.Array):
        return {"type": "array", "items": _json_type(dtype.inner)}
    if isinstance(dtype, pl.Struct):
        return {
            "type": "object",
            "properties": {f.name: _json_type(f.dtype) for f in dtype.fields},
        }
    kind = readable_type(dtype)
    return dict(_JSON_TYPES.get(kind.split(" ")[0], {}))  # timestamp (UTC) is a timestamp


def _or_null(spec: dict) -> dict:
    return {**spec, "type": [spec["type"], "null"]}


def contract_descriptions(contract: dict) -> dict[str, dict[str, str]]:
    """Table -> column -> description, for Parquet field metadata and DuckDB comments."""
    return {
        table: {name: spec.get("description", "") for name, spec in entry["properties"].items()}
        for table, entry in contract["$defs"].items()
    }
