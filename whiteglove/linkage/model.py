"""The model's design: the columns it compares, its comparisons, and the model kept as data.

The design is derived from whichever canonical fields the sources map: each present field
brings its comparison (from Splink's comparison library). A trained or saved model is plain
JSON; the functions here check it, move it between SQL dialects and read what it learned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.config import MatchField
from whiteglove.linkage.declared import declared_column, declared_comparison
from whiteglove.linkage.errors import LinkageError
from whiteglove.names import canonical_first_name, fold
from whiteglove.schema import MATCH_COLUMNS

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

# EM on clean blocks concludes that true matches never disagree on birth date or phone and
# almost never on names (m = 0, which Splink then leaves untrained: weight 0, so namesakes
# with different birth dates pay nothing). Real exports have typos and stale values; a floor
# of 1% on every m keeps disagreement strongly negative (about -6.5) but finite.
M_FLOOR = 0.01


def match_frame(
    records: pl.DataFrame, declared: Mapping[str, MatchField] | None = None
) -> pl.DataFrame:
    """The columns the model compares, folded so that case and accents never count: the
    canonical ones, then the `declared` match fields (linkage.match_fields)."""
    declared = declared or {}
    # folded once, then reused: nested expressions would fold the same names several times
    folded = records.select(
        pl.col("record_key").alias("unique_id"),
        fold(pl.col("first_name")).alias("__first"),
        fold(pl.col("last_name")).alias("__last"),
        "email",
        "phone",
        "date_of_birth",
        "national_id",
        "postcode",
        fold(pl.col("city")).alias("city_key"),
        fold(pl.col("address_line")).alias("address_key"),
        *[declared_column(records, name, field) for name, field in declared.items()],
    ).with_columns(canonical_first_name(pl.col("__first")).alias("first_name_key"))
    return folded.with_columns(
        pl.col("__last").alias("last_name_key"),
        # first surname alone: Spanish records often drop the second one
        pl.col("__last").str.split(" ").list.first().alias("surname_key"),
        pl.col("first_name_key").str.slice(0, 1).alias("first_initial"),
        pl.col("first_name_key").str.split(" ").alias("given_tokens"),
        pl.concat_str(["__first", "__last"], separator=" ", ignore_nulls=True)
        .str.split(" ")
        .list.unique()
        .list.sort()
        .alias("name_tokens"),
        pl.col("email").str.extract(r"^([^@]+)@").alias("email_user"),
        pl.col("email").str.extract(r"@(.+)$").alias("email_domain"),
        # the digits of an address, "" when it has none: juan_sanchez26 and juan_sanchez36
        # are one character apart, and usually two people
        pl.col("email").str.replace_all(r"[^0-9]", "").alias("email_digits"),
    ).select(*MATCH_COLUMNS, *declared)


def present_columns(frame: pl.DataFrame) -> set[str]:
    """Match columns with at least one value: a comparison on an empty column teaches nothing."""
    counts = frame.select(pl.all().is_not_null().sum()).row(0, named=True)
    return {c for c, n in counts.items() if n > 0 and c != "unique_id"}


def build_comparisons(
    present: set[str], declared: Mapping[str, MatchField] | None = None
) -> list[ComparisonCreator]:
    """Splink comparisons for the `present` match columns, strongest evidence levels first;
    a `declared` match field brings its comparison when it has values."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    comparisons = []
    if "first_name_key" in present:
        comparisons.append(
            _name_comparison(
                "first_name",
                "first_name_key",
                cll.JaroWinklerLevel("first_name_key", 0.92),
                # "Javier" is how Francisco Javier signs a support ticket
                cll.ArrayIntersectLevel("given_tokens", 1).configure(
                    label_for_charts="Share a given name"
                ),
                cll.JaroWinklerLevel("first_name_key", 0.8),
            )
        )
    if "last_name_key" in present:
        comparisons.append(
            _name_comparison(
                "last_name",
                "last_name_key",
                cll.ExactMatchLevel("surname_key").configure(
                    label_for_charts="First surname matches"
                ),
                cll.JaroWinklerLevel("last_name_key", 0.9),
                cll.JaroWinklerLevel("surname_key", 0.9).configure(
                    label_for_charts="First surname similar"
                ),
                cll.ArrayIntersectLevel("name_tokens", 2).configure(
                    label_for_charts="Two name tokens shared (order swapped)"
                ),
            )
        )
    if "email" in present:
        # Not Splink's EmailComparison: its username levels reward two people whose addresses
        # are built from the same common name (oscar.fernandez@gmail vs @hotmail,
        # mariateresa.rodriguez69 vs mariateresarodriguez80): the name evidence, twice. Even a
        # username with digits is no evidence at another provider: of the 347,000 generated
        # pairs at 1M records sharing one (cristinagarcia80@yahoo / @gmail), 99% are two people.
        comparisons.append(
            _comparison(
                "email",
                cll.NullLevel("email"),
                # no term-frequency adjustment: a customer's own repeated tickets would make
                # their address look common and weaken the strongest evidence there is
                cll.ExactMatchLevel("email"),
                cll.And(
                    cll.LevenshteinLevel("email", 1), cll.ExactMatchLevel("email_digits")
                ).configure(label_for_charts="One typo, same digits"),
                # a mistyped domain; another provider (gmail.com / hotmail.com, .com / .es)
                # is three edits or more away, and no evidence (see above)
                cll.And(
                    cll.ExactMatchLevel("email_user"), cll.LevenshteinLevel("email_domain", 2)
                ).configure(label_for_charts="Same user name, domain one or two typos apart"),
            )
        )
    if "phone" in present:
        comparisons.append(
            _comparison(
                "phone",
                cll.NullLevel("phone"),
                cll.ExactMatchLevel("phone"),
                cll.LevenshteinLevel("phone", 1),
            )
        )
    if "date_of_birth" in present:
        comparisons.append(
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=False,
                datetime_metrics=["month", "year", "year"],
                datetime_thresholds=[1, 1, 10],
            )
        )
    if "national_id" in present:
        comparisons.append(cl.ExactMatch("national_id"))
    if {"postcode", "city_key"} <= present:
        comparisons.append(_location_comparison())
    elif "postcode" in present:
        comparisons.append(cl.LevenshteinAtThresholds("postcode", [1]))
    elif "city_key" in present:
        comparisons.append(_name_comparison("city_key", "city_key", _similar_city()))
    if "address_key" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("address_key", [0.95, 0.85]))
    comparisons += [
        declared_comparison(name, field)
        for name, field in (declared or {}).items()
        if name in present
    ]
    if len(comparisons) < 2:
        raise LinkageError(
            "the sources map fewer than two comparable fields; add at least two of name, "
            "email, phone, date_of_birth, postcode (or linkage.match_fields) to the sources file"
        )
    return comparisons


def _comparison(
    name: str, null_level: ComparisonLevelCreator, *levels: ComparisonLevelCreator
) -> ComparisonCreator:
    """A comparison that runs from its null level through `levels` to "anything else"."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[null_level, *levels, cll.ElseLevel()],
    )


def _name_comparison(name: str, column: str, *levels: ComparisonLevelCreator) -> ComparisonCreator:
    """A name's comparison: exact agreement weighted by how common the name is, then `levels`."""
    import splink.comparison_level_library as cll

    exact = cll.ExactMatchLevel(column).configure(tf_adjustment_column=column)
    return _comparison(name, cll.NullLevel(column), exact, *levels)


def _location_comparison() -> ComparisonCreator:
    """Postcode and city as one comparison: two postcodes a typo apart are always in the same
    city, so scored separately the same place counts twice (a small town's term-frequency
    weight on top of the postcode's) and namesakes born on the same day in one town link."""
    import splink.comparison_level_library as cll

    return _comparison(
        "location",
        cll.And(cll.NullLevel("postcode"), cll.NullLevel("city_key")).configure(
            is_null_level=True, label_for_charts="Postcode and city missing"
        ),
        cll.ExactMatchLevel("postcode"),
        cll.LevenshteinLevel("postcode", 1),
        cll.ExactMatchLevel("city_key").configure(
            tf_adjustment_column="city_key",
            label_for_charts="Same city, postcode differs or missing",
        ),
        _similar_city(),
    )


def _similar_city() -> ComparisonLevelCreator:
    """A city name typed with a slip or two ("Manchetser"): weaker than the same city."""
    import splink.comparison_level_library as cll

    return cll.JaroWinklerLevel("city_key", 0.88).configure(
        label_for_charts="City a typo or two apart"
    )


def read_model(path: Path) -> dict:
    """A model saved as JSON (as each run writes to model.json)."""
    return json.loads(path.read_text(encoding="utf-8"))


def load_model(
    path: Path,
    columns: set[str],
    dialect: str,
    declared: Mapping[str, MatchField] | None = None,
) -> dict:
    """The saved model at `path`, checked against `columns` and moved into `dialect`."""
    saved = read_model(path)
    check_saved_model(saved, columns, path)
    return in_dialect(saved, dialect, declared)


def check_saved_model(model: dict, columns: set[str], path: Path) -> None:
    """Refuse a saved model that compares columns this version no longer derives (a model
    saved by an older version), with a message that says what to do rather than a SQL error."""
    used = set()
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            used |= set(
                re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)_l\b", level.get("sql_condition", ""))
            )
            if level.get("tf_adjustment_column"):
                used.add(level["tf_adjustment_column"])
    missing = used - columns
    if missing:
        raise LinkageError(
            f"the saved model {path} compares {sorted(missing)}, which this run does not derive "
            "from the records: declare them in linkage.match_fields if they are attributes, "
            "or retrain (leave linkage.model out for one run)"
        )


def in_dialect(model: dict, dialect: str, declared: Mapping[str, MatchField] | None = None) -> dict:
    """A saved model rewritten for another backend's SQL dialect, its trained values kept.

    A model holds its comparisons as SQL in the dialect it was trained in (DuckDB's
    jaro_winkler_similarity is jaro_winkler on Spark, and sqlglot does not translate Splink's
    functions). So a model trained on DuckDB can score on Spark, and back, the comparisons
    are rebuilt from the library in `dialect` and given the saved m, u and term-frequency
    settings, level by level.
    """
    if model.get("sql_dialect") in (None, dialect):
        return model
    columns = set(MATCH_COLUMNS) - {"unique_id"} | set(declared or {})
    # what a field's comparison looks like depends on what else is mapped (a postcode alone, a
    # city alone, or both as one location), so every form a saved model can hold is built
    library = {
        c["output_column_name"]: c
        for present in (columns, columns - {"city_key"}, columns - {"postcode"})
        for c in (x.create_comparison_dict(dialect) for x in build_comparisons(present, declared))
    }
    model = json.loads(json.dumps(model))
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = comparison["comparison_levels"]
        fresh = library.get(name, {}).get("comparison_levels", [])
        if [lvl.get("label_for_charts") for lvl in levels] != [
            lvl.get("label_for_charts") for lvl in fresh
        ]:
            raise LinkageError(
                f"the saved model's {name!r} comparison is not one this version builds, so it "
                f"cannot be moved from {model.get('sql_dialect')} to {dialect}; retrain it "
                "(leave linkage.model out for one run)"
            )
        for level, new in zip(levels, fresh, strict=True):
            level["sql_condition"] = new["sql_condition"]
    model["sql_dialect"] = dialect
    return model


def floor_m_probabilities(model: dict, floor: float) -> dict:
    """The model with every trained comparison level's m at least `floor`, renormalized."""
    model = json.loads(json.dumps(model))
    for comparison in model["comparisons"]:
        levels = [
            lvl
            for lvl in comparison["comparison_levels"]
            if not lvl.get("is_null_level") and lvl.get("u_probability") is not None
        ]
        if not levels:
            continue
        for lvl in levels:
            lvl["m_probability"] = max(lvl.get("m_probability") or 0.0, floor)
        total = sum(lvl["m_probability"] for lvl in levels)
        for lvl in levels:
            lvl["m_probability"] /= total
    return model


def disagreement_shares(model: dict) -> dict[str, float]:
    """For each comparison, the share of true matches the model estimates disagree on it
    outright (the m of its last level, "all other comparisons")."""
    shares = {}
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        disagree = levels[-1].get("m_probability") if levels else None
        if disagree is not None:
            shares[comparison["output_column_name"]] = float(disagree)
    return shares
