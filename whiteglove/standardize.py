"""Turn a raw source frame into the canonical customer-record schema.

Everything here is vectorized Polars except phone parsing, which goes through the
`phonenumbers` library once per distinct (number, country) pair: national numbering plans are
data, not something to hand-write.

Two outcomes per row, both recorded: a row that cannot be used at all gets `_reasons` (it goes
to quarantine); a value that is merely invalid is nulled and named in `_invalid`.
"""

from __future__ import annotations

from datetime import date

import phonenumbers
import polars as pl

from whiteglove.attribute_types import parse_attribute
from whiteglove.config import FieldSpec, LimitsConfig, SourceConfig, ValidityConfig
from whiteglove.names import fold, given_name_length
from whiteglove.schema import (
    CANONICAL_FIELDS,
    DNI_LETTERS,
    ES_NATIONAL_ID_PATTERN,
    RAW_LINEAGE_COLUMNS,
    RECORD_COLUMNS,
    record_key,
)

SRC = "__src__"
# A mapped identity column as the standardizers read it: too long a text is nulled there
# (`_bounded_fields`), while SRC keeps what the export said for the quarantine.
FIELD = "__field__"
POSITION = "__position"  # a row's place in the order the source's files were read
# where a row's record id was first seen among rows standardized before (appended rows)
EARLIER_ROW, EARLIER_FILE = "__earlier_row", "__earlier_file"


def standardize_source(
    raw: pl.DataFrame,
    source: SourceConfig,
    default_country: str,
    today: date | None = None,
    limits: LimitsConfig | None = None,
    validity: ValidityConfig | None = None,
    earlier: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Canonical records for one source, with `_reasons` (reject), `_invalid` (nulled) and
    `_defaulted` (fields filled from the sources file's defaults, not given by the export).

    `validity` holds the rules that null a value as invalid (the source's, from
    `SourcesConfig.validity_for`); `limits` the longest identity value kept. `earlier` holds
    the standardized rows of the source read before `raw` (`source_record_id`, `row_number`,
    `_file`, in read order), when `raw` is only the rows appended since: a record id seen
    there makes a row of `raw` a duplicate, as it would be in the whole source.
    """
    today = today or date.today()
    limits = limits or LimitsConfig()
    validity = validity or ValidityConfig()
    # Source columns move to a private namespace so that a column called "email" or "phone"
    # can never be confused with the canonical field of the same name.
    data_columns = [c for c in raw.columns if c not in RAW_LINEAGE_COLUMNS]
    df = raw.rename({c: SRC + c for c in data_columns})
    df = df.with_columns(
        _text(df, SRC + source.id).str.strip_chars().replace("", None).alias("source_record_id")
    )
    fields = source.fields
    out: dict[str, pl.Expr] = {}
    df, invalid = _bounded_fields(df, fields, limits.max_field_chars)

    df = _with_names(df, fields)

    if "email" in fields:
        email, bad = _email(_text(df, FIELD + fields["email"].column), validity.email_pattern)
        out["email"] = email
        invalid.append(bad.then(pl.lit("email")))

    country = (
        _clean_text(_text(df, FIELD + fields["country"].column)).str.to_uppercase()
        if "country" in fields
        else pl.lit(None, dtype=pl.String)
    )
    out["country"] = pl.coalesce(country, pl.lit(default_country))
    # Filled in, not given: the reports count these apart, or country reads 100% complete.
    defaulted = [pl.when(country.is_null()).then(pl.lit("country"))]

    if "date_of_birth" in fields:
        dob = _date(df, fields["date_of_birth"])
        earliest, latest = validity.birth_date_earliest, validity.latest_birth_date(today)
        bad_dob = (dob < earliest) | (dob > latest)
        parse_failed = dob.is_null() & _text(
            df, FIELD + fields["date_of_birth"].column
        ).str.strip_chars().ne("")
        out["date_of_birth"] = pl.when(bad_dob).then(None).otherwise(dob)
        invalid.append(pl.when(bad_dob | parse_failed).then(pl.lit("date_of_birth")))

    for name in ("address_line", "city", "region"):
        if name in fields:
            out[name] = _display(_clean_text(_text(df, FIELD + fields[name].column)))

    frame = df.with_columns(**out)
    frame = frame.with_columns(
        (pl.col("first_name").fill_null("") + " " + pl.col("last_name").fill_null(""))
        .str.strip_chars()
        .replace("", None)
        .alias("full_name")
    )

    if "postcode" in fields:
        postcode, bad = _postcode(
            _text(frame, FIELD + fields["postcode"].column),
            pl.col("country"),
            validity.postcode_patterns,
        )
        frame = frame.with_columns(postcode.alias("postcode"))
        invalid.append(bad.then(pl.lit("postcode")))
    if "national_id" in fields:
        nid, bad = _national_id(
            _text(frame, FIELD + fields["national_id"].column),
            pl.col("country"),
            validity.national_id_checksum,
        )
        frame = frame.with_columns(nid.alias("national_id"))
        invalid.append(bad.then(pl.lit("national_id")))
    if "phone" in fields:
        frame, bad_phone = _phone(
            frame, _text(frame, FIELD + fields["phone"].column), validity.phone
        )
        invalid.append(bad_phone.then(pl.lit("phone")))

    attributes = {
        name: parse_attribute(
            pl.col(SRC + spec.column),
            frame.schema[SRC + spec.column],
            _text(frame, SRC + spec.column),
            spec,
        )
        for name, spec in source.attributes.items()
    }
    invalid += [
        pl.when(bad).then(pl.lit(name)) for name, (_, bad) in attributes.items() if bad is not None
    ]

    frame = frame.with_columns(
        pl.lit(source.name).alias("source"),
        pl.lit(source.trust, dtype=pl.Int32).alias("trust"),
        pl.col("_row_number").alias("row_number"),
        record_key(
            pl.lit(source.name),
            pl.coalesce(pl.col("source_record_id"), "#row" + pl.col("_row_number").cast(pl.String)),
        ).alias("record_key"),
        (_datetime(frame, source.updated_at) if source.updated_at else pl.lit(None))
        .cast(pl.Datetime("us"))
        .alias("updated_at"),
        pl.concat_list(invalid).list.drop_nulls().alias("_invalid")
        if invalid
        else pl.lit([], dtype=pl.List(pl.String)).alias("_invalid"),
        pl.concat_list(defaulted).list.drop_nulls().alias("_defaulted"),
        *[value.alias(name) for name, (value, _) in attributes.items()],
    )
    frame = frame.with_columns(
        *[
            pl.lit(None, dtype=_dtype(f)).alias(f)
            for f in CANONICAL_FIELDS
            if f not in frame.columns
        ]
    )
    frame = frame.with_row_index(POSITION).with_columns(_first_seen_earlier(earlier))
    frame = frame.with_columns(_reasons(frame)).drop(POSITION, EARLIER_ROW, EARLIER_FILE)
    # A rejected row keeps what the export said, so a steward can repair it at the source.
    frame = frame.with_columns(
        pl.when(pl.col("_reasons").list.len() > 0)
        .then(pl.coalesce(pl.col("_raw"), _row_as_json(frame, data_columns)))
        .alias("_raw")
    )
    return frame.select(
        RECORD_COLUMNS
        + list(attributes)
        + ["_reasons", "_invalid", "_defaulted", "_file", "_raw", "_loaded_at"]
    )


def format_anchor_rows(raw: pl.DataFrame, source: SourceConfig, limits: LimitsConfig) -> int:
    """How many leading rows of `raw` decide how its dates given without a format are read.

    Polars infers such a column's format from its first value that has one, so rows
    standardized apart from `raw` (rows appended to it) read their dates as they would in
    the whole column only when standardized after these rows.
    """
    df = raw.rename({c: SRC + c for c in raw.columns if c not in RAW_LINEAGE_COLUMNS})
    columns = []
    dob = source.fields.get("date_of_birth")
    if dob is not None and not dob.format:
        df, _ = _bounded_fields(df, {"date_of_birth": dob}, limits.max_field_chars)
        columns.append(_date(df, dob))
    if source.updated_at and not source.updated_at.format:
        columns.append(_parse_temporal(df, source.updated_at, pl.Datetime))
    for spec in source.attributes.values():
        if spec.declared_type == "timestamp" and not spec.format:
            columns.append(_parse_temporal(df, spec, pl.Datetime))
    if not columns or raw.height == 0:
        return 0
    firsts = df.select(
        pl.arg_where(c.is_not_null()).first().alias(str(i)) for i, c in enumerate(columns)
    ).row(0)
    return max((i + 1 for i in firsts if i is not None), default=0)


def _bounded_fields(
    df: pl.DataFrame, fields: dict[str, FieldSpec], max_chars: int
) -> tuple[pl.DataFrame, list[pl.Expr]]:
    """`df` with the FIELD copy of each mapped identity column, and the invalid flags of
    the texts longer than `max_chars`, nulled there.

    No name, email, phone or address runs to thousands of characters; compared as one, such
    a value costs linkage minutes per pair (string similarity is quadratic in the length).
    """
    copies: dict[str, pl.Expr] = {}  # by column: two fields may read the same one
    flags = []
    for field, spec in fields.items():
        column = pl.col(SRC + spec.column)
        if df.schema[SRC + spec.column] == pl.String:
            long = column.str.len_chars() > max_chars
            copies[spec.column] = pl.when(long).then(None).otherwise(column)
            flags.append(pl.when(long).then(pl.lit(field)))
        else:  # numbers and dates are short by nature
            copies[spec.column] = column
    return df.with_columns(e.alias(FIELD + c) for c, e in copies.items()), flags


def _row_as_json(frame: pl.DataFrame, columns: list[str]) -> pl.Expr:
    return pl.struct([_text(frame, SRC + c).alias(c) for c in columns]).struct.json_encode()


def _dtype(field: str) -> pl.DataType:
    return pl.Date() if field == "date_of_birth" else pl.String()


def _first_seen_earlier(earlier: pl.DataFrame | None) -> list[pl.Expr]:
    """Where each row's record id was first seen among the `earlier` rows (null: never)."""
    none = [
        pl.lit(None, dtype=pl.Int64).alias(EARLIER_ROW),
        pl.lit(None, dtype=pl.String).alias(EARLIER_FILE),
    ]
    if earlier is None or earlier.height == 0:
        return none
    first = (
        earlier.filter(pl.col("source_record_id").is_not_null())
        .group_by("source_record_id", maintain_order=True)
        .first()
    )
    seen = dict(zip(first["source_record_id"], first["row_number"], strict=True))
    files = dict(zip(first["source_record_id"], first["_file"], strict=True))
    ids = pl.col("source_record_id")
    return [
        ids.replace_strict(seen, default=None, return_dtype=pl.Int64).alias(EARLIER_ROW),
        ids.replace_strict(files, default=None, return_dtype=pl.String).alias(EARLIER_FILE),
    ]


def _reasons(frame: pl.DataFrame) -> pl.Expr:
    identity = [f for f in CANONICAL_FIELDS if f not in ("country", "full_name")]
    no_identity = pl.all_horizontal(pl.col(identity).is_null())
    # The first occurrence of an id keeps it and later ones are the suspects, in the order
    # rows were read: file by file (a glob's files in sorted order), then row by row. Row
    # numbers restart in each file, so they alone cannot order two files' rows. Rows read
    # in an earlier run (`standardize_source`'s `earlier`) come before all of these.
    position = pl.col(POSITION)
    seen_earlier = pl.col(EARLIER_ROW).is_not_null()
    duplicate = pl.col("source_record_id").is_not_null() & (
        seen_earlier | (position != position.min().over("source_record_id"))
    )
    first_row, first_file = (
        pl.coalesce(earlier, pl.col(c).sort_by(POSITION).first().over("source_record_id"))
        for c, earlier in (("_row_number", EARLIER_ROW), ("_file", EARLIER_FILE))
    )
    first_seen = pl.lit("duplicate record id (first seen at row ") + first_row.cast(pl.String)
    first_seen = (
        pl.when(first_file == pl.col("_file"))
        .then(first_seen)
        .otherwise(first_seen + " of " + first_file.str.split("/").list.last())
    )
    parse_error = pl.col("_parse_error")
    return (
        pl.concat_list(
            pl.when(parse_error.is_not_null()).then(parse_error),
            pl.when(parse_error.is_null() & pl.col("source_record_id").is_null()).then(
                pl.lit("missing record id")
            ),
            pl.when(parse_error.is_null() & duplicate).then(first_seen + ")"),
            pl.when(parse_error.is_null() & no_identity).then(pl.lit("no identity field")),
        )
        .list.drop_nulls()
        .alias("_reasons")
    )


def _text(df: pl.DataFrame, column: str) -> pl.Expr:
    """A source column as text, whatever type the export gave it."""
    dtype = df.schema[column]
    if dtype == pl.String:
        return pl.col(column)
    if dtype.is_float():
        # integers stored as floats (12345.0) must not keep the '.0' in ids and postcodes;
        # inf, NaN and values past 2**63 do not fit an Int64, and a strict cast of them (both
        # branches of `when` are evaluated on every row) would fail the whole source
        value = pl.col(column)
        whole = value.is_finite() & (value == value.round(0)) & (value.abs() < 2.0**63)
        return (
            pl.when(whole)
            .then(value.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(value.cast(pl.String))
        )
    return pl.col(column).cast(pl.String)


def _clean_text(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(r"\s+", " ").str.strip_chars().replace("", None)


def _display(expr: pl.Expr) -> pl.Expr:
    """Title-case values a system shouted or whispered; keep mixed case as the source wrote it."""
    shouted = (expr == expr.str.to_uppercase()) | (expr == expr.str.to_lowercase())
    return pl.when(shouted).then(expr.str.to_titlecase()).otherwise(expr)


def _with_names(df: pl.DataFrame, fields: dict[str, FieldSpec]) -> pl.DataFrame:
    """`df` with first_name and last_name, from separate columns or a split full name.

    Intermediate results are materialized as columns: the split and casing expressions refer
    to their inputs several times, and nested expressions would recompute them each time.
    """
    none = pl.lit(None, dtype=pl.String)
    first = (
        _clean_text(_text(df, FIELD + fields["first_name"].column))
        if "first_name" in fields
        else none
    )
    last = (
        _clean_text(_text(df, FIELD + fields["last_name"].column))
        if "last_name" in fields
        else none
    )
    df = df.with_columns(first.alias("__first"), last.alias("__last"))
    if "full_name" in fields:
        spec = fields["full_name"]
        df = df.with_columns(_clean_text(_text(df, FIELD + spec.column)).alias("__full"))
        df = df.with_columns(
            pl.col("__full")
            .str.replace_all(",", " ")
            .str.split(" ")
            .list.eval(pl.element().filter(pl.element() != ""))
            .alias("__tokens"),
            pl.col("__full").str.contains(",").alias("__comma"),
            pl.col("__full").str.split(",").list.first().str.strip_chars().alias("__before"),
            pl.col("__full")
            .str.split(",")
            .list.slice(1)
            .list.join(",")
            .str.strip_chars()
            .alias("__after"),
        )
        tokens = pl.col("__tokens")
        if spec.order == "last_first":
            df = df.with_columns((tokens.list.len() - 1).alias("__given"))
            given_part = tokens.list.slice(pl.col("__given")).list.join(" ")
            family_part = tokens.list.slice(0, pl.col("__given")).list.join(" ")
        else:
            df = df.with_columns(tokens.list.eval(fold(pl.element())).alias("__folded"))
            df = df.with_columns(given_name_length(pl.col("__folded")).alias("__given"))
            given_part = tokens.list.slice(0, pl.col("__given")).list.join(" ")
            family_part = tokens.list.slice(pl.col("__given")).list.join(" ")
        comma = pl.col("__comma")
        df = df.with_columns(
            pl.coalesce("__first", pl.when(comma).then("__after").otherwise(given_part)).alias(
                "__first"
            ),
            pl.coalesce("__last", pl.when(comma).then("__before").otherwise(family_part)).alias(
                "__last"
            ),
        )
    df = df.with_columns(
        pl.col("__first").replace("", None), pl.col("__last").replace("", None)
    ).with_columns(
        _display(pl.col("__first")).alias("first_name"),
        _display(pl.col("__last")).alias("last_name"),
    )
    return df.drop([c for c in df.columns if c.startswith("__") and not c.startswith((SRC, FIELD))])


def _whole(pattern: str) -> str:
    """A user's pattern that must match the whole value, anchored or not."""
    return f"^(?:{pattern})$"


def _email(expr: pl.Expr, pattern: str) -> tuple[pl.Expr, pl.Expr]:
    cleaned = expr.str.replace_all(r"\s+", "").str.to_lowercase().replace("", None)
    valid = cleaned.str.contains(_whole(pattern))
    return pl.when(valid).then(cleaned), pl.when(cleaned.is_not_null() & ~valid)


def _parse_temporal(
    df: pl.DataFrame,
    spec: FieldSpec,
    dtype: type[pl.Date] | type[pl.Datetime],
    prefix: str = SRC,
) -> pl.Expr:
    name = prefix + spec.column
    col = pl.col(name)
    source_type = df.schema[name]
    if source_type in (pl.Date, pl.Datetime) or isinstance(source_type, pl.Datetime):
        return col.cast(dtype)
    text = _text(df, name).str.strip_chars()
    if spec.format:
        return text.str.strptime(dtype, spec.format, strict=False)
    # No format given: ISO 8601, which is what JSON and Parquet exports use.
    return text.str.to_datetime(strict=False, time_zone=None).cast(dtype)


def _date(df: pl.DataFrame, spec: FieldSpec) -> pl.Expr:
    return _parse_temporal(df, spec, pl.Date, FIELD)


def _datetime(df: pl.DataFrame, spec: FieldSpec) -> pl.Expr:
    expr = _parse_temporal(df, spec, pl.Datetime)
    return expr.dt.replace_time_zone(None) if _has_tz(df, spec) else expr


def _has_tz(df: pl.DataFrame, spec: FieldSpec) -> bool:
    dtype = df.schema[SRC + spec.column]
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None


def _postcode(expr: pl.Expr, country: pl.Expr, patterns: dict[str, str]) -> tuple[pl.Expr, pl.Expr]:
    """Postcodes of the countries in `patterns` must match theirs; others are kept."""
    cleaned = expr.str.replace_all(r"[\s\-]", "").str.to_uppercase().replace("", None)
    value = cleaned
    for code, pattern in patterns.items():
        # Spanish postcodes are five digits; exports that stored them as numbers lost the
        # leading zero (08001 -> 8001), which is recoverable because the province prefix is
        # 01-52.
        candidate = cleaned.str.zfill(5) if code == "ES" else cleaned
        checked = pl.when(candidate.str.contains(_whole(pattern))).then(candidate)
        value = pl.when(country == code).then(checked).otherwise(value)
    return value, pl.when(cleaned.is_not_null() & value.is_null())


def _national_id(expr: pl.Expr, country: pl.Expr, checksum: bool) -> tuple[pl.Expr, pl.Expr]:
    cleaned = expr.str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase().replace("", None)
    if not checksum:
        return cleaned, pl.when(pl.lit(False))
    # Spanish DNI / NIE: the letter is a checksum of the number (NIE maps X/Y/Z to 0/1/2).
    numeric = (
        cleaned.str.slice(0, 8)
        .str.replace(r"^X", "0")
        .str.replace(r"^Y", "1")
        .str.replace(r"^Z", "2")
    )
    shaped = cleaned.str.contains(ES_NATIONAL_ID_PATTERN)
    expected = pl.lit(list(DNI_LETTERS)).list.get(
        numeric.cast(pl.Int64, strict=False).fill_null(0) % 23
    )
    es_valid = shaped & (cleaned.str.slice(8, 1) == expected)
    is_es = country == "ES"
    value = pl.when(is_es & es_valid).then(cleaned).when(~is_es).then(cleaned)
    return value, pl.when(cleaned.is_not_null() & value.is_null())


def _phone(frame: pl.DataFrame, expr: pl.Expr, mode: str) -> tuple[pl.DataFrame, pl.Expr]:
    """E.164 numbers, read with each record's country; what counts as a phone is `mode`
    (ValidityConfig.phone)."""
    cleaned = expr.str.replace_all(r"[^0-9+]", "").str.replace(r"^00", "+").replace("", None)
    frame = frame.with_columns(cleaned.alias("_phone_clean"))
    countries = frame.select(pl.col("country").unique().drop_nulls())["country"].to_list()
    fast = pl.lit(None, dtype=pl.String)
    for country in countries:
        fast = (
            pl.when(pl.col("country") == country)
            .then(_e164_by_pattern(pl.col("_phone_clean"), country))
            .otherwise(fast)
        )
    frame = frame.with_columns(fast.alias("phone"))
    # the rest (other countries' prefixes, trunk prefixes, odd formats) number by number
    rest = frame.filter(pl.col("_phone_clean").is_not_null() & pl.col("phone").is_null())
    distinct = rest.select("_phone_clean", "country").unique()
    lookup = distinct.with_columns(
        pl.Series(
            "_phone_slow",
            [_e164(n, c, mode) for n, c in distinct.iter_rows()],
            dtype=pl.String,
        )
    )
    frame = frame.join(lookup, on=["_phone_clean", "country"], how="left", nulls_equal=False)
    frame = frame.with_columns(pl.coalesce("phone", "_phone_slow").alias("phone"))
    bad = pl.col("_phone_clean").is_not_null() & pl.col("phone").is_null()
    # evaluate the flag now, before the helper columns are dropped
    frame = frame.with_columns(bad.alias("_phone_bad")).drop("_phone_clean", "_phone_slow")
    return frame, pl.when(pl.col("_phone_bad"))


_NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


def _e164_by_pattern(cleaned: pl.Expr, region: str) -> pl.Expr:
    """E.164 for numbers of `region` written nationally or with its country code, vectorized.

    Uses phonenumbers' own metadata (the region's country code and the national-number
    patterns of every number type, which is what is_valid_number checks), so it agrees with
    the library; anything it does not recognise is left null for the per-number path.
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return pl.lit(None, dtype=pl.String)
    patterns = [
        desc.national_number_pattern
        for desc in (getattr(meta, name) for name in _NUMBER_TYPES)
        if desc is not None and desc.national_number_pattern
    ]
    if not patterns:
        return pl.lit(None, dtype=pl.String)
    valid = "^(?:" + "|".join(patterns) + ")$"
    code = str(meta.country_code)
    national = pl.when(~cleaned.str.starts_with("+")).then(cleaned)
    international = (
        pl.when(cleaned.str.starts_with("+" + code))
        .then(cleaned.str.slice(len(code) + 1))
        .when(~cleaned.str.starts_with("+") & cleaned.str.starts_with(code))
        .then(cleaned.str.slice(len(code)))
    )
    return (
        pl.when(national.str.contains(valid))
        .then(pl.lit("+" + code) + national)
        .when(international.str.contains(valid))
        .then(pl.lit("+" + code) + international)
    )


def _e164(number: str, country: str | None, mode: str = "valid") -> str | None:
    accept = {
        "valid": phonenumbers.is_valid_number,
        "possible": phonenumbers.is_possible_number,
        "digits": lambda parsed: 7 <= len(str(parsed.national_number)) <= 15,
    }[mode]
    candidates = [number]
    # "34612345678" is an international number that lost its '+'
    if not number.startswith("+") and len(number) > 9:
        candidates.append("+" + number)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, country or None)
        except phonenumbers.NumberParseException:
            continue
        if accept(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None
