"""Probabilistic record linkage with Splink on DuckDB.

The model is data, derived from whichever canonical fields the sources map: each present
field brings its comparison (from Splink's comparison library) and its blocking rules. The
sources are linked and de-duplicated in one model over the union of all customer records
(a dedupe over the union is link-and-dedupe: every pair within and across sources is a
candidate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb
import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.names import canonical_first_name, fold

log = logging.getLogger(__name__)

# Columns the model reads, derived from the canonical record by `match_frame`.
MATCH_COLUMNS = [
    "unique_id",
    "first_name_key",
    "last_name_key",
    "surname_key",
    "given_tokens",
    "name_tokens",
    "email",
    "email_user",
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
    comparisons_per_rule: dict[str, int] = field(default_factory=dict)


def match_frame(records: pl.DataFrame) -> pl.DataFrame:
    """The columns the model compares, folded so that case and accents never count."""
    first = fold(pl.col("first_name"))
    last = fold(pl.col("last_name"))
    tokens = pl.concat_str([first, last], separator=" ", ignore_nulls=True)
    return records.select(
        pl.col("record_key").alias("unique_id"),
        canonical_first_name(first).alias("first_name_key"),
        last.alias("last_name_key"),
        # first surname alone: Spanish records often drop the second one
        last.str.split(" ").list.first().alias("surname_key"),
        canonical_first_name(first).str.split(" ").alias("given_tokens"),
        tokens.str.split(" ").list.unique().list.sort().alias("name_tokens"),
        pl.col("email"),
        pl.col("email").str.extract(r"^([^@]+)@").alias("email_user"),
        pl.col("phone"),
        pl.col("date_of_birth"),
        pl.col("national_id"),
        pl.col("postcode"),
        fold(pl.col("city")).alias("city_key"),
        fold(pl.col("address_line")).alias("address_key"),
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
        # mariateresa.rodriguez69 vs mariateresarodriguez80): the name evidence, twice.
        comparisons.append(
            cl.CustomComparison(
                output_column_name="email",
                comparison_levels=[
                    cll.NullLevel("email"),
                    cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
                    cll.LevenshteinLevel("email", 1).configure(label_for_charts="One typo"),
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
    if "postcode" in present:
        comparisons.append(cl.LevenshteinAtThresholds("postcode", [1]))
    if "city_key" in present:
        comparisons.append(cl.ExactMatch("city_key").configure(term_frequency_adjustments=True))
    if "address_key" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("address_key", [0.95, 0.85]))
    if len(comparisons) < 2:
        raise LinkageError(
            "the sources map fewer than two comparable fields; add at least two of name, "
            "email, phone, date_of_birth, postcode to the sources file"
        )
    return comparisons


def default_blocking_rules(present: set[str]) -> list[BlockingRule]:
    candidates = [
        ("email",),
        ("phone",),
        ("national_id",),
        ("email_user",),
        ("first_name_key", "surname_key"),
        ("surname_key", "date_of_birth"),
        ("first_name_key", "date_of_birth"),
        ("surname_key", "postcode"),
        ("date_of_birth", "city_key"),
        ("date_of_birth", "postcode"),
    ]
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


def link(records: pl.DataFrame, config: LinkageConfig) -> LinkageResult:
    """Train a model on this run's records (EM + u-sampling) and score candidate pairs."""
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

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

    con = duckdb.connect()
    con.register("match_input", frame.to_arrow())
    counts = {r.label: count_comparisons(con, "match_input", r) for r in rules}
    for label, n in counts.items():
        log.info("blocking rule %s: at most %d comparisons", label, n)
    exploding = {k: v for k, v in counts.items() if v > config.max_comparisons}
    if exploding:
        raise LinkageError(
            f"blocking rules would generate too many comparisons (limit "
            f"{config.max_comparisons:,}): "
            + ", ".join(f"{k} = {v:,}" for k, v in exploding.items())
            + "; make them stricter in the linkage.blocking section of the sources file"
        )

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*r.columns) for r in rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register(frame.to_arrow(), dataset_display_name="customer_records")
    # Splink prints training progress to stdout at INFO; the asset reports what matters.
    linker = Linker(sdf, settings, log_level=logging.ERROR)

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

    scored = linker.inference.predict(threshold_match_probability=config.keep_pairs_above)
    pairs = pl.from_arrow(
        scored.as_duckdbpyrelation()
        .select("unique_id_l, unique_id_r, match_weight, match_probability")
        .to_arrow_table()
    )
    assert isinstance(pairs, pl.DataFrame)
    model = linker.misc.save_model_to_json()
    return LinkageResult(pairs=pairs, model_json=model, comparisons_per_rule=counts)


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


def cluster(records: pl.DataFrame, pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Connected components over pairs at or above `threshold`: record_key -> cluster_id."""
    from splink import DuckDBAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    db_api = DuckDBAPI(connection=duckdb.connect())
    nodes = records.select(pl.col("record_key").alias("unique_id")).to_arrow()
    edges = pairs.select("unique_id_l", "unique_id_r", "match_probability").to_arrow()
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api, "unique_id", threshold_match_probability=threshold
    )
    out = pl.from_arrow(clusters.as_duckdbpyrelation().to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out.select(pl.col("unique_id").alias("record_key"), pl.col("cluster_id"))
