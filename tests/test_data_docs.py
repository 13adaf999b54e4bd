"""GX Data Docs read with no network: nothing fetched, no script error, icons that show.

The browser tests need Chromium at /usr/bin/chromium (`apt-get install -y chromium`); its
context (tests/browser.py) resolves no host name, so a CDN link would be a failed request.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import tests.test_validation as validation_tests
from tests.browser import chromium
from whiteglove.documents import Documents
from whiteglove.publish import publish
from whiteglove.validation import data_docs, load_suite, validate

ROOT = Path(__file__).resolve().parents[1]
# Where a run publishes its Data Docs, inside the snapshot's reports/ folder.
DOCS = "reports/data_docs"
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
CSS_REMOTE_URL = re.compile(r"""url\(\s*['"]?\s*(?:https?:)?//""", re.IGNORECASE)


class _Fetches(HTMLParser):
    """What a page would load by itself: (tag, url) of every src, and href but a link's."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if value and (name in ("src", "srcset") or (name == "href" and tag != "a")):
                self.urls.append((tag, value))


def assert_fetches_nothing_remote(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parsed = _Fetches()
        parsed.feed(text)
        where = page.relative_to(site)
        assert not [u for u in parsed.urls if REMOTE.match(u[1])], where
        assert "script" not in parsed.tags, where  # every one of GX's needs jQuery
        assert not CSS_REMOTE_URL.search(text), where  # the logo in GX's dark-mode CSS
        assert "fa-check-circle" not in text and "fa-times" not in text, where


@contextmanager
def offline_page(profile: Path) -> Iterator[tuple[object, list[str], list[str]]]:
    """A browser page, every URL it requests, and every page error and console error."""
    requests: list[str] = []
    errors: list[str] = []
    with chromium(profile) as context:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                errors.append(f"console {message.type}: {message.text}")
                if message.type in ("error", "warning")
                else None
            ),
        )
        yield page, requests, errors


def visible_icons(page, selector: str) -> list[dict]:
    """The status icons matching `selector` that a person sees: text, title and box."""
    icons = []
    for icon in page.locator(selector).all():
        box = icon.bounding_box()
        if icon.is_visible() and box and box["width"] > 0 and box["height"] > 0:
            icons.append({"text": icon.inner_text(), "title": icon.get_attribute("title")})
    return icons


def linked_pages(page, site: Path) -> set[str]:
    """The site's own pages the current page links to, relative to the site."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    prefix = site.as_uri() + "/"
    return {h.removeprefix(prefix) for h in hrefs if h.startswith(prefix)}


def test_the_published_data_docs_load_nothing_from_the_network(fresh_run, tmp_path):
    site = fresh_run.out / "latest" / DOCS
    assert (site / "index.html").is_file()
    assert_fetches_nothing_remote(site)
    results = sorted(p.relative_to(site).as_posix() for p in site.glob("validations/**/*.html"))
    suites = sorted(p.relative_to(site).as_posix() for p in site.glob("expectations/**/*.html"))
    assert results and suites
    metrics = json.loads((fresh_run.out / "latest/reports/data_quality_metrics.json").read_text())
    failing = {source for source, counts in metrics["expectations"].items() if counts["failed"]}

    with offline_page(tmp_path / "profile") as (page, requests, errors):
        page.goto((site / "index.html").as_uri(), wait_until="load")
        assert set(results) | set(suites) <= linked_pages(page, site)
        icons = visible_icons(page, "#whiteglove-results .dd-icon")
        assert len(icons) == len(results)
        assert {i["text"] for i in icons} <= {"\u2713", "\u2717"}
        assert (sum(i["title"] == "failed" for i in icons) > 0) == bool(failing)

        failed_icons: dict[str, int] = {}
        for name in results:
            page.goto((site / name).as_uri(), wait_until="load")
            assert visible_icons(page, ".dd-icon"), name  # one per expectation, and status
            assert page.locator("i.fas, i.far").count() == 0, name
            source = name.split("/")[1]
            failed = len(visible_icons(page, ".dd-icon.dd-failed"))
            failed_icons[source] = failed_icons.get(source, 0) + failed
        for name in suites:
            page.goto((site / name).as_uri(), wait_until="load")

    assert {s for s, n in failed_icons.items() if n} == failing
    assert [r for r in requests if not r.startswith("file://")] == []
    assert errors == []


@pytest.fixture(scope="module")
def failing_docs(tmp_path_factory) -> Documents:
    """Data Docs of two results, one of which fails a check (an invalid email)."""
    golden = pl.DataFrame(
        {
            "golden_id": ["G1", "G2"],
            "record_count": [2, 1],
            "source_count": [2, 1],
            "email": ["ana@example.es", "not-an-email"],
        }
    )
    suite = load_suite(ROOT / "expectations" / "golden_customers.json")
    crm_suite = load_suite(ROOT / "expectations" / "crm.json")
    crm = validate(validation_tests.crm_frame(), crm_suite, "standardized", run_name="run-1")
    gold = validate(golden, suite, "golden", run_name="run-1")
    assert crm.gx_result["success"] and not gold.gx_result["success"]
    return data_docs([crm.gx_result, gold.gx_result], tmp_path_factory.mktemp("scratch"))


def published(out: Path, docs: Documents) -> Path:
    """`docs` published the way a run publishes them; the site's folder in the snapshot."""
    files = Documents({"data_quality.html": "<p>report</p>"}) | docs.under("data_docs")
    publication = publish(out, "run-1", tables={}, documents={}, files=files.under("reports"))
    return publication.snapshot / DOCS


def test_a_failed_check_shows_a_failed_icon_offline(failing_docs, tmp_path):
    site = published(tmp_path / "out", failing_docs)
    assert_fetches_nothing_remote(site)
    [failed] = [p for p in site.glob("validations/golden_customers/**/*.html")]

    with offline_page(tmp_path / "profile") as (page, requests, errors):
        page.goto((site / "index.html").as_uri(), wait_until="load")
        results = {p.relative_to(site).as_posix() for p in site.glob("validations/**/*.html")}
        assert len(results) == 2 and results <= linked_pages(page, site)
        assert sorted(i["title"] for i in visible_icons(page, ".dd-icon")) == ["failed", "passed"]

        page.goto(failed.as_uri(), wait_until="load")
        crosses = visible_icons(page, ".dd-icon.dd-failed")
        assert crosses and {i["text"] for i in crosses} == {"\u2717"}
        assert {i["title"] for i in crosses} == {"failed"}
        assert visible_icons(page, "td .dd-icon.dd-passed")
        color = page.locator(".dd-icon.dd-failed").first.evaluate("e => getComputedStyle(e).color")
        assert color in ("rgb(180, 35, 24)", "rgb(255, 138, 128)"), color  # red, light or dark

        # GX's "Failed Only" filter was a jQuery script; without it, the radio button does it.
        page.get_by_text("Failed Only").click()
        assert not visible_icons(page, "td .dd-icon.dd-passed")
        assert visible_icons(page, "td .dd-icon.dd-failed")

    assert [r for r in requests if not r.startswith("file://")] == []
    assert errors == []


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_published_data_docs_are_readable_by_others(failing_docs, tmp_path):
    with umask(0o022):  # the usual umask: whatever is stricter than it is the code's doing
        site = published(tmp_path / "out", failing_docs)
    paths = [site, *site.rglob("*")]
    assert any(p.is_file() for p in paths)
    modes = {p.relative_to(site.parent).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert {n: m for n, m in modes.items() if (site.parent / n).is_dir() and m != 0o755} == {}
    assert {n: m for n, m in modes.items() if (site.parent / n).is_file() and m != 0o644} == {}


def test_a_runs_data_docs_have_the_modes_of_the_rest_of_its_publication(fresh_run):
    snapshot = (fresh_run.out / "latest").resolve()
    file_mode = stat.S_IMODE((snapshot / "golden_customers.parquet").stat().st_mode)
    folder_mode = stat.S_IMODE(snapshot.stat().st_mode)
    site = snapshot / DOCS
    for path in [site.parent, site, *site.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (folder_mode if path.is_dir() else file_mode), (path, oct(mode))


def test_the_rewrite_drops_every_remote_fetch_and_keeps_text_as_text():
    from whiteglove.validation.data_docs import _Offline

    page = (
        "<!DOCTYPE html><html><head>"
        '<link rel="stylesheet" href=" https://cdn.example/a.css">'
        '<link rel="stylesheet" href="//cdn.example/b.css"/>'
        '<link rel="icon" href="static/missing.ico">'
        '<link rel="icon" href="static/icon.ico">'
        "<style>@import url(https://x.example/c.css); .a{background:url('https://x.example/d.png')"
        " 0 0} .b{background:url(static/icon.ico)}</style>"
        '<script src="ht\ntps://cdn.example/jquery.js"></script>'
        "<script>if (1 < 2) { document.write('</div>') }</script>"
        "</head><body>"
        '<img src="\\\\cdn.example\\logo.png" alt="Logo &amp; more">'
        '<img srcset="static/icon.ico 1x, https://x.example/e.png 2x">'
        '<div onclick="hideSucceededValidations()" style="background:url(//x.example/f.png)">'
        '<i class="fas fa-times text-danger" aria-hidden="true"></i> Failed '
        '<i class="fas fa-check-circle text-success"></i><i class="fas fa-bolt"></i>'
        "<i>kept</i></div>"
        '<a href="https://greatexpectations.io">a link out is not a fetch</a>'
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; AT&amp;T</p>"
        '<object data="https://x.example/g.svg"><div><div>gone</div></div></object><p>after</p>'
        "</body></html>"
    )
    rewriter = _Offline("", {"static/icon.ico"})
    out = rewriter.rewrite(page)
    parsed = _Fetches()
    parsed.feed(out)
    assert [u for _, u in parsed.urls] == ["static/icon.ico"]  # only the file that exists
    assert "script" not in parsed.tags and "object" not in parsed.tags and "gone" not in out
    assert "x.example" not in out and "cdn.example" not in out and "@import" not in out
    assert "url(static/icon.ico)" in out and rewriter.used == {"static/icon.ico"}
    assert "onclick" not in out and "fa-" not in out and "<i>kept</i>" in out
    assert '<span class="dd-img-alt">Logo &amp; more</span>' in out
    assert (
        '<span class="dd-icon dd-failed text-danger" aria-hidden="true" title="failed" '
        'aria-label="failed">\u2717</span> Failed' in out
    )
    assert 'title="passed" aria-label="passed">\u2713</span>' in out
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt; AT&amp;T</p>" in out
    assert '<a href="https://greatexpectations.io">' in out and "<p>after</p>" in out
    assert out.index('<style id="whiteglove-data-docs">') < out.index("</head>")
