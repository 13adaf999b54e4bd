"""`whiteglove lookup` / `serve`: one caller resolved against the published golden table.

Accuracy is judged against the batch run of the shared fresh sample (tests/conftest.py): the
published crosswalk says which golden customer holds each record.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import GeneratedRun
from tests.servers import serving
from whiteglove.lookup import LiveIndex, LookupIndex, LookupInputError, LookupUnavailable
from whiteglove.lookup.index import MATCH_RECORDS, published_snapshot
from whiteglove.lookup.server import MAX_BODY_BYTES, create_app
from whiteglove.publish import publish
from whiteglove.schema import IDENTITY_FIELDS

# every identity field a record can carry (full_name is split into first and last already;
# the country is the sources file's default)
IDENTITY = [f for f in IDENTITY_FIELDS if f not in ("full_name", "country")]


@pytest.fixture(scope="module")
def index(fresh_run: GeneratedRun) -> LookupIndex:
    return LookupIndex.open(fresh_run.out)


@pytest.fixture(scope="module")
def batch(fresh_run: GeneratedRun) -> pl.DataFrame:
    """Accepted records as the batch standardized them, with the golden id it gave each."""
    records = pl.read_parquet(fresh_run.out / ".work" / "customer_records.parquet")
    xref = pl.read_parquet(fresh_run.out / "customer_xref.parquet")
    return records.join(
        xref.select("source", "source_record_id", "golden_id"), on=["source", "source_record_id"]
    )


def as_caller(row: dict) -> dict[str, str]:
    """A record's identity values as text, the way a caller (or a form) gives them."""
    return {f: str(row[f]) for f in IDENTITY if row.get(f) is not None}


def test_lookup_scores_pairs_exactly_as_the_batch_did(fresh_run: GeneratedRun, index) -> None:
    pairs = pl.read_parquet(fresh_run.out / "match_pairs.parquet")
    sample = pairs.sample(n=min(400, pairs.height), seed=1)
    records = index.records
    con = duckdb.connect()
    compared = 0
    for (left,), group in sample.group_by("unique_id_l"):
        query = records.filter(pl.col("unique_id") == left)
        candidates = records.filter(pl.col("unique_id").is_in(group["unique_id_r"].implode()))
        scored = index.scorer.score(con, query, candidates).join(group, on="unique_id_r")
        difference = (scored["match_weight"] - scored["match_weight_right"]).abs().max()
        assert difference < 1e-9, left
        compared += scored.height
    assert compared == sample.height


def test_a_record_of_the_batch_finds_its_own_golden_customer_first(index, batch) -> None:
    sample = batch.filter(pl.col("first_name").is_not_null()).sample(n=300, seed=2)
    found = sum(
        (answer := index.lookup(as_caller(row)))["candidates"]
        and answer["candidates"][0]["golden_id"] == row["golden_id"]
        for row in sample.iter_rows(named=True)
    )
    assert found / sample.height >= 0.99


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def test_typed_with_typos_it_still_finds_the_customer(index, batch) -> None:
    rng = random.Random(3)
    rich = batch.filter(
        pl.col("first_name").is_not_null()
        & pl.col("last_name").is_not_null()
        & pl.col("phone").is_not_null()
        & pl.col("date_of_birth").is_not_null()
    ).sample(n=150, seed=3)
    found = 0
    for row in rich.iter_rows(named=True):
        caller = as_caller(row)
        caller["first_name"] = _typo(caller["first_name"], rng)
        caller["last_name"] = _typo(caller["last_name"], rng)
        # the national format, spaced as an agent types it: the batch's phone code reads it
        caller["phone"] = " ".join([caller["phone"][3:6], caller["phone"][6:]])
        answer = index.lookup(caller)
        found += (
            bool(answer["candidates"]) and answer["candidates"][0]["golden_id"] == row["golden_id"]
        )
    assert found / rich.height >= 0.95


def test_one_field_alone_is_enough_when_it_identifies(index, batch) -> None:
    row = batch.filter(pl.col("email").is_not_null()).row(0, named=True)
    answer = index.lookup({"email": row["email"].upper()})
    assert answer["candidates"][0]["golden_id"] == row["golden_id"]
    steps = answer["candidates"][0]["explanation"]["steps"]
    assert [(s["field"], s["evidence"]) for s in steps] == [("email", "email the same")]
    assert "email" in answer["candidates"][0]["explanation"]["text"]


def test_a_record_that_fits_two_customers_lists_both(index, batch) -> None:
    # two golden customers whose records carry the same full name: the name alone fits both
    named = batch.filter(pl.col("first_name").is_not_null() & pl.col("last_name").is_not_null())
    shared = (
        named.group_by("first_name", "last_name")
        .agg(pl.col("golden_id").n_unique().alias("customers"))
        .filter(pl.col("customers") == 2)
        .sort("first_name", "last_name")
    )
    assert shared.height, "the sample has namesakes"
    first, last, _ = shared.row(0)
    owners = set(
        named.filter((pl.col("first_name") == first) & (pl.col("last_name") == last))["golden_id"]
    )
    answer = index.lookup({"first_name": first, "last_name": last})
    listed = {c["golden_id"]: c["probability"] for c in answer["candidates"]}
    assert owners <= set(listed)
    top_two = sorted(listed.values(), reverse=True)[:2]
    assert answer["ambiguous"] == (min(top_two) >= answer["match_threshold"])


def test_no_match_for_someone_we_do_not_know(index) -> None:
    answer = index.lookup(
        {"first_name": "Zebulón", "last_name": "Quintanilla Xirau", "email": "zq@nowhere.example"}
    )
    assert answer["result"] == "no match"
    assert answer["golden_id"] is None
    assert all(c["probability"] < answer["match_threshold"] for c in answer["candidates"])


def test_invalid_values_are_named_and_ignored(index, batch) -> None:
    row = batch.filter(pl.col("email").is_not_null()).row(0, named=True)
    answer = index.lookup({"email": row["email"], "date_of_birth": "31/02/1980"})
    assert answer["invalid_fields"] == ["date_of_birth"]
    assert answer["candidates"][0]["golden_id"] == row["golden_id"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "at least one field"),
        ({"first_name": "   "}, "at least one field"),
        ({"shoe_size": "42"}, "unknown field"),
        ({"first_name": "A" * 5000}, "longer than"),
        ({"first_name": ["Ana"]}, "text or a number"),
        ({f"x{i}": "1" for i in range(100)}, "at most"),
        ([("first_name", "Ana")], "object of field names"),
    ],
)
def test_hostile_records_are_refused_with_what_is_wrong(index, values, message) -> None:
    with pytest.raises(LookupInputError, match=message):
        index.lookup(values)


def test_control_characters_do_not_stop_a_lookup(index, batch) -> None:
    row = batch.filter(pl.col("email").is_not_null()).row(0, named=True)
    answer = index.lookup({"email": "\x00" + row["email"] + "\r\n\x1b"})
    assert answer["candidates"][0]["golden_id"] == row["golden_id"]


def test_the_command_line_prints_the_answer_as_json(fresh_run: GeneratedRun, batch) -> None:
    row = batch.filter(pl.col("phone").is_not_null() & pl.col("first_name").is_not_null()).row(
        0, named=True
    )
    command = [sys.executable, "-m", "pipelines.cli", "lookup", "--out", str(fresh_run.out)]
    done = subprocess.run(
        [*command, f"first_name={row['first_name']}", f"phone={row['phone']}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["golden_id"] == row["golden_id"]
    bad = subprocess.run([*command, "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and "name=value" in bad.stderr
    # a reader that went away (`whiteglove lookup ... | head`) gets no traceback
    reader, writer = os.pipe()
    os.close(reader)
    closed = subprocess.run(
        [*command, f"first_name={row['first_name']}", f"phone={row['phone']}"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(writer)
    assert closed.returncode == 1 and closed.stderr == ""


def test_nothing_published_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LookupUnavailable, match="nothing is published"):
        LookupIndex.open(tmp_path)


def _copy_outputs(source: Path, target: Path) -> None:
    """A private output folder holding the fresh run's publication (the test republishes)."""
    shutil.copytree(source, target, symlinks=True)


def test_a_new_publication_is_picked_up_without_a_restart(
    fresh_run: GeneratedRun, tmp_path
) -> None:
    out = tmp_path / "out"
    _copy_outputs(fresh_run.out, out)
    live = LiveIndex(out)
    first = live.current()
    snapshot = published_snapshot(out)
    assert first.snapshot == snapshot
    gone = first.records["unique_id"][0]
    records = pl.read_parquet(snapshot / f"{MATCH_RECORDS}.parquet").filter(
        pl.col("unique_id") != gone
    )
    documents = {
        name: json.loads((snapshot / name).read_text())
        for name in ("match_settings.json", "model.json")
    }
    publish(out, "20990101T000000Z-republish", tables={MATCH_RECORDS: records}, documents=documents)
    assert live.current() is first  # still answering while the new one loads
    live.wait()
    second = live.current()
    assert second.snapshot.name == "20990101T000000Z-republish"
    assert second.records.height == first.records.height - 1
    assert live.last_error is None


@pytest.fixture(scope="module")
def server(fresh_run: GeneratedRun):
    with serving(lambda port: create_app(fresh_run.out)) as url:
        yield url


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_http_lookup_answers_as_the_command_line_does(server, index, batch) -> None:
    row = batch.filter(pl.col("email").is_not_null()).row(0, named=True)
    status, answer = _post(
        f"{server}/lookup", json.dumps({"email": row["email"], "top": 2}).encode()
    )
    assert status == 200
    assert answer["golden_id"] == row["golden_id"]
    assert len(answer["candidates"]) <= 2
    with urllib.request.urlopen(f"{server}/health", timeout=30) as response:
        health = json.loads(response.read())
    assert health["records"] == index.records.height


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), "application/json", 413, "at most"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "one JSON object"),
        (b'{"first_name": "Ana"}', "text/plain", 415, "JSON"),
        (b'{"first_name": "Ana", "top": 1000}', "application/json", 400, "top"),
        (b"{}", "application/json", 400, "at least one field"),
    ],
)
def test_http_refuses_bad_bodies_clearly(server, body, content_type, status, message) -> None:
    got, answer = _post(f"{server}/lookup", body, content_type)
    assert got == status
    assert message in answer["error"]
