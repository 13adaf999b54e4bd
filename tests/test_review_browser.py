"""The review page in Chromium: a steward resolves ten pairs, splits a record out of a
customer, locks one and merges two; the next run, full and incremental, honours every
decision, and `explain` names the steward decision as the reason."""

import json
from pathlib import Path
from urllib.parse import urlencode

import polars as pl
import pytest
from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.browser import chromium
from tests.conftest import make_sample, run_once
from tests.servers import serving
from whiteglove.decisions import read_decisions
from whiteglove.explain import PublishedRun, explain_golden, explain_pair
from whiteglove.review_page import ReviewState, create_app


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    sources = make_sample(root, people=300, seed=23)
    assert run_once(sources, root / "out").success
    truth = pl.read_csv(root / "truth.csv", schema_overrides={"source_record_id": pl.String})
    person = dict(
        truth.select(pl.col("source") + ":" + pl.col("source_record_id"), "person_id").rows()
    )
    return root, sources, person


@pytest.fixture(scope="module")
def server(published):
    root, _, _ = published
    state = ReviewState(root / "out", author="test-steward")
    with serving(lambda port: create_app(state, port)) as url:
        yield url, state


def ids_of(out: Path) -> dict[str, str]:
    xref = pl.read_parquet(out / "customer_xref.parquet")
    return dict(
        xref.select(pl.col("source") + ":" + pl.col("source_record_id"), "golden_id").rows()
    )


def test_the_customer_page_shows_how_sure_each_golden_value_is(published, server, tmp_path):
    root, _, _ = published
    url, _ = server
    lineage = pl.read_parquet(root / "out" / "golden_lineage.parquet")
    row = (
        lineage.filter((pl.col("field") == "email") & pl.col("low_confidence"))
        .sort("golden_id")
        .row(0, named=True)
    )
    values = lineage.filter(pl.col("golden_id") == row["golden_id"])
    with chromium(tmp_path / "profile") as browser:
        page = browser.new_page()
        page.goto(url + "/customer?" + urlencode({"id": row["golden_id"]}))
        table = page.locator("#values")
        assert table.is_visible()
        assert table.locator("tr").count() == values.height + 1  # a row per value, and a head
        cells = table.locator("tr.low", has_text="email").first.locator("td").all_inner_texts()
        field, shown, record, rule, agree, dated, age, runner_up, sure = cells
        assert (field, record, rule) == ("email", row["record_key"], row["rule"])
        assert (agree, dated) == (str(row["agreeing_sources"]), str(row["value_dated_at"].date()))
        assert int(age) >= 0 and sure.startswith("low")
        # masked as the records table masks emails: first letter and domain
        assert shown == row["value"][0] + "***@" + row["value"].split("@")[1]
        assert runner_up == row["runner_up"][0] + "***@" + row["runner_up"].split("@")[1]
        content = page.content()
        assert row["value"] not in content and row["runner_up"] not in content
        page.screenshot(path=str(tmp_path / "customer-values.png"), full_page=True)


def test_a_steward_decides_through_the_page_and_the_next_runs_honour_it(
    published, server, tmp_path
):
    root, sources, person = published
    url, state = server
    before = ids_of(root / "out")
    members: dict[str, list[str]] = {}
    for key, golden in sorted(before.items()):
        members.setdefault(golden, []).append(key)

    with chromium(tmp_path / "profile") as browser:
        page = browser.new_page()
        page.goto(url + "/")
        # the first ten items in the page's order, whatever section they are in
        links = page.locator("#queue-decide a.pair, #queue-one a.pair, #queue-guarded a.pair")
        hrefs = [links.nth(i).get_attribute("href") for i in range(10)]
        assert len(set(hrefs)) == 10
        pairs = []
        for href in hrefs:
            page.goto(url + href)
            left = page.locator("input[name=l]").input_value()
            right = page.locator("input[name=r]").input_value()
            # side by side, with the waterfall in plain words
            assert page.locator("#side-by-side").is_visible()
            assert page.locator("table.waterfall tr.step").count() >= 3
            same = person[left] == person[right]
            page.fill("input[name=note]", f"checked <b>{left}</b>")
            page.click(f"button[value={'match' if same else 'no_match'}]")
            # the click returns once the form is sent, maybe before the answer has loaded;
            # count() does not wait, so wait for the message first (the page had none)
            page.locator("p.msg").first.wait_for()
            assert page.locator("p.msg").count() == 1, page.content()[-1500:]
            assert "Recorded:" in page.locator("p.msg").inner_text()
            pairs.append((left, right, same))
        touched = {before[k] for pair in pairs for k in pair[:2]}
        free = sorted(
            (g for g, keys in members.items() if g not in touched and len(keys) >= 2),
            key=lambda g: (-len(members[g]), g),
        )
        split_customer, lock_customer = free[0], free[1]
        merge_a, merge_b = free[2], free[3]
        split_record = members[split_customer][0]

        page.goto(url + "/customer?" + urlencode({"id": split_customer}))
        page.click(f"button[name=split][value='{split_record}']")
        assert "split" in page.locator("p.msg").inner_text()
        page.goto(url + "/customer?" + urlencode({"id": lock_customer}))
        page.fill("input[name=note]", "called the customer")
        page.click("button[value=lock]")
        assert "lock" in page.locator("p.msg").inner_text()
        page.goto(url + "/pair?" + urlencode({"l": members[merge_a][0], "r": members[merge_b][0]}))
        page.click("button[value=merge]")
        assert "merge" in page.locator("p.msg").inner_text()

        # search finds a record by its id, masked, every value escaped
        page.goto(url + "/search?" + urlencode({"q": split_record.split(":")[1]}))
        assert split_record in page.locator("#results").inner_text()
        page.goto(url + "/search?" + urlencode({"q": "<script>alert(1)</script>"}))
        assert "<script>alert(1)</script>" in page.locator("h1").inner_text()  # shown as text
        assert page.locator("script").count() == 0

        # a POST from elsewhere, or without this server's token, is refused
        refused = page.request.post(
            url + "/decide", form={"kind": "match", "l": pairs[0][0], "r": pairs[0][1]}
        )
        assert refused.status == 403
        foreign = page.request.post(
            url + "/decide",
            form={"kind": "match", "l": pairs[0][0], "r": pairs[0][1], "token": state.token},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status == 403

    decisions = read_decisions(root / "decisions.csv")
    assert [d.kind for d in decisions][-3:] == ["split", "lock", "merge"]
    assert len(decisions) == 13 and all(d.author == "test-steward" and d.time for d in decisions)
    assert decisions[0].reason.startswith("checked <b>")  # stored as written, escaped when shown

    def honoured(out: Path) -> None:
        ids = ids_of(out)
        for left, right, same in pairs:
            assert (ids[left] == ids[right]) == same, (left, right, same)
        rest = [k for k in members[split_customer] if k != split_record]
        assert ids[split_record] not in {ids[k] for k in rest}
        assert len({ids[k] for k in rest}) == 1
        locked = {k for k, g in ids.items() if g == ids[members[lock_customer][0]]}
        assert locked == set(members[lock_customer])
        assert len({ids[k] for k in members[merge_a] + members[merge_b]}) == 1
        summary = json.loads((out / "run_summary.json").read_text())
        assert summary["decisions"]["applied"] == 13 and summary["decisions"]["not_applied"] == []

    out = root / "out"
    assert run_once(sources, out).success
    honoured(out)
    run = PublishedRun(out)
    # every pair the steward kept apart, or joined across two customers, is explained so
    checked = 0
    for left, right, same in pairs:
        if not same:
            answer = explain_pair(run, left, right)
            assert answer["verdict"] == "steward" and "steward decision" in answer["reason"]
            checked += 1
        elif before[left] != before[right]:
            answer = explain_pair(run, left, right)
            assert answer["verdict"] == "same_customer" and "steward decision" in answer["reason"]
            checked += 1
    assert checked > 0
    split_answer = explain_pair(run, split_record, members[split_customer][1])
    assert split_answer["verdict"] == "steward" and "split" in split_answer["reason"]
    merged = explain_pair(run, members[merge_a][0], members[merge_b][0])
    assert merged["verdict"] == "same_customer" and "steward decision" in merged["reason"]
    # the merged customer whose id did not survive says where it went and why
    kept = ids_of(out)[members[merge_a][0]]
    (retired,) = {merge_a, merge_b} - {kept}
    change = explain_golden(run, retired)["change"]
    assert change["change"] == "merged" and change["merged_into"] == kept
    assert f"merged into {kept}" in change["why"] and "steward decision" in change["why"]
    assert "merge" in change["why"]

    with DagsterInstance.ephemeral() as instance:
        again = run_pipeline(sources, out, instance=instance, log_level="ERROR", incremental=True)
    assert again.success, again.failures
    honoured(out)
