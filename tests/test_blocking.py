"""The blocking budget: a derived rule on names too costly whole is kept for its rare values.

At three million records first name + surname would generate 46M comparisons against a budget
of 30M and was left out whole, with it the only way to pair a support ticket that carries a
name and nothing else. Its blocks of a few records cost a sixth and hold most of those pairs.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from tests.frames import canonical_records, match_records
from whiteglove.config import LinkageConfig
from whiteglove.linkage import (
    DERIVED_RULE_FLOOR,
    BlockingRule,
    count_comparisons,
    link,
    present_columns,
    record_hashes,
)
from whiteglove.linkage.blocking import (
    MAX_CAPPED_BLOCK,
    capped_rules,
    plan_blocking,
    splink_rules,
    with_block_keys,
)
from whiteglove.linkage.choices import ThresholdChoice, linkage_choices


def people(common: int, rare: int) -> list[dict]:
    """`common` records of one very common name, then `rare` people of two records each
    with a name of their own; no two records share anything else."""
    rows = [
        {"record_key": f"crm:c{i}", "first_name": "María", "last_name": "García López"}
        for i in range(common)
    ]
    rows += [
        {"record_key": f"crm:r{p}-{copy}", "first_name": f"Zoe{p}", "last_name": f"Quirós{p}"}
        for p in range(rare)
        for copy in range(2)
    ]
    return rows


def test_a_rule_too_costly_whole_is_kept_for_its_blocks_of_few_records():
    # 1,500 namesakes make 1.1M pairs, over the 1M floor of a small file's budget
    frame = match_records(people(1500, 40))
    assert 1500 * 1499 // 2 > DERIVED_RULE_FLOOR
    with duckdb.connect() as con:
        plan = plan_blocking(con, frame, present_columns(frame), LinkageConfig())
    whole = BlockingRule(("first_name_key", "last_name_key"))
    capped = BlockingRule(whole.columns, MAX_CAPPED_BLOCK)
    assert whole.label in plan.left_out and whole not in plan.rules
    assert capped in plan.rules
    # the forty rare names pair up; the namesakes' block is not counted, nor generated
    assert plan.counts[capped.label] == 40
    assert "blocks of at most" in capped.label


def test_the_block_key_holds_rare_values_only_and_a_record_changes_when_its_name_turns_common():
    rule = BlockingRule(("first_name_key", "last_name_key"), 2)
    before = match_records(
        [
            {"record_key": "crm:1", "first_name": "Ana", "last_name": "Ruiz"},
            {"record_key": "crm:2", "first_name": "Ana", "last_name": "Ruiz"},
            {"record_key": "crm:3", "first_name": "Eva", "last_name": "Sanz"},
            {"record_key": "crm:4", "first_name": "Eva"},
        ]
    )
    keyed = with_block_keys(before, [rule])
    keys = dict(zip(keyed["unique_id"], keyed[rule.key], strict=True))
    assert keys["crm:1"] == keys["crm:2"] is not None
    assert keys["crm:3"] is not None and keys["crm:4"] is None  # a missing part: no key
    # a third Ana Ruiz arrives: the block is over the cap, so the first two lose their key and
    # count as changed, and an incremental run drops the pairs a full run would not make
    after = pl.concat(
        [
            before,
            before.filter(pl.col("unique_id") == "crm:1").with_columns(
                pl.lit("crm:5").alias("unique_id")
            ),
        ]
    )
    rekeyed = with_block_keys(after, [rule])
    assert (
        rekeyed.filter(pl.col("unique_id").is_in(["crm:1", "crm:2", "crm:5"]))[rule.key]
        .is_null()
        .all()
    )
    old, new = record_hashes(keyed), record_hashes(rekeyed)
    changed = old.join(new, on="unique_id", suffix="_new").filter(
        pl.col("record_hash") != pl.col("record_hash_new")
    )
    assert sorted(changed["unique_id"]) == ["crm:1", "crm:2"]


def test_a_capped_rule_is_counted_and_blocked_on_its_key():
    frame = with_block_keys(
        match_records(people(30, 5)),
        [rule := BlockingRule(("first_name_key", "last_name_key"), 20)],
    )
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        assert count_comparisons(con, "frame", rule) == 5
        assert count_comparisons(con, "frame", BlockingRule(rule.columns)) == 5 + 30 * 29 // 2
    (splink_rule,) = splink_rules([rule])
    assert rule.key in splink_rule.get_blocking_rule("duckdb").blocking_rule_sql


def test_the_run_names_its_capped_rules_so_explain_and_lookups_see_the_same_blocks():
    rule = BlockingRule(("first_name_key", "last_name_key"), MAX_CAPPED_BLOCK)
    choices = linkage_choices(
        pl.Series([0.9, 0.1]),
        {"comparisons": []},
        ThresholdChoice(0.5, "estimated"),
        LinkageConfig(),
        [list(rule.columns)],
        [{"columns": list(rule.columns), "max_block": rule.max_block}],
    )
    assert capped_rules(choices) == [rule]
    # match_records carries the key the model's blocking rule compares, under the same name
    frame = with_block_keys(match_records(people(25, 2)), capped_rules(choices))
    (splink_rule,) = splink_rules(capped_rules(choices))
    assert f'"{rule.key}"' in splink_rule.get_blocking_rule("duckdb").blocking_rule_sql
    assert frame[rule.key].drop_nulls().len() == 4  # the two rare people's records


def test_explain_names_a_capped_rule_by_its_columns_and_says_why_it_did_not_pair():
    from whiteglove.explain import capped_rule_check

    rule = BlockingRule(("first_name_key", "last_name_key"), MAX_CAPPED_BLOCK)
    frame = with_block_keys(match_records(people(25, 2)), [rule])
    rows = {r["unique_id"]: r for r in frame.iter_rows(named=True)}
    equality = [(rule.key, rule.key)]

    def check(a: str, b: str) -> dict:
        return capped_rule_check(equality, rows[a], rows[b])

    assert check("crm:r0-0", "crm:r0-1") == {
        "rule": "first_name_key and last_name_key (rare values only)",
        "pairs": True,
        "why": "",
    }
    common = check("crm:c0", "crm:c1")
    assert not common["pairs"] and "too many records" in common["why"]
    assert check("crm:r0-0", "crm:r1-0")["why"] == "first_name_key, last_name_key differ(s)"
    # any other rule is left to explain's reading of equalities
    assert capped_rule_check([("email", "email")], rows["crm:c0"], rows["crm:c1"]) is None


def test_linkage_blocks_on_a_capped_rules_key_end_to_end():
    # namesakes too many for first name + surname whole; twenty rare people share an email
    # (so that there is something to train on), twenty share nothing but their name
    rows = [
        {
            "record_key": f"crm:c{i}",
            "first_name": "María",
            "last_name": "García López",
            "email": f"maria{i}@correo.es",
        }
        for i in range(1500)
    ]
    for p in range(40):
        for copy in range(2):
            email = f"zoe{p}@correo.es" if p < 20 else f"zoe{p}.{copy}@correo.es"
            rows.append(
                {
                    "record_key": f"crm:r{p}-{copy}",
                    "first_name": f"Zoe{p}",
                    "last_name": f"Quirós{p} Núñez{p}",
                    "email": email,
                    "date_of_birth": date(1980, 1, 1 + p % 28),
                }
            )
    records = canonical_records(rows)
    result = link(records, LinkageConfig())
    assert {"columns": ["first_name_key", "last_name_key"], "max_block": 20} in result.capped_rules
    compared = {(r["unique_id_l"], r["unique_id_r"]) for r in result.pairs.iter_rows(named=True)}
    nameonly = [(f"crm:r{p}-0", f"crm:r{p}-1") for p in range(20, 40)]
    # same name and birth date, different emails: only the capped rule compares them
    assert all(pair in compared or pair[::-1] in compared for pair in nameonly)


def test_a_lookup_skips_the_groups_a_capped_rule_left_unpaired():
    from whiteglove.config import load_sources
    from whiteglove.layout import PROJECT_ROOT
    from whiteglove.lookup.index import MAX_KEY_GROUP, KeyIndex, LookupIndex, match_settings

    published = match_records(people(25, 2))
    columns = ["first_name_key", "last_name_key"]
    capped = [{"columns": columns, "max_block": MAX_CAPPED_BLOCK}]
    choices = {"blocking_rules": [columns], "capped_blocking_rules": capped}
    settings = match_settings(
        load_sources(PROJECT_ROOT / "data" / "sources.yaml"),
        choices | {"match_threshold": {"value": 0.5}},
    )
    assert settings["capped_blocking_rules"] == capped
    index = object.__new__(LookupIndex)
    index.rules = [
        KeyIndex.build(published, rule, MAX_CAPPED_BLOCK if rule == columns else MAX_KEY_GROUP)
        for rule in settings["blocking_rules"]
    ]
    rare = published.filter(pl.col("unique_id") == "crm:r0-0")
    rows, skipped = index._candidates(rare)
    assert sorted(published[rows]["unique_id"]) == ["crm:r0-0", "crm:r0-1"] and skipped == []
    # 25 namesakes: more than the batch paired, so a caller named so is not compared by name
    rows, skipped = index._candidates(published.filter(pl.col("unique_id") == "crm:c0"))
    assert len(rows) == 0 and skipped == ["first_name_key & last_name_key"]
