"""The linkage report of a real run, in Chromium: the model's levels drawn, example pairs whose
waterfalls add up to their match weight, accuracy measured against the sample's truth, and a
match-weight chart whose labels can be read.

The run is the session's `fresh_run` (tests/conftest.py): a generated sample with the bundled
sources file, which names the sample's truth.csv as its labels.
"""

import json

import polars as pl
import pytest

from tests.browser import chromium
from whiteglove.evaluation import pairwise_scores

BANDS = ["clear-non-match", "below-review", "review", "above-match", "certain-match"]


@pytest.fixture(scope="module")
def report(fresh_run):
    return fresh_run.out / "latest" / "reports" / "linkage.html"


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        page = context.new_page()
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        assert [u for u in fetched if not u.startswith("file:")] == []  # self-contained
        yield page


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_the_model_chart_draws_every_level_of_the_model(page, fresh_run):
    model = json.loads((fresh_run.out / "latest" / "model.json").read_text())
    expected = [
        (c["output_column_name"], lv.get("label_for_charts"))
        for c in model["comparisons"]
        for lv in c["comparison_levels"]
        if not lv.get("is_null_level")
    ]
    assert len(expected) > 10
    chart = page.locator("section#model svg.chart").first
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 600 and box["height"] > 20 * len(expected)
    levels = chart.locator("g.level")
    assert levels.count() == len(expected)
    shown = [
        (levels.nth(i).get_attribute("data-comparison"), levels.nth(i).get_attribute("data-level"))
        for i in range(levels.count())
    ]
    assert shown == expected
    for i, (_, label) in enumerate(expected):
        text = levels.nth(i).locator("text").first
        assert text.is_visible()
        written = text.evaluate("t => t.firstChild.textContent")  # not its tooltip
        assert all(part in label for part in written.removesuffix(" (tf)").split("…"))
    # a bar for m, one for u and one for the weight wherever the model estimated them
    estimated = [
        lv
        for c in model["comparisons"]
        for lv in c["comparison_levels"]
        if not lv.get("is_null_level") and lv.get("m_probability") and lv.get("u_probability")
    ]
    assert chart.locator("g.level rect.weight").count() == len(estimated)
    assert chart.locator("g.level rect").count() == 3 * len(estimated)
    # rows do not sit on each other
    boxes = [levels.nth(i).locator("text").first.bounding_box() for i in range(levels.count())]
    assert all(b["y"] + b["height"] <= c["y"] + 1 for b, c in zip(boxes, boxes[1:], strict=False))


def test_each_band_shows_pairs_whose_waterfall_adds_up(page, fresh_run):
    pairs = pl.read_parquet(fresh_run.out / "latest" / "match_pairs.parquet")
    stored = {
        (a, b): w
        for a, b, w in pairs.select("unique_id_l", "unique_id_r", "match_weight").iter_rows()
    }
    records = pl.read_parquet(fresh_run.out / ".work" / "customer_records.parquet")
    section = page.locator("section#examples")
    assert section.is_visible()
    bands = section.locator("div.band")
    assert [bands.nth(i).get_attribute("data-band") for i in range(bands.count())] == BANDS
    shown_pairs = 0
    for i in range(bands.count()):
        band = bands.nth(i)
        lo, hi = band.get_attribute("data-lo"), band.get_attribute("data-hi")
        examples = band.locator("article.example")
        assert examples.count() >= 1, band.get_attribute("data-band")
        for k in range(examples.count()):
            example = examples.nth(k)
            example.scroll_into_view_if_needed()
            left, right = example.get_attribute("data-left"), example.get_attribute("data-right")
            weight = float(example.get_attribute("data-match-weight"))
            # the pair is one the run scored, with the weight it gave it, in its band
            assert stored[(left, right)] == pytest.approx(weight, abs=1e-5)
            assert (not lo or weight >= float(lo) - 1e-9) and (not hi or weight < float(hi))
            # both records side by side, one row per comparison of the model
            table = example.locator("table")
            assert table.is_visible()
            assert [c.strip() for c in table.locator("th").all_text_contents()[1:3]] == [
                left,
                right,
            ]
            chart = example.locator("svg.waterfall")
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 150
            steps = [
                float(w)
                for w in chart.locator("g.step").evaluate_all(
                    "gs => gs.map(g => g.getAttribute('data-weight'))"
                )
            ]
            kinds = chart.locator("g.step").evaluate_all(
                "gs => gs.map(g => g.getAttribute('data-kind'))"
            )
            assert kinds[0] == "prior" and set(kinds[1:]) == {"comparison"}
            assert table.locator("tbody tr").count() == len(steps) - 1
            total = float(chart.locator("g.total").get_attribute("data-weight"))
            assert sum(steps) == pytest.approx(total, abs=1e-4)
            assert total == pytest.approx(weight, abs=1e-4)
            assert float(chart.get_attribute("data-match-weight")) == pytest.approx(weight)
            # the final bar reads the same weight and its probability
            assert f"{weight:+.2f}" in chart.locator("g.total").text_content()
            shown_pairs += 1
            # personal values of both records are masked
            text = example.inner_text()
            both = records.filter(pl.col("record_key").is_in([left, right]))
            for r in both.iter_rows(named=True):
                for field in ("email", "phone", "national_id"):
                    if r[field]:
                        assert r[field] not in text, field
                if r["email"]:
                    user, domain = r["email"].split("@")
                    assert f"{user[0]}***@{domain}" in text
                if r["date_of_birth"]:
                    assert r["date_of_birth"].isoformat() not in text
                    assert str(r["date_of_birth"].year) in text
                if r["first_name"]:
                    assert r["first_name"] in text  # names stay readable
    assert shown_pairs >= len(BANDS)


def test_accuracy_is_measured_against_the_samples_truth(page, fresh_run):
    section = page.locator("section#accuracy")
    section.scroll_into_view_if_needed()
    assert section.is_visible()
    text = section.inner_text()
    assert "not measured" not in text
    rows = {
        r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
        for r in section.locator("table tbody tr").all()
    }
    f1 = float(rows["F1"].rstrip("%")) / 100
    assert f1 >= 0.95
    # the same figure, measured here from what the run published and the sample's truth
    xref = pl.read_parquet(fresh_run.out / "latest" / "customer_xref.parquet")
    predicted = xref.select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )
    truth = (
        fresh_run.truth.filter(pl.col("source_record_id").is_not_null())
        .select(
            (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
            pl.col("person_id").cast(pl.String).alias("entity"),
        )
        .unique("record_key", keep="first")  # a duplicated record id: its first row
    )
    scores = pairwise_scores(predicted, truth)
    assert f1 == pytest.approx(scores.f1, abs=5e-5)
    assert float(rows["Precision"].rstrip("%")) / 100 == pytest.approx(scores.precision, abs=5e-5)
    assert float(rows["Recall"].rstrip("%")) / 100 == pytest.approx(scores.recall, abs=5e-5)
    curve = section.locator("svg.chart polyline")
    assert curve.count() == 1 and curve.is_visible()


def test_threshold_labels_clear_the_ticks_and_the_y_axis_has_a_title(page):
    chart = page.locator("section#match-weights svg.chart")
    chart.scroll_into_view_if_needed()
    labels = chart.locator("text.marker-label")
    assert labels.count() == 2
    texts = labels.all_text_contents()
    assert any(t.startswith("review ≥") for t in texts)
    assert any(t.startswith("match ≥") for t in texts)
    ticks = chart.locator("g.y-ticks text, g.x-ticks text")
    assert chart.locator("g.y-ticks text").count() >= 3
    assert chart.locator("g.x-ticks text").count() >= 3
    tick_boxes = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
    label_boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    for label, box in zip(texts, label_boxes, strict=True):
        assert box and box["width"] > 20
        for tick in tick_boxes:
            assert not overlaps(box, tick), label
    assert not overlaps(*label_boxes)
    # and inside the plot's width: right of the y axis, over the bars they mark
    axis = chart.locator("g.y-axis line").bounding_box()
    plot_right = max(t["x"] + t["width"] for t in tick_boxes)
    assert all(
        axis["x"] <= box["x"] and box["x"] + box["width"] <= plot_right + 30 for box in label_boxes
    )
    title = chart.locator("g.y-axis text")
    assert title.count() == 1 and title.text_content() == "scored pairs"
    assert title.is_visible()
    title_box = title.bounding_box()
    assert title_box["height"] > title_box["width"]  # written up the axis
    y_ticks = chart.locator("g.y-ticks text")
    for i in range(y_ticks.count()):
        assert not overlaps(title_box, y_ticks.nth(i).bounding_box())
