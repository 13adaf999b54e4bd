"""Steward decisions that last: the file, what applies, and what clustering does with it."""

from pathlib import Path

import polars as pl
import pytest

from tests.frames import pairs
from whiteglove.clustering import cluster_records
from whiteglove.decisions import (
    COLUMNS,
    Decision,
    DecisionsError,
    append_decision,
    constraints,
    read_decisions,
    resolve,
)


def records(*keys: str) -> pl.DataFrame:
    return pl.DataFrame({"record_key": list(keys)})


def groups(result) -> set[frozenset[str]]:
    frame = result.clusters.group_by("cluster_id").agg("record_key")
    return {frozenset(keys) for keys in frame["record_key"].to_list()}


def clustered(keys, links, *decided: Decision, max_size: int = 50):
    applied = resolve(decided, keys).applied
    return cluster_records(
        records(*keys), pairs(*links), 0.5, max_size, decisions=constraints(applied), strong=()
    )


def test_a_lock_freezes_membership_against_strong_links():
    links = [("a", "b", 0.99), ("b", "c", 0.99), ("c", "d", 0.99)]
    result = clustered("abcd", links, Decision("lock", ("a", "b")))
    assert groups(result) == {frozenset("ab"), frozenset("cd")}


def test_a_split_holds_even_through_a_third_record():
    # c is split out of {a, b, c}; a new record d links to both a and c: d may join one side
    # only, and c never rejoins a or b
    links = [("a", "b", 0.99), ("b", "c", 0.95), ("a", "d", 0.9), ("c", "d", 0.8)]
    result = clustered("abcd", links, Decision("split", ("c",), ("a", "b")))
    found = groups(result)
    assert not any({"a", "c"} <= g or {"b", "c"} <= g for g in found)
    assert frozenset("abd") in found and frozenset("c") in found  # the stronger link wins


def test_a_merge_joins_two_customers_that_no_link_joins():
    links = [("a", "b", 0.99), ("c", "d", 0.99)]
    result = clustered("abcd", links, Decision("merge", ("a", "b", "c", "d")))
    assert groups(result) == {frozenset("abcd")}


def test_decisions_hold_at_any_threshold():
    links = [("a", "b", 0.6), ("b", "c", 0.6)]
    decided = resolve([Decision("no_match", ("a", "b")), Decision("match", ("c", "d"))], "abcd")
    for threshold in (0.1, 0.5, 0.9):
        result = cluster_records(
            records(*"abcd"),
            pairs(*links),
            threshold,
            50,
            decisions=constraints(decided.applied),
            strong=(),
        )
        ids = dict(result.clusters.iter_rows())
        assert ids["a"] != ids["b"] and ids["c"] == ids["d"]


def test_a_contradiction_is_reported_with_both_entries_and_the_later_one_applies():
    earlier = Decision("match", ("a", "b"), author="ana", line=2)
    later = Decision("no_match", ("b", "a"), author="luis", line=3)
    resolved = resolve([earlier, later], "ab")
    assert resolved.applied == [later]
    [entry] = resolved.not_applied
    assert entry["decision"]["line"] == 2 and entry["decision"]["author"] == "ana"
    [other] = entry["conflicts_with"]
    assert other["line"] == 3 and other["author"] == "luis"
    assert "contradicts" in entry["why"]


def test_a_contradiction_through_a_chain_and_across_a_lock_is_found():
    chain = [
        Decision("match", ("a", "b"), line=2),
        Decision("match", ("b", "c"), line=3),
        Decision("no_match", ("a", "c"), line=4),
    ]
    resolved = resolve(chain, "abc")
    # newest first: a-c apart, then b-c together; a-b would join a and c
    assert [e["decision"]["line"] for e in resolved.not_applied] == [2]
    assert [o["line"] for o in resolved.not_applied[0]["conflicts_with"]] == [4, 3]
    locked = [Decision("lock", ("a", "b"), line=2), Decision("match", ("b", "c"), line=3)]
    resolved = resolve(locked, "abc")
    assert [e["decision"]["kind"] for e in resolved.not_applied] == ["lock"]


def test_a_decision_whose_record_is_gone_is_reported_not_applied():
    resolved = resolve([Decision("match", ("a", "z"), line=5)], "ab")
    assert resolved.applied == []
    [entry] = resolved.not_applied
    assert "z gone" in entry["why"] and entry["decision"]["line"] == 5


def test_the_file_round_trips_and_is_written_atomically(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    first = append_decision(path, Decision("match", ("crm:1", "billing:2"), author="ana"))
    second = append_decision(
        path,
        Decision("split", ("support:T1",), ("crm:1",), golden_id="G1", reason="=cmd|' /C calc'!A0"),
    )
    assert (first.line, second.line) == (2, 3)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert ",'=cmd" in text  # a note that looks like a formula stays text in a spreadsheet
    read = read_decisions(path)
    assert [d.kind for d in read] == ["match", "split"]
    assert read[1].records == ("support:T1",) and read[1].apart_from == ("crm:1",)
    assert read[1].reason == "=cmd|' /C calc'!A0" and read[0].time.endswith("Z")
    assert [p.name for p in tmp_path.iterdir()] == ["decisions.csv"]  # no temporary left


def test_the_review_queue_with_its_note_line_is_a_decisions_file(tmp_path: Path):
    path = tmp_path / "review.csv"
    path.write_text(
        "\ufeff# write match or no_match in decision\n"
        "golden_id_l,record_key_l,record_key_r,decision,reviewer,note\n"
        "G1,crm:1,crm:2,match,ana,same person\nG2,crm:3,crm:4,,,\n",
        encoding="utf-8",
    )
    [d] = read_decisions(path)
    assert (d.kind, d.records, d.author, d.reason, d.line) == (
        "match",
        ("crm:1", "crm:2"),
        "ana",
        "same person",
        3,
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('t,a,merge,,,"[""crm:1""]",,,\n', "line 3: a merge needs at least two records"),
        ("t,a,lock,,,not json,,,\n", "line 3: records must be a JSON list"),
        ("2026-13-40,a,match,crm:1,crm:2,,,,\n", "line 3: time '2026-13-40' is not an ISO"),
        ("x,a,match,crm:1\n", "line 3: 4 cells where the header has 9"),
        (",a,match,crm:1,,,,,\n", "line 3: a match decision needs record_key_l and record_key_r"),
        (",a,unlink,crm:1,crm:2,,,,\n", "line 3: decision 'unlink' is not one of"),
    ],
)
def test_a_malformed_file_is_refused_naming_file_line_and_problem(tmp_path, body, problem):
    path = tmp_path / "decisions.csv"
    good = "2026-11-30T10:00:00Z,ana,match,crm:8,crm:9,,,,\n"
    path.write_text(",".join(COLUMNS) + "\n" + good + body.replace("t,a,", ",a,"), encoding="utf-8")
    with pytest.raises(DecisionsError) as error:
        read_decisions(path)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_a_run_with_a_malformed_decisions_file_is_refused_before_it_starts(tmp_path, capsys):
    from pipelines.cli import main
    from tests.conftest import make_sample

    sources = make_sample(tmp_path, people=30, seed=3)
    (tmp_path / "decisions.csv").write_text(
        ",".join(COLUMNS) + "\n,ana,lock,,,crm:1,,,\n", encoding="utf-8"
    )
    assert main(["run", "--sources", str(sources), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "refusing to run" in error and "decisions.csv, line 2" in error
    assert "JSON list" in error
    assert not (tmp_path / "out").exists()  # nothing written
