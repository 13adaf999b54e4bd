"""Expectation suites: Great Expectations 1.x suite JSON, modelled and checked before use.

A user adds a check by editing JSON, never Python. whiteglove reads two keys of each
expectation's `meta`:

* `stage`: which frame the expectation runs on, `raw` (the export as read), `standardized`
  (accepted canonical records) or `golden` (the golden table). Defaults to the suite's
  `meta.default_stage`, else `standardized`.
* `severity`: `ERROR` (the data must not be published) or `WARN` (report and go on).
  Defaults to `WARN`.

Optional meta keys: `check_name` (`^[A-Za-z0-9_]+$`, unique per suite and stage; otherwise
`derived_check_name` gives one: the column first, then what is checked, as in
`account_id_not_null`, `email_matches_pattern` or `row_count_in_range`), `description` (a
sentence for people; the `mostly` threshold is appended to it) and `show_values` (keep the
offending values in results and Data Docs; off by default because most checked columns are
personal data). A `min_value`/`max_value` of `"today"` is resolved when a suite runs, so a
date check never goes stale.

A suite file is untrusted input: every problem is named with its place, and its name must be
a plain name, since Data Docs build file paths from it. Nothing here imports GX.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from whiteglove.inputs import read_document

Severity = Literal["ERROR", "WARN"]
STAGES = ("raw", "standardized", "golden")
SEVERITIES = ("ERROR", "WARN")
CHECK_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# Data Docs write a folder per suite name: no separators, no leading dot.
SUITE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
TODAY = "today"  # resolved when a suite runs to the current date (or end of day for timestamps)


class SuiteError(ValueError):
    """An expectation suite cannot be used; the message names the file and every problem."""

    def __init__(self, where: str | Path, problems: list[str]):
        self.where = str(where)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"expectation suite {where} has {len(problems)} problem(s):\n{lines}")


def _one_of(value: Any, allowed: tuple[str, ...], what: str) -> Any:
    if value not in allowed:
        raise ValueError(f"{what} must be {_choices(allowed)}, not {value!r}")
    return value


def _choices(allowed: tuple[str, ...]) -> str:
    return " or ".join(allowed) if len(allowed) == 2 else f"one of {', '.join(allowed)}"


class ExpectationMeta(BaseModel):
    """whiteglove's keys in an expectation's meta; any other key is kept for GX and people."""

    model_config = ConfigDict(extra="allow", frozen=True)

    stage: str | None = None
    severity: str = "WARN"
    check_name: str | None = None
    description: str | None = None
    show_values: bool = False

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: Any) -> Any:
        return v if v is None else _one_of(v, STAGES, "meta.stage")

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: Any) -> Any:
        return _one_of(v, SEVERITIES, "meta.severity")

    @field_validator("check_name")
    @classmethod
    def _check_name(cls, v: Any) -> Any:
        if v is not None and not CHECK_NAME.fullmatch(v):
            raise ValueError(f"meta.check_name {v!r} must match [A-Za-z0-9_]+")
        return v


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    meta: ExpectationMeta = Field(default_factory=ExpectationMeta)
    id: str | None = None
    notes: Any = None
    description: str | None = None
    rendered_content: Any = None

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if not re.fullmatch(r"expect_[a-z0-9_]+", v):
            raise ValueError("'type' must be an expectation type such as expect_column_to_exist")
        return v

    @field_validator("kwargs")
    @classmethod
    def _column_named(cls, v: dict[str, Any], info: Any) -> dict[str, Any]:
        kind = info.data.get("type", "")
        needs_column = kind.startswith("expect_column_") and not kind.startswith(
            "expect_column_pair_"
        )
        if needs_column and (not isinstance(v.get("column"), str) or not v["column"]):
            raise ValueError("kwargs.column must name a column")
        return v

    @property
    def severity(self) -> Severity:
        return self.meta.severity  # type: ignore[return-value]

    @property
    def column(self) -> str | None:
        """The column (or columns, comma-separated) the expectation reads, if it names any."""
        kwargs = self.kwargs
        if "column" in kwargs:
            return kwargs["column"]
        if "column_A" in kwargs and "column_B" in kwargs:
            return f"{kwargs['column_A']},{kwargs['column_B']}"
        if "column_list" in kwargs:
            return ",".join(map(str, kwargs["column_list"]))
        return None

    @property
    def columns(self) -> list[str]:
        """Every column the expectation reads."""
        kw = self.kwargs
        found = [kw.get("column"), kw.get("column_A"), kw.get("column_B")]
        return [c for c in [*found, *kw.get("column_list", [])] if c]

    @property
    def check_name(self) -> str:
        """meta.check_name when given, else the name `derived_check_name` gives."""
        return self.meta.check_name or derived_check_name(self.type, self.kwargs)

    @property
    def sentence(self) -> str:
        """A sentence for people; meta.description (or GX's description) wins when given."""
        kind, kw = self.type, self.kwargs
        col = kw.get("column", "")
        text = self.meta.description or self.description or _SENTENCES.get(kind, _none)(col, kw)
        stat = re.match(r"^expect_column_([a-z_]+)_to_be_between$", kind)
        if text is None and stat:
            text = f"{stat.group(1).replace('_', ' ')} of {col} is {_range(kw)}"
        if text is None:
            words = kind.removeprefix("expect_").replace("_", " ")
            text = f"{col}: {words}" if col else words
        # The threshold is always appended from kwargs, so editing `mostly` cannot leave a
        # stale percentage in a hand-written description.
        mostly = kw.get("mostly")
        if isinstance(mostly, int | float) and mostly < 1:
            text += f" (at least {mostly * 100:g}%)"
        return text


def _none(col: str, kw: dict) -> None:
    return None


# What a derived check name says after its column: the Dagster UI cuts a long name in the
# middle, so names are short and start with the column, which is where two checks of one
# asset differ. A type not listed here reads as its own words (`_own_words`).
_CHECK_WORDS = {
    "expect_column_to_exist": "exists",
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_null": "is_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_match_regex": "matches_pattern",
    "expect_column_values_to_not_match_regex": "avoids_pattern",
    "expect_column_values_to_match_regex_list": "matches_patterns",
    "expect_column_values_to_not_match_regex_list": "avoids_patterns",
    "expect_column_values_to_match_like_pattern": "matches_pattern",
    "expect_column_values_to_match_strftime_format": "matches_date_format",
    "expect_column_values_to_be_in_set": "in_set",
    "expect_column_values_to_not_be_in_set": "not_in_set",
    "expect_column_values_to_be_between": "in_range",
    "expect_column_value_lengths_to_be_between": "length_in_range",
    "expect_column_value_lengths_to_equal": "length_fixed",
    "expect_column_values_to_be_of_type": "of_type",
    "expect_column_values_to_be_in_type_list": "of_types",
    "expect_column_distinct_values_to_be_in_set": "distinct_in_set",
    "expect_column_distinct_values_to_contain_set": "distinct_contain_set",
    "expect_column_distinct_values_to_equal_set": "distinct_equal_set",
    "expect_compound_columns_to_be_unique": "unique_together",
    "expect_select_column_values_to_be_unique_within_record": "unique_within_record",
    "expect_multicolumn_sum_to_equal": "sum_fixed",
    "expect_column_pair_values_to_be_equal": "equal",
}
# Expectations on the whole table: their name is the table figure alone.
_TABLE_CHECK_WORDS = {
    "expect_table_row_count_to_be_between": "row_count_in_range",
    "expect_table_row_count_to_equal": "row_count_fixed",
    "expect_table_column_count_to_be_between": "column_count_in_range",
    "expect_table_column_count_to_equal": "column_count_fixed",
    "expect_table_columns_to_match_set": "columns_match_set",
    "expect_table_columns_to_match_ordered_list": "columns_in_order",
}


def derived_check_name(kind: str, kwargs: dict[str, Any]) -> str:
    """The Dagster check name of an expectation without meta.check_name: the column(s) first,
    then what is checked, e.g. `account_id_not_null`, `email_facturacion_matches_pattern`,
    `record_count_at_least_source_count`, `row_count_in_range`.

    Deterministic and `^[A-Za-z0-9_]+$` ("Teléfono" reads "Telefono"). Two expectations of a
    kind on one column share a name; the suite then asks for a meta.check_name.
    """
    if kind in _TABLE_CHECK_WORDS or kind.startswith("expect_table_"):
        words = _TABLE_CHECK_WORDS.get(kind) or _own_words(kind.removeprefix("expect_table_"))
        return _plain(words)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        relation = "at_least" if kwargs.get("or_equal") else "above"
        return _plain(f"{_part(kwargs.get('column_A'))}_{relation}_{_part(kwargs.get('column_B'))}")
    columns = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
    columns += list(kwargs.get("column_list") or [])
    subject = "_".join(_part(c) for c in columns if c)
    words = _CHECK_WORDS.get(kind)
    if words is None:
        stat = re.fullmatch(r"expect_column_([a-z_]+)_to_be_between", kind)
        words = f"{stat.group(1)}_in_range" if stat else _own_words(kind)
    return _plain(f"{subject}_{words}")


def _own_words(kind: str) -> str:
    """An expectation type in few words: expect_column_values_to_be_json_parseable ->
    json_parseable."""
    words = re.sub(
        r"^(expect_)?(column_pair_values_|column_values_|column_|multicolumn_)", "", kind
    )
    return re.sub(r"(^|_)to_(be_)?", r"\1", words)


def _part(column: Any) -> str:
    """A column as part of a name; one with no letter or digit to keep gets a stable digest."""
    text = str(column or "")
    plain = _plain(text)
    return plain or "column_" + hashlib.sha256(text.encode()).hexdigest()[:8]


def _plain(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", ascii_text)).strip("_")


_SENTENCES = {
    "expect_column_to_exist": lambda col, kw: f"column {col} exists",
    "expect_column_values_to_not_be_null": lambda col, kw: f"{col} is filled in",
    "expect_column_values_to_be_null": lambda col, kw: f"{col} is empty",
    "expect_column_values_to_be_unique": lambda col, kw: f"{col} values are unique",
    "expect_column_values_to_match_regex": lambda col, kw: f"{col} matches {kw.get('regex')}",
    "expect_column_values_to_not_match_regex": (
        lambda col, kw: f"{col} does not match {kw.get('regex')}"
    ),
    "expect_column_values_to_be_in_set": (
        lambda col, kw: f"{col} is one of {_listing(kw.get('value_set'))}"
    ),
    "expect_column_values_to_not_be_in_set": (
        lambda col, kw: f"{col} is none of {_listing(kw.get('value_set'))}"
    ),
    "expect_column_values_to_be_between": lambda col, kw: f"{col} is {_range(kw)}",
    "expect_table_row_count_to_be_between": lambda col, kw: f"row count is {_range(kw)}",
    "expect_column_pair_values_a_to_be_greater_than_b": lambda col, kw: (
        f"{kw.get('column_A')} is greater than "
        f"{'or equal to ' if kw.get('or_equal') else ''}{kw.get('column_B')}"
    ),
}


def _listing(values: Any) -> str:
    values = list(values or [])
    shown = ", ".join(map(str, values[:8]))
    return shown + (f" and {len(values) - 8} more" if len(values) > 8 else "")


def _range(kw: dict) -> str:
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


class SuiteMeta(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    default_stage: str = "standardized"

    @field_validator("default_stage")
    @classmethod
    def _stage(cls, v: Any) -> Any:
        return _one_of(v, STAGES, "meta.default_stage")


class Suite(BaseModel):
    """A Great Expectations 1.x suite as whiteglove runs it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    expectations: list[Expectation]
    meta: SuiteMeta = Field(default_factory=SuiteMeta)
    id: str | None = None
    notes: Any = None
    suite_parameters: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SUITE_NAME.fullmatch(v) or ".." in v:
            raise ValueError(
                f"'name' {v!r} must be a plain name: letters, digits, _ . - "
                "(Data Docs make a folder of it)"
            )
        return v

    def stage_of(self, expectation: Expectation) -> str:
        return expectation.meta.stage or self.meta.default_stage

    def for_stage(self, stage: str) -> list[Expectation]:
        """The expectations that run on `stage`, in file order."""
        _one_of(stage, STAGES, "stage")
        return [e for e in self.expectations if self.stage_of(e) == stage]

    def as_json(self) -> dict:
        """The suite as its JSON file would hold it (what a fingerprint is taken of)."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def parse(cls, data: Any, where: str | Path) -> Suite:
        """A suite from parsed JSON; SuiteError naming `where` and every problem."""
        if isinstance(data, Suite):
            return data
        if not isinstance(data, dict):
            raise SuiteError(
                where, ["top level must be a JSON object with 'name' and 'expectations'"]
            )
        try:
            suite = cls.model_validate(data)
        except ValidationError as exc:
            problems = [_describe(err, data) for err in exc.errors()]
            # every problem at once: repeated names among the expectations that are valid
            raise SuiteError(where, problems + _check_name_problems(_readable(data))) from None
        problems = _check_name_problems(list(enumerate(suite.expectations)), suite.meta)
        if problems:
            raise SuiteError(where, problems)
        return suite


def _readable(data: dict) -> list[tuple[int, Expectation]]:
    found = []
    for i, item in enumerate(data.get("expectations") or []):
        try:
            found.append((i, Expectation.model_validate(item)))
        except ValidationError:
            continue
    return found


def _check_name_problems(
    expectations: list[tuple[int, Expectation]], meta: SuiteMeta | None = None
) -> list[str]:
    default = (meta or SuiteMeta()).default_stage
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for i, exp in expectations:
        where = f"expectations[{i}] ({exp.type})"
        name = exp.check_name
        if not CHECK_NAME.fullmatch(name):
            problems.append(f"{where}: cannot derive a check name; set meta.check_name")
            continue
        key = (exp.meta.stage or default, name)
        if key in seen:
            problems.append(
                f"{where}: check name {name!r} repeats expectations[{seen[key]}] on stage "
                f"{key[0]}; set a distinct meta.check_name"
            )
        seen.setdefault(key, i)
    return problems


def _describe(err: Any, data: dict) -> str:
    loc = list(err["loc"])
    place = "top level"
    if loc[:1] == ["expectations"] and len(loc) > 1 and isinstance(loc[1], int):
        place = f"expectations[{loc[1]}]"
        exp = data["expectations"][loc[1]]
        if isinstance(exp, dict) and isinstance(exp.get("type"), str):
            place += f" ({exp['type']})"
        loc = loc[2:]
    key = ".".join(str(part) for part in loc)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        hint = " (use meta.severity: ERROR or WARN)" if key == "severity" else ""
        return f"{place}: unknown key {loc[-1]!r}{hint}"
    if err["type"] == "missing":
        return f"{place}: required key {key!r} missing"
    if err["type"] == "value_error":
        return f"{place}: {message}"
    return f"{place}: {key}: {message}" if key else f"{place}: {message}"


def load_suite(path: Path) -> Suite:
    """Parse a suite file and check its shape; raise SuiteError naming the file.

    Only the shape whiteglove relies on is checked here (cheap, no GX import); whether GX
    accepts every expectation's arguments is checked when it runs, or by `check_suite`.
    """
    path = Path(path)
    return Suite.parse(read_document(path, json.loads, "JSON", SuiteError), path)


@dataclass(frozen=True)
class CheckSpecInfo:
    """What Dagster needs at definition time, read from JSON without importing GX."""

    name: str  # ^[A-Za-z0-9_]+$, unique within (suite, stage)
    stage: str  # "raw" | "standardized" | "golden"
    severity: Severity
    description: str  # e.g. "email matches an email pattern (at least 95%)"
    expectation_type: str = ""  # e.g. "expect_column_values_to_match_regex"


def check_specs(suite: Suite | dict, stage: str) -> list[CheckSpecInfo]:
    """The checks a suite runs on `stage`, in file order (no GX import)."""
    suite = Suite.parse(suite, "given")
    return [
        CheckSpecInfo(e.check_name, stage, e.severity, e.sentence, e.type)
        for e in suite.for_stage(stage)
    ]
