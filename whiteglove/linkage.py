"""Probabilistic record linkage with Splink on DuckDB, or on Spark when one machine is not enough.

The model is data, derived from whichever canonical fields the sources map: each present
field brings its comparison (from Splink's comparison library) and its blocking rules. The
sources are linked and de-duplicated in one model over the union of all customer records
(a dedupe over the union is link-and-dedupe: every pair within and across sources is a
candidate).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from whiteglove.config import LinkageConfig, SparkConfig
from whiteglove.names import canonical_first_name, fold
from whiteglove.review import top_reasons

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPI

log = logging.getLogger(__name__)

# Columns the model reads, derived from the canonical record by `match_frame`.
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
    "email_digits",
    "phone",
    "date_of_birth",
    "national_id",
    "postcode",
    "city_key",
    "address_key",
]


class LinkageError(RuntimeError):
    """The model cannot be built or run safely on this data."""


@dataclass(frozen=True)
class BlockingRule:
    """Records that agree on every one of `columns` become a candidate pair."""

    columns: tuple[str, ...]

    @property
    def label(self) -> str:
        return " & ".join(self.columns)


@dataclass
class LinkageResult:
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_weight, match_probability
    model_json: dict
    comparisons_per_rule: dict[str, int]
    review: pl.DataFrame  # pairs between the review and match thresholds, with reasons
    left_out_rules: dict[str, int]  # derived blocking rules too costly at this size
    records: pl.DataFrame  # unique_id, record_hash: what each record looked like when linked
    design: list[str]  # blocking rules and compared fields: what decides which pairs exist
    mode: str  # "trained", "loaded" (linkage.model) or "incremental"
    records_rescored: int  # records whose pairs were scored in this run


@dataclass(frozen=True)
class PreviousLinkage:
    """What an earlier run's linkage left, so the next one scores only what changed."""

    model: dict
    records: pl.DataFrame  # unique_id, record_hash
    pairs: pl.DataFrame
    review: pl.DataFrame
    design: list[str]


def record_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    """unique_id and a hash of every value the model compares: equal hash, same scores."""
    values = frame.drop("unique_id")
    return frame.select("unique_id", values.hash_rows().alias("record_hash"))


def match_frame(records: pl.DataFrame) -> pl.DataFrame:
    """The columns the model compares, folded so that case and accents never count."""
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
    ).with_columns(canonical_first_name(pl.col("__first")).alias("first_name_key"))
    return folded.select(
        "unique_id",
        "first_name_key",
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
        "email",
        pl.col("email").str.extract(r"^([^@]+)@").alias("email_user"),
        # the digits of an address, "" when it has none: juan_sanchez26 and juan_sanchez36
        # are one character apart, and usually two people
        pl.col("email").str.replace_all(r"[^0-9]", "").alias("email_digits"),
        "phone",
        "date_of_birth",
        "national_id",
        "postcode",
        "city_key",
        "address_key",
    )


def present_columns(frame: pl.DataFrame) -> set[str]:
    """Match columns with at least one value: a comparison on an empty column teaches nothing."""
    counts = frame.select(pl.all().is_not_null().sum()).row(0, named=True)
    return {c for c, n in counts.items() if n > 0 and c != "unique_id"}


def build_comparisons(present: set[str]) -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    comparisons = []
    if "first_name_key" in present:
        comparisons.append(
            cl.CustomComparison(
                output_column_name="first_name",
                comparison_levels=[
                    cll.NullLevel("first_name_key"),
                    cll.ExactMatchLevel("first_name_key").configure(
                        tf_adjustment_column="first_name_key"
                    ),
                    cll.JaroWinklerLevel("first_name_key", 0.92),
                    # "Javier" is how Francisco Javier signs a support ticket
                    cll.ArrayIntersectLevel("given_tokens", 1).configure(
                        label_for_charts="Share a given name"
                    ),
                    cll.JaroWinklerLevel("first_name_key", 0.8),
                    cll.ElseLevel(),
                ],
            )
        )
    if "last_name_key" in present:
        comparisons.append(
            cl.CustomComparison(
                output_column_name="last_name",
                comparison_levels=[
                    cll.NullLevel("last_name_key"),
                    cll.ExactMatchLevel("last_name_key").configure(
                        tf_adjustment_column="last_name_key"
                    ),
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
                    cll.ElseLevel(),
                ],
            )
        )
    if "email" in present:
        # Not Splink's EmailComparison: its username levels reward two people whose addresses
        # are built from the same common name (oscar.fernandez@gmail vs @hotmail,
        # mariateresa.rodriguez69 vs mariateresarodriguez80): the name evidence, twice. Even a
        # username with digits is no evidence at another provider: of the 347,000 generated
        # pairs at 1M records sharing one (cristinagarcia80@yahoo / @gmail), 99% are two people.
        comparisons.append(
            cl.CustomComparison(
                output_column_name="email",
                comparison_levels=[
                    cll.NullLevel("email"),
                    # no term-frequency adjustment: a customer's own repeated tickets would make
                    # their address look common and weaken the strongest evidence there is
                    cll.ExactMatchLevel("email"),
                    cll.And(
                        cll.LevenshteinLevel("email", 1), cll.ExactMatchLevel("email_digits")
                    ).configure(label_for_charts="One typo, same digits"),
                    cll.ElseLevel(),
                ],
            )
        )
    if "phone" in present:
        comparisons.append(
            cl.CustomComparison(
                output_column_name="phone",
                comparison_levels=[
                    cll.NullLevel("phone"),
                    cll.ExactMatchLevel("phone"),
                    cll.LevenshteinLevel("phone", 1),
                    cll.ElseLevel(),
                ],
            )
        )
    if "date_of_birth" in present:
        comparisons.append(
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=False,
                datetime_metrics=["month", "year"],
                datetime_thresholds=[1, 5],
            )
        )
    if "national_id" in present:
        comparisons.append(cl.ExactMatch("national_id"))
    if {"postcode", "city_key"} <= present:
        comparisons.append(_location_comparison())
    elif "postcode" in present:
        comparisons.append(cl.LevenshteinAtThresholds("postcode", [1]))
    elif "city_key" in present:
        comparisons.append(cl.ExactMatch("city_key").configure(term_frequency_adjustments=True))
    if "address_key" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("address_key", [0.95, 0.85]))
    if len(comparisons) < 2:
        raise LinkageError(
            "the sources map fewer than two comparable fields; add at least two of name, "
            "email, phone, date_of_birth, postcode to the sources file"
        )
    return comparisons


# A derived blocking rule may generate this many comparisons per record (but at least a
# million in all): beyond that it costs more than it finds.
DERIVED_RULE_PER_RECORD = 10
DERIVED_RULE_FLOOR = 1_000_000


def _location_comparison():
    """Postcode and city as one comparison: two postcodes a typo apart are always in the same
    city, so scored separately the same place counts twice (a small town's term-frequency
    weight on top of the postcode's) and namesakes born on the same day in one town link."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("city_key")).configure(
                is_null_level=True, label_for_charts="Postcode and city missing"
            ),
            cll.ExactMatchLevel("postcode"),
            cll.LevenshteinLevel("postcode", 1),
            cll.ExactMatchLevel("city_key").configure(
                tf_adjustment_column="city_key",
                label_for_charts="Same city, postcode differs or missing",
            ),
            cll.ElseLevel(),
        ],
    )


def default_blocking_rules(present: set[str]) -> list[BlockingRule]:
    candidates = [
        ("email",),
        ("phone",),
        ("national_id",),
        ("email_user",),
        ("first_name_key", "surname_key"),
        ("first_name_key", "last_name_key"),
        ("first_name_key", "surname_key", "city_key"),
        ("surname_key", "date_of_birth"),
        ("first_name_key", "date_of_birth"),
        # A surname alone is shared by hundreds in one postcode (7M pairs at a million
        # records, 2 of 3 below 0.01); with the first initial (nicknames already mapped to
        # one name) the rule keeps 98% of the true pairs it alone found, for a sixth of the
        # comparisons. It loses first names that differ in their first letter.
        ("first_initial", "surname_key", "postcode"),
        ("date_of_birth", "city_key"),
        ("date_of_birth", "postcode"),
    ]
    if "first_initial" not in present:  # sources without first names keep the plain rule
        candidates.append(("surname_key", "postcode"))
    return [BlockingRule(c) for c in candidates if set(c) <= present]


def count_comparisons(con: duckdb.DuckDBPyConnection, table: str, rule: BlockingRule) -> int:
    """Upper bound of the pairs a rule generates (before de-duplication across rules)."""
    cols = ", ".join(_quote(c) for c in rule.columns)
    not_null = " and ".join(f"{_quote(c)} is not null" for c in rule.columns)
    rows = con.sql(
        f"select coalesce(sum(n * (n - 1) / 2), 0)::hugeint from "
        f"(select count(*) as n from {table} where {not_null} group by {cols})"
    ).fetchall()
    return int(rows[0][0])


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def link(
    records: pl.DataFrame,
    config: LinkageConfig,
    model_path: Path | None = None,
    previous: PreviousLinkage | None = None,
) -> LinkageResult:
    """Score candidate pairs with a model trained on this run's records, or a saved one.

    Given what a previous run left (`previous`), nothing is trained: its model scores only
    the pairs that involve a new or changed record, and the other pairs keep their scores.
    A different blocking or a different saved model makes that unsafe; then every pair is
    scored again.
    """
    # Closed on the way out, whatever happens: the connection holds Splink's tables (the
    # scored pairs, term frequencies, training samples), gigabytes at a million records.
    with (
        tempfile.TemporaryDirectory(prefix="whiteglove-duckdb-") as spill,
        duckdb.connect(config=duckdb_config(config.duckdb_memory_limit, spill)) as con,
    ):
        return _link(con, records, config, model_path, previous)


def duckdb_config(memory_limit: str, spill_dir: str) -> dict[str, str]:
    """DuckDB settings for a working connection: bounded memory, spilling to `spill_dir`.

    DuckDB's own default takes 80% of the machine's memory, and an in-memory database spills
    into the current directory; a pipeline shares the machine and must not write there.
    """
    return {"memory_limit": memory_limit, "temp_directory": spill_dir}


def _link(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    config: LinkageConfig,
    model_path: Path | None,
    previous: PreviousLinkage | None,
) -> LinkageResult:
    from splink import Linker, SettingsCreator, block_on
    from splink.blocking_rule_library import And, CustomRule

    frame = match_frame(records)
    present = present_columns(frame)
    comparisons = build_comparisons(present)
    rules = (
        [BlockingRule(tuple(r)) for r in config.blocking]
        if config.blocking
        else default_blocking_rules(present)
    )
    unknown = sorted({c for r in rules for c in r.columns} - set(MATCH_COLUMNS))
    if unknown:
        raise LinkageError(f"blocking rules name unknown columns {unknown}; known: {MATCH_COLUMNS}")

    con.register("match_input", frame.to_arrow())
    counts = {r.label: count_comparisons(con, "match_input", r) for r in rules}
    for label, n in counts.items():
        log.info("blocking rule %s: at most %d comparisons", label, n)
    exploding = {k: v for k, v in counts.items() if v > config.max_comparisons}
    if exploding and config.blocking:
        raise LinkageError(
            f"blocking rules would generate too many comparisons (limit "
            f"{config.max_comparisons:,}): "
            + ", ".join(f"{k} = {v:,}" for k, v in exploding.items())
            + "; make them stricter in the linkage.blocking section of the sources file"
        )
    dropped: dict[str, int] = {}
    if not config.blocking:
        # Derived rules are a starting point, not the user's request: one that would explode
        # at this size (first name + first surname on a million Spanish records) is left out.
        budget = min(
            config.max_comparisons, max(DERIVED_RULE_FLOOR, DERIVED_RULE_PER_RECORD * frame.height)
        )
        dropped = {k: v for k, v in counts.items() if v > budget}
        rules = [r for r in rules if r.label not in dropped]
        counts = {k: v for k, v in counts.items() if k not in dropped}
        for label, n in dropped.items():
            log.warning("blocking rule %s left out: %d comparisons, budget %d", label, n, budget)
        if not rules:
            raise LinkageError(f"every derived blocking rule exceeds {budget:,} comparisons")

    hashes = record_hashes(frame)
    design = [r.label for r in rules] + ["fields: " + ", ".join(sorted(present))]
    incremental = previous is not None and _can_continue(previous, design, model_path)
    if incremental:
        assert previous is not None
        changed = _changed_records(hashes, previous.records)
        log.info("incremental linkage: %d of %d records new or changed", changed.sum(), len(hashes))
        kept = hashes.filter(~changed)["unique_id"]
        old_pairs = _between(previous.pairs, kept)
        old_review = _between(previous.review, kept)
        if not changed.any():
            return LinkageResult(
                old_pairs,
                previous.model,
                counts,
                old_review,
                dropped,
                hashes,
                design,
                "incremental",
                0,
            )
        frame = frame.with_columns(changed.alias("changed_record"))
    blocking = [block_on(*r.columns) for r in rules]
    if incremental:
        # only pairs with a new or changed record: the others keep the scores they were given
        blocking = [And(b, CustomRule("l.changed_record or r.changed_record")) for b in blocking]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    db_api, query = _backend(config, con)
    sdf = db_api.register(frame.to_arrow(), dataset_display_name="customer_records")

    if incremental:
        assert previous is not None
        model, mode = previous.model, "incremental"
    elif model_path is not None:
        saved = json.loads(model_path.read_text(encoding="utf-8"))
        check_saved_model(saved, set(frame.columns), model_path)
        model, mode = in_dialect(saved, db_api.sql_dialect.sql_dialect_str), "loaded"
    else:
        model = _train(Linker(sdf, settings, log_level=logging.ERROR), rules, present, config)
        mode = "trained"
    # predict with the model as data: what is saved is exactly what scored the pairs; the
    # per-comparison Bayes factors are kept only to explain the pairs a steward will review
    prediction = {**model, "blocking_rules_to_generate_predictions": blocking}
    linker = Linker(
        sdf,
        {**prediction, "retain_intermediate_calculation_columns": True},
        log_level=logging.ERROR,
    )
    scored = linker.inference.predict(threshold_match_probability=config.keep_pairs_above)
    # plain SQL that DuckDB and Spark read alike, so the backends share this code
    table = scored.physical_name
    pairs = query(f"select unique_id_l, unique_id_r, match_weight, match_probability from {table}")
    band = query(
        f"select * from {table} where match_probability >= {float(config.review_threshold)} "
        f"and match_probability < {float(config.match_threshold)}"
    )
    review = band.select(
        "unique_id_l",
        "unique_id_r",
        "match_probability",
        "match_weight",
        top_reasons(band, model).alias("reasons"),
    )
    rescored = len(hashes)
    if incremental:
        pairs = pl.concat([old_pairs, pairs], how="vertical_relaxed")
        review = pl.concat([old_review, review], how="vertical_relaxed")
        rescored = int(changed.sum())
    return LinkageResult(
        pairs=pairs,
        model_json=model,
        comparisons_per_rule=counts,
        review=review,
        left_out_rules=dropped,
        records=hashes,
        design=design,
        mode=mode,
        records_rescored=rescored,
    )


def _can_continue(previous: PreviousLinkage, design: list[str], model_path: Path | None) -> bool:
    """Whether the previous run's pairs can be kept: same blocking, fields and model."""
    if previous.design != design:
        log.info("blocking rules or compared fields changed since the previous run: full scoring")
        return False
    if model_path is not None:
        saved = json.loads(model_path.read_text(encoding="utf-8"))
        if in_dialect(saved, previous.model.get("sql_dialect", "duckdb")) != previous.model:
            log.info("linkage.model is not the model of the previous run: scoring every pair")
            return False
    return True


def _changed_records(current: pl.DataFrame, previous: pl.DataFrame) -> pl.Series:
    """For each current record, in order: new, or compared values differ from before."""
    known = current.join(
        previous, on="unique_id", how="left", suffix="_before", maintain_order="left"
    )
    return (
        known["record_hash_before"].is_null()
        | (known["record_hash"] != known["record_hash_before"])
    ).alias("changed")


def _between(pairs: pl.DataFrame, kept: pl.Series) -> pl.DataFrame:
    """The pairs whose two records are both in `kept`."""
    return pairs.filter(pl.col("unique_id_l").is_in(kept) & pl.col("unique_id_r").is_in(kept))


def _polars(table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _backend(
    config: LinkageConfig, con: duckdb.DuckDBPyConnection
) -> tuple[DatabaseAPI, Callable[[str], pl.DataFrame]]:
    """Splink's database API for `config.backend`, and a reader of its query results.

    Results come back through Arrow, column types intact, with no pandas in between.
    """
    if config.backend == "spark":
        from splink import SparkAPI

        spark = spark_session(config.spark)
        # a session outlives a run (a DuckDB connection does not): the previous run's input
        # table would block registering this one under the same name
        spark.catalog.dropTempView("customer_records")
        return SparkAPI(spark_session=spark), lambda sql: _polars(spark.sql(sql).toArrow())
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con), lambda sql: _polars(con.sql(sql).to_arrow_table())


def spark_session(options: SparkConfig):
    """A Spark session that can run Splink's model; one already running is reused.

    Reuse matters beyond speed: a process has one Spark driver, and a second session
    with other settings cannot start beside it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise LinkageError(
            "linkage.backend is spark, but pyspark is not installed: "
            "pip install 'whiteglove[spark]'"
        ) from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise LinkageError("linkage.backend is spark, which needs Java 17 or later (java)")
    from splink.backends.spark import similarity_jar_location

    conf = {
        "spark.app.name": "whiteglove-linkage",
        # progress bars would interleave with the run's own progress lines
        "spark.ui.showConsoleProgress": "false",
        # YAML's true is Python's True, which Spark would not read as a boolean
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.conf.items()},
    }
    # Splink's Jaro-Winkler and other similarity functions ship as a jar for the JVM
    jars = [j for j in conf.get("spark.jars", "").split(",") if j]
    conf["spark.jars"] = ",".join([*jars, similarity_jar_location()])
    builder = SparkSession.builder.master(options.master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    started_here = SparkSession.getActiveSession() is None
    spark = builder.getOrCreate()
    if started_here:
        # Spark warns on every table Splink writes (names starting with "_" look hidden to
        # it, yet are read); the run's own log says what matters
        spark.sparkContext.setLogLevel("ERROR")
    context = spark.sparkContext
    if options.checkpoint_dir:
        context.setCheckpointDir(options.checkpoint_dir)
    elif context.getCheckpointDir() is None:
        context.setCheckpointDir(_scratch_dir())
    return spark


def _scratch_dir() -> str:
    """A local folder for Splink's intermediate Parquet tables, removed at process exit."""
    path = tempfile.mkdtemp(prefix="whiteglove-spark-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _train(linker, rules: list[BlockingRule], present: set[str], config: LinkageConfig) -> dict:
    """u by random sampling, m by EM on strong-identifier blocks; returns the model as data."""
    from splink import block_on

    deterministic = [block_on(*r.columns) for r in rules if r.columns in (("email",), ("phone",))]
    linker.training.estimate_probability_two_random_records_match(
        deterministic or [block_on(*rules[0].columns)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.u_sample_pairs, seed=config.seed
    )
    for columns in _em_rules(present):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), record_sample_proportion=1.0
        )
    return floor_m_probabilities(linker.misc.save_model_to_json(), M_FLOOR)


# EM on clean blocks concludes that true matches never disagree on birth date or phone and
# almost never on names (m = 0, which Splink then leaves untrained: weight 0, so namesakes
# with different birth dates pay nothing). Real exports have typos and stale values; a floor
# of 1% on every m keeps disagreement strongly negative (about -6.5) but finite.
M_FLOOR = 0.01


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
            f"the saved model {path} compares {sorted(missing)}, which this version does not "
            "derive from the records; retrain it (leave linkage.model out for one run)"
        )


def in_dialect(model: dict, dialect: str) -> dict:
    """A saved model rewritten for another backend's SQL dialect, its trained values kept.

    A model holds its comparisons as SQL in the dialect it was trained in (DuckDB's
    jaro_winkler_similarity is jaro_winkler on Spark, and sqlglot does not translate Splink's
    functions). So a model trained on DuckDB can score on Spark, and back, the comparisons
    are rebuilt from the library in `dialect` and given the saved m, u and term-frequency
    settings, level by level.
    """
    if model.get("sql_dialect") in (None, dialect):
        return model
    columns = set(MATCH_COLUMNS) - {"unique_id"}
    # what a field's comparison looks like depends on what else is mapped (a postcode alone, a
    # city alone, or both as one location), so every form a saved model can hold is built
    library = {
        c["output_column_name"]: c
        for present in (columns, columns - {"city_key"}, columns - {"postcode"})
        for c in (x.create_comparison_dict(dialect) for x in build_comparisons(present))
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


def _em_rules(present: set[str]) -> list[tuple[str, ...]]:
    """EM sessions blocked on strong identifiers, so each estimates the others' m values.

    Blocking on names is avoided: namesakes would enter EM's "match" class and teach it that
    true matches often disagree on birth date and phone.
    """
    strong = [c for c in ("email", "phone", "national_id", "date_of_birth") if c in present]
    sessions = [(c,) for c in strong[:2]]
    if len(sessions) < 2 and {"first_name_key", "surname_key"} <= present:
        sessions.append(("first_name_key", "surname_key"))
    return sessions or [("postcode",)]


# A field is a strong identifier when the model finds that fewer than this share of true
# matches disagree on it: then two different values in one cluster mean two people.
STRONG_DISAGREEMENT = 0.02


def strong_identifiers(
    model: dict, candidates: tuple[str, ...] = ("date_of_birth", "national_id", "phone")
) -> tuple[str, ...]:
    """The candidate fields this trained model treats as one-value-per-person."""
    strong = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        disagree = levels[-1].get("m_probability") if levels else None
        if name in candidates and disagree is not None and disagree < STRONG_DISAGREEMENT:
            strong.append(name)
    return tuple(strong)
