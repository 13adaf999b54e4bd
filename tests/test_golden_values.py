"""Survivorship scored against the truth: which value wins a conflict, how sure it is, and how
often the golden value is the customer's current one on a freshly generated sample."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import pytest

from tests.test_survivorship import ATTRIBUTES, records
from whiteglove.config import GoldenConfig, load_sources
from whiteglove.evaluation import golden_value_accuracy, load_labels, load_truth_values
from whiteglove.golden import survive
from whiteglove.masking import mask_frame

OLD, NEW = datetime(2023, 1, 10), datetime(2024, 6, 1)


def conflict(*extra: dict) -> pl.DataFrame:
    """An old value of the most trusted source against a newer one of a less trusted one."""
    return records(
        {"source": "crm", "id": "c", "updated_at": OLD, "email": "old@x.es"},
        {"source": "marketing", "id": "m", "updated_at": NEW, "email": "new@x.es"},
        *extra,
    )


def chosen(frame: pl.DataFrame, rule: str, **golden) -> dict:
    config = GoldenConfig.model_validate({"fields": {"email": rule}, **golden})
    _, lineage = survive(frame, ATTRIBUTES, config)
    (row,) = lineage.filter(pl.col("field") == "email").rows(named=True)
    return row


@pytest.mark.parametrize(
    ("rule", "golden", "value", "runner_up"),
    [
        # 508 days older than the newest value: past the default 180, the trusted value loses
        ("trusted_recent", {}, "new@x.es", "old@x.es"),
        # within a max age of two years, trust decides
        ("trusted_recent", {"max_age_days": 730}, "old@x.es", "new@x.es"),
        # one vote each, the old one halved per year it lags: trust does not revive it
        ("recent_agreement", {}, "new@x.es", "old@x.es"),
        ("recent_agreement", {"half_life_days": 5000}, "new@x.es", "old@x.es"),
        # one source each: the tie goes to the most trusted
        ("agreement", {}, "old@x.es", "new@x.es"),
        ("source_priority", {}, "old@x.es", "new@x.es"),
        ("most_recent", {}, "new@x.es", "old@x.es"),
        ("most_frequent", {}, "old@x.es", "new@x.es"),
    ],
)
def test_an_old_trusted_value_against_a_newer_less_trusted_one(rule, golden, value, runner_up):
    row = chosen(conflict(), rule, **golden)
    assert (row["value"], row["rule"], row["runner_up"]) == (value, rule, runner_up)
    assert row["agreeing_sources"] == 1
    assert row["value_dated_at"] == (NEW if value == "new@x.es" else OLD)
    # one source against one: nothing makes the winner surer than the runner-up
    assert row["low_confidence"] is True


@pytest.mark.parametrize("rule", ["trusted_recent", "agreement"])
def test_a_second_source_agreeing_wins_and_makes_the_value_sure(rule):
    # billing, as old as crm, agrees with it: two sources against one
    frame = conflict(
        {"source": "billing", "id": "b", "updated_at": OLD, "email": "old@x.es"},
        {"source": "support", "id": "s", "updated_at": NEW, "email": "new@x.es"},
        {"source": "support", "id": "t", "updated_at": NEW, "email": "old@x.es"},
    )
    row = chosen(frame, rule, max_age_days=730)
    # support's two tickets count once: crm, billing and support hold the old value
    assert (row["value"], row["agreeing_sources"], row["low_confidence"]) == ("old@x.es", 3, False)
    assert row["runner_up"] == "new@x.es"


def test_trusted_recent_counts_agreement_only_among_fresh_values():
    # billing agrees with crm, but both are past their age: the newer value wins alone
    frame = conflict({"source": "billing", "id": "b", "updated_at": OLD, "email": "old@x.es"})
    row = chosen(frame, "trusted_recent")
    assert (row["value"], row["agreeing_sources"], row["runner_up"]) == ("new@x.es", 1, "old@x.es")
    assert row["low_confidence"] is True  # two sources still hold the runner-up


def test_recent_agreement_several_recent_sources_outvote_one_newer_ticket():
    # crm and billing confirmed the old value 152 days before a support ticket noted a new one
    frame = records(
        {"source": "crm", "id": "c", "updated_at": datetime(2024, 1, 1), "email": "old@x.es"},
        {"source": "billing", "id": "b", "updated_at": datetime(2024, 1, 1), "email": "old@x.es"},
        {"source": "support", "id": "s", "updated_at": NEW, "email": "new@x.es"},
    )
    row = chosen(frame, "recent_agreement")
    # two votes of 0.75 (152 days at a half-life of 365) against one of 1
    assert (row["value"], row["source"], row["agreeing_sources"]) == ("old@x.es", "crm", 2)
    assert (row["value_dated_at"], row["runner_up"], row["low_confidence"]) == (
        datetime(2024, 1, 1),
        "new@x.es",
        False,
    )
    # confirmed long ago, the same two sources fade below the one fresh record
    row = chosen(frame, "recent_agreement", half_life_days=60)
    assert (row["value"], row["source"], row["agreeing_sources"]) == ("new@x.es", "support", 1)
    assert (row["value_dated_at"], row["runner_up"]) == (NEW, "old@x.es")
    assert row["low_confidence"] is True  # two sources still hold the runner-up


def test_recent_agreement_counts_a_source_once_and_leaves_exact_ties_to_trust():
    # support repeats its value on three tickets, as fresh as the crm record: one vote each
    frame = records(
        {"source": "crm", "id": "c", "updated_at": NEW, "email": "crm@x.es"},
        *[
            {"source": "support", "id": f"s{i}", "updated_at": NEW, "email": "ticket@x.es"}
            for i in range(3)
        ],
    )
    row = chosen(frame, "recent_agreement")
    assert (row["value"], row["agreeing_sources"], row["runner_up"]) == (
        "crm@x.es",
        1,
        "ticket@x.es",
    )
    assert row["low_confidence"] is True


def test_recent_agreement_an_undated_value_counts_nothing_beside_dated_ones():
    frame = conflict().with_columns(
        pl.when(pl.col("source") == "crm").then(None).otherwise("updated_at").alias("updated_at")
    )
    row = chosen(frame, "recent_agreement")
    assert (row["value"], row["value_dated_at"], row["runner_up"]) == ("new@x.es", NEW, "old@x.es")
    # nothing dated: one full vote each, and trust breaks the tie
    row = chosen(frame.with_columns(pl.lit(None).alias("updated_at")), "recent_agreement")
    assert (row["value"], row["value_dated_at"], row["runner_up"]) == ("old@x.es", None, "new@x.es")


def test_the_half_life_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="half_life_days"):
        GoldenConfig.model_validate({"half_life_days": 0})


def test_a_source_max_age_and_dated_by(tmp_path):
    from tests.test_survivorship import write_sources

    config = load_sources(write_sources(tmp_path, {}))
    crm = config.sources[0].model_copy(update={"max_age_days": 1000})
    frame = conflict()
    golden = GoldenConfig.model_validate({"fields": {"email": "trusted_recent"}})
    # crm's own max age keeps its value in play, so trust decides
    _, lineage = survive(frame, ATTRIBUTES, golden, [crm])
    assert lineage.filter(pl.col("field") == "email")["value"].item() == "old@x.es"
    # a source without an update time loses to a dated value, unless a column dates it
    undated = frame.with_columns(
        pl.when(pl.col("source") == "crm").then(None).otherwise("updated_at").alias("updated_at"),
        pl.when(pl.col("source") == "crm").then(NEW).alias("last_contact"),
    )
    _, lineage = survive(undated, ATTRIBUTES, golden)
    assert lineage.filter(pl.col("field") == "email")["value"].item() == "new@x.es"
    dated = config.sources[0].model_copy(update={"dated_by": "last_contact"})
    _, lineage = survive(undated, ATTRIBUTES, golden, [dated])
    row = lineage.filter(pl.col("field") == "email").row(0, named=True)
    assert (row["value"], row["value_dated_at"]) == ("old@x.es", NEW)


def test_aggregates_carry_no_confidence_and_unanimous_values_no_runner_up():
    frame = conflict({"source": "billing", "id": "b", "updated_at": OLD, "phone": "+34600"})
    _, lineage = survive(frame, ATTRIBUTES)
    phone = lineage.filter(pl.col("field") == "phone").row(0, named=True)
    assert (phone["runner_up"], phone["low_confidence"], phone["agreeing_sources"]) == (
        None,
        False,
        1,
    )
    derived = lineage.filter(pl.col("field") == "last_updated_at").row(0, named=True)
    assert derived["agreeing_sources"] is None and derived["runner_up"] is None


def test_the_runner_up_is_masked_wherever_the_value_is():
    _, lineage = survive(conflict(), ATTRIBUTES)
    shown = mask_frame(lineage.filter(pl.col("field") == "email"))
    assert shown["value"].item() != "new@x.es" and "@" in shown["value"].item()
    assert shown["runner_up"].item() != "old@x.es"
    assert "old@x.es" not in str(shown.to_dicts())


# ------------------------------------------------------------------ against the generator's truth
def test_golden_values_are_current_on_a_fresh_sample(fresh_run):
    """On a generated sample, the golden email, phone and birth date are the current ones at
    least as often as the customer's own records agree unanimously on it, and the default
    rules beat plain source priority on email and address."""
    out, root = fresh_run.out, fresh_run.root
    records = pl.read_parquet(out / ".work" / "customer_records.parquet")
    xref = pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "golden_id"
    )
    truth = load_labels(records, "person_id", root / "truth.csv")
    values = load_truth_values(root / "truth_values.csv")
    golden = pl.read_parquet(out / "golden_customers.parquet")
    scores = golden_value_accuracy(golden, xref, truth, values, records)
    # the floor: customers whose records (of one golden customer) all hold the current value
    config = load_sources(fresh_run.sources)
    joined = records.join(xref, on="record_key").join(truth, on="record_key")
    # customers rebuilt alone in one golden customer (linkage errors are not survivorship's)
    pure = joined.group_by("golden_id").agg(pl.col("entity").n_unique().alias("people"))
    joined = joined.join(pure.filter(pl.col("people") == 1), on="golden_id")
    for field in ("email", "phone", "date_of_birth", "postcode"):
        unanimous = (
            joined.join(values.select("entity", pl.col(field).alias("true")), on="entity")
            .filter(pl.col(field).is_not_null())
            .group_by("entity")
            .agg(
                (pl.col(field).cast(pl.String) == pl.col("true")).all().alias("all"),
                pl.col("golden_id").n_unique().alias("clusters"),
            )
        )
        floor = unanimous.filter("all" & (pl.col("clusters") == 1)).height / scores[field].available
        print(f"\n{field}: {scores[field]} floor {floor:.4f}")
        assert scores[field].available > 0.8 * scores[field].customers
        assert scores[field].current_where_available >= floor
    # the same records under source priority everywhere: the new defaults do better
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    before, _ = survive(
        records.join(xref, on="record_key"),
        attributes,
        GoldenConfig(default="source_priority"),
        config.sources,
    )
    was = golden_value_accuracy(before, xref, truth, values, records)
    for field in ("email", "address_line", "postcode"):
        assert scores[field].current_where_available > was[field].current_where_available
        assert scores[field].outdated < was[field].outdated
    # the run summary counts the values whose runner-up has as many sources behind it
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    lineage = pl.read_parquet(out / "golden_lineage.parquet")
    low = summary["golden"]["low_confidence_values"]
    assert low == dict(lineage.filter("low_confidence").group_by("field").len().iter_rows())
    assert low.get("email", 0) > 0
