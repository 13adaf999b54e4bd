"""Data-quality checks with Great Expectations: suites are JSON files, results feed Data Docs.

A suite is a Great Expectations 1.x ExpectationSuite JSON file, so a user adds a check by
editing JSON, never Python. whiteglove adds two keys to each expectation's `meta`:

* `stage`: which frame the expectation runs on, `raw` (the export as read), `standardized`
  (accepted canonical records) or `golden` (the golden table). Defaults to the suite's
  `meta.default_stage`, else `standardized`.
* `severity`: `ERROR` (the data must not be published) or `WARN` (report and go on).
  Defaults to `WARN`.

Optional meta keys: `check_name` (`^[A-Za-z0-9_]+$`, unique per suite and stage; otherwise
the expectation type without `expect_`, two underscores, the column), `description` (a sentence
for people; the `mostly` threshold is appended to it) and `show_values` (keep the offending
values in results and Data Docs; off by default because most checked columns are personal
data). A `min_value`/`max_value` of `"today"` is resolved when `validate` runs, so a date check
never goes stale.

Great Expectations is imported inside the functions that need it: importing it costs seconds,
and Dagster loads this module at definition time only to read check names from JSON.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import unicodedata
import uuid
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from whiteglove.config import IDENTITY_FIELDS, SourcesConfig

if TYPE_CHECKING:
    from whiteglove.config import SourceConfig

Severity = Literal["ERROR", "WARN"]
STAGES = ("raw", "standardized", "golden")
SEVERITIES = ("ERROR", "WARN")
CHECK_NAME = re.compile(r"^[A-Za-z0-9_]+$")

# Patterns shared by the default suites. They describe the canonical forms standardize.py
# produces; a raw export is checked with looser patterns (spaces and upper case allowed).
EMAIL_REGEX = r"^[a-z0-9._%+'\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}$"
RAW_EMAIL_REGEX = r"^\s*[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\s*$"
PHONE_REGEX = r"^\+[1-9][0-9]{6,14}$"
ES_POSTCODE_REGEX = r"^(?:0[1-9]|[1-4][0-9]|5[0-2])[0-9]{3}$"
ES_NATIONAL_ID_REGEX = r"^[0-9XYZ][0-9]{7}[A-Z]$"
COUNTRY_REGEX = r"^[A-Z]{2}$"
EARLIEST_BIRTH = "1900-01-01"
TODAY = "today"  # resolved by validate() to the current date (or end of day for timestamps)

# Keys an expectation may carry in GX 1.x suite JSON. GX's own `severity` is derived from
# meta.severity so the two cannot disagree.
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "id", "notes", "description", "rendered_content"}
_SUITE_KEYS = {"name", "expectations", "meta", "id", "notes", "suite_parameters"}
# Values a failed check found are kept in results only when an expectation opts in with
# meta.show_values: results end up in reports and Data Docs, and most checked columns hold
# personal data (emails, phones, names).
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts")
HIDDEN = "(values hidden; set meta.show_values to show them)"
_DOCS_SITE = "whiteglove"

# GX keeps its current project in a process-wide singleton; one validation at a time per
# process keeps two threads from swapping each other's context mid-run.
_GX_LOCK = threading.Lock()


class SuiteError(ValueError):
    """An expectation suite cannot be used; the message names the file and every problem."""

    def __init__(self, where: str | Path, problems: list[str]):
        self.where = str(where)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"expectation suite {where} has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class CheckSpecInfo:
    """What Dagster needs at definition time, read from JSON without importing GX."""

    name: str  # ^[A-Za-z0-9_]+$, unique within (suite, stage)
    stage: str  # "raw" | "standardized" | "golden"
    severity: Severity
    description: str  # e.g. "email matches an email pattern (at least 95%)"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, flattened from GX's result object."""

    name: str
    stage: str
    expectation_type: str
    column: str | None
    severity: Severity
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: object  # JSON-safe; for a check GX could not run, its error message
    description: str


@dataclass(frozen=True)
class SuiteResult:
    """The outcomes of one suite on one stage, in suite order."""

    suite: str
    stage: str
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        """True when no ERROR check failed (failed WARN checks do not block publishing)."""
        return not self.failed_errors

    @property
    def failed_errors(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "ERROR"]

    @property
    def failed_warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "WARN"]

    def as_dict(self) -> dict:
        """JSON-serialisable summary for reports and the run summary."""
        return {
            "suite": self.suite,
            "stage": self.stage,
            "success": self.success,
            "evaluated": len(self.outcomes),
            "failed_errors": [o.name for o in self.failed_errors],
            "failed_warnings": [o.name for o in self.failed_warnings],
            "outcomes": [_json_safe(asdict(o)) for o in self.outcomes],
        }


# --------------------------------------------------------------------------- suites as JSON
def load_suite(path: Path) -> dict:
    """Parse a suite file and check its shape; raise SuiteError naming the file.

    Only the shape whiteglove relies on is checked here (cheap, no GX import); whether GX
    accepts every expectation's arguments is checked by `validate`, or by `check_suite`.
    """
    path = Path(path)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(path, ["file not found"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(path, [f"not valid JSON: {exc}"]) from None
    problems = _shape_problems(suite)
    if problems:
        raise SuiteError(path, problems)
    return suite


def check_suite(path: Path) -> dict:
    """`load_suite`, plus building every expectation with GX so bad arguments are caught."""
    suite = load_suite(path)
    exps = [_resolve_today(e, pl.Schema()) for e in suite["expectations"]]
    problems = [p for _, p in _build_expectations(suite, exps) if p]
    if problems:
        raise SuiteError(path, problems)
    return suite


def check_specs(suite: dict, stage: str) -> list[CheckSpecInfo]:
    """The checks a suite runs on `stage`, in file order (no GX import)."""
    _check_stage(stage)
    problems = _shape_problems(suite)
    if problems:
        raise SuiteError(f"'{suite.get('name', '?')}'", problems)
    return [
        CheckSpecInfo(_check_name(e), stage, _severity(e), _describe(e))
        for e in suite["expectations"]
        if _stage(suite, e) == stage
    ]


def _shape_problems(suite: Any) -> list[str]:
    if not isinstance(suite, dict):
        return ["top level must be a JSON object with 'name' and 'expectations'"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(suite) - _SUITE_KEYS)]
    if not isinstance(suite.get("name"), str) or not suite["name"].strip():
        problems.append("'name' must be a non-empty string")
    meta = suite.get("meta", {})
    if not isinstance(meta, dict):
        problems.append("'meta' must be an object")
    elif meta.get("default_stage", "standardized") not in STAGES:
        problems.append(f"meta.default_stage must be one of {', '.join(STAGES)}")
    expectations = suite.get("expectations")
    if not isinstance(expectations, list):
        return [*problems, "'expectations' must be a list"]
    if problems:
        return problems
    seen: dict[tuple[str, str], int] = {}
    for i, exp in enumerate(expectations):
        where = f"expectations[{i}]"
        if not isinstance(exp, dict):
            problems.append(f"{where}: must be an object")
            continue
        if isinstance(exp.get("type"), str):
            where += f" ({exp['type']})"
        found = _expectation_problems(exp)
        problems += [f"{where}: {p}" for p in found]
        if found:
            continue
        key = (_stage(suite, exp), _check_name(exp))
        if key in seen:
            problems.append(
                f"{where}: check name {key[1]!r} repeats expectations[{seen[key]}] on stage "
                f"{key[0]}; set a distinct meta.check_name"
            )
        seen.setdefault(key, i)
    return problems


def _expectation_problems(exp: dict) -> list[str]:
    problems = [
        f"unknown key {k!r}" + (" (use meta.severity: ERROR or WARN)" if k == "severity" else "")
        for k in sorted(set(exp) - _EXPECTATION_KEYS)
    ]
    kind = exp.get("type")
    if not isinstance(kind, str) or not re.match(r"^expect_[a-z0-9_]+$", kind):
        problems.append("'type' must be an expectation type such as expect_column_to_exist")
    kwargs = exp.get("kwargs", {})
    if not isinstance(kwargs, dict):
        problems.append("'kwargs' must be an object")
    elif isinstance(kind, str) and _needs_column(kind):
        if not isinstance(kwargs.get("column"), str) or not kwargs["column"]:
            problems.append("kwargs.column must name a column")
    meta = exp.get("meta", {})
    if not isinstance(meta, dict):
        return [*problems, "'meta' must be an object"]
    if "stage" in meta and meta["stage"] not in STAGES:
        problems.append(f"meta.stage must be one of {', '.join(STAGES)}, not {meta['stage']!r}")
    if "severity" in meta and meta["severity"] not in SEVERITIES:
        problems.append(f"meta.severity must be ERROR or WARN, not {meta['severity']!r}")
    name = meta.get("check_name")
    if name is not None and (not isinstance(name, str) or not CHECK_NAME.match(name)):
        problems.append(f"meta.check_name {name!r} must match [A-Za-z0-9_]+")
    if not problems and not CHECK_NAME.match(_check_name(exp)):
        problems.append("cannot derive a check name; set meta.check_name")
    return problems


def _needs_column(kind: str) -> bool:
    return kind.startswith("expect_column_") and not kind.startswith("expect_column_pair_")


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")


def _stage(suite: dict, exp: dict) -> str:
    default = (suite.get("meta") or {}).get("default_stage", "standardized")
    return (exp.get("meta") or {}).get("stage", default)


def _severity(exp: dict) -> Severity:
    return (exp.get("meta") or {}).get("severity", "WARN")


def _column(exp: dict) -> str | None:
    kwargs = exp.get("kwargs") or {}
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(map(str, kwargs["column_list"]))
    return None


def _check_name(exp: dict) -> str:
    meta = exp.get("meta") or {}
    if meta.get("check_name"):
        return meta["check_name"]
    base = exp["type"].removeprefix("expect_")
    column = _column(exp)
    if column is not None:
        base += "__" + "__".join(column.split(","))
    # Dagster check names are [A-Za-z0-9_]+: "Teléfono" becomes "Telefono", not "Tel_fono".
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    return re.sub(r"_{3,}", "__", re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)).strip("_")


def _describe(exp: dict) -> str:
    """A sentence for people; meta.description (or GX's description) wins when given."""
    meta = exp.get("meta") or {}
    kind, kw = exp["type"], exp.get("kwargs") or {}
    col = kw.get("column", "")
    text = (
        meta.get("description")
        or exp.get("description")
        or {
            "expect_column_to_exist": f"column {col} exists",
            "expect_column_values_to_not_be_null": f"{col} is filled in",
            "expect_column_values_to_be_null": f"{col} is empty",
            "expect_column_values_to_be_unique": f"{col} values are unique",
            "expect_column_values_to_match_regex": f"{col} matches {kw.get('regex')}",
            "expect_column_values_to_not_match_regex": f"{col} does not match {kw.get('regex')}",
            "expect_column_values_to_be_in_set": f"{col} is one of {_listing(kw.get('value_set'))}",
            "expect_column_values_to_not_be_in_set": (
                f"{col} is none of {_listing(kw.get('value_set'))}"
            ),
            "expect_column_values_to_be_between": f"{col} is {_range(kw)}",
            "expect_table_row_count_to_be_between": f"row count is {_range(kw)}",
            "expect_column_pair_values_a_to_be_greater_than_b": (
                f"{kw.get('column_A')} is greater than "
                f"{'or equal to ' if kw.get('or_equal') else ''}{kw.get('column_B')}"
            ),
        }.get(kind)
    )
    stat = re.match(r"^expect_column_([a-z_]+)_to_be_between$", kind)
    if text is None and stat:
        text = f"{stat.group(1).replace('_', ' ')} of {col} is {_range(kw)}"
    if text is None:
        words = kind.removeprefix("expect_").replace("_", " ")
        text = f"{col}: {words}" if col else words
    # The threshold is always appended from kwargs, so editing `mostly` cannot leave a stale
    # percentage in a hand-written description.
    mostly = kw.get("mostly")
    if isinstance(mostly, int | float) and mostly < 1:
        text += f" (at least {mostly * 100:g}%)"
    return text


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


# --------------------------------------------------------------------------- default suites
def _exp(
    kind: str,
    stage: str,
    severity: Severity = "WARN",
    description: str | None = None,
    **kwargs: Any,
) -> dict:
    meta: dict[str, Any] = {"stage": stage, "severity": severity}
    if description:
        meta["description"] = description
    return {"type": kind, "kwargs": kwargs, "meta": meta}


def default_suite(source: SourceConfig) -> dict:
    """A starting-point suite derived from a source's mapping; edit the JSON to tune it.

    Thresholds are deliberately loose: they catch a broken export, not ordinary gaps.
    """
    exps: list[dict] = [
        _exp("expect_table_row_count_to_be_between", "raw", min_value=1, max_value=None),
        _exp("expect_column_to_exist", "raw", "ERROR", column=source.id),
        _exp("expect_column_values_to_not_be_null", "raw", column=source.id, mostly=0.99),
        _exp(
            "expect_column_values_to_be_null",
            "raw",
            description="rows split into the export's columns",
            column="_parse_error",
            mostly=0.99,
        ),
    ]
    if "email" in source.fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                "raw",
                description=f"{source.fields['email'].column} looks like an email",
                column=source.fields["email"].column,
                regex=RAW_EMAIL_REGEX,
                mostly=0.95,
            )
        )
    exps += [
        _exp(
            "expect_column_values_to_not_be_null",
            "standardized",
            "ERROR",
            column="source_record_id",
        ),
        _exp(
            "expect_column_values_to_be_unique", "standardized", "ERROR", column="source_record_id"
        ),
    ]
    fields = set(source.fields)
    if "full_name" in fields:  # standardize splits it into first and last name
        fields |= {"first_name", "last_name"}
    exps += _identity_checks("standardized", fields)
    if source.updated_at:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                "standardized",
                column="updated_at",
                min_value="1990-01-01",
                max_value=TODAY,
                mostly=0.99,
            )
        )
    for name in source.attributes:
        exps.append(
            _exp("expect_column_values_to_not_be_null", "standardized", column=name, mostly=0.5)
        )
    return {
        "name": source.name,
        "expectations": exps,
        "meta": {"default_stage": "standardized", "source": source.name},
    }


def _identity_checks(stage: str, fields: set[str]) -> list[dict]:
    """Completeness and validity of the canonical identity fields a frame carries."""
    exps: list[dict] = []
    # full_name is always derived; country is defaulted, so its completeness says nothing.
    present = [f for f in IDENTITY_FIELDS if (f in fields or f == "full_name") and f != "country"]
    for name in present:
        exps.append(_exp("expect_column_values_to_not_be_null", stage, column=name, mostly=0.5))
    if "email" in fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                stage,
                description="email matches an email pattern",
                column="email",
                regex=EMAIL_REGEX,
                mostly=0.99,
            )
        )
    if "phone" in fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                stage,
                description="phone is in E.164 form, like +34612345678",
                column="phone",
                regex=PHONE_REGEX,
                mostly=0.99,
            )
        )
    if "date_of_birth" in fields:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                stage,
                column="date_of_birth",
                min_value=EARLIEST_BIRTH,
                max_value=TODAY,
            )
        )
    if "postcode" in fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                stage,
                description="postcode is a Spanish postcode (five digits)",
                column="postcode",
                regex=ES_POSTCODE_REGEX,
                mostly=0.95,
            )
        )
    if "national_id" in fields:
        exps.append(
            _exp(
                "expect_column_values_to_match_regex",
                stage,
                description="national_id is shaped like a Spanish DNI/NIE",
                column="national_id",
                regex=ES_NATIONAL_ID_REGEX,
                mostly=0.95,
            )
        )
    exps.append(
        _exp(
            "expect_column_values_to_match_regex",
            stage,
            description="country is an ISO 3166 alpha-2 code",
            column="country",
            regex=COUNTRY_REGEX,
        )
    )
    return exps


def default_golden_suite() -> dict:
    """A starting-point suite for the golden table."""
    stage = "golden"
    exps = [
        _exp(
            "expect_table_row_count_to_be_between",
            stage,
            "ERROR",
            description="the golden table is not empty",
            min_value=1,
            max_value=None,
        ),
        _exp("expect_column_values_to_not_be_null", stage, "ERROR", column="golden_id"),
        _exp("expect_column_values_to_be_unique", stage, "ERROR", column="golden_id"),
        _exp(
            "expect_column_values_to_be_between",
            stage,
            "ERROR",
            description="every golden record is built from at least one record",
            column="record_count",
            min_value=1,
            max_value=None,
        ),
        _exp(
            "expect_column_values_to_be_between",
            stage,
            description="every golden record has at least one source",
            column="source_count",
            min_value=1,
            max_value=None,
        ),
        _exp(
            "expect_column_pair_values_a_to_be_greater_than_b",
            stage,
            description="record_count is at least source_count",
            column_A="record_count",
            column_B="source_count",
            or_equal=True,
        ),
    ]
    exps += _identity_checks(stage, {"email", "phone", "date_of_birth", "postcode"})
    exps.append(
        _exp(
            "expect_column_values_to_be_between",
            stage,
            column="last_updated_at",
            min_value="1990-01-01",
            max_value=TODAY,
            mostly=0.99,
        )
    )
    return {
        "name": "golden_customers",
        "expectations": exps,
        "meta": {"default_stage": "golden"},
    }


# --------------------------------------------------------------------------- validation
def validate(
    frame: pl.DataFrame,
    suite: dict,
    stage: str,
    results_dir: Path | None = None,
    *,
    run_name: str = "whiteglove",
) -> SuiteResult:
    """Run the suite's expectations for `stage` on `frame` with GX.

    On the standardized stage only accepted rows (empty `_reasons`) are checked: rejected
    rows are quarantined and reported elsewhere. With `results_dir`, GX's validation result
    is written there as JSON for `build_data_docs`; `run_name` labels it in Data Docs.
    """
    _check_stage(stage)
    problems = _shape_problems(suite)
    if problems:
        raise SuiteError(f"'{suite.get('name', '?')}'", problems)
    exps = [e for e in suite["expectations"] if _stage(suite, e) == stage]
    if not exps:
        return SuiteResult(suite["name"], stage, [])

    if stage == "standardized" and "_reasons" in frame.columns:
        frame = frame.filter(pl.col("_reasons").list.len() == 0)
    resolved = [_resolve_today(e, frame.schema) for e in exps]
    pdf = _to_pandas(frame, resolved, blank_is_missing=stage == "raw")

    with _GX_LOCK:
        gx_result = _run_gx(pdf, suite, stage, resolved, run_name)
    for r in gx_result.results:
        if not r.expectation_config.meta.get("show_values"):
            _hide_values(r.result)
    by_name = {r.expectation_config.meta["check_name"]: r for r in gx_result.results}
    outcomes = [_outcome(e, stage, by_name.get(_check_name(e))) for e in exps]
    if results_dir is not None:
        _write_result(Path(results_dir), suite["name"], stage, gx_result.to_json_dict())
    return SuiteResult(suite["name"], stage, outcomes)


def _hide_values(result: dict) -> None:
    """Drop the data values GX quotes in a result, keeping counts and numeric statistics."""
    for key in _VALUE_KEYS:
        result.pop(key, None)
    observed = result.get("observed_value")
    if observed is not None and not isinstance(observed, int | float):
        result["observed_value"] = HIDDEN


def _resolve_today(exp: dict, schema: pl.Schema) -> dict:
    """Replace "today" bounds, and make date bounds timestamps on temporal columns.

    Temporal columns reach GX as timestamps (see `_to_pandas`), and GX reads "YYYY-MM-DD"
    bounds as dates, which pandas refuses to compare with timestamps. So on such a column a
    date bound becomes a timestamp: the start of the day for a minimum, the end of the day
    for a maximum (a "today" maximum therefore admits all of today).
    """
    kwargs = dict(exp.get("kwargs") or {})
    dtype = schema.get(kwargs.get("column", ""))
    temporal = isinstance(dtype, pl.Date | pl.Datetime)
    for key in ("min_value", "max_value"):
        value = kwargs.get(key)
        if value == TODAY:
            value = date.today().isoformat()
        if temporal and isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min if key == "min_value" else time.max)
            if isinstance(dtype, pl.Datetime) and dtype.time_zone:
                moment = moment.replace(tzinfo=UTC)
            value = moment.isoformat()
        if key in kwargs:
            kwargs[key] = value
    return {**exp, "kwargs": kwargs}


def _to_pandas(frame: pl.DataFrame, exps: list[dict], blank_is_missing: bool = False) -> Any:
    """The columns the expectations read, as a pandas frame GX handles correctly and fast.

    Text and numbers stay Arrow-backed: converting is nearly free and GX's regex, set and null
    checks run on them vectorized. Dates and timestamps become numpy datetime64[ns], the only
    temporal type GX compares vectorized (on Arrow dates it calls Python per value, ~4 s per
    million; plain to_pandas gives datetime64[ms], which GX cannot compare at all). Values
    outside datetime64[ns]'s range (years 1677-2262) are clipped to it, which keeps them
    outside any sensible bound. List columns are dropped: GX has no use for them. With
    `blank_is_missing` (raw exports), a blank text value counts as missing, because that is
    how CSV exports write a missing value.
    """
    wanted: set[str] = set()
    whole_table = False
    for exp in exps:
        kw = exp.get("kwargs") or {}
        cols = [
            kw.get("column"),
            kw.get("column_A"),
            kw.get("column_B"),
            *kw.get("column_list", []),
        ]
        cols = [c for c in cols if c]
        wanted.update(cols)
        # Table-level expectations other than row counts look at every column.
        if not cols and exp["type"] != "expect_table_row_count_to_be_between":
            whole_table = True
    keep = [
        name
        for name, dtype in frame.schema.items()
        if (whole_table or name in wanted) and not isinstance(dtype, pl.List | pl.Array | pl.Struct)
    ]
    if not keep:
        # A frame with no columns loses its row count; keep one cheap column.
        keep = [c for c, t in frame.schema.items() if t.is_numeric()][:1] or frame.columns[:1]
    frame = frame.select(keep)
    if blank_is_missing:
        text = pl.col(pl.String)
        frame = frame.with_columns(
            pl.when(text.str.strip_chars() == "").then(None).otherwise(text).name.keep()
        )
    temporal = [c for c, t in frame.schema.items() if isinstance(t, pl.Date | pl.Datetime)]
    frame = frame.with_columns(_as_ns_timestamp(frame.schema[c], c) for c in temporal)
    pdf = frame.to_pandas(use_pyarrow_extension_array=True)
    for name in temporal:
        # Arrow's timestamp[ns] -> numpy datetime64[ns] (or pandas' tz-aware equivalent).
        tz = frame.schema[name].time_zone  # type: ignore[union-attr]
        pdf[name] = pdf[name].astype(f"datetime64[ns, {tz}]" if tz else "datetime64[ns]")
    return pdf


_NS_MIN, _NS_MAX = datetime(1677, 9, 22), datetime(2262, 4, 11)


def _as_ns_timestamp(dtype: pl.DataType, name: str) -> pl.Expr:
    tz = dtype.time_zone if isinstance(dtype, pl.Datetime) else None
    col = pl.col(name).cast(pl.Datetime("us", tz))
    low, high = (
        (pl.lit(_NS_MIN).dt.replace_time_zone(tz), pl.lit(_NS_MAX).dt.replace_time_zone(tz))
        if tz
        else (pl.lit(_NS_MIN), pl.lit(_NS_MAX))
    )
    return col.clip(low, high).cast(pl.Datetime("ns", tz)).alias(name)


def _gx() -> Any:
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch by hashing all of it (frames under 1 GB); the hash
    # is metadata only and costs seconds per million rows, twice per validation.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


def _build_expectations(suite: dict, exps: list[dict]) -> list[tuple[Any, str | None]]:
    """GX expectation objects, each with None or the problem GX found in its arguments.

    GX's ExpectationSuite logs and silently drops an expectation it cannot build; building
    them one by one here turns that into an error naming the expectation.
    """
    _gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for i, exp in enumerate(exps):
        meta = {
            **(exp.get("meta") or {}),
            "stage": _stage(suite, exp),
            "severity": _severity(exp),
            "check_name": _check_name(exp),
        }
        try:
            config = ExpectationConfiguration(
                type=exp["type"],
                kwargs=exp.get("kwargs") or {},
                meta=meta,
                notes=exp.get("notes"),
                description=exp.get("description"),
                # GX's own severity, so Data Docs show which failures block publishing.
                severity="critical" if meta["severity"] == "ERROR" else "warning",
            )
            built.append((config.to_domain_obj(), None))
        except Exception as exc:  # noqa: BLE001 - GX raises many types; each is reported
            message = " ".join(str(exc).split()) or type(exc).__name__
            message = message if len(message) <= 500 else message[:500] + "..."
            built.append((None, f"expectations[{i}] ({exp['type']}): {message}"))
    return built


def _run_gx(pdf: Any, suite: dict, stage: str, exps: list[dict], run_name: str) -> Any:
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    built = _build_expectations(suite, exps)
    problems = [p for _, p in built if p]
    if problems:
        raise SuiteError(f"'{suite['name']}'", problems)
    # A fresh in-memory context per call: nothing leaks between calls, and it costs ~10 ms.
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_name = f"{suite['name']}.{stage}"
    asset = context.data_sources.add_pandas("whiteglove").add_dataframe_asset(gx_name)
    batch_definition = asset.add_batch_definition_whole_dataframe("frame")
    gx_suite = context.suites.add(
        gx.ExpectationSuite(
            name=gx_name,
            expectations=[e for e, _ in built],
            meta={k: v for k, v in (suite.get("meta") or {}).items()},
        )
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=gx_name, data=batch_definition, suite=gx_suite)
    )
    with warnings.catch_warnings():
        # GX runs regexes through pandas' str.contains, which warns about capture groups.
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular")
        return definition.run(
            batch_parameters={"dataframe": pdf},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
            run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
        )


def _outcome(exp: dict, stage: str, result: Any) -> ExpectationOutcome:
    base = {
        "name": _check_name(exp),
        "stage": stage,
        "expectation_type": exp["type"],
        "column": _column(exp),
        "severity": _severity(exp),
        "description": _describe(exp),
    }
    if result is None:  # cannot happen unless GX drops an expectation; never pass silently
        return ExpectationOutcome(
            **base,
            success=False,
            element_count=None,
            unexpected_count=None,
            unexpected_percent=None,
            observed_value="GX returned no result for this expectation",
        )
    info = result.exception_info or {}
    # GX reports metric errors per metric when the expectation ran but a metric failed.
    errors = [info] if "raised_exception" in info else list(info.values())
    messages = [e.get("exception_message") for e in errors if e.get("raised_exception")]
    res = result.result or {}
    observed = res.get("observed_value")
    if observed is None and res.get("partial_unexpected_counts"):
        # Only present when the expectation opted in with meta.show_values.
        observed = {"unexpected_values": res["partial_unexpected_counts"]}
    if messages:
        observed = f"error: {messages[0]}"
    return ExpectationOutcome(
        **base,
        success=bool(result.success) and not messages,
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        observed_value=_json_safe(observed),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    return _json_safe(item()) if callable(item) else str(value)


def _write_result(results_dir: Path, suite: str, stage: str, payload: dict) -> Path:
    """Write atomically under a unique name: steps in other processes may share the dir."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = results_dir / f"{suite}.{stage}.{stamp}.{uuid.uuid4().hex[:8]}.json"
    # Not *.json until complete, so build_data_docs never reads a half-written file.
    fd, tmp = tempfile.mkstemp(dir=results_dir, prefix=".tmp-", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, default=str)
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------- Data Docs
def build_data_docs(results_dir: Path, site_dir: Path) -> Path:
    """Build GX Data Docs from every result in `results_dir` into `site_dir`; return index.html.

    GX's own site builder renders the pages, from an in-memory context that is given the
    stored results. The site is rebuilt from scratch in a temporary directory and then moved
    into place, so `site_dir` never holds a half-built or stale mix of pages.

    The pages are static files, but GX links Bootstrap, jQuery and Font Awesome from CDNs and
    fills its index table with JavaScript. Offline, result pages still show their content
    (without the CDN styling) and the index shows the plain list of results added below
    GX's table, so the site stays navigable without network access.
    """
    results_dir, site_dir = Path(results_dir), Path(site_dir)
    files = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    if site_dir.exists() and any(site_dir.iterdir()) and not (site_dir / "index.html").exists():
        raise ValueError(f"{site_dir} is not empty and is not a Data Docs site; not replacing it")
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=site_dir.parent, prefix=f".{site_dir.name}-"))
    try:
        with _GX_LOCK:
            _build_site(files, staging)
        old = None
        if site_dir.exists():
            old = site_dir.with_name(f".{site_dir.name}-old-{uuid.uuid4().hex[:8]}")
            site_dir.rename(old)
        staging.rename(site_dir)
        if old is not None:
            _remove_tree(old)
    finally:
        if staging.exists():
            _remove_tree(staging)
    return site_dir / "index.html"


def _build_site(files: list[Path], site_dir: Path) -> None:
    gx = _gx()
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        _DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site_dir.resolve()),
            },
            # No "how to" buttons linking to GX's online docs: the site is a run artefact.
            "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    schema = ExpectationSuiteValidationResultSchema()
    suites: dict[str, Any] = {}
    listed: list[tuple[str, str, str, bool]] = []
    for file in files:
        try:
            payload = json.loads(file.read_text(encoding="utf-8"))
            result = schema.load(payload)
        except Exception as exc:  # noqa: BLE001 - name the bad file, whatever went wrong
            raise ValueError(f"validation result {file} cannot be read: {exc}") from None
        run = result.meta.get("run_id") or {}
        run_id = run if isinstance(run, RunIdentifier) else RunIdentifier(**run)
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(result.suite_name),
            run_id,
            # The file name is unique even when two results share suite, run and batch.
            file.stem,
        )
        context.validation_results_store.set(key, result)
        listed.append((file.stem, result.suite_name, run_id.run_name or "", bool(result.success)))
        # The suite as it was run, so the Expectations section of the site has a page too.
        suites[result.suite_name] = gx.ExpectationSuite(
            name=result.suite_name,
            expectations=[r.expectation_config for r in result.results],
        )
    for suite in suites.values():
        context.suites.add(suite)
    context.build_data_docs(site_names=[_DOCS_SITE])
    index = site_dir / "index.html"
    if not index.exists():
        raise RuntimeError(f"GX did not write {index}")
    _add_offline_list(index, listed)


def _add_offline_list(index: Path, listed: list[tuple[str, str, str, bool]]) -> None:
    """Append a plain list of result pages to GX's index: its own table needs CDN scripts."""
    from html import escape

    site = index.parent
    pages = {p.stem: p.relative_to(site).as_posix() for p in site.glob("validations/**/*.html")}
    items = "".join(
        f'<li><a href="{escape(pages[stem])}">{escape(suite)}</a> &mdash; run '
        f"{escape(run)} &mdash; {'passed' if success else 'failed'}</li>"
        for stem, suite, run, success in listed
        if stem in pages
    )
    block = (
        '<div class="container" id="whiteglove-results"><h4>All validation results</h4>'
        f"<ul>{items}</ul></div>"
    )
    html = index.read_text(encoding="utf-8")
    at = html.rfind("</body>")
    html = html[:at] + block + html[at:] if at >= 0 else html + block
    index.write_text(html, encoding="utf-8")


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


__all__ = [
    "CheckSpecInfo",
    "ExpectationOutcome",
    "Severity",
    "SuiteError",
    "SuiteResult",
    "build_data_docs",
    "check_specs",
    "check_suite",
    "default_golden_suite",
    "default_suite",
    "load_suite",
    "validate",
]


# --------------------------------------------------------------------------- suites of a run
GOLDEN_SUITE = "golden_customers"


def suite_for(config: SourcesConfig, name: str) -> dict:
    """The suite of a source (or of the golden table): its file if there is one, else a default.

    Looked up in the sources file's `expectations` folder as `<name>.json`.
    """
    folder = config.expectations_dir
    if folder is not None and (folder / f"{name}.json").exists():
        return load_suite(folder / f"{name}.json")
    if name == GOLDEN_SUITE:
        return default_golden_suite()
    return default_suite(config.source(name))


def write_summary(result: SuiteResult, folder: Path) -> Path:
    """Store a result's JSON summary for the reports of the same run."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.suite}.{result.stage}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result.as_dict(), indent=2, default=str))
    tmp.replace(path)
    return path


def read_summaries(folder: Path) -> list[dict]:
    """Every stored result summary of a run, in a stable order."""
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
