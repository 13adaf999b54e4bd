"""The linkage report's example pairs and its model charts, as pure functions: bands from the
thresholds, the pairs chosen in each, the waterfall of a pair's match weight, the charts that
draw them, and where the match-weight histogram puts its threshold labels."""

import math
import re
from datetime import date

import polars as pl
import pytest

from whiteglove.reports import charts
from whiteglove.reports.examples import (
    compared_fields,
    level_for,
    masked_records,
    pick_examples,
    probability,
    waterfall,
    weight_bands,
)

# ------------------------------------------------------------------------------------ bands


def test_bands_come_from_the_review_and_match_thresholds():
    # p 0.5 is weight 0, p 0.2 is log2(0.25) = -2; the outer bands start 4 bits beyond
    bands = weight_bands(0.5, 0.2)
    assert [b.key for b in bands] == [
        "clear-non-match",
        "below-review",
        "review",
        "above-match",
        "certain-match",
    ]
    edges = [(b.lo, b.hi) for b in bands]
    assert edges == [
        (None, pytest.approx(-6.0)),
        (pytest.approx(-6.0), pytest.approx(-2.0)),
        (pytest.approx(-2.0), pytest.approx(0.0)),
        (pytest.approx(0.0), pytest.approx(4.0)),
        (pytest.approx(4.0), None),
    ]
    assert [b.outcome for b in bands] == [
        "kept apart",
        "kept apart",
        "review queue",
        "linked",
        "linked",
    ]
    # p 0.9 is log2(9) = 3.17: the bands move with the threshold the run chose
    assert weight_bands(0.9, 0.2)[3].hi == pytest.approx(math.log2(9) + 4)
    # each weight falls in exactly one band
    for w in (-50.0, -6.0, -5.99, -2.0, -0.01, 0.0, 3.99, 4.0, 60.0):
        assert sum(b.holds(w) for b in bands) == 1, w


def pairs_with(weights: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unique_id_l": [f"a:{i:03d}" for i in range(len(weights))],
            "unique_id_r": [f"b:{i:03d}" for i in range(len(weights))],
            "match_weight": weights,
            "match_probability": [probability(w) for w in weights],
        }
    )


def test_two_typical_pairs_are_picked_per_band():
    # review band (-2, 0): nine pairs -1.9 .. -1.1; the picks are a third and two thirds up:
    # positions 9 // 3 = 3 and 2 * 9 // 3 = 6 of the sorted band
    review = [-1.9 + 0.1 * i for i in range(9)]
    certain = [30.0]  # one pair: it is shown alone
    below = [-3.0, -3.0, -3.0]  # ties are ordered by ids
    pairs = pairs_with(review + certain + below)
    picked = pick_examples(pairs, weight_bands(0.5, 0.2), per_band=2)
    assert picked["review"]["match_weight"].to_list() == pytest.approx([-1.6, -1.3])
    assert picked["review"]["band_pairs"].to_list() == [9, 9]
    assert picked["certain-match"]["match_weight"].to_list() == [30.0]
    assert picked["clear-non-match"].height == 0 and picked["above-match"].height == 0
    # three tied pairs a:010, a:011, a:012: positions 1 and 2
    assert picked["below-review"]["unique_id_l"].to_list() == ["a:011", "a:012"]
    # the same pairs in another order give the same picks
    again = pick_examples(pairs.reverse(), weight_bands(0.5, 0.2), per_band=2)
    assert all(again[k].equals(v) for k, v in picked.items())


# -------------------------------------------------------------------------------- waterfall

MODEL = {
    "probability_two_random_records_match": 0.2,  # prior weight log2(0.2 / 0.8) = -2
    "comparisons": [
        {
            "output_column_name": "email",
            "comparison_levels": [
                {"is_null_level": True, "label_for_charts": "email is NULL"},
                {"label_for_charts": "Exact match", "m_probability": 0.9, "u_probability": 0.1},
                {"label_for_charts": "One typo", "m_probability": 0.05, "u_probability": 0.1},
                {"label_for_charts": "All other", "m_probability": 0.05, "u_probability": 0.8},
            ],
        },
        {
            "output_column_name": "first_name",
            "comparison_levels": [
                {"is_null_level": True, "label_for_charts": "first_name is NULL"},
                {
                    "label_for_charts": "Exact match",
                    "m_probability": 0.8,
                    "u_probability": 0.1,
                    "tf_adjustment_column": "first_name",
                },
                {"label_for_charts": "All other", "m_probability": 0.2, "u_probability": 0.9},
            ],
        },
        {
            "output_column_name": "phone",
            "comparison_levels": [
                {"is_null_level": True, "label_for_charts": "phone is NULL"},
                {"label_for_charts": "Exact match", "m_probability": 0.9, "u_probability": 0.01},
                {"label_for_charts": "All other", "m_probability": 0.1, "u_probability": 0.99},
            ],
        },
    ],
}


def test_levels_are_found_by_their_comparison_vector_value():
    email = MODEL["comparisons"][0]
    # three non-null levels: gamma 2, 1, 0 in order; -1 the null level
    assert level_for(email, 2)["label_for_charts"] == "Exact match"
    assert level_for(email, 1)["label_for_charts"] == "One typo"
    assert level_for(email, 0)["label_for_charts"] == "All other"
    assert level_for(email, -1)["label_for_charts"] == "email is NULL"
    assert level_for(email, 3) is None and level_for(email, None) is None


def test_a_waterfall_adds_the_prior_and_every_comparison():
    row = {
        "gamma_email": 2,
        "mw_email": math.log2(9),  # 3.1699...
        "gamma_first_name": 1,
        "mw_first_name": 3.0,  # log2(0.8 / 0.1)
        "mw_tf_adj_first_name": -1.25,  # a common name weighs less
        "gamma_phone": -1,
        "mw_phone": 0.0,
    }
    fall = waterfall(row, MODEL)
    assert fall["prior"] == pytest.approx(-2.0)
    steps = fall["steps"]
    assert [(s["name"], s["label"]) for s in steps] == [
        ("email", "Exact match"),
        ("first_name", "Exact match"),
        ("phone", "phone is NULL"),
    ]
    assert [s["weight"] for s in steps] == pytest.approx([math.log2(9), 1.75, 0.0])
    assert steps[1]["tf"] == pytest.approx(-1.25) and steps[0]["tf"] is None
    assert steps[2]["null"] and not steps[0]["null"]
    # each step starts where the one before ended
    assert steps[0]["start"] == pytest.approx(-2.0)
    assert [s["start"] for s in steps[1:]] == pytest.approx([s["end"] for s in steps[:-1]])
    total = -2.0 + math.log2(9) + 1.75
    assert fall["match_weight"] == pytest.approx(total)
    assert steps[-1]["end"] == pytest.approx(total)
    assert fall["match_probability"] == pytest.approx(2**total / (1 + 2**total))


def test_probability_of_a_weight_does_not_overflow():
    assert probability(0.0) == 0.5
    assert probability(2000.0) == 1.0 and probability(-2000.0) == 0.0
    assert probability(math.log2(3)) == pytest.approx(0.75)


def test_compared_fields_and_masked_records():
    model = {
        "comparisons": [
            {"output_column_name": "email"},
            {"output_column_name": "location"},
            {"output_column_name": "address_key"},
            {"output_column_name": "loyalty_no"},  # a declared match field absent here
        ]
    }
    columns = ["record_key", "email", "postcode", "city", "address_line"]
    assert compared_fields(model, columns) == {
        "email": ("email",),
        "location": ("postcode", "city"),
        "address_key": ("address_line",),
        "loyalty_no": (),
    }
    records = pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2"],
            "first_name": ["María", "Ana"],
            "email": ["maria.garcia@gmail.com", None],
            "phone": ["+34612345678", None],
            "date_of_birth": [date(1953, 11, 5), None],
            "national_id": ["12345678Z", None],
            "address_line": ["Calle Mayor 12", None],
        }
    )
    fields = ["first_name", "email", "phone", "date_of_birth", "national_id", "address_line"]
    shown = masked_records(records, ["crm:1"], fields)
    assert set(shown) == {"crm:1"}
    one = shown["crm:1"]
    assert one["first_name"] == "María"  # names stay readable
    assert one["email"] == "m***@gmail.com"
    assert one["phone"].endswith("678") and "612345" not in one["phone"]
    assert one["national_id"].endswith("78Z") and "123456" not in one["national_id"]
    assert one["date_of_birth"].startswith("1953") and "11-05" not in one["date_of_birth"]
    assert "Calle" not in one["address_line"] and "Mayor" not in one["address_line"]


# ----------------------------------------------------------------------------------- charts


def attrs(svg: str, cls: str, name: str) -> list[str]:
    return re.findall(rf'<g class="{cls}"[^>]*?\b{name}="([^"]*)"', svg)


def test_the_waterfall_chart_carries_each_step_and_the_total():
    row = {"gamma_email": 2, "mw_email": math.log2(9), "gamma_first_name": 0, "mw_first_name": -2}
    fall = waterfall(row, MODEL)
    svg = str(charts.waterfall(fall, title="t", match_weight=fall["match_weight"]))
    steps = [float(w) for w in attrs(svg, "step", "data-weight")]
    assert len(steps) == 3  # the prior and the two comparisons the row holds
    (total,) = (float(w) for w in attrs(svg, "total", "data-weight"))
    assert sum(steps) == pytest.approx(total, abs=1e-5)
    assert total == pytest.approx(-2 + math.log2(9) - 2, abs=1e-5)
    assert 'data-match-weight="' in svg and "match weight (log2 odds)" in svg


def test_the_level_chart_has_a_row_per_level():
    comparisons = [
        {
            "name": "email",
            "levels": [
                {"label": "<b>Exact</b>", "m": 0.9, "u": 0.001, "weight": 9.8, "tf": False},
                {"label": "Else", "m": 0.1, "u": 0.999, "weight": -3.3, "tf": False},
                {"label": "Not seen", "m": None, "u": None, "weight": None, "tf": False},
            ],
        },
        {
            "name": "phone",
            "levels": [{"label": "Exact", "m": 0.8, "u": 0.01, "weight": 6.3, "tf": True}],
        },
    ]
    svg = str(charts.level_weights(comparisons, title="levels"))
    assert attrs(svg, "level", "data-level") == [
        "&lt;b&gt;Exact&lt;/b&gt;",
        "Else",
        "Not seen",
        "Exact",
    ]
    assert "<b>" not in svg  # a label is text, never markup
    assert svg.count('class="weight"') == 3  # a weight bar where the weight is known
    assert "not estimated" in svg and "Exact (tf)" in svg


def test_marker_labels_stay_inside_the_plot_and_apart():
    # a review line near the plot's left edge: its label, left of the line, would run over
    # the y axis' tick labels; it is turned right, and the match label goes up a row
    def x(v: float) -> float:
        return 70 + (v + 8) / 70 * 790

    placed = charts._marker_rows(
        [(-2.0, "review ≥ 0.2", "#a86400"), (0.0, "match ≥ 0.5", "#1e7b3c")], x, 70, 860
    )
    (_, _, _, a1, r1), (_, _, _, a2, r2) = placed
    assert a1 == "start" and r1 == 0
    assert a2 == "start" and r2 == 1
    # far apart, both stay on the first row, the first left of its line
    placed = charts._marker_rows(
        [(10.0, "review ≥ 0.2", "#a86400"), (40.0, "match ≥ 0.9", "#1e7b3c")], x, 70, 860
    )
    assert [(p[3], p[4]) for p in placed] == [("end", 0), ("start", 0)]


def test_the_histogram_titles_its_y_axis_and_keeps_labels_above_the_plot():
    bins = [(float(i), float(i + 1), 10 * i) for i in range(-8, 8)]
    svg = str(
        charts.histogram(
            bins,
            markers=[(-7.5, "review ≥ 0.01", "#a86400"), (0.0, "match ≥ 0.5", "#1e7b3c")],
            color=lambda lo, hi: "#999",
            title="t",
            x_label="match weight",
            y_label="scored pairs",
        )
    )
    assert re.search(r'<g class="y-axis">.*>scored pairs</text>', svg)
    # every marker label sits above the plot, clear of the top tick label (12px text)
    y_ticks = re.search(r'<g class="y-ticks">(.*?)</g>', svg).group(1)
    top_tick = min(float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"', y_ticks))
    labels = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"[^>]*marker-label', svg)]
    assert len(labels) == 2 and all(y < top_tick - 12 for y in labels)
