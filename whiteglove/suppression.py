"""The suppression list: people erased on request, kept out of every later run.

An erasure (`whiteglove forget`, whiteglove/forget.py) removes a person from what a folder
holds, but the exports the next run reads still carry them. So the erasure leaves behind
salted hashes of what identifies the person's rows: their source record ids
(`record`: "<source>:<id>") and their standardized email, phone and national id. Each run
compares the rows it reads with the list before anything else sees them (`suppress_raw`, called
by the raw_<source> assets); a row that matches keeps its place (file and row number) but loses
every value, and is quarantined with the reason "erased on request". So the counts still add
up (every input row in the crosswalk or the quarantine) and no value of the person reaches a
table, a report or the Dagster event log.

Values are compared as the batch standardizes them (the same `standardize_source`), so
"612 000 001" and "+34612000001" are one phone, "ANA@X.ES" and "ana@x.es" one email.

The list holds HMAC-SHA256 digests under a random salt of the folder, never the values. The
salt sits beside the digests, so this protects against reading the list, not against someone
who holds it and guesses candidates one by one (a phone number has few enough digits to try
them all): the list is as confidential as the folder itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from whiteglove.atomic import write_text_atomically
from whiteglove.config import FieldSpec, LimitsConfig, SourceConfig, ValidityConfig
from whiteglove.layout import OutputLayout
from whiteglove.schema import RAW_LINEAGE_COLUMNS

SUPPRESSION_REASON = "erased on request"
# What a suppression entry may identify. Source record ids identify a row of one system; the
# standardized values catch the person's rows that a source adds later under a new id.
KINDS = ("record", "email", "phone", "national_id")
VALUE_KINDS = ("email", "phone", "national_id")
# The list is read from the output folder, which is untrusted like any input: bounded.
MAX_LIST_BYTES = 64 * 1024 * 1024
VERSION = 1


class SuppressionListError(RuntimeError):
    """The suppression list cannot be read: a run must not go on without it."""


@dataclass
class SuppressionList:
    """Salted digests of erased identifiers, by kind; each names the erasure that added it."""

    salt: bytes
    entries: list[dict] = field(default_factory=list)

    @classmethod
    def new(cls) -> SuppressionList:
        return cls(salt=secrets.token_bytes(32))

    @classmethod
    def load(cls, layout: OutputLayout) -> SuppressionList:
        """The folder's list; an empty one when there is none yet.

        A list that exists but cannot be read stops the run: going on without it would bring
        erased people back.
        """
        path = layout.suppression
        if not path.exists() and not path.is_symlink():
            return cls.new()
        if path.is_symlink() or not path.is_file():
            raise SuppressionListError(f"{path} is not a regular file")
        if path.stat().st_size > MAX_LIST_BYTES:
            raise SuppressionListError(f"{path} is larger than {MAX_LIST_BYTES} bytes")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            salt = bytes.fromhex(data["salt"])
            entries = [
                {"kind": str(e["kind"]), "hash": str(e["hash"]), "erasure": str(e["erasure"])}
                for e in data["entries"]
            ]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise SuppressionListError(f"{path} cannot be read: {exc}") from None
        unknown = sorted({e["kind"] for e in entries} - set(KINDS))
        if len(salt) < 16 or unknown:
            raise SuppressionListError(f"{path} is not a whiteglove suppression list")
        return cls(salt=salt, entries=entries)

    def save(self, layout: OutputLayout) -> None:
        document = {"version": VERSION, "salt": self.salt.hex(), "entries": self.entries}
        write_text_atomically(layout.suppression, json.dumps(document, indent=1) + "\n")

    def __bool__(self) -> bool:
        return bool(self.entries)

    def fingerprint(self) -> str:
        """Changes whenever the list names someone else (what rows it empties could change)."""
        listed = sorted((e["kind"], e["hash"]) for e in self.entries)
        return hashlib.sha256(json.dumps(listed).encode()).hexdigest()

    def digest(self, kind: str, value: str) -> str:
        message = f"{kind}\0{value}".encode()
        return hmac.new(self.salt, message, hashlib.sha256).hexdigest()

    def add(self, kind: str, values: Iterable[str], erasure: str) -> int:
        """Add the digests of `values` (standardized) not listed yet; how many were new."""
        known = {(e["kind"], e["hash"]) for e in self.entries}
        added = 0
        for value in sorted(set(values)):
            entry = {"kind": kind, "hash": self.digest(kind, value), "erasure": erasure}
            if (kind, entry["hash"]) not in known:
                self.entries.append(entry)
                known.add((kind, entry["hash"]))
                added += 1
        return added

    def hashes(self, kind: str) -> set[str]:
        return {e["hash"] for e in self.entries if e["kind"] == kind}

    def listed(self, kind: str, value: str) -> bool:
        return self.digest(kind, value) in self.hashes(kind)

    def matches(self, identified: pl.DataFrame) -> pl.Series:
        """Which rows of `identified` (columns `record` and the VALUE_KINDS present,
        standardized) the list names, as a boolean Series."""
        hit = pl.Series("suppressed", [False] * identified.height, dtype=pl.Boolean)
        for kind in KINDS:
            hashes = self.hashes(kind)
            if not hashes or kind not in identified.columns:
                continue
            values = identified.get_column(kind).cast(pl.String)
            # one digest per distinct value: exports repeat emails and phones
            digests = {v: self.digest(kind, v) in hashes for v in values.unique().drop_nulls()}
            hit = hit | values.replace_strict(digests, default=False, return_dtype=pl.Boolean)
        return hit


def identifying_values(
    raw: pl.DataFrame,
    source: SourceConfig,
    country: str,
    validity: ValidityConfig,
    limits: LimitsConfig,
) -> pl.DataFrame:
    """One row per raw row: its `record` ("<source>:<id>") and its standardized email, phone
    and national id, computed by the batch's own standardizer."""
    from whiteglove.standardize import standardize_source

    narrow = source.model_copy(
        update={
            "fields": {k: v for k, v in source.fields.items() if k in VALUE_KINDS},
            "attributes": {},
            "updated_at": None,
        }
    )
    standardized = standardize_source(raw, narrow, country, limits=limits, validity=validity)
    return standardized.select(
        (pl.lit(f"{source.name}:") + pl.col("source_record_id")).alias("record"),
        *[pl.col(k) for k in VALUE_KINDS],
    )


def suppress_raw(
    raw: pl.DataFrame,
    source: SourceConfig,
    suppression: SuppressionList,
    *,
    country: str,
    validity: ValidityConfig,
    limits: LimitsConfig,
) -> tuple[pl.DataFrame, int]:
    """`raw` with every row the list names emptied, and how many there were.

    An emptied row keeps its lineage (source, file, row number, load time), so it is still
    counted; its values and raw text are gone, and its `_parse_error` carries the reason
    "erased on request", which standardizing turns into the row's only quarantine reason.
    """
    if not suppression or raw.height == 0:
        return raw, 0
    hit = suppression.matches(identifying_values(raw, source, country, validity, limits))
    count = int(hit.sum())
    if count == 0:
        return raw, 0
    return blank_raw_rows(raw, hit), count


def blank_raw_rows(raw: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """`raw` with the rows flagged in `rows` emptied as `suppress_raw` empties them."""
    hit = pl.lit(rows)
    data = [c for c in raw.columns if c not in RAW_LINEAGE_COLUMNS]
    return raw.with_columns(
        *[pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in data],
        # empty, not null: standardizing keeps `_raw` when given and would otherwise rebuild
        # it from the (emptied) columns
        pl.when(hit).then(pl.lit("")).otherwise(pl.col("_raw")).alias("_raw"),
        pl.when(hit)
        .then(pl.lit(SUPPRESSION_REASON))
        .otherwise(pl.col("_parse_error"))
        .alias("_parse_error"),
    )


def standardized_value(kind: str, value: str, country: str, validity: ValidityConfig) -> str | None:
    """An email, phone or national id as the batch standardizes it (None: not valid)."""
    raw = pl.DataFrame(
        {
            "_source": ["forget"],
            "_file": ["forget"],
            "_row_number": [1],
            "_loaded_at": [None],
            "_raw": [""],
            "_parse_error": [None],
            "id": ["1"],
            kind: [value],
        },
        schema_overrides={"_parse_error": pl.String, "_loaded_at": pl.Datetime("us", "UTC")},
    )
    source = SourceConfig(
        name="forget",
        path="-",
        format="csv",
        id="id",
        trust=1,
        fields={kind: FieldSpec(column=kind)},
    )
    values = identifying_values(raw, source, country, validity, LimitsConfig())
    return values.get_column(kind)[0]
