"""The bundled sample's reports in Chromium, and the links Dagster shows to them.

One run of `data/sources.yaml` (what `make run` does), read the way a data engineer would: the
Dagster metadata's report links, then the pages themselves in a real browser.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from dagster import DagsterInstance, UrlMetadataValue

from pipelines.runner import run_pipeline
from tests.browser import chromium
from tests.test_data_docs import offline_page, visible_icons
from whiteglove.layout import BUNDLED_SOURCES, REPORT_FILES


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("bundled") / "out"
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(BUNDLED_SOURCES, out, instance=instance, log_level="ERROR")
        assert outcome.success, outcome.failures
        metadata = {
            e.dagster_event.asset_key.to_user_string(): e.dagster_event.materialization.metadata
            for e in instance.all_logs(outcome.run_id)
            if e.dagster_event is not None and e.dagster_event.is_step_materialization
        }
    return out, metadata


def test_every_report_link_in_dagster_metadata_resolves_to_a_published_file(bundled):
    out, metadata = bundled
    links = {
        (asset, key): value.value
        for asset, entries in metadata.items()
        for key, value in entries.items()
        if isinstance(value, UrlMetadataValue)
    }
    assert {a for a, _ in links} >= {"data_quality_report", "linkage_report", "published_outputs"}
    assert len([k for a, k in links if a == "published_outputs"]) == len(REPORT_FILES)
    snapshot = (out / "latest").resolve()
    for (asset, key), url in links.items():
        parsed = urlparse(url)
        path = Path(unquote(parsed.path))
        assert parsed.scheme == "file" and path.is_file(), (asset, key, url)
        # into this run's own snapshot, which later runs leave in place
        assert path.is_relative_to(snapshot), (asset, key, url)


@pytest.fixture
def page(tmp_path):
    with chromium(tmp_path / "profile") as context:
        yield context.new_page()


def test_the_data_quality_report_opens_on_the_ranking_and_the_failures(bundled, page):
    out, _ = bundled
    page.goto((out / "reports" / "data_quality.html").as_uri())
    assert page.locator("main section").first.get_attribute("id") == "ranking"
    ranked = page.locator("#ranking tr.rank")
    sources = [ranked.nth(i).get_attribute("data-source") for i in range(ranked.count())]
    scores = [float(ranked.nth(i).get_attribute("data-score")) for i in range(ranked.count())]
    assert sorted(sources) == ["billing", "crm", "marketing", "support"]
    assert scores == sorted(scores) and scores[0] < 100
    assert f"Worst source: {sources[0]}" in page.locator("#worst-source").inner_text()

    # A birth date of the sample lies outside the window: nulled, and counted as a failure.
    failed = page.locator("#failed-expectations tbody tr")
    assert failed.count() >= 1 and failed.first.is_visible()
    assert "FAIL" in failed.first.inner_text()
    every = page.locator("#every-expectation tbody tr")
    assert not every.first.is_visible()  # behind the toggle until asked for
    page.locator("#all-expectations summary").click()
    assert every.first.is_visible() and "FAIL" in every.first.inner_text()
    assert every.count() > failed.count()
    assert page.locator('#expectations a[href="data_docs/index.html"]').count() == 1


@pytest.mark.parametrize("report", ["data_quality.html", "linkage.html"])
def test_no_count_or_row_number_holds_a_mask_character(bundled, page, report):
    out, _ = bundled
    page.goto((out / "reports" / report).as_uri())
    numbers = page.locator("td.num").all_inner_texts()
    assert len(numbers) > 20
    masked = [n for n in numbers if "*" in n]
    assert masked == []
    # and they read as numbers: digits, separators, units, signs and dashes only
    odd = [n for n in numbers if n.strip() and not re.fullmatch(r"[\d.,%+\-−–—·()a-z\s/≥×]*", n)]
    assert odd == [], odd[:5]


def test_data_docs_of_the_bundled_sample_open_offline_from_the_report(bundled, tmp_path):
    """Followed from the report's link, with no network: nothing fetched from outside, no
    script error, and the failed check of the sample shows its red cross."""
    out, _ = bundled
    with offline_page(tmp_path / "offline") as (page, requests, errors):
        page.goto((out / "reports" / "data_quality.html").as_uri())
        page.locator('#expectations a[href="data_docs/index.html"]').click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/reports/data_docs/index.html")
        icons = visible_icons(page, "#whiteglove-results .dd-icon")
        assert icons and any(i["title"] == "failed" for i in icons)
    assert [r for r in requests if not r.startswith("file://")] == []
    assert errors == []
