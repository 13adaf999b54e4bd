"""Match fields declared in the sources file (linkage.match_fields): attributes the model
compares beside the canonical fields, each as its kind says."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from benchmarks.fake1000 import write_fake_1000
from tests.conftest import run_once
from tests.test_config import crm, problems, write
from whiteglove.config import MatchField
from whiteglove.evaluation import pairwise_scores
from whiteglove.linkage import build_comparisons, in_dialect, match_frame, present_columns


def records_with(**attributes: list) -> pl.DataFrame:
    n = len(next(iter(attributes.values())))
    canonical = ("first_name", "last_name", "email", "phone", "national_id", "postcode")
    canonical += ("city", "address_line")
    frame = pl.DataFrame(
        {"record_key": [f"r{i}" for i in range(n)], **{c: [None] * n for c in canonical}},
        schema={"record_key": pl.String, **{c: pl.String for c in canonical}},
    ).with_columns(pl.lit(None, dtype=pl.Date).alias("date_of_birth"))
    return frame.with_columns(pl.Series(k, v) for k, v in attributes.items())


def test_each_kind_is_compared_in_its_own_form():
    records = records_with(
        customer_no=["B-Ñ12 34", "bñ1234", "   "],
        joined=["2020-03-01", "2020/03/01", "soon"],
        income=["41 000", "41000.5", "n/a"],
        occupation=["Ingeniera  de Caminos", "ingeniera de caminos", ""],
    )
    declared = {
        "customer_no": MatchField(kind="identifier"),
        "joined": MatchField(kind="date"),
        "income": MatchField(kind="number", tolerance=500),
        "occupation": MatchField(kind="text"),
    }
    frame = match_frame(records, declared)
    assert frame["customer_no"].to_list() == ["BÑ1234", "BÑ1234", None]
    # ISO text only: 2020/03/01 is not guessed (the attribute's format: parses other forms)
    assert frame["joined"].to_list() == [date(2020, 3, 1), None, None]
    assert frame["income"].to_list() == [None, 41000.5, None]
    assert frame["occupation"].to_list() == ["ingeniera de caminos"] * 2 + [None]
    present = present_columns(frame)
    names = [
        c.create_comparison_dict("duckdb")["output_column_name"]
        for c in build_comparisons(present | {"first_name_key"}, declared)
    ]
    assert names[-4:] == ["customer_no", "joined", "income", "occupation"]


def test_term_frequency_is_asked_of_the_exact_level_only_when_declared():
    def exact_level(field: MatchField) -> dict:
        comparison = build_comparisons({"first_name_key", "segment"}, {"segment": field})[-1]
        levels = comparison.create_comparison_dict("duckdb")["comparison_levels"]
        return next(lvl for lvl in levels if not lvl.get("is_null_level"))

    assert exact_level(MatchField(kind="exact", term_frequency=True))["tf_adjustment_column"] == (
        "segment"
    )
    assert not exact_level(MatchField(kind="exact")).get("tf_adjustment_column")


def test_a_saved_model_with_a_declared_field_moves_between_dialects():
    declared = {"tax_id": MatchField(kind="identifier")}
    comparisons = build_comparisons({"first_name_key", "tax_id"}, declared)
    spark = {
        "sql_dialect": "spark",
        "comparisons": [c.create_comparison_dict("spark") for c in comparisons],
    }
    moved = in_dialect(spark, "duckdb", declared)
    assert [c["output_column_name"] for c in moved["comparisons"]][-1] == "tax_id"
    assert moved["comparisons"] == [c.create_comparison_dict("duckdb") for c in comparisons]


@pytest.mark.parametrize(
    ("match_fields", "expected"),
    [
        ({"gender": "exact"}, "no source maps as an attribute"),
        ({"segment": "fuzzy"}, "kind"),
        ({"segment": {"kind": "exact", "tolerance": 3}}, "tolerance applies to kind number"),
        ({"segment": "number"}, "a number needs a tolerance"),
        ({"segment": {"kind": "number", "tolerance": float("inf")}}, "finite"),
    ],
)
def test_a_declared_field_must_be_an_attribute_of_a_known_kind(tmp_path, match_fields, expected):
    source = crm(attributes={"segment": "Email"})
    config = {"sources": [source], "linkage": {"match_fields": match_fields}}
    found = problems(write(tmp_path, config))
    assert any(expected in p for p in found), found


@pytest.mark.parametrize("name", ["city_key", "changed_record", "match_probability", "gamma_x"])
def test_a_declared_field_may_not_take_a_column_the_model_derives(tmp_path, name):
    source = crm(attributes={name: "Email"})
    config = {"sources": [source], "linkage": {"match_fields": {name: "exact"}}}
    assert any("derives itself" in p for p in problems(write(tmp_path, config)))


# ------------------------------------------------------------------------------ whole runs
def with_customer_numbers(root: Path, declare: bool) -> Path:
    """fake_1000 with a customer number per person, as an attribute: one record in five has
    it mistyped, one in ten has none. Declared (or not) as a match field of kind identifier,
    with a review band wide enough to hold pairs on both sides of it."""
    sources = write_fake_1000(root)
    export = root / "exports" / "fake_1000.csv"
    rng = random.Random(7)
    people = pl.read_csv(export, infer_schema=False)

    def number(cluster: str) -> str | None:
        value = f"CN-{int(cluster) * 7919 % 100_000:05d}"
        roll = rng.random()
        if roll < 0.1:
            return None
        if roll < 0.3:
            at = rng.randrange(3, len(value))
            value = value[:at] + rng.choice("0123456789") + value[at + 1 :]
        return value

    people.with_columns(
        pl.Series("customer_no", [number(c) for c in people["cluster"]], dtype=pl.String)
    ).write_csv(export)
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    config["sources"][0]["attributes"] = {"customer_no": "customer_no"}
    config["linkage"]["review_threshold"] = 0.05
    if declare:
        config["linkage"]["match_fields"] = {"customer_no": {"kind": "identifier"}}
    sources.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return sources


def scored(root: Path, declare: bool) -> tuple[pl.DataFrame, float, dict]:
    out = root / "out"
    outcome = run_once(with_customer_numbers(root, declare), out)
    assert outcome.success, outcome.failures
    truth = pl.read_csv(root / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("cluster").alias("entity"),
    )
    xref = pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    return out, pairwise_scores(xref, truth).f1, model


def test_a_declared_identifier_changes_weights_reasons_and_accuracy(tmp_path):
    plain_out, plain_f1, plain_model = scored(tmp_path / "plain", declare=False)
    out, f1, model = scored(tmp_path / "declared", declare=True)
    print(f"\nfake_1000 F1 without the customer number {plain_f1:.4f}, with it {f1:.4f}")

    names = [c["output_column_name"] for c in model["comparisons"]]
    assert "customer_no" in names and "customer_no" not in [
        c["output_column_name"] for c in plain_model["comparisons"]
    ]
    # the same pairs weigh differently: agreeing numbers add evidence, different ones remove it
    pairs = pl.read_parquet(out / ".work" / "match_pairs.parquet")
    before = pl.read_parquet(plain_out / ".work" / "match_pairs.parquet")
    both = pairs.join(before, on=["unique_id_l", "unique_id_r"], suffix="_before")
    numbers = pl.read_csv(tmp_path / "declared" / "exports" / "fake_1000.csv", infer_schema=False)
    numbers = numbers.select(("people:" + pl.col("unique_id")).alias("key"), "customer_no")
    both = both.join(numbers, left_on="unique_id_l", right_on="key").join(
        numbers, left_on="unique_id_r", right_on="key", suffix="_r"
    )
    same = both.filter(pl.col("customer_no") == pl.col("customer_no_r"))
    assert same.height > 100
    assert (same["match_weight"] > same["match_weight_before"]).all()
    # a steward sees the number side by side, and why the pair weighs what it does
    queue = pl.read_csv(out / "review_queue.csv", infer_schema=False, skip_rows=1)
    assert {"customer_no_l", "customer_no_r"} <= set(queue.columns)
    both_numbered = queue.filter(
        pl.col("customer_no_l").fill_null("").str.len_chars().gt(0)
        & pl.col("customer_no_r").fill_null("").str.len_chars().gt(0)
    )
    assert both_numbered.height > 10
    mentioned = both_numbered["reasons"].str.contains("customer no ").mean()
    print(f"reasons name the customer number in {mentioned:.0%} of numbered review pairs")
    assert mentioned > 0.5
    # and it is evidence worth having: fake_1000's garbled names and dates need it
    assert f1 > plain_f1 + 0.02
