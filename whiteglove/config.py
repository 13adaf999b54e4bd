"""The sources file (docs/ARCHITECTURE.md): parsed and checked once, then passed around typed.

A bad file is refused before any work starts, with every problem named at once, so a user
fixing a sources file does not have to re-run once per typo.
"""

from __future__ import annotations

import glob
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from whiteglove.inputs import export_problem, read_document
from whiteglove.schema import (
    EARLIEST_BIRTH_DATE,
    EMAIL_PATTERN,
    ES_POSTCODE_PATTERN,
    IDENTITY_FIELDS,
    NAME_PATTERN,
    RESERVED_MATCH_NAMES,
    RESERVED_MATCH_PREFIXES,
    VALIDATION_SUFFIX,
)

SOURCE_NAME = re.compile(NAME_PATTERN)
ATTRIBUTE_NAME = SOURCE_NAME


class SourcesConfigError(ValueError):
    """The sources file cannot be used; `problems` lists every reason."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"sources file {path} has {len(problems)} problem(s):\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """A source column mapped to a canonical field or attribute."""

    column: str = Field(min_length=1)
    format: str | None = None  # strptime format for dates and timestamps
    order: Literal["first_last", "last_first"] | None = None  # only for full_name


# The types an attribute may declare (`{column: FechaAlta, type: date, format: "%d/%m/%Y"}`),
# as the golden table and its contract publish them. whiteglove/attribute_types.py parses them.
AttributeType = Literal["string", "integer", "decimal", "boolean", "date", "timestamp", "category"]


class AttributeSpec(FieldSpec):
    """A source column carried into the golden table, with the type its values are read as.

    Without `type`, the column keeps the type the export gives it (Parquet's types, JSON's
    booleans and numbers; text for CSV), or a timestamp when `format` is given. A value that
    does not parse as the type is nulled and counted as invalid, like an invalid field value.
    """

    type: AttributeType | None = None
    # category only, and required there: the allowed values (others are nulled as invalid)
    values: list[str] | None = Field(default=None, min_length=1)

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, v: Any) -> Any:
        return [_where_text(x) for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> AttributeSpec:
        if self.order is not None:
            raise ValueError("'order' is only allowed on full_name")
        if self.type == "category" and not self.values:
            raise ValueError("a category needs its allowed 'values'")
        if self.values is not None and self.type != "category":
            raise ValueError(f"'values' applies to type category, not {self.type or 'none'}")
        if self.format is not None and self.type not in (None, "date", "timestamp"):
            raise ValueError(f"'format' applies to dates and timestamps, not to {self.type}")
        return self

    @property
    def declared_type(self) -> str | None:
        """The declared type; a format alone declares a timestamp (as it always has)."""
        return self.type or ("timestamp" if self.format else None)


def _short_for(key: str, value: Any) -> Any:
    """`name: text` in the sources file is short for `name: {key: text}`."""
    return {key: value} if isinstance(value, str) else value


def _each_short_for(key: str, value: Any) -> Any:
    """Every entry of a mapping, written short or long, in its long form."""
    if isinstance(value, dict):
        return {k: _short_for(key, v) for k, v in value.items()}
    return value


class CsvOptions(_Strict):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf8", "utf-8-sig", "latin-1", "latin1", "iso-8859-1", "cp1252"] = (
        "utf-8"
    )
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    header: bool = True


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return pattern


class ValidityConfig(_Strict):
    """The rules that null a value as invalid: each is a setting, globally (`validity:`)
    and per source (a source's own `validity:` overrides what it names).

    The defaults suit consumer records of today; data that is not (historical records,
    other countries' formats) sets its own. A nulled value is counted, and a rule that
    nulls more than a fifth of a field's values is named in the run summary.
    """

    # A standardized email (trimmed, lower-cased) must match this, else it is nulled.
    email_pattern: str = EMAIL_PATTERN
    # Birth dates outside [earliest, latest] are nulled; "today" is the day of the run.
    birth_date_earliest: date = date.fromisoformat(EARLIEST_BIRTH_DATE)
    birth_date_latest: date | Literal["today"] = "today"
    # Phones, read with the record's country (else defaults.country): valid numbers of
    # that country's plan ("valid", with the phonenumbers library), numbers of a possible
    # length ("possible"), or any seven to fifteen digits ("digits").
    phone: Literal["valid", "possible", "digits"] = "valid"
    # Postcodes of these countries must match their pattern (after spaces and dashes are
    # removed; Spanish ones padded to five digits); other countries' are kept as written.
    postcode_patterns: dict[str, str] = Field(default_factory=lambda: {"ES": ES_POSTCODE_PATTERN})
    # Spanish national ids (DNI/NIE) must carry the right check letter.
    national_id_checksum: bool = True

    @field_validator("email_pattern")
    @classmethod
    def _email_pattern(cls, v: str) -> str:
        return _compiles(v)

    @field_validator("postcode_patterns")
    @classmethod
    def _postcode_patterns(cls, v: dict[str, str]) -> dict[str, str]:
        for country, pattern in v.items():
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise ValueError(f"{country!r} is not a country code (two capital letters)")
            _compiles(pattern)
        return v

    def latest_birth_date(self, today: date) -> date:
        return today if self.birth_date_latest == "today" else self.birth_date_latest

    # The setting to change when a rule nulls too much of a field.
    SETTING_OF_FIELD: ClassVar[dict[str, str]] = {
        "email": "validity.email_pattern",
        "phone": "validity.phone",
        # a date written another way than the mapping's `format` is nulled as well
        "date_of_birth": "the field's format (dates written another way) or "
        "validity.birth_date_earliest / birth_date_latest",
        "postcode": "validity.postcode_patterns",
        "national_id": "validity.national_id_checksum",
    }


class SourceConfig(_Strict):
    name: str
    path: str
    format: Literal["csv", "jsonl", "parquet"]
    csv: CsvOptions | None = None
    id: str = Field(min_length=1)
    trust: int = Field(ge=1)
    updated_at: FieldSpec | None = None
    fields: dict[str, FieldSpec]
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    # Survivorship (trusted_recent): how many days older than a customer's newest value this
    # source's values may be before they lose (default: golden.max_age_days); and, for
    # trusted_recent and recent_agreement, the field or attribute that dates a record when the
    # source has no updated_at.
    max_age_days: int | None = Field(default=None, ge=0)
    dated_by: str | None = Field(default=None, min_length=1)
    # This source's own validity rules, over the file's `validity:` (only what it names).
    validity: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not SOURCE_NAME.fullmatch(v):
            raise ValueError(f"name {v!r} must match [a-z][a-z0-9_]*")
        if v.endswith(VALIDATION_SUFFIX):
            # the graph names a validated asset's results <asset>_validation
            raise ValueError(f"name {v!r} must not end in {VALIDATION_SUFFIX}")
        return v

    @field_validator("updated_at", mode="before")
    @classmethod
    def _updated_spec(cls, v: Any) -> Any:
        return _short_for("column", v)

    @field_validator("fields", "attributes", mode="before")
    @classmethod
    def _specs(cls, v: Any) -> Any:
        return _each_short_for("column", v)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        unknown = sorted(set(v) - set(IDENTITY_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {unknown}; known: {', '.join(IDENTITY_FIELDS)}"
            )
        if not v:
            raise ValueError("maps no identity field: nothing to match on")
        for name, spec in v.items():
            if spec.order and name != "full_name":
                raise ValueError(f"'order' is only allowed on full_name, not on {name}")
        return v

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, v: dict[str, AttributeSpec]) -> dict[str, AttributeSpec]:
        for name in v:
            if not ATTRIBUTE_NAME.fullmatch(name) or name in IDENTITY_FIELDS:
                raise ValueError(
                    f"attribute {name!r} must match [a-z][a-z0-9_]* and not be an identity field"
                )
        return v

    @model_validator(mode="after")
    def _csv_only_for_csv(self) -> SourceConfig:
        if self.csv is not None and self.format != "csv":
            raise ValueError("'csv' options are only allowed when format is csv")
        return self

    @property
    def csv_options(self) -> CsvOptions:
        return self.csv or CsvOptions()

    def filled_fields(self) -> set[str]:
        """Canonical fields this source can fill: its mapped ones, the name parts, country."""
        filled = set(self.fields) | {"country"}
        if filled & {"first_name", "last_name", "full_name"}:
            filled.add("full_name")
        if "full_name" in self.fields:
            filled |= {"first_name", "last_name"}
        return filled

    def mapped_columns(self) -> dict[str, str]:
        """Every column this source reads, keyed by what it is used for."""
        cols = {"id": self.id}
        if self.updated_at:
            cols["updated_at"] = self.updated_at.column
        cols.update({f"field {k}": s.column for k, s in self.fields.items()})
        cols.update({f"attribute {k}": s.column for k, s in self.attributes.items()})
        return cols


class LabelsConfig(_Strict):
    """Known truth, for accuracy figures: a file, or a profile attribute, naming each entity."""

    # CSV or Parquet with columns source, source_record_id and `entity`; without a file,
    # `entity` names an attribute of the sources that holds the true entity id.
    file: str | None = None
    entity: str = Field(default="entity_id", min_length=1)


class SparkConfig(_Strict):
    """Where the Spark backend runs the Splink model (linkage.backend: spark)."""

    # local[*] runs Spark inside the run's process; a cluster URL (k8s://https://host:443,
    # spark://host:7077) sends the work to executors there, with this process as the driver.
    master: str = "local[*]"
    # Spark properties for the session, e.g. spark.executor.instances, spark.executor.memory,
    # spark.kubernetes.container.image, with values as YAML writes them (4, true, 2g). Given,
    # it replaces these defaults, which suit a laptop and small data, not a cluster.
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=lambda: {
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "8",
        }
    )
    # Where Splink writes intermediate tables as Parquet to cut Spark's lineage. Must be
    # storage every executor reaches (hdfs://, s3a://) on a cluster; by default a temporary
    # local folder, removed when the process ends.
    checkpoint_dir: str | None = None


class MatchField(_Strict):
    """An attribute the model compares beside the canonical fields (linkage.match_fields).

    kind: exact (a code: gender, segment), identifier (a customer number or tax id, which may
    carry a typo), name (a name-like text), date (ISO text, or the attribute's `format:`),
    number (equal, or within `tolerance`), text (free text such as an occupation).
    term_frequency: weigh agreement on a rare value more than on a common one (Splink's
    term-frequency adjustment).
    """

    kind: Literal["exact", "identifier", "name", "date", "number", "text"]
    term_frequency: bool = False
    # number only, and required there: the largest difference that still counts as close
    tolerance: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _tolerance_for_numbers(self) -> MatchField:
        if self.tolerance is not None and self.kind != "number":
            raise ValueError(f"tolerance applies to kind number, not {self.kind}")
        if self.tolerance is None and self.kind == "number":
            raise ValueError("a number needs a tolerance: the largest difference still close")
        return self


class LinkageConfig(_Strict):
    # duckdb links in this process; spark runs training and prediction on a Spark session
    # (pip install 'whiteglove[spark]'); clustering and everything else run the same either way.
    backend: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkConfig = Field(default_factory=SparkConfig)
    # Pairs at or above match_threshold are linked; pairs between review_threshold and it go
    # to a steward. Probabilities, not weights, because stewards reason in probabilities.
    # "auto": the threshold (0.3 to 0.9) of best F1 as the trained model estimates it on this
    # run's pairs (whiteglove/linkage/choices.py); run_summary.json says which and why.
    match_threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["auto"] = "auto"
    review_threshold: float = Field(default=0.2, gt=0, lt=1)
    # Scored pairs below this probability are not kept in match_pairs: they are the bulk of
    # the candidates and carry no decision.
    keep_pairs_above: float = Field(default=0.01, ge=0, lt=1)
    # Blocking rules, each a list of match columns that must agree; defaults follow the fields.
    blocking: list[list[str]] | None = None
    max_comparisons: int = Field(default=50_000_000, ge=1)
    u_sample_pairs: float = Field(default=2e6, ge=1e4)
    # Memory DuckDB may use for linking before it spills to a temporary folder (DuckDB's
    # syntax: "2GB", "500MB", "50%"), and its threads. "auto" follows the machine
    # (whiteglove/machine.py): a thread per core, 1 GiB per thread, at least 2 GiB and at
    # most 60% of memory; a thread count of its own choosing never outgrows the memory.
    duckdb_memory_limit: str = Field(
        default="auto", pattern=r"^\s*(auto|\d+(\.\d+)?\s*(%|[KMGT]i?B))\s*$"
    )
    duckdb_threads: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = "auto"
    seed: int = 42
    # A saved Splink model (JSON, as each run writes to model.json): loaded instead of trained,
    # so nightly runs are repeatable and fast.
    model: str | None = None
    labels: LabelsConfig | None = None
    # A steward's decisions file (whiteglove/decisions.py: match, no_match, lock, split,
    # merge), relative to the sources file; unset: decisions.csv beside it, when it exists.
    decisions: str | None = None
    # Clusters larger than this are split at their weakest links and reported: no real
    # customer has hundreds of records, chained namesakes do.
    max_cluster_size: int = Field(default=50, ge=2)
    # Sources that hold at most one record per customer (an account system, say): two of
    # their records in one cluster mean two customers, so such a cluster is split.
    one_record_per_customer: list[str] = Field(default_factory=list)
    # Attributes the model compares too, each with its kind (`gender: exact` is short for
    # `gender: {kind: exact}`): they add a comparison, and a blocking rule for identifiers.
    match_fields: dict[str, MatchField] = Field(default_factory=dict)

    @field_validator("match_fields", mode="before")
    @classmethod
    def _kind_shorthand(cls, v: Any) -> Any:
        return _each_short_for("kind", v)

    @field_validator("match_fields")
    @classmethod
    def _match_field_names(cls, v: dict[str, MatchField]) -> dict[str, MatchField]:
        for name in v:
            if name in RESERVED_MATCH_NAMES or name.startswith(RESERVED_MATCH_PREFIXES):
                raise ValueError(
                    f"{name!r} names a column the model derives itself; rename the attribute"
                )
        return v

    @model_validator(mode="after")
    def _ordered(self) -> LinkageConfig:
        if self.match_threshold != "auto" and self.review_threshold > self.match_threshold:
            raise ValueError("review_threshold must not exceed match_threshold")
        return self


class LimitsConfig(_Strict):
    """Bounds on what a run reads from an export: generous, so a real export never meets
    them, and checked before reading, so a broken or hostile one fails fast and clearly."""

    max_file_mb: float = Field(default=20_000, gt=0)  # one export file, in MB
    max_rows: int = Field(default=50_000_000, ge=1)  # rows of one export file
    max_columns: int = Field(default=2_000, ge=1)  # columns of one export file
    # A mapped identity field's text longer than this is nulled as invalid (and counted): no
    # name, email or address is that long, and linkage would spend minutes comparing it.
    max_field_chars: int = Field(default=1_000, ge=1)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)


class PrivacyConfig(_Strict):
    # Reports, logs and Dagster metadata mask emails, phones, birth dates and national ids;
    # true reveals them, for local debugging only.
    reveal_personal_data: bool = False


class PublicationConfig(_Strict):
    """How long published snapshots stay in the output folder (`publication:`).

    Every snapshot holds a full copy of the golden table and its personal data: fewer and
    younger snapshots mean less to erase and less kept beyond its use. The current snapshot
    is always kept, whatever its age.
    """

    keep_snapshots: int = Field(default=5, ge=1)  # the newest N, the current one included
    max_snapshot_age_days: float | None = Field(default=None, gt=0)  # older ones are removed


# Survivorship rules (the `golden:` section). A pick rule keeps one record's value; an
# aggregate computes the value from several records (count, sum), picks by value (max, min)
# or by a clock the user names (latest).
PickRule = Literal[
    "source_priority",
    "most_recent",
    "most_frequent",
    "most_complete",
    "longest",
    "trusted_recent",
    "agreement",
    "recent_agreement",
]
# `default: by_field`: each field's own default (FIELD_DEFAULT_RULES below).
DefaultRule = PickRule | Literal["by_field"]
RuleName = Literal[
    "trusted_recent",
    "agreement",
    "recent_agreement",
    "source_priority",
    "most_recent",
    "most_frequent",
    "most_complete",
    "longest",
    "count",
    "sum",
    "max",
    "min",
    "latest",
]
# `default: by_field`: contact details change, so a value wins by fresh agreement
# (recent_agreement): every source holding it votes once, a vote halving for every
# golden.half_life_days its record lags the customer's newest, so several sources seen lately
# outvote one newer record (a ticket noting an old address), while a value nobody has
# confirmed for years fades; trust only breaks ties, since one stale record of a trusted
# source is no evidence the customer has not moved on. Identity facts do not change, so the
# value most sources agree on wins (agreement); profile attributes keep the most trusted
# source. Measured on generated samples the rules were not chosen on (benchmarks/RESULTS.md
# "Golden-value accuracy", README "Survivorship").
FIELD_DEFAULT_RULES: dict[str, str] = {
    "email": "recent_agreement",
    "phone": "recent_agreement",
    "address_line": "recent_agreement",
    "city": "recent_agreement",
    "postcode": "recent_agreement",
    "region": "recent_agreement",
    "date_of_birth": "agreement",
    "national_id": "agreement",
}
# Golden columns that survivorship does not choose: they describe the cluster itself.
GOLDEN_RESERVED = (
    "golden_id",
    "full_name",
    "record_count",
    "source_count",
    "sources",
    "last_updated_at",
)


def _where_text(value: Any) -> str:
    # YAML reads `consent_email: true` as a bool; the column holds the text "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"where values must be text or numbers, not {value!r}")


class GoldenRule(_Strict):
    """How one golden column is chosen or computed from a customer's records."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    rule: RuleName
    # The record column the rule reads; defaults to the golden column's own name, so it is
    # only needed for new columns (open_tickets: {rule: count, from: ticket_status}).
    from_: str | None = Field(default=None, alias="from", min_length=1)
    # Only records of these sources take part; for source_priority, also the order of trust.
    sources: list[str] | None = Field(default=None, min_length=1)
    # Only records whose column holds one of the values take part (compared as text).
    where: dict[str, list[str]] | None = None
    # For latest: the clock that decides which record is latest (default: updated_at).
    by: str | None = Field(default=None, min_length=1)

    @field_validator("where", mode="before")
    @classmethod
    def _where_values(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {
            k: [_where_text(x) for x in (vals if isinstance(vals, list) else [vals])]
            for k, vals in v.items()
        }

    @model_validator(mode="after")
    def _options_fit_the_rule(self) -> GoldenRule:
        if self.by is not None and self.rule != "latest":
            raise ValueError(f"'by' is only allowed with rule latest, not with {self.rule}")
        if self.where is not None and not all(self.where.values()):
            raise ValueError("every 'where' column needs at least one value")
        return self


class GoldenConfig(_Strict):
    """Survivorship: a rule per golden column; every other field uses `default`."""

    default: DefaultRule = "by_field"
    fields: dict[str, GoldenRule] = Field(default_factory=dict)
    # trusted_recent: how many days older than the customer's newest value for the column a
    # value may be before it loses to fresher ones; a source's own `max_age_days` wins.
    max_age_days: int = Field(default=180, ge=0)
    # recent_agreement: the age, in days behind the customer's newest value for the column, at
    # which a source's vote for a value counts half (a quarter at twice that, and so on).
    half_life_days: float = Field(default=365, gt=0)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `email: most_recent` is short for `email: {rule: most_recent}`.
        return _each_short_for("rule", v)

    @field_validator("fields")
    @classmethod
    def _column_names(cls, v: dict[str, GoldenRule]) -> dict[str, GoldenRule]:
        for name in v:
            if name == "full_name":
                raise ValueError(
                    "full_name is built from first_name and last_name; give those a rule"
                )
            if name in GOLDEN_RESERVED:
                raise ValueError(f"{name!r} is computed for every golden customer, not chosen")
            if not ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(f"golden column {name!r} must match [a-z][a-z0-9_]*")
        return v

    def rule_for(self, name: str) -> GoldenRule:
        if name in self.fields:
            return self.fields[name]
        if self.default == "by_field":
            return GoldenRule(rule=FIELD_DEFAULT_RULES.get(name, "source_priority"))
        return GoldenRule(rule=self.default)

    def problems(self, sources: list[SourceConfig]) -> list[str]:
        """Rules that name a source, field or attribute the sources do not have."""
        filled = {s.name: (s.filled_fields() - {"full_name"}) | set(s.attributes) for s in sources}
        known = set().union(*filled.values()) if filled else set()
        listing = ", ".join(sorted(known))
        found = []
        for source in sources:
            if source.dated_by is not None and source.dated_by not in filled[source.name]:
                found.append(
                    f"source {source.name!r}: dated_by names {source.dated_by!r}, which is not "
                    f"one of its fields or attributes ({', '.join(sorted(filled[source.name]))})"
                )
        for name, rule in self.fields.items():
            place = f"golden.fields.{name}"
            if rule.from_ is None and name not in known and rule.rule != "count":
                found.append(
                    f"{place}: no source has a field or attribute {name!r}; name the column "
                    f"the {rule.rule} rule reads with 'from' (known: {listing})"
                )
            if rule.from_ is not None and rule.from_ not in known:
                found.append(
                    f"{place}.from: unknown field or attribute {rule.from_!r} (known: {listing})"
                )
            if rule.from_ is not None and rule.from_ != name and name in known:
                found.append(
                    f"{place}: {name!r} is already a field or attribute, so it cannot be built "
                    f"from {rule.from_!r}; give the new column another name"
                )
            for column in rule.where or {}:
                if column not in known:
                    found.append(
                        f"{place}.where: unknown field or attribute {column!r} (known: {listing})"
                    )
            if rule.by is not None and rule.by not in known | {"updated_at"}:
                found.append(
                    f"{place}.by: unknown field or attribute {rule.by!r} "
                    f"(known: updated_at, {listing})"
                )
            unknown_sources = sorted(set(rule.sources or []) - set(filled))
            if unknown_sources:
                found.append(
                    f"{place}.sources: unknown source(s) {unknown_sources}; "
                    f"known: {', '.join(filled)}"
                )
            read = rule.from_ or (name if name in known else None)
            if read and rule.sources and not unknown_sources:
                if not any(read in filled[s] for s in rule.sources):
                    found.append(
                        f"{place}.sources: none of {rule.sources} has {read!r}, "
                        "so the column would always be empty"
                    )
        return found


class Defaults(_Strict):
    country: str = Field(default="ES", pattern=r"^[A-Z]{2}$")


class ContractConfig(_Strict):
    """The published contract's version (whiteglove/contract.py). A run that would change a
    published column's type or drop a column is refused unless `major_version` is raised
    above the previous contract's; added columns raise the minor version by themselves."""

    major_version: int = Field(default=1, ge=1)


class SourcesConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    sources: list[SourceConfig] = Field(min_length=1)
    linkage: LinkageConfig = Field(default_factory=LinkageConfig)
    # Folder of Great Expectations suites (<source>.json, golden_customers.json); sources
    # without a suite file get a default suite derived from their mapping.
    expectations: str | None = None
    # Folder the file-arrival sensor watches for new or changed exports.
    inbox: str | None = None
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    publication: PublicationConfig = Field(default_factory=PublicationConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    validity: ValidityConfig = Field(default_factory=ValidityConfig)
    golden: GoldenConfig = Field(default_factory=GoldenConfig)
    contract: ContractConfig = Field(default_factory=ContractConfig)
    base_dir: Path = Path(".")  # filled in by load_sources, not read from YAML

    @model_validator(mode="after")
    def _known_one_record_sources(self) -> SourcesConfig:
        names = {s.name for s in self.sources}
        unknown = sorted(set(self.linkage.one_record_per_customer) - names)
        if unknown:
            raise ValueError(
                f"linkage.one_record_per_customer names unknown source(s) {unknown}; "
                f"sources: {sorted(names)}"
            )
        return self

    @model_validator(mode="after")
    def _match_fields_are_attributes(self) -> SourcesConfig:
        attributes = {a for s in self.sources for a in s.attributes}
        unknown = sorted(set(self.linkage.match_fields) - attributes)
        if unknown:
            raise ValueError(
                f"linkage.match_fields names {unknown}, which no source maps as an attribute; "
                f"attributes: {sorted(attributes) or 'none'}"
            )
        return self

    @model_validator(mode="after")
    def _attribute_types_agree(self) -> SourcesConfig:
        # One golden column has one type: two sources may not read one attribute as two.
        declared: dict[str, dict[tuple, list[str]]] = {}
        for source in self.sources:
            for name, spec in source.attributes.items():
                if spec.declared_type is not None:
                    kind = (spec.declared_type, tuple(spec.values or ()))
                    declared.setdefault(name, {}).setdefault(kind, []).append(source.name)
        problems = [
            f"attribute {name!r} is declared as "
            + " but as ".join(
                f"{t}{list(v) if v else ''} in {', '.join(s)}" for (t, v), s in kinds.items()
            )
            + "; declare one type"
            for name, kinds in declared.items()
            if len(kinds) > 1
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def attribute_types(self) -> dict[str, AttributeSpec]:
        """Each attribute's declaring spec (the first source that declares a type)."""
        found: dict[str, AttributeSpec] = {}
        for source in self.sources:
            for name, spec in source.attributes.items():
                if spec.declared_type is not None:
                    found.setdefault(name, spec)
        return found

    @model_validator(mode="after")
    def _valid_validity_of_each_source(self) -> SourcesConfig:
        problems = []
        for source in self.sources:
            try:
                self.validity_for(source)
            except ValidationError as exc:
                problems += [
                    f"sources ({source.name}).validity.{'.'.join(map(str, e['loc']))}: "
                    + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"])
                    for e in exc.errors()
                ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def validity_for(self, source: SourceConfig) -> ValidityConfig:
        """The validity rules of `source`: the file's, with what the source overrides."""
        if not source.validity:
            return self.validity
        return ValidityConfig.model_validate({**self.validity.model_dump(), **source.validity})

    def resolve(self, relative: str) -> Path:
        """A path from the sources file, relative to the file."""
        return (self.base_dir / relative).resolve()

    @property
    def expectations_dir(self) -> Path | None:
        return self.base_dir / self.expectations if self.expectations else None

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def files(self, source: SourceConfig) -> list[Path]:
        """The export files of a source, sorted so runs are repeatable."""
        pattern = str(self.base_dir / source.path)
        return (
            sorted(Path(p) for p in glob.glob(pattern))
            if glob.has_magic(pattern)
            else ([Path(pattern)] if Path(pattern).exists() else [])
        )


def load_sources(path: str | Path, check_files: bool = True) -> SourcesConfig:
    """Parse and check a sources file; raise SourcesConfigError naming every problem."""
    path = Path(path)
    raw = read_document(path, yaml.safe_load, "YAML", SourcesConfigError)
    if not isinstance(raw, dict):
        raise SourcesConfigError(path, ["top level must be a mapping with a 'sources' list"])
    if "base_dir" in raw:
        raise SourcesConfigError(path, ["unknown key 'base_dir'"])
    # Checked on the raw mapping so it is reported even when other keys are invalid too.
    names = [s.get("name") for s in raw.get("sources") or [] if isinstance(s, dict)]
    repeated = sorted({str(n) for n in names if n is not None and names.count(n) > 1})
    problems = [f"sources: names must be unique; repeated: {repeated}"] if repeated else []
    try:
        config = SourcesConfig.model_validate({**raw, "base_dir": path.parent.resolve()})
    except ValidationError as exc:
        problems += [_describe(err, raw) for err in exc.errors()]
        problems += _golden_problems_of_readable_parts(raw)
        if check_files:
            problems += _file_problems_of_readable_sources(raw, path.parent.resolve())
        raise SourcesConfigError(path, problems) from None
    if problems:
        raise SourcesConfigError(path, problems)
    problems = config.golden.problems(config.sources)
    if check_files:
        problems += [p for s in config.sources for p in _file_problems(config, s)]
        folder = config.expectations_dir
        if folder is not None and not folder.is_dir():
            problems.append(f"expectations: folder not found: {folder}")
        if problems:
            raise SourcesConfigError(path, problems)
    return config


def _describe(err: Any, raw: dict) -> str:
    loc = list(err["loc"])
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and i == 1 and loc[0] == "sources":
            name = _source_name(raw, part)
            parts[-1] = f"sources[{part}]" + (f" ({name})" if name else "")
        elif isinstance(part, str):
            parts.append(part)
    place = ".".join(parts) or "top level"
    if err["type"] == "extra_forbidden":
        return f"{place}: unknown key"
    if err["type"] == "missing":
        return f"{place}: required key missing"
    return f"{place}: {err['msg']}"


def _source_name(raw: dict, index: int) -> str | None:
    try:
        return str(raw["sources"][index]["name"])
    except (KeyError, IndexError, TypeError):
        return None


def _file_problems_of_readable_sources(raw: dict, base_dir: Path) -> list[str]:
    """File problems of the sources that parse once unknown keys are set aside.

    So a file with a typo in one key still gets its missing columns reported in the same run.
    """
    problems = []
    for item in raw.get("sources") or []:
        if not isinstance(item, dict):
            continue
        known = {k: v for k, v in item.items() if k in SourceConfig.model_fields}
        try:
            source = SourceConfig.model_validate(known)
        except ValidationError:
            continue
        holder = SourcesConfig.model_construct(sources=[source], base_dir=base_dir)
        problems += _file_problems(holder, source)
    return problems


def _golden_problems_of_readable_parts(raw: dict) -> list[str]:
    """Survivorship rules checked against the sources even when another key is invalid."""
    try:
        golden = GoldenConfig.model_validate(raw.get("golden") or {})
        sources = [
            SourceConfig.model_validate(
                {k: v for k, v in item.items() if k in SourceConfig.model_fields}
            )
            for item in raw.get("sources") or []
        ]
    except (ValidationError, AttributeError, TypeError):
        # the rules or a source are themselves invalid: already reported, nothing to add
        return []
    return golden.problems(sources)


def _file_problems(config: SourcesConfig, source: SourceConfig) -> list[str]:
    files = config.files(source)
    if not files:
        return [f"source '{source.name}': export not found: {config.base_dir / source.path}"]
    problems = []
    limits = config.limits
    for file in files:
        problem = export_problem(file, limits.max_file_bytes)
        if problem:
            problems.append(f"source '{source.name}': {file}: {problem}")
            continue
        try:
            columns = read_columns(source, file)
        except Exception as exc:  # noqa: BLE001 - any read failure is reported, not raised
            problems.append(f"source '{source.name}': cannot read {file}: {exc}")
            continue
        if not columns and source.format != "jsonl":
            problems.append(f"source '{source.name}': {file} is empty (not even a header)")
            continue
        if len(columns) > limits.max_columns:
            problems.append(
                f"source '{source.name}': {file.name} has {len(columns):,} columns, more than "
                f"limits.max_columns ({limits.max_columns:,})"
            )
            continue
        repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
        if repeated:
            # Which of two 'Email' columns is the email? Reading either would be a guess.
            problems.append(
                f"source '{source.name}': {file.name} repeats column name(s) "
                f"{', '.join(map(repr, repeated))}; rename them so each column is read once"
            )
        for use, column in source.mapped_columns().items():
            if column not in columns:
                problems.append(
                    f"source '{source.name}': {use} maps column {column!r}, which {file.name} "
                    f"lacks (it has: {', '.join(columns) if columns else 'no columns'})"
                )
        if source.format == "parquet":
            problems += _parquet_type_problems(source, file)
            rows = _parquet_rows(file)
            if rows > limits.max_rows:
                problems.append(
                    f"source '{source.name}': {file.name} holds {rows:,} rows, more than "
                    f"limits.max_rows ({limits.max_rows:,})"
                )
    return problems


def _parquet_rows(file: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(file).metadata.num_rows


def _parquet_type_problems(source: SourceConfig, file: Path) -> list[str]:
    """Mapped Parquet columns whose values are not single scalars (lists, structs, maps)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(file)
    problems = []
    for use, column in source.mapped_columns().items():
        if column not in schema.names or schema.names.count(column) > 1:
            continue
        dtype = schema.field(column).type
        if pa.types.is_nested(dtype) or pa.types.is_duration(dtype):
            problems.append(
                f"source '{source.name}': {use} maps column {column!r}, which {file.name} "
                f"stores as {dtype}, not as one text, number or date value"
            )
    return problems


# How much read_columns reads to find a header or JSON keys: enough for a header with
# quoted line breaks, and a bound on the work a broken file can cause.
_SCAN_LINES = 1000
_SCAN_BYTES = 64 * 2**20


def _first_lines(file: Path) -> Iterator[bytes]:
    """The file's first lines, at most _SCAN_LINES of them and _SCAN_BYTES in all: a file
    with no line break (or a device that never ends) is not read whole to find one."""
    budget = _SCAN_BYTES
    with open(file, "rb") as fh:
        for _ in range(_SCAN_LINES):
            line = fh.readline(budget + 1)
            if not line:
                return
            budget -= len(line)
            if budget < 0:
                raise ValueError(f"no line ends in the first {_SCAN_BYTES // 2**20} MB")
            yield line


def read_columns(source: SourceConfig, file: Path) -> list[str]:
    """The column names an export offers, read without loading the data.

    Raises ValueError with a message for a person when the start of the file is not text
    (binary data, another encoding).
    """
    if source.format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(file).names
    if source.format == "csv":
        return _csv_header(source.csv_options, file)
    keys: dict[str, None] = {}
    for raw_line in _first_lines(file):
        try:
            obj = json.loads(raw_line.decode("utf-8").lstrip("\ufeff"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue  # a damaged line is quarantined by the extractor, not refused here
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(obj))
    return list(keys)


def _csv_header(opts: CsvOptions, file: Path) -> list[str]:
    import csv
    import sys

    # Long header cells are allowed, as in the extractor.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    lines = []
    header: list[str] = []
    for number, raw_line in enumerate(_first_lines(file), start=1):
        if b"\x00" in raw_line:
            raise ValueError(f"line {number} holds binary data (NUL bytes): not a CSV text file")
        try:
            lines.append(raw_line.decode(opts.encoding))
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"line {number} is not valid {opts.encoding} text ({exc.reason} at "
                f"byte {exc.start}): binary data, or set csv.encoding"
            ) from None
        if number == 1:
            lines[0] = lines[0].lstrip("\ufeff")
        if not "".join(lines).strip():
            lines.clear()  # blank lines before the header
            continue
        reader = csv.reader(lines, delimiter=opts.delimiter, quotechar=opts.quote_char, strict=True)
        try:
            header = next(reader, [])
            break
        except csv.Error:
            continue  # a quoted header cell with a line break: read one more line
    if lines and not header:
        raise ValueError("the header cannot be read: a quoted cell is never closed")
    if not opts.header:
        return [f"column_{i + 1}" for i in range(len(header))]
    # Unnamed cells (a trailing delimiter) get the name the extractor gives them.
    return [h if h.strip() else f"column_{i + 1}" for i, h in enumerate(header)]
