"""The whole graph on freshly generated exports: accuracy, conservation, published files."""

import duckdb
import polars as pl

from pipelines.cli import format_summary
from whiteglove.evaluation import pairwise_scores
from whiteglove.layout import report_paths

CONTRACT_FILES = [
    "golden_customers.parquet",
    "customer_xref.parquet",
    "golden_lineage.parquet",
    "match_pairs.parquet",
    "quarantine.parquet",
    "customers.duckdb",
    "run_summary.json",
]


def test_pairwise_precision_and_recall_against_ground_truth(fresh_run):
    xref = pl.read_parquet(fresh_run.out / "customer_xref.parquet")
    predicted = xref.select(
        pl.concat_str("source", pl.lit(":"), "source_record_id").alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )
    truth = (
        fresh_run.truth.filter(pl.col("source_record_id").is_not_null())
        .select(
            pl.concat_str("source", pl.lit(":"), "source_record_id").alias("record_key"),
            pl.col("person_id").alias("entity"),
        )
        .unique("record_key", keep="first")
    )
    scores = pairwise_scores(predicted, truth)
    print(f"\nfresh sample pairwise scores: {scores}")
    assert scores.records == xref.height
    assert scores.true_pairs > 1000  # the sample really holds duplicates to find
    assert scores.precision >= 0.95
    assert scores.recall >= 0.95
    assert scores.f1 >= 0.98


def test_every_input_row_is_in_xref_or_quarantine_exactly_once(fresh_run):
    xref = pl.read_parquet(fresh_run.out / "customer_xref.parquet").select("source", "row_number")
    quarantine = pl.read_parquet(fresh_run.out / "quarantine.parquet").select(
        "source", "row_number"
    )
    accounted = pl.concat([xref, quarantine])
    assert accounted.is_duplicated().sum() == 0
    inputs = fresh_run.truth.select("source", "row_number")
    assert accounted.sort("source", "row_number").equals(inputs.sort("source", "row_number"))
    assert quarantine.height > 0  # the generator damages rows; they must be accounted for


def test_quarantine_names_the_reasons_and_keeps_the_raw_row(fresh_run):
    quarantine = pl.read_parquet(fresh_run.out / "quarantine.parquet")
    reasons = set(quarantine["reasons"].explode().str.replace(r" \(.*|:.*", "").to_list())
    assert {"missing record id", "no identity field", "wrong number of fields"} <= reasons
    assert quarantine["raw"].null_count() == 0


def test_contract_files_are_published_and_readable_by_sql(fresh_run):
    for name in CONTRACT_FILES:
        assert (fresh_run.out / name).exists(), name
    con = duckdb.connect(str(fresh_run.out / "customers.duckdb"), read_only=True)
    golden = con.sql("select count(*), count(distinct golden_id) from golden_customers").fetchall()
    orphans = con.sql(
        "select count(*) from customer_xref x anti join golden_customers g using (golden_id)"
    ).fetchall()
    con.close()
    assert golden[0][0] == golden[0][1] > 0
    assert orphans[0][0] == 0


def test_golden_counts_match_the_crosswalk(fresh_run):
    golden = pl.read_parquet(fresh_run.out / "golden_customers.parquet")
    xref = pl.read_parquet(fresh_run.out / "customer_xref.parquet")
    counts = xref.group_by("golden_id").agg(
        pl.len().alias("n"), pl.col("source").n_unique().alias("s")
    )
    joined = golden.join(counts, on="golden_id")
    assert joined.height == golden.height
    assert (joined["record_count"] == joined["n"]).all()
    assert (joined["source_count"] == joined["s"]).all()


def test_every_golden_value_has_a_lineage_row(fresh_run):
    golden = pl.read_parquet(fresh_run.out / "golden_customers.parquet")
    lineage = pl.read_parquet(fresh_run.out / "golden_lineage.parquet")
    fields = sorted(set(lineage["field"]))
    as_text = golden.select("golden_id", *[pl.col(f).cast(pl.String) for f in fields])
    values = as_text.unpivot(index="golden_id", on=fields, variable_name="field").filter(
        pl.col("value").is_not_null()
    )
    assert values.height == lineage.height
    assert values.join(lineage, on=["golden_id", "field"], how="anti").height == 0
    assert lineage["source_record_id"].null_count() == 0


def test_run_summary_accounts_for_every_source(fresh_run):
    summary = fresh_run.outcome.summary
    assert summary is not None
    per_source = fresh_run.truth.group_by("source").len()
    for source, rows in per_source.iter_rows():
        counts = summary["sources"][source]
        assert counts["rows_read"] == rows == counts["accepted"] + counts["quarantined"]
    assert summary["step_seconds"]["linkage"] > 0


def test_the_published_review_queue_is_the_uncertain_band_ready_for_a_steward(fresh_run):
    path = fresh_run.out / "review_queue.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads accents
    note = path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert note.startswith("# ") and "reviewer" in note and "," not in note  # what goes where
    queue = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy", skip_rows=1)
    summary = fresh_run.outcome.summary
    assert queue.height == summary["linkage"]["review_queue_pairs"] > 0
    assert queue.columns[:12] == [
        "golden_id_l", "golden_id_r", "same_customer", "record_key_l", "record_key_r",
        "match_probability", "match_weight", "reasons", "prior_weight", "decision", "reviewer",
        "note",
    ]  # fmt: skip
    # the golden ids are the crosswalk's, and same_customer says when they are one
    published = pl.read_parquet(fresh_run.out / "customer_xref.parquet")
    keys = published["source"] + ":" + published["source_record_id"]
    golden = dict(zip(keys, published["golden_id"], strict=True))
    for row in queue.head(50).iter_rows(named=True):
        assert (row["golden_id_l"], row["golden_id_r"]) == (
            golden[row["record_key_l"]],
            golden[row["record_key_r"]],
        )
        assert (row["same_customer"] == "yes") == (row["golden_id_l"] == row["golden_id_r"])
    # the prior and the reasons in plain words ("email the same: +11.7")
    assert queue["prior_weight"].cast(pl.Float64).max() < -5
    assert queue["reasons"].str.contains(r": [+-]\d").all()
    # phones readable, without an apostrophe, and never a formula
    phones = pl.concat([queue["phone_l"], queue["phone_r"]]).drop_nulls()
    assert phones.len() > 0 and phones.str.contains(r"^\(\+\d+\) [0-9 ]+$").all()
    probability = queue["match_probability"].cast(pl.Float64)
    match = summary["linkage"]["match_threshold"]
    # the default review band, [0.2, match): shown to four decimals, 0.49996 reads 0.5
    assert probability.min() >= 0.2 and probability.max() <= match
    assert (queue["decision"].fill_null("") == "").all()  # for the steward to fill
    assert (queue["reasons"].str.len_chars() > 0).all()
    # both sides name real accepted records, which the crosswalk holds
    xref = pl.read_parquet(fresh_run.out / "customer_xref.parquet")
    keys = set((xref["source"] + ":" + xref["source_record_id"]).to_list())
    assert set(queue["record_key_l"]) | set(queue["record_key_r"]) <= keys
    # no text cell starts like a formula (names with '=' or '+' are neutralized)
    text = queue.drop("match_probability", "match_weight", "prior_weight")  # numbers
    starts = {v[0] for c in text.columns for v in text[c].drop_nulls() if v}
    assert not starts & set("=+-@\t\r")


def test_the_command_line_summary_names_each_report_and_the_pairs_to_review(fresh_run):
    lines = format_summary(fresh_run.outcome.summary, fresh_run.out).splitlines()
    queue = pl.read_csv(fresh_run.out / "review_queue.csv", infer_schema=False, skip_rows=1)
    for name, path in report_paths(fresh_run.out.resolve()).items():
        (line,) = [x for x in lines if x.endswith(str(path))]
        assert path.is_file(), (name, line)  # through the reports link, the published file
    (review,) = [x for x in lines if "review_queue.csv" in x]
    assert f"({queue.height} pairs wait for a steward's decision)" in review
