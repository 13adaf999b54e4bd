"""The data-quality report in a real browser: sections visible, charts drawn, nothing fetched.

Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; the Makefile installs it).
Set WHITEGLOVE_SCREENSHOT=path.png to keep a screenshot of the top of the report.
"""

import json
import os
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.browser import chromium
from whiteglove.reports import data_quality_report, profile_source

SECTIONS = ["summary", "completeness", "validity", "expectations", "quarantine", "trends"]
LISTS = {"_reasons": pl.List(pl.String), "_invalid": pl.List(pl.String)}
SOURCES = {"crm": 0.0, "billing": 0.3, "marketing": 0.6, "support": 0.9}


def standardized(source: str, missing: float, rows: int = 40) -> pl.DataFrame:
    """`rows` records whose optional fields are missing in roughly `missing` of the rows."""
    gaps = [i / rows < missing for i in range(rows)]
    return pl.DataFrame(
        {
            "record_key": [f"{source}:{i}" for i in range(rows)],
            "source": [source] * rows,
            "source_record_id": [str(i) for i in range(rows)],
            "row_number": list(range(1, rows + 1)),
            "first_name": ["Ana"] * rows,
            "last_name": [None if i % 7 == 0 else "Ruiz" for i in range(rows)],
            "email": [None if g else f"ana{i}@example.com" for i, g in enumerate(gaps)],
            "phone": [None if i % 3 == 0 else f"+3460000{i:04d}" for i in range(rows)],
            "date_of_birth": [None if g else date(1980, 1, 1 + i % 28) for i, g in enumerate(gaps)],
            "postcode": [None if i % 5 == 0 else "28001" for i in range(rows)],
            "country": ["ES"] * rows,
            "_reasons": [["missing record id"] if i == rows - 1 else [] for i in range(rows)],
            "_invalid": [["phone"] if i % 9 == 0 else [] for i in range(rows)],
        },
        schema_overrides=LISTS,
    )


def example_report(path: Path) -> Path:
    profiles = pl.concat([profile_source(standardized(s, m), s) for s, m in SOURCES.items()])
    raw = json.dumps({"name": "Ana Ruiz", "email": "ana.ruiz@gmail.com", "phone": "+34612345678"})
    quarantine = pl.DataFrame(
        {
            "source": ["crm", "billing", "billing", "support"],
            "row_number": [40, 40, 12, 40],
            "source_record_id": [None, None, "11", None],
            "file": ["crm.csv", "billing.csv", "billing.csv", "support.jsonl"],
            "raw": [raw] * 4,
            "reasons": [
                ["missing record id"],
                ["missing record id"],
                ["duplicate record id (first seen at row 3)"],
                ["no identity field"],
            ],
        },
        schema_overrides={"row_number": pl.Int64, "reasons": pl.List(pl.String)},
    )
    results = [
        {
            "suite": s,
            "stage": "standardized",
            "outcomes": [
                {
                    "name": "email mostly present",
                    "expectation_type": "expect_column_values_to_not_be_null",
                    "column": "email",
                    "severity": "WARN",
                    "success": m < 0.5,
                    "element_count": 39,
                    "unexpected_count": round(39 * m),
                    "unexpected_percent": 100 * m,
                    "observed_value": None,
                    "description": "At least half of the rows have an email",
                }
            ],
        }
        for s, m in SOURCES.items()
    ]
    previous = {
        "run_id": "run-1",
        "generated_at": "2025-03-01T06:00:00",
        "sources": {
            s: {
                "rows": 38,
                "accepted": 37,
                "quarantined": 1,
                "mean_completeness": 0.7,
                "checks_failed": 0,
                "completeness": {"email": 0.8},
            }
            for s in SOURCES
        },
    }
    html, _ = data_quality_report(
        profiles=profiles,
        expectation_results=results,
        quarantine=quarantine,
        previous_metrics=previous,
        generated_at=datetime(2025, 3, 2, 6, 0),
        run_id="run-2",
    )
    path.write_text(html, encoding="utf-8")
    return path


@pytest.fixture
def page(tmp_path):
    with chromium(tmp_path / "profile") as context:
        yield context.new_page()


def test_data_quality_report_renders_in_chromium(page, tmp_path):
    report = example_report(tmp_path / "data_quality.html")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    assert [u for u in fetched if not u.startswith("file:")] == []  # self-contained
    for sid in SECTIONS:
        section = page.locator(f"section#{sid}")
        assert section.is_visible(), sid
        assert section.locator("h2").is_visible(), sid
        box = section.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50, sid

    charts = page.locator("svg.chart, canvas.chart")
    assert charts.count() >= 2
    drawn = 0
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        marks = chart.locator("rect, circle, path, line, polyline").count()
        if box and box["width"] > 200 and box["height"] > 100 and marks >= 5:
            drawn += 1
    assert drawn >= 2

    completeness = page.locator("section#completeness svg.chart rect[fill]")
    assert completeness.count() >= len(SOURCES) * 5  # one bar per source and field
    assert "ana.ruiz@gmail.com" not in page.content()
    assert page.locator("section#trends .delta").count() > 0

    shot = os.environ.get("WHITEGLOVE_SCREENSHOT")
    if shot:
        page.evaluate("window.scrollTo(0, 0)")  # the sticky navigation bar back on top
        height = page.evaluate("document.documentElement.scrollHeight")
        page.screenshot(
            path=shot,
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1366, "height": min(height, 2200)},
        )


def test_linkage_report_renders_in_chromium(page, tmp_path):
    from tests.test_reports import ACCURACY, linkage

    html, _ = linkage(accuracy=ACCURACY)
    report = tmp_path / "linkage.html"
    report.write_text(html, encoding="utf-8")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    assert [u for u in fetched if not u.startswith("file:")] == []
    for sid in ("summary", "choices", "model", "match-weights", "cluster-sizes", "accuracy"):
        section = page.locator(f"section#{sid}")
        assert section.is_visible(), sid
        box = section.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50, sid
    # the threshold used stands out in the estimates, and every row of the model is readable
    chosen = page.locator("section#choices tr.chosen")
    assert chosen.count() == 1 and "0.9" in chosen.inner_text()
    assert chosen.evaluate("row => getComputedStyle(row.cells[0]).fontWeight") == "600"
    rows = page.locator("section#model tbody tr")
    assert rows.count() == 4
    assert "<b>Else</b>" in rows.nth(1).inner_text()  # a label's markup shown as text
    for i in range(rows.count()):
        box = rows.nth(i).bounding_box()
        assert box and box["height"] > 10
    # nothing of the tables spills out of its section
    section = page.locator("section#model").bounding_box()
    table = page.locator("section#model table").bounding_box()
    assert table["x"] + table["width"] <= section["x"] + section["width"] + 1
