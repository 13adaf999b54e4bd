"""`whiteglove explain`: why records are, or are not, one customer, from a published output."""

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from tests.conftest import make_sample, run_once
from whiteglove.config import load_sources
from whiteglove.explain import PublishedRun, explain_golden, explain_pair


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> PublishedRun:
    root = tmp_path_factory.mktemp("explain")
    sources = make_sample(root, people=300, seed=5)
    # one CRM row with an id and nothing else: quarantined, for explain to say so
    crm = load_sources(sources).source("crm")
    export = root / "exports" / Path(crm.path).name
    with export.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh, delimiter=crm.csv_options.delimiter))
    with export.open("a", encoding="utf-8", newline="") as fh:
        row = ["CQUARANTINED" if name == crm.id else "" for name in header]
        csv.writer(fh, delimiter=crm.csv_options.delimiter).writerow(row)
    outcome = run_once(sources, root / "out")
    assert outcome.success, outcome.failures
    return PublishedRun(root / "out")


def rule_columns(run: PublishedRun) -> list[list[str]]:
    import re

    rules = [r["blocking_rule"] for r in run.model["blocking_rules_to_generate_predictions"]]
    return [sorted(set(re.findall(r'l\."(\w+)"', rule))) for rule in rules]


def test_two_records_no_blocking_rule_pairs_are_never_compared_and_the_rules_are_named(
    published,
):
    run = published
    columns = sorted({c for cols in rule_columns(run) for c in cols})
    frame = run.match_records.select("unique_id", *columns)
    rows = frame.rows(named=True)
    first = rows[0]

    def shares_a_rule(a: dict, b: dict) -> bool:
        return any(
            all(a[c] is not None and a[c] == b[c] for c in cols) for cols in rule_columns(run)
        )

    # found by the rules' own columns, independently of explain's reading of them
    other = next(r for r in rows[1:] if not shares_a_rule(first, r))
    a, b = first["unique_id"], other["unique_id"]
    answer = explain_pair(run, a, b)
    assert answer["verdict"] == "never_compared"
    assert len(answer["blocking"]) == len(rule_columns(run))
    assert not any(rule["pairs"] for rule in answer["blocking"])
    named = {rule["rule"] for rule in answer["blocking"]}
    assert named == {" and ".join(cols) for cols in rule_columns(run)}
    assert all(rule["why"] for rule in answer["blocking"])
    # and a pair that one rule does pair is not "never compared"
    paired = run.pairs.row(0, named=True)
    again = explain_pair(run, paired["unique_id_l"], paired["unique_id_r"])
    assert again["verdict"] != "never_compared"


def test_a_golden_customer_is_explained_by_its_links_with_waterfalls_that_add_up(published):
    run = published
    sizes = run.xref.group_by("golden_id").len().filter(pl.col("len") >= 3).sort("golden_id")
    golden_id = sizes["golden_id"][0]
    answer = explain_golden(run, golden_id)
    assert set(answer["records"]) == set(run.members(golden_id))
    assert len(answer["links"]) == len(answer["records"]) - 1  # a tree through the records
    scored = {
        (r["unique_id_l"], r["unique_id_r"]): r["match_probability"]
        for r in run.pairs.iter_rows(named=True)
    }
    for link in answer["links"]:
        fall = link["waterfall"]
        total = fall["prior"] + sum(s["weight"] for s in fall["steps"])
        assert total == pytest.approx(fall["match_weight"], abs=0.05)
        assert fall["match_probability"] == pytest.approx(
            scored[(link["left"], link["right"])], abs=1e-3
        )
        assert link["match_probability"] >= run.threshold
        assert all(": +" in s["text"] or ": -" in s["text"] for s in fall["steps"])
        assert fall["prior_text"].startswith("prior")


def test_a_pair_below_the_threshold_names_what_weighed_most_and_masks_personal_data(published):
    run = published
    ids = dict(run.xref.select("record_key", "golden_id").iter_rows())
    below = run.pairs.filter(pl.col("match_probability") < run.threshold).sort(
        "match_probability", descending=True
    )
    a, b = next(
        (left, right)
        for left, right in below.select("unique_id_l", "unique_id_r").rows()
        if ids[left] != ids[right]
    )
    answer = explain_pair(run, a, b)
    assert answer["verdict"] == "below_threshold"
    assert 0 < len(answer["weighed_most"]) <= 3
    assert not any(": +0.0" in text for text in answer["weighed_most"])
    emails = run.records.filter(pl.col("record_key").is_in([a, b]))["email"].drop_nulls()
    text = json.dumps(answer)
    assert all(email not in text for email in emails)


def test_the_command_line_prints_text_or_json(published, capsys):
    out = str(published.layout.root)
    golden_id = published.xref["golden_id"][0]
    assert main(["explain", "--out", out, "--golden-id", golden_id]) == 0
    assert f"golden customer {golden_id}" in capsys.readouterr().out
    a, b = published.xref["record_key"][0], published.xref["record_key"][1]
    assert main(["explain", "--out", out, a, b, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "pair"
    assert main(["explain", "--out", out, "crm:NOPE", b]) == 2
    assert "not in this publication" in capsys.readouterr().err
    assert main(["explain", "--out", out, "crm:CQUARANTINED", b]) == 2
    said = capsys.readouterr().err
    assert "crm:CQUARANTINED is not in this publication's crosswalk: it was quarantined" in said
    assert "no identity field" in said
    assert main(["explain", "--out", str(Path(out) / "missing"), a, b]) == 2


def test_a_golden_customer_shows_each_value_with_its_source_agreement_age_and_runner_up(
    published, capsys
):
    run = published
    lineage = pl.read_parquet(run.layout.latest / "golden_lineage.parquet")
    unsure = lineage.filter((pl.col("field") == "email") & pl.col("low_confidence"))
    row = unsure.sort("golden_id").row(0, named=True)
    answer = explain_golden(run, row["golden_id"])
    values = {v["field"]: v for v in answer["values"]}
    assert set(values) == set(lineage.filter(pl.col("golden_id") == row["golden_id"])["field"])
    email = values["email"]
    assert email["record"] == row["record_key"] and email["rule"] == row["rule"]
    assert email["agreeing_sources"] == row["agreeing_sources"] >= 1
    assert email["dated"] == row["value_dated_at"].date().isoformat()
    assert email["age_days"] >= 0 and email["low_confidence"] is True
    # personal values masked as the records beside them are: first letter and domain
    assert email["value"] != row["value"] and email["value"].endswith(row["value"].split("@")[1])
    assert email["runner_up"] != row["runner_up"] and email["runner_up"].startswith(
        row["runner_up"][0] + "***@"
    )
    # computed values carry no confidence
    assert values["last_updated_at"]["agreeing_sources"] is None
    assert main(["explain", "--out", str(run.layout.root), "--golden-id", row["golden_id"]]) == 0
    text = capsys.readouterr().out
    (line,) = [t for t in text.splitlines() if t.startswith("  email = ")]
    assert f"{email['agreeing_sources']} source(s) agree" in line
    assert f"dated {email['dated']}" in line and f"runner-up {email['runner_up']}" in line
    assert line.endswith("[LOW CONFIDENCE]")
    assert row["value"] not in text and row["runner_up"] not in text
