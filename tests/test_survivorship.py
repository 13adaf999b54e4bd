"""Survivorship rules and lineage, on small hand-made record frames.

Lineage has exactly one row per non-null golden value: the chosen record for pick rules, max,
min and latest; for count and sum, the most recent contributing record (or, for a count of
0, the most recent record looked at). Those are the invariants the tests below hold.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from whiteglove.config import GoldenConfig, SourcesConfigError, load_sources
from whiteglove.golden import SURVIVING_FIELDS, golden_columns, survive
from whiteglove.schema import GOLDEN_LINEAGE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
TRUST = {"crm": 1, "billing": 2, "marketing": 3, "support": 4}
ATTRIBUTES = ["payment_method", "monthly_amount", "consent_email", "ticket_status", "last_contact"]


def records(*rows: dict) -> pl.DataFrame:
    """Customer records: each row names golden_id, source, id and the values it has."""
    full = []
    for row in rows:
        source = row["source"]
        full.append(
            {
                "golden_id": row.get("golden_id", "G1"),
                "record_key": f"{source}:{row['id']}",
                "source": source,
                "source_record_id": row["id"],
                "trust": TRUST[source],
                "updated_at": row.get("updated_at"),
                **{f: row.get(f) for f in [*SURVIVING_FIELDS, *ATTRIBUTES]},
            }
        )
    schema = {
        "golden_id": pl.String,
        "record_key": pl.String,
        "source": pl.String,
        "source_record_id": pl.String,
        "trust": pl.Int32,
        "updated_at": pl.Datetime("us"),
        **dict.fromkeys(SURVIVING_FIELDS, pl.String),
        "date_of_birth": pl.Date,
        **dict.fromkeys(ATTRIBUTES, pl.String),
        "last_contact": pl.Datetime("us"),
    }
    return pl.DataFrame(full, schema=schema)


def day(d: int) -> datetime:
    return datetime(2024, 1, d)


def run(frame: pl.DataFrame, fields: dict | None = None, default: str | None = None):
    config = {"fields": fields or {}} | ({"default": default} if default else {})
    return survive(frame, ATTRIBUTES, GoldenConfig.model_validate(config))


def value(golden: pl.DataFrame, column: str, golden_id: str = "G1"):
    return golden.filter(pl.col("golden_id") == golden_id)[column].item()


def origin(lineage: pl.DataFrame, column: str, golden_id: str = "G1") -> tuple[str, str]:
    (row,) = lineage.filter((pl.col("golden_id") == golden_id) & (pl.col("field") == column)).rows(
        named=True
    )
    return row["record_key"], row["rule"]


# --------------------------------------------------------------------------- pick rules
def test_source_priority_is_most_trusted_source_then_most_recent():
    frame = records(
        {"source": "crm", "id": "old", "updated_at": day(1), "email": "old@x.es"},
        {"source": "crm", "id": "new", "updated_at": day(5), "email": "new@x.es"},
        {"source": "billing", "id": "b", "updated_at": day(9), "email": "bill@x.es", "phone": "+1"},
    )
    golden, lineage = run(frame, default="source_priority")
    assert value(golden, "email") == "new@x.es"
    assert origin(lineage, "email") == ("crm:new", "source_priority")
    # crm has no phone: the next source in trust order supplies it
    assert value(golden, "phone") == "+1"
    assert origin(lineage, "phone") == ("billing:b", "source_priority")


def test_source_priority_follows_the_listed_sources_and_ignores_the_rest():
    frame = records(
        {"source": "crm", "id": "c", "updated_at": day(1), "phone": "+34600000001"},
        {"source": "billing", "id": "b", "updated_at": day(1), "phone": "+34600000002"},
        {"source": "support", "id": "s", "golden_id": "G2", "phone": "+34600000003"},
    )
    rule = {"rule": "source_priority", "sources": ["billing", "crm"]}
    golden, lineage = run(frame, {"phone": rule})
    assert value(golden, "phone") == "+34600000002"
    assert origin(lineage, "phone") == ("billing:b", "source_priority")
    # G2 only has a support record, which the rule does not read
    assert value(golden, "phone", "G2") is None
    assert lineage.filter(pl.col("golden_id") == "G2", pl.col("field") == "phone").height == 0


def test_most_recent_beats_trust_and_undated_records_come_last():
    frame = records(
        {"source": "crm", "id": "c", "updated_at": None, "email": "undated@x.es"},
        {"source": "support", "id": "s1", "updated_at": day(2), "email": "older@x.es"},
        {"source": "support", "id": "s2", "updated_at": day(8), "email": "newest@x.es"},
    )
    golden, lineage = run(frame, {"email": "most_recent"})
    assert value(golden, "email") == "newest@x.es"
    assert origin(lineage, "email") == ("support:s2", "most_recent")


def test_most_frequent_outvotes_trust_and_ties_go_to_the_trusted_source():
    frame = records(
        {"source": "crm", "id": "c", "date_of_birth": date(1980, 1, 2), "email": "a@x.es"},
        {"source": "billing", "id": "b", "date_of_birth": date(1980, 2, 1), "email": "b@x.es"},
        {"source": "marketing", "id": "m", "date_of_birth": date(1980, 2, 1)},
    )
    golden, lineage = run(frame, {"date_of_birth": "most_frequent", "email": "most_frequent"})
    assert value(golden, "date_of_birth") == date(1980, 2, 1)
    # the winning value's most trusted holder is the one named
    assert origin(lineage, "date_of_birth") == ("billing:b", "most_frequent")
    assert value(golden, "email") == "a@x.es"  # one vote each: crm is more trusted


def test_most_complete_takes_the_record_with_most_identity_fields():
    frame = records(
        {"source": "crm", "id": "c", "address_line": "Calle A 1"},
        {
            "source": "billing",
            "id": "b",
            "address_line": "Calle B 2",
            "postcode": "28001",
            "city": "Madrid",
        },
    )
    golden, lineage = run(frame, {"address_line": "most_complete"})
    assert value(golden, "address_line") == "Calle B 2"
    assert origin(lineage, "address_line") == ("billing:b", "most_complete")


def test_longest_keeps_the_fullest_form_and_ties_go_to_trust():
    frame = records(
        {"source": "crm", "id": "c", "first_name": "María", "last_name": "Vázquez López"},
        {"source": "billing", "id": "b", "first_name": "María José", "last_name": "Vazquez Lopez"},
        {"source": "support", "id": "s", "first_name": "Mari", "last_name": "Vázquez"},
    )
    golden, lineage = run(frame, {"first_name": "longest", "last_name": "longest"})
    assert value(golden, "first_name") == "María José"
    assert value(golden, "last_name") == "Vázquez López"  # same length: crm is more trusted
    assert value(golden, "full_name") == "María José Vázquez López"
    assert origin(lineage, "full_name") == ("billing:b", "derived")


# --------------------------------------------------------------------------- aggregates
SUPPORT_HISTORY = records(
    {"source": "crm", "id": "c", "updated_at": day(20), "email": "a@x.es"},
    *[
        {
            "source": "support",
            "id": f"t{i}",
            "updated_at": day(i),
            "ticket_status": status,
            "last_contact": day(i),
        }
        for i, status in [(3, "closed"), (7, "open"), (5, "pending"), (6, None)]
    ],
    {"source": "crm", "id": "other", "golden_id": "G2", "updated_at": day(2)},
)


def test_count_counts_records_in_scope_and_is_zero_without_any():
    fields = {
        "ticket_count": {"rule": "count", "sources": ["support"]},
        "statuses": {"rule": "count", "from": "ticket_status"},
    }
    golden, lineage = run(SUPPORT_HISTORY, fields)
    assert value(golden, "ticket_count") == 4
    assert value(golden, "statuses") == 3  # the ticket without a status is not counted
    # one lineage row: the most recent record counted
    assert origin(lineage, "ticket_count") == ("support:t7", "count")
    assert value(golden, "ticket_count", "G2") == 0
    assert origin(lineage, "ticket_count", "G2") == ("crm:other", "count")


def test_where_filter_counts_only_matching_records():
    fields = {
        "open_tickets": {
            "rule": "count",
            "sources": ["support"],
            "where": {"ticket_status": ["open", "pending"]},
        },
        "closed_tickets": {"rule": "count", "where": {"ticket_status": "closed"}},
    }
    golden, lineage = run(SUPPORT_HISTORY, fields)
    assert value(golden, "open_tickets") == 2
    assert origin(lineage, "open_tickets") == ("support:t7", "count")
    assert value(golden, "closed_tickets") == 1
    assert origin(lineage, "closed_tickets") == ("support:t3", "count")


def test_where_compares_yaml_booleans_as_the_text_exports_hold():
    frame = records(
        {"source": "marketing", "id": "m1", "consent_email": "true"},
        {"source": "marketing", "id": "m2", "consent_email": "false"},
    )
    rule = GoldenConfig.model_validate(
        yaml.safe_load("fields: {consents: {rule: count, where: {consent_email: true}}}")
    )
    golden, _ = survive(frame, ATTRIBUTES, rule)
    assert value(golden, "consents") == 1


def test_sum_reads_text_amounts_and_stays_empty_without_any():
    frame = records(
        {"source": "billing", "id": "b1", "updated_at": day(1), "monthly_amount": "10.5"},
        {"source": "billing", "id": "b2", "updated_at": day(3), "monthly_amount": "4,5"},
        {"source": "billing", "id": "b3", "updated_at": day(9), "monthly_amount": "n/a"},
        {"source": "crm", "id": "c", "golden_id": "G2"},
    )
    golden, lineage = run(frame, {"monthly_amount": {"rule": "sum", "sources": ["billing"]}})
    assert value(golden, "monthly_amount") == pytest.approx(15.0)
    assert origin(lineage, "monthly_amount") == ("billing:b2", "sum")
    assert value(golden, "monthly_amount", "G2") is None


def test_max_and_min_pick_the_record_holding_the_value():
    fields = {
        "last_contact": "max",
        "first_contact": {"rule": "min", "from": "last_contact"},
    }
    golden, lineage = run(SUPPORT_HISTORY, fields)
    assert value(golden, "last_contact") == day(7)
    assert origin(lineage, "last_contact") == ("support:t7", "max")
    assert value(golden, "first_contact") == day(3)
    assert origin(lineage, "first_contact") == ("support:t3", "min")


def test_latest_takes_the_value_of_the_latest_record_by_the_named_clock():
    frame = SUPPORT_HISTORY.with_columns(
        # the export's updated_at disagrees with the ticket clock: `by` decides
        pl.when(pl.col("source_record_id") == "t3")
        .then(day(28))
        .otherwise(pl.col("updated_at"))
        .alias("updated_at")
    )
    fields = {
        "ticket_status": {"rule": "latest", "by": "last_contact"},
        "status_by_update": {"rule": "latest", "from": "ticket_status"},
    }
    golden, lineage = run(frame, fields)
    assert value(golden, "ticket_status") == "open"
    assert origin(lineage, "ticket_status") == ("support:t7", "latest")
    assert value(golden, "status_by_update") == "closed"


# --------------------------------------------------------------------------- invariants
@pytest.mark.parametrize(
    "rule",
    [
        "source_priority",
        "most_recent",
        "most_frequent",
        "most_complete",
        "longest",
        "recent_agreement",
    ],
)
@pytest.mark.parametrize("empty", [None, "", "  "])
def test_nulls_and_blanks_never_win(rule, empty):
    frame = records(
        # best placed under every rule: most trusted, newest, most complete
        {
            "source": "crm",
            "id": "c",
            "updated_at": day(9),
            "city": empty,
            "email": "a@x.es",
            "phone": "+3461",
            "postcode": "28001",
        },
        {"source": "support", "id": "s", "updated_at": day(1), "city": "Madrid"},
    )
    golden, lineage = run(frame, {"city": rule})
    assert value(golden, "city") == "Madrid"
    assert origin(lineage, "city") == ("support:s", rule)


@pytest.mark.parametrize("agg", ["max", "min", "latest"])
def test_aggregates_skip_nulls(agg):
    frame = records(
        {"source": "support", "id": "s1", "updated_at": day(9), "last_contact": None},
        {"source": "support", "id": "s2", "updated_at": day(1), "last_contact": day(1)},
    )
    golden, _ = run(frame, {"last_contact": agg})
    assert value(golden, "last_contact") == day(1)


def test_ties_are_broken_the_same_way_whatever_the_input_order():
    frame = records(
        *[
            {
                "source": source,
                "id": f"{source}{i}",
                "golden_id": f"G{i % 3}",
                "updated_at": day(1 + i % 2),
                "email": f"{i % 2}@x.es",
                "postcode": f"2800{i % 2}",
                "first_name": ["Ana", "Eva", "Pilar"][i % 3],
                "ticket_status": "open",
            }
            for i in range(12)
            for source in ("crm", "billing", "support")
        ]
    )
    fields = {
        "email": "most_frequent",
        "first_name": "longest",
        "phone": "most_recent",
        "postcode": "recent_agreement",  # fractional votes: summed in any order, same ties
        "open": {"rule": "count", "where": {"ticket_status": "open"}},
    }
    expected = run(frame, fields)
    for seed in range(5):
        shuffled = run(frame.sample(fraction=1.0, shuffle=True, seed=seed), fields)
        assert shuffled[0].equals(expected[0])
        assert shuffled[1].equals(expected[1])


EVERY_RULE = {
    "first_name": "longest",
    "last_name": "most_frequent",
    "email": {"rule": "most_recent", "sources": ["crm", "billing"]},
    "address_line": "most_complete",
    "phone": {"rule": "source_priority", "sources": ["support", "crm"]},
    "payment_method": {"rule": "latest", "sources": ["billing"]},
    "monthly_amount": "sum",
    "last_contact": "max",
    "first_contact": {"rule": "min", "from": "last_contact"},
    "ticket_count": {"rule": "count", "sources": ["support"]},
    "open_tickets": {"rule": "count", "where": {"ticket_status": ["open", "pending"]}},
}


def test_every_golden_value_has_one_lineage_row_naming_its_record_and_rule():
    frame = pl.concat(
        [
            SUPPORT_HISTORY,
            records(
                {"source": "billing", "id": "b1", "golden_id": "G2", "payment_method": "paypal"},
                {
                    "source": "billing",
                    "id": "b2",
                    "golden_id": "G3",
                    "updated_at": day(4),
                    "monthly_amount": "12",
                    "first_name": "Luis",
                    "last_name": "Gil",
                    "phone": "+3460",
                },
                {"source": "crm", "id": "c3", "golden_id": "G3", "email": "luis@x.es"},
            ),
        ]
    )
    golden, lineage = run(frame, EVERY_RULE)
    surviving = [c for c in golden.columns if c not in ("golden_id", "record_count")]
    surviving = [c for c in surviving if c not in ("source_count", "sources")]
    values = (
        golden.select("golden_id", *[pl.col(c).cast(pl.String) for c in surviving])
        .unpivot(index="golden_id", variable_name="field")
        .filter(pl.col("value").is_not_null())
    )
    # exactly one row per value, with the same value, and nothing for empty values
    assert lineage.height == values.height
    assert values.join(lineage, on=["golden_id", "field", "value"], how="anti").is_empty()
    published = lineage.select(GOLDEN_LINEAGE_COLUMNS[:7])
    assert published.select(pl.all().null_count()).sum_horizontal().item() == 0
    # the record named belongs to that golden customer
    owners = frame.select("golden_id", "record_key", "source", "source_record_id")
    assert lineage.join(
        owners, on=["golden_id", "record_key", "source", "source_record_id"], how="anti"
    ).is_empty()
    # and the rule is the one configured for the column
    expected = {c: (r if isinstance(r, str) else r["rule"]) for c, r in EVERY_RULE.items()} | {
        "full_name": "derived",
        "last_updated_at": "latest",
    }
    for field, rule in lineage.select("field", "rule").unique().iter_rows():
        assert rule == expected.get(field, GoldenConfig().rule_for(field).rule), field


def test_golden_columns_come_in_table_order():
    golden, _ = run(SUPPORT_HISTORY, EVERY_RULE)
    config = GoldenConfig.model_validate({"fields": EVERY_RULE})
    assert golden.columns == golden_columns(config, ATTRIBUTES)
    assert golden.columns[:2] == ["golden_id", "full_name"]
    assert golden.columns[2 : 2 + len(SURVIVING_FIELDS)] == SURVIVING_FIELDS
    profile = golden.columns[2 + len(SURVIVING_FIELDS) : -4]
    assert profile == [*ATTRIBUTES, "first_contact", "ticket_count", "open_tickets"]
    assert golden.columns[-4:] == ["record_count", "source_count", "sources", "last_updated_at"]
    assert golden.schema["ticket_count"] == pl.Int64


def test_no_records_give_empty_tables_with_their_columns():
    golden, lineage = run(SUPPORT_HISTORY.clear(), EVERY_RULE)
    assert golden.is_empty() and lineage.is_empty()
    assert "open_tickets" in golden.columns
    assert lineage.columns == [
        "golden_id",
        "field",
        "value",
        "source",
        "source_record_id",
        "record_key",
        "rule",
        "agreeing_sources",
        "value_dated_at",
        "runner_up",
        "low_confidence",
    ]


# --------------------------------------------------------------------------- configuration
def write_sources(tmp_path: Path, golden: dict) -> Path:
    exports = tmp_path / "exports"
    exports.mkdir(exist_ok=True)
    (exports / "crm.csv").write_text("Id;Nombre;Email\nC1;Ana;ana@x.es\n", encoding="utf-8")
    (exports / "support.csv").write_text("Id;Nombre;Estado\nT1;Ana;open\n", encoding="utf-8")
    source = {"format": "csv", "csv": {"delimiter": ";"}, "id": "Id"}
    config = {
        "sources": [
            {
                **source,
                "name": "crm",
                "path": "exports/crm.csv",
                "trust": 1,
                "fields": {"first_name": "Nombre", "email": "Email"},
            },
            {
                **source,
                "name": "support",
                "path": "exports/support.csv",
                "trust": 2,
                "fields": {"first_name": "Nombre"},
                "attributes": {"ticket_status": "Estado"},
            },
        ],
        "golden": golden,
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SourcesConfigError) as info:
        load_sources(path)
    return info.value.problems


def test_a_valid_golden_section_loads(tmp_path):
    golden = {
        "default": "most_recent",
        "fields": {
            "email": "most_frequent",
            "open_tickets": {
                "rule": "count",
                "sources": ["support"],
                "where": {"ticket_status": "open"},
            },
        },
    }
    config = load_sources(write_sources(tmp_path, golden))
    assert config.golden.default == "most_recent"
    assert config.golden.fields["open_tickets"].where == {"ticket_status": ["open"]}
    assert config.golden.rule_for("phone").rule == "most_recent"


def test_no_golden_section_means_each_fields_default(tmp_path):
    golden = load_sources(write_sources(tmp_path, {})).golden
    assert golden.default == "by_field"
    # contact details: agreement weighted by freshness; identity facts: agreement; the rest:
    # trust
    assert [golden.rule_for(f).rule for f in ("email", "phone", "postcode")] == [
        "recent_agreement"
    ] * 3
    assert golden.rule_for("date_of_birth").rule == "agreement"
    assert golden.rule_for("first_name").rule == "source_priority"
    assert golden.rule_for("payment_method").rule == "source_priority"


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"shoe_size": "most_recent"}, ["golden.fields.shoe_size", "'shoe_size'"]),
        ({"n": {"rule": "count", "from": "colour"}}, ["golden.fields.n.from", "'colour'"]),
        (
            {"n": {"rule": "count", "where": {"mood": "happy"}}},
            ["golden.fields.n.where", "'mood'"],
        ),
        ({"email": {"rule": "latest", "by": "when"}}, ["golden.fields.email.by", "'when'"]),
        (
            {"email": {"rule": "most_recent", "sources": ["erp"]}},
            ["golden.fields.email.sources", "erp"],
        ),
        (
            {"ticket_status": {"rule": "most_recent", "sources": ["crm"]}},
            ["golden.fields.ticket_status.sources", "'ticket_status'", "always be empty"],
        ),
        ({"email": {"rule": "max", "from": "first_name"}}, ["golden.fields.email", "new"]),
    ],
)
def test_a_rule_naming_something_unknown_is_refused_by_name(tmp_path, rule, named):
    (found,) = problems(write_sources(tmp_path, {"fields": rule}))
    for part in named:
        assert part in found


@pytest.mark.parametrize(
    ("golden", "named"),
    [
        ({"fields": {"email": "newest"}}, "golden.fields.email.rule"),
        ({"default": "count"}, "golden.default"),
        (
            {"fields": {"email": {"rule": "most_recent", "by": "x"}}},
            "only allowed with rule latest",
        ),
        ({"fields": {"full_name": "longest"}}, "first_name and last_name"),
        ({"fields": {"record_count": "count"}}, "record_count"),
        ({"fields": {"email": {"rule": "count", "colour": 1}}}, "colour: unknown key"),
        ({"rules": {}}, "golden.rules: unknown key"),
    ],
)
def test_malformed_rules_are_refused(tmp_path, golden, named):
    found = problems(write_sources(tmp_path, golden))
    assert any(named in p for p in found), found


def test_golden_problems_are_reported_with_the_other_problems(tmp_path):
    path = write_sources(tmp_path, {"fields": {"shoe_size": "longest"}})
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sources"][0]["colour"] = "red"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    found = problems(path)
    assert any("colour: unknown key" in p for p in found)
    assert any("golden.fields.shoe_size" in p for p in found)


def test_bundled_sample_builds_the_customer_360_profile():
    config = load_sources(ROOT / "data" / "sources.yaml", check_files=False)
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    columns = golden_columns(config.golden, attributes)
    for column in ["payment_method", "segment", "consent_email", "ticket_count", "open_tickets"]:
        assert column in columns
    assert columns.index("last_contact") < columns.index("record_count")


def test_sources_is_a_list_of_names_in_name_order():
    golden, _ = run(SUPPORT_HISTORY, EVERY_RULE)
    assert golden.schema["sources"] == pl.List(pl.String)
    for names, count in golden.select("sources", "source_count").iter_rows():
        assert names == sorted(set(names)) and len(names) == count
    assert any(len(names) > 1 for names in golden["sources"])
