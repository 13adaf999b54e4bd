"""Property-based tests of the standardizers: they never crash, and they are idempotent.

Idempotent means: feeding a standardized record back in as a raw row (first_name as the first
name column, the E.164 phone as the phone column, the ISO birth date as the date column, and
so on) gives the same record again, and nothing in it is flagged invalid. A standardizer that
is not idempotent makes a golden record drift each time it is re-read from its own output.
"""

from datetime import UTC, date, datetime

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from whiteglove.config import SourceConfig
from whiteglove.standardize import CANONICAL_FIELDS, standardize_source

TODAY = date(2026, 11, 23)


def profile(examples: int) -> settings:
    # Modest example counts keep this file under 20 s: each call plans a large Polars query
    # (a first-last full name split costs ~0.25 s even for a few rows), so examples carry
    # up to a dozen rows each instead. `database=None` keeps Hypothesis from writing a
    # .hypothesis folder into the working tree.
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Any text, including control characters, combining marks, right-to-left text and surrogate-
# free astral characters, plus the shapes real exports have, so both paths get exercised.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
EMAILS = st.from_regex(
    r"\s?[A-Za-z0-9._%+'\-]{1,12}@[A-Za-z0-9\-]{1,8}\.[A-Za-z]{2,4}\s?", fullmatch=True
)
PHONES = st.from_regex(
    r"(\+|00)?(34)?[ .\-]?[6-9][0-9]{2}[ .\-]?[0-9]{3}[ .\-]?[0-9]{3}", fullmatch=True
)
DATES = st.dates(date(1850, 1, 1), date(2100, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y"))
POSTCODES = st.from_regex(r"[0-9]{4,5}|[A-Z]{1,2}[0-9]{1,2} ?[0-9][A-Z]{2}", fullmatch=True)
NATIONAL_IDS = st.from_regex(r"[0-9XYZxyz][0-9]{7}[-\s]?[A-Za-z]", fullmatch=True)
NAMES = st.lists(
    st.sampled_from(
        ["maría", "JOSÉ", "de", "la", "Fuente", "o'brien", "Nuñez", "ß", "İ", "ǅ", "García-López"]
    ),
    min_size=1,
    max_size=4,
).map(" ".join)
COUNTRIES = st.sampled_from(["ES", "es", "FR", "GB", "PT", "", "X", "ÑÑ", "1"])


def values(shaped: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), ANY_TEXT, shaped)


ROW = st.fixed_dictionaries(
    {
        "first": values(NAMES),
        "last": values(NAMES),
        "full": values(NAMES),
        "email": values(EMAILS),
        "phone": values(PHONES),
        "dob": values(DATES),
        "iso_dob": values(DATES.map(lambda d: "-".join(reversed(d.split("/"))))),
        "address": values(NAMES),
        "city": values(NAMES),
        "postcode": values(POSTCODES),
        "region": values(NAMES),
        "country": st.one_of(st.none(), COUNTRIES),
        "nid": values(NATIONAL_IDS),
        "updated": values(st.just("2024-05-01T10:00:00")),
    }
)
ROWS = st.lists(ROW, min_size=1, max_size=12)
COLUMNS = ["first", "last", "full", "email", "phone", "dob", "iso_dob", "address", "city"]
COLUMNS += ["postcode", "region", "country", "nid", "updated"]


def source(fields: dict, **extra) -> SourceConfig:
    return SourceConfig.model_validate(
        {"name": "s", "path": "s.csv", "format": "csv", "id": "id", "trust": 1, "fields": fields}
        | extra
    )


FIRST_LAST = source(
    {
        "first_name": "first",
        "last_name": "last",
        "email": "email",
        "phone": "phone",
        "date_of_birth": {"column": "dob", "format": "%d/%m/%Y"},
        "address_line": "address",
        "city": "city",
        "postcode": "postcode",
        "region": "region",
        "country": "country",
        "national_id": "nid",
    },
    updated_at={"column": "updated"},
)
FULL_FIRST_LAST = source(
    {"full_name": {"column": "full", "order": "first_last"}, "date_of_birth": "iso_dob"}
)
FULL_LAST_FIRST = source({"full_name": {"column": "full", "order": "last_first"}, "phone": "phone"})


def raw_frame(columns: dict[str, list]) -> pl.DataFrame:
    """A frame shaped like extract_source's output: source columns plus lineage columns."""
    height = len(next(iter(columns.values())))
    frame = pl.DataFrame(columns)
    return frame.with_columns(
        pl.lit("s").alias("_source"),
        pl.lit("s.csv").alias("_file"),
        pl.int_range(1, height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(datetime(2026, 11, 23, tzinfo=UTC)).alias("_loaded_at"),
        pl.lit(None, dtype=pl.String).alias("_raw"),
        pl.lit(None, dtype=pl.String).alias("_parse_error"),
    )


def text_frame(rows: list[dict]) -> pl.DataFrame:
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    columns["id"] = [str(i) for i in range(len(rows))]
    return raw_frame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()})


CRASH_EXAMPLE = [dict.fromkeys(COLUMNS, "") | {"phone": "+", "dob": "00/00/0000"}]


def assert_standardizes(rows: list[dict], config: SourceConfig) -> None:
    raw = text_frame(rows)
    out = standardize_source(raw, config, "ES", today=TODAY)
    assert out.height == raw.height
    assert set(CANONICAL_FIELDS) <= set(out.columns)


@profile(50)
@given(ROWS)
@example(CRASH_EXAMPLE)
def test_standardizing_any_text_never_crashes(rows):
    assert_standardizes(rows, FIRST_LAST)


@profile(10)
@given(ROWS)
@example(CRASH_EXAMPLE)
def test_splitting_any_full_name_first_last_never_crashes(rows):
    assert_standardizes(rows, FULL_FIRST_LAST)


@profile(30)
@given(ROWS)
@example(CRASH_EXAMPLE)
def test_splitting_any_full_name_last_first_never_crashes(rows):
    assert_standardizes(rows, FULL_LAST_FIRST)


NUMBERS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63 - 1).map(float),
    st.sampled_from([1e30, -0.0, 12345.0, 8001.0, 612345678.0, 2.0**53, 2.0**53 + 2]),
)


@profile(50)
@given(st.lists(st.tuples(NUMBERS, NUMBERS, NUMBERS), min_size=1, max_size=12))
@example([(float("inf"), float("nan"), 1e30)])
def test_numeric_columns_never_crash(rows):
    """Parquet exports type ids, phones and postcodes as numbers, infinities included."""
    raw = raw_frame(
        {
            "id": pl.Series([r[0] for r in rows], dtype=pl.Float64),
            "phone": pl.Series([r[1] for r in rows], dtype=pl.Float64),
            "postcode": pl.Series([r[2] for r in rows], dtype=pl.Float64),
            "name": pl.Series(["Ana"] * len(rows), dtype=pl.String),
        }
    )
    config = source({"first_name": "name", "phone": "phone", "postcode": "postcode"})
    out = standardize_source(raw, config, "ES", today=TODAY)
    assert out.height == raw.height
    ids = out["source_record_id"].drop_nulls().to_list()
    assert all(not i.endswith(".0") for i in ids)


# The canonical fields fed back, each under its own name, with the formats standardize emits.
AGAIN = source(
    {
        "first_name": "first_name",
        "last_name": "last_name",
        "email": "email",
        "phone": "phone",
        "date_of_birth": {"column": "date_of_birth", "format": "%Y-%m-%d"},
        "address_line": "address_line",
        "city": "city",
        "postcode": "postcode",
        "region": "region",
        "country": "country",
        "national_id": "national_id",
    }
)
COMPARED = [f for f in CANONICAL_FIELDS if f in AGAIN.filled_fields()]


def standardize_twice(raw: pl.DataFrame, config: SourceConfig) -> tuple[list, list, list]:
    once = standardize_source(raw, config, "ES", today=TODAY)
    fed_back = once.select(
        pl.col("source_record_id").alias("id"),
        *[pl.col(f).cast(pl.String) for f in COMPARED],
    )
    twice = standardize_source(
        raw_frame({c: fed_back[c] for c in fed_back.columns}), AGAIN, "ES", today=TODAY
    )
    return (
        once.select(COMPARED).rows(),
        twice.select(COMPARED).rows(),
        twice["_invalid"].to_list(),
    )


IDEMPOTENCE_EXAMPLE = [
    {
        "first": "MARÍA  jesús",
        "last": "o'brien",
        "full": "GARCÍA LÓPEZ, maría",
        "email": " Ana.Ruiz@Example.COM ",
        "phone": "0034 612 345 678",
        "dob": "05/11/1953",
        "iso_dob": "1953-11-05",
        "address": "CALLE MAYOR, 3",
        "city": "madrid",
        "postcode": "8001",
        "region": None,
        "country": None,
        "nid": "12345678-z",
        "updated": None,
    }
]


def assert_idempotent(rows: list[dict], config: SourceConfig) -> None:
    once, twice, invalid = standardize_twice(text_frame(rows), config)
    assert twice == once
    assert invalid == [[] for _ in invalid], "a standardized value was judged invalid"


@profile(50)
@given(ROWS)
@example(IDEMPOTENCE_EXAMPLE)
def test_standardizing_is_idempotent(rows):
    assert_idempotent(rows, FIRST_LAST)


@profile(10)
@given(ROWS)
@example(IDEMPOTENCE_EXAMPLE)
def test_standardizing_split_full_names_is_idempotent(rows):
    assert_idempotent(rows, FULL_FIRST_LAST)
    assert_idempotent(rows, FULL_LAST_FIRST)
