"""The Spark backend: the same sample, linked on DuckDB and on a local Spark session.

Runs with `make test-spark` (pyspark and Java needed); skipped where pyspark is absent.
"""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import make_sample, run_once
from whiteglove.evaluation import PairwiseScores, pairwise_scores
from whiteglove.linkage import in_dialect

pytest.importorskip("pyspark", reason="the spark extra is not installed")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17 or later", allow_module_level=True)

pytestmark = pytest.mark.spark

PEOPLE = 300
SEED = 20261124
# A local session sized for a 2-core CI machine and a few hundred records. Training runs about
# 170 small Spark queries (u sampling alone runs one per comparison and chunk); on data this
# small, generating and compiling Java code for each query costs more than running it, and so
# do shuffles spread over many partitions. Not settings for real volumes.
LOCAL_SPARK = {
    "master": "local[2]",
    "conf": {
        "spark.driver.memory": "4g",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
        "spark.ui.enabled": "false",
    },
}
# Tolerance: Spark's clustering, scored against DuckDB's as if DuckDB's were the truth,
# must reach this pairwise precision and recall. Both backends train the same model from the
# same records with the same seed, yet not to the same values. Splink samples records for u,
# and splits the sampled pairs into chunks (stopping once every level has been seen 100
# times), by hashing record ids, and the hash is each engine's own (DuckDB's hash, Spark's
# xxhash64): where sampling stops early, u comes from other pairs. On this sample the u of
# first name, postcode, city and address differ by up to 12%, EM's m values follow, and
# Spark's Jaro-Winkler (a Scala function shipped with Splink) is another implementation than
# DuckDB's. Measured: the same pairs scored, identical clusters, weights a fraction of a bit
# apart for most pairs but up to 3 bits for a few pairs whose rarer levels' u differ most. A
# pair close to the match threshold may therefore cross it; 1% of the pairs is the allowance.
AGREEMENT = 0.99
# And each backend on its own must be as accurate against the generator's truth as the
# bundled sample's DuckDB linkage is expected to be, within a point of each other.
ACCURACY = 0.95


def clusters_of(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )


def with_backend(sources: Path, backend: str, name: str | None = None, **linkage) -> Path:
    """A copy of the sources file, beside it, whose linkage section names `backend`."""
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    config.setdefault("linkage", {}).update(backend=backend, **linkage)
    path = sources.with_name(f"sources_{name or backend}.yaml")
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("spark")
    return make_sample(root, people=PEOPLE, seed=SEED)


@pytest.fixture(scope="module")
def truth(sample: Path) -> pl.DataFrame:
    return pl.read_csv(sample.parent / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("person_id").alias("entity"),
    )


@pytest.fixture(scope="module")
def duckdb_out(sample: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("duckdb_out")
    outcome = run_once(with_backend(sample, "duckdb"), out)
    assert outcome.success, outcome.failures
    return out


@pytest.fixture(scope="module")
def spark_out(sample: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spark_out")
    outcome = run_once(with_backend(sample, "spark", spark=LOCAL_SPARK), out)
    assert outcome.success, outcome.failures
    return out


def agreement(a: Path, b: Path) -> PairwiseScores:
    """Pairwise precision and recall of b's clustering measured against a's."""
    return pairwise_scores(clusters_of(b), clusters_of(a).rename({"cluster": "entity"}))


def test_spark_clusters_agree_with_duckdb(duckdb_out: Path, spark_out: Path, truth):
    same = agreement(duckdb_out, spark_out)
    on_duckdb = pairwise_scores(clusters_of(duckdb_out), truth)
    on_spark = pairwise_scores(clusters_of(spark_out), truth)
    print(f"\nspark vs duckdb: {same}\nduckdb vs truth: {on_duckdb}\nspark vs truth: {on_spark}")

    assert same.records == clusters_of(duckdb_out).height  # every record, on both sides
    assert same.precision >= AGREEMENT and same.recall >= AGREEMENT
    for scores in (on_duckdb, on_spark):
        assert scores.precision >= ACCURACY and scores.recall >= ACCURACY
    assert abs(on_spark.f1 - on_duckdb.f1) <= 0.01


def test_spark_scores_the_same_candidate_pairs(duckdb_out: Path, spark_out: Path):
    # Blocking is exact equality on the same columns in both engines: the pairs scored must
    # be the same set, whatever their scores.
    keys = ["unique_id_l", "unique_id_r"]
    on_duckdb = pl.read_parquet(duckdb_out / "match_pairs.parquet")
    on_spark = pl.read_parquet(spark_out / "match_pairs.parquet")
    joined = on_duckdb.join(on_spark, on=keys, how="full", coalesce=True, suffix="_spark")
    both = joined.drop_nulls(["match_probability", "match_probability_spark"])
    # pairs near linkage.keep_pairs_above may be kept by one backend only
    assert both.height >= 0.99 * max(on_duckdb.height, on_spark.height)
    gap = (both["match_weight"] - both["match_weight_spark"]).abs()
    print(
        f"\n{both.height} pairs on both backends; weight difference median {gap.median():.3f}, "
        f"max {gap.max():.3f}"
    )
    # what the scores are for: the same match decision for (nearly) every pair
    # each backend links at the threshold its own run chose from its own scores
    threshold, threshold_spark = (
        json.loads((out / "run_summary.json").read_text(encoding="utf-8"))["linkage"][
            "match_threshold"
        ]
        for out in (duckdb_out, spark_out)
    )
    same_decision = (both["match_probability"] >= threshold) == (
        both["match_probability_spark"] >= threshold_spark
    )
    assert same_decision.mean() >= AGREEMENT


def test_a_model_trained_on_duckdb_scores_on_spark(sample: Path, duckdb_out: Path, tmp_path):
    # Train on one machine, score at scale: the saved model's DuckDB SQL is rebuilt for Spark
    # with its trained values kept, so with the same model the only differences left are the
    # engines' own similarity functions. The pairs at or above the match threshold must agree.
    model = duckdb_out / "model.json"
    sources = with_backend(sample, "spark", "spark_loaded", spark=LOCAL_SPARK, model=str(model))
    outcome = run_once(sources, tmp_path / "out")
    assert outcome.success, outcome.failures
    same = agreement(duckdb_out, tmp_path / "out")
    print(f"\nduckdb model on spark vs duckdb: {same}")
    assert same.precision >= AGREEMENT and same.recall >= AGREEMENT
    saved = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    trained = json.loads(model.read_text(encoding="utf-8"))
    assert saved["sql_dialect"] == "spark"
    assert [c["comparison_levels"] for c in in_dialect(saved, "duckdb")["comparisons"]] == [
        c["comparison_levels"] for c in trained["comparisons"]
    ]


SPARK_TYPES = {
    "StringType()": "string",
    "LongType()": "integer",
    "IntegerType()": "integer",
    "DoubleType()": "decimal",
    "BooleanType()": "boolean",
    "DateType()": "date",
    "TimestampNTZType()": "timestamp",
    # Spark's TIMESTAMP is an instant, shown in the session's zone (UTC here)
    "TimestampType()": "timestamp (UTC)",
}


def spark_type(dtype) -> str:
    from pyspark.sql.types import ArrayType

    if isinstance(dtype, ArrayType):
        return f"list<{spark_type(dtype.elementType)}>"
    return SPARK_TYPES.get(repr(dtype), repr(dtype))


def test_spark_reads_the_published_tables_as_every_other_reader(duckdb_out: Path):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    from tests.readers import ORDER, READERS, rows
    from whiteglove.contract import CONTRACT_FILE, TABLES

    builder = SparkSession.builder.master(LOCAL_SPARK["master"]).appName("whiteglove-readers")
    for key, value in LOCAL_SPARK["conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    contract = json.loads((duckdb_out / CONTRACT_FILE).read_text(encoding="utf-8"))
    for table in TABLES:
        frame = spark.read.parquet(str(duckdb_out / f"{table}.parquet"))
        types = {f.name: spark_type(f.dataType) for f in frame.schema.fields}
        promised = {c: s["x-type"] for c, s in contract["$defs"][table]["properties"].items()}
        assert types == promised, table
        # times as UTC text in Spark itself: collect() would shift them to the local zone
        shown = [
            F.date_format(F.col(f.name), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS").alias(f.name)
            if isinstance(f.dataType, TimestampType | TimestampNTZType)
            else F.col(f.name)
            for f in frame.schema.fields
        ]
        collected = frame.select(shown).orderBy(*ORDER[table]).collect()
        _, expected = READERS["polars"](duckdb_out, table)
        got = rows(frame.columns, [tuple(r) for r in collected])
        assert len(got) == len(expected) > 0, table
        for row, want in zip(got, expected, strict=True):
            assert row == want, (table, row, want)
