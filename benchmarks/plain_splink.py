"""The baseline for `make bench`: a plain Splink 5 (DuckDB) script on the same four exports.

    python benchmarks/plain_splink.py --exports DIR/exports --out clusters.parquet

What a competent engineer writes without whiteglove: read the exports, standardize just
enough that the columns are comparable, train (random-sampling u, EM on two blocks), predict,
cluster. No validation, quarantine, survivorship, reports or publication. The thresholds are
whiteglove's defaults (pairs kept above 0.01, linked at 0.5) so both do the same linkage work.

`--tutorial` trains and thresholds it the way Splink's tutorials do instead: u by random
sampling of 5e6 pairs, EM on an identifier block (email) and on first name + surname, pairs
kept above 0.5 and clustered at 0.5 (same loading, comparisons and prediction blocking).

It deliberately imports nothing from whiteglove. It writes the clusters (unique_id =
"<source>:<record id>", cluster_id) and prints one JSON line with the time of each phase;
`benchmarks/bench.py` scores the clusters against the truth outside the timed run. Lines
"phase: <name>" on stderr tell the harness which phase its memory samples belong to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

# whiteglove's default u sample (linkage.u_sample_pairs), so the two spend the same on u;
# Splink's docs suggest 1e7 or more, which adds about 20 s here whatever the data size.
U_MAX_PAIRS = 2e6
PREDICT_THRESHOLD = 0.01
CLUSTER_THRESHOLD = 0.5
SEED = 42
# Splink's tutorials: u from 5e6 random pairs, predict at 0.5
TUTORIAL_U_MAX_PAIRS = 5e6
TUTORIAL_PREDICT_THRESHOLD = 0.5


def _phase(name: str) -> None:
    print(f"phase: {name}", file=sys.stderr, flush=True)


def _clean_name(expr: pl.Expr) -> pl.Expr:
    """Lowercase, no accents, single spaces: 'María  PÉREZ' -> 'maria perez'."""
    return (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z ]", " ")
        .str.replace_all(r" +", " ")
        .str.strip_chars()
    )


def _split_first_last(full: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """'jose luis garcia lopez' -> ('jose luis', 'garcia lopez'): Spaniards carry two surnames,
    so the last two words are the surnames when there are three or more."""
    words = full.str.split(" ")
    n = words.list.len()
    first = (
        pl.when(n >= 3).then(words.list.head(n - 2).list.join(" ")).otherwise(words.list.first())
    )
    last = (
        pl.when(n >= 3)
        .then(words.list.tail(2).list.join(" "))
        .when(n == 2)
        .then(words.list.last())
        .otherwise(None)
    )
    return first, last


def _phone(expr: pl.Expr) -> pl.Expr:
    # Digits only; the last nine are the Spanish number whatever prefix (+34, 0034) came first.
    digits = expr.str.replace_all(r"\D", "")
    return pl.when(digits.str.len_chars() >= 9).then(digits.str.slice(-9)).otherwise(None)


def load_records(exports: Path) -> pl.DataFrame:
    """The four exports as one frame with comparable columns (all strings, nulls for blanks)."""
    crm = pl.read_csv(exports / "crm.csv", separator=";", infer_schema=False)
    billing = pl.read_parquet(exports / "billing.parquet")
    marketing = pl.read_ndjson(exports / "marketing.jsonl", infer_schema_length=None)
    support = pl.read_csv(exports / "support.csv", infer_schema=False)

    frames = []
    frames.append(
        crm.select(
            pl.lit("crm").alias("source"),
            pl.col("IdCliente").alias("id"),
            _clean_name(pl.col("Nombre")).alias("first_name"),
            _clean_name(pl.col("Apellidos")).alias("surname"),
            pl.col("Email").alias("email"),
            pl.col("Teléfono").alias("phone"),
            pl.col("FechaNacimiento").str.to_date("%d/%m/%Y", strict=False).alias("dob"),
            pl.col("CP").alias("postcode"),
        )
    )
    # billing holds "SURNAMES, FIRST NAME"
    holder = pl.col("titular").str.split_exact(",", 1)
    frames.append(
        billing.select(
            pl.lit("billing").alias("source"),
            pl.col("account_id").alias("id"),
            _clean_name(holder.struct.field("field_1")).alias("first_name"),
            _clean_name(holder.struct.field("field_0")).alias("surname"),
            pl.col("email_facturacion").alias("email"),
            pl.col("telefono").alias("phone"),
            pl.lit(None, dtype=pl.Date).alias("dob"),
            pl.col("codigo_postal").cast(pl.String).str.zfill(5).alias("postcode"),
        )
    )
    # marketing and support hold "First name Surnames"; only marketing has a birth date
    for name, frame, rid, full, email, phone, dob, postcode in (
        ("marketing", marketing, "id", "name", "email", "mobile", "birth_date", "postal_code"),
        ("support", support, "ticket_id", "customer_name", "contact_email", "contact_phone",
         None, None),
    ):  # fmt: skip
        first, last = _split_first_last(_clean_name(pl.col(full)))
        frames.append(
            frame.select(
                pl.lit(name).alias("source"),
                pl.col(rid).cast(pl.String).alias("id"),
                first.alias("first_name"),
                last.alias("surname"),
                pl.col(email).alias("email"),
                pl.col(phone).alias("phone"),
                (
                    pl.col(dob).str.to_date("%Y-%m-%d", strict=False)
                    if dob
                    else pl.lit(None, dtype=pl.Date)
                ).alias("dob"),
                (
                    pl.col(postcode).cast(pl.String) if postcode else pl.lit(None, dtype=pl.String)
                ).alias("postcode"),
            )
        )
    # Splink needs a unique, non-null id: rows without one cannot be linked back anyway.
    records = (
        pl.concat(frames, how="vertical_relaxed")
        .drop_nulls("id")
        .unique(["source", "id"], keep="first", maintain_order=True)
    )
    return records.select(
        (pl.col("source") + ":" + pl.col("id")).alias("unique_id"),
        pl.col("first_name").replace("", None),
        pl.col("surname").replace("", None),
        pl.col("email").str.strip_chars().str.to_lowercase().replace("", None),
        _phone(pl.col("phone")).alias("phone"),
        pl.col("dob").dt.strftime("%Y-%m-%d"),
        pl.col("postcode").str.strip_chars().replace("", None),
    )


def settings():
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.EmailComparison("email"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def run(exports: Path, out: Path, tutorial: bool = False) -> dict:
    """Load, train, predict, cluster; write the clusters; return the time of each phase.
    `tutorial`: train and predict as Splink's tutorials do (see the module's docstring)."""
    from splink import DuckDBAPI, Linker, block_on

    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        seconds[name] = round(now - since, 3)
        return now

    _phase("load")
    records = load_records(exports)
    t = lap("load", start)

    _phase("train")
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records, table_name="records"), settings(), log_level=30)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone")], recall=0.7
    )
    if tutorial:
        linker.training.estimate_u_using_random_sampling(max_pairs=TUTORIAL_U_MAX_PAIRS, seed=SEED)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("first_name", "surname")
        )
    else:
        _train_lighter(linker)
    t = lap("train", t)

    _phase("predict")
    threshold = TUTORIAL_PREDICT_THRESHOLD if tutorial else PREDICT_THRESHOLD
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    pairs = predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0]
    t = lap("predict", t)

    _phase("cluster")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=CLUSTER_THRESHOLD
    )
    clusters.as_duckdbpyrelation().select("unique_id, cluster_id").write_parquet(str(out))
    lap("cluster", t)
    seconds["total"] = round(time.perf_counter() - start, 3)
    return {"records": records.height, "pairs": pairs, "phase_seconds": seconds}


def _train_lighter(linker) -> None:
    from splink import block_on

    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    # Two EM blocks that between them leave every comparison free to be estimated, both on
    # identifiers that rarely join two people. The tutorials' block_on("first_name",
    # "surname") was tried: at 1M records its 4.7M pairs are mostly namesakes, EM took 100 s
    # and learnt that a similar e-mail user name means a match (one 48,000-record cluster).
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, required=True, help="folder of the 4 exports")
    parser.add_argument("--out", type=Path, required=True, help="clusters Parquet to write")
    parser.add_argument(
        "--tutorial", action="store_true", help="train and threshold as Splink's tutorials do"
    )
    args = parser.parse_args(argv)
    print(json.dumps(run(args.exports, args.out, args.tutorial)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
