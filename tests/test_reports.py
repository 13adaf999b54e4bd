"""HTML reports: figures match the frames, personal data is masked, files are self-contained."""

import json
import re
from datetime import date, datetime

import polars as pl
import pytest

from whiteglove.config import LinkageConfig
from whiteglove.linkage.choices import ThresholdChoice, linkage_choices
from whiteglove.reports import (
    data_quality_report,
    linkage_report,
    mask_raw,
    metadata_markdown,
    profile_source,
)

WHEN = datetime(2025, 3, 2, 6, 0)
SECRET_EMAIL = "maria.garcia@gmail.com"
SECRET_PHONE = "+34612345678"
SECRET_DNI = "12345678Z"
LISTS = {"_reasons": pl.List(pl.String), "_invalid": pl.List(pl.String)}


def crm_standardized() -> pl.DataFrame:
    """Five rows, one rejected; of the four accepted, 3 have an email and one phone was nulled."""
    return pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2", "crm:3", "crm:4", "crm:#row5"],
            "source": ["crm"] * 5,
            "source_record_id": ["1", "2", "3", "4", None],
            "row_number": [1, 2, 3, 4, 5],
            "first_name": ["Ana", "Luis", "Ana", "Eva", None],
            "last_name": ["Ruiz", "Gil", None, "Sanz", None],
            "email": ["ana@x.es", "luis@x.es", None, "ana@x.es", None],
            "phone": ["+34600000001", None, None, "+34600000002", None],
            "date_of_birth": [date(1980, 1, 1), None, None, None, None],
            "country": ["ES"] * 5,
            "segment": ["gold", None, "gold", "silver", None],
            "_reasons": [[], [], [], [], ["missing record id"]],
            "_invalid": [[], ["phone"], [], ["date_of_birth"], []],
            "_defaulted": [["country"], ["country"], [], [], []],
        },
        schema_overrides=LISTS | {"_defaulted": pl.List(pl.String)},
    )


def billing_standardized() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": ["billing:a", "billing:b"],
            "source": ["billing"] * 2,
            "source_record_id": ["a", "b"],
            "row_number": [1, 2],
            "first_name": ["Ana", "Pau"],
            "last_name": ["Ruiz", "Vila"],
            "email": [None, None],
            "phone": ["+34600000001", "+34600000003"],
            "date_of_birth": [None, None],
            "country": ["ES", "ES"],
            "_reasons": [[], []],
            "_invalid": [["email"], []],
            "_defaulted": [["country"], ["country"]],
        },
        schema_overrides=LISTS | {"_defaulted": pl.List(pl.String)},
    )


def quarantine_frame() -> pl.DataFrame:
    raw_json = json.dumps(
        {
            "id": "",
            "name": "María García",
            "email": SECRET_EMAIL,
            "phone": SECRET_PHONE,
            "dni": SECRET_DNI,
        }
    )
    raw_csv = f'7,"María","García",{SECRET_EMAIL},{SECRET_PHONE},{SECRET_DNI},extra'
    return pl.DataFrame(
        {
            "source": ["crm", "crm", "billing"],
            "row_number": [5, 9, 3],
            "source_record_id": [None, "9", "c"],
            "file": ["/in/crm.csv", "/in/crm.csv", "/in/billing.csv"],
            "raw": [raw_json, raw_csv, raw_json],
            "reasons": [
                ["missing record id"],
                ["unparseable row: expected 6 fields, found 7"],
                ["duplicate record id (first seen at row 1)"],
            ],
        },
        schema_overrides={"row_number": pl.Int64, "reasons": pl.List(pl.String)},
    )


def expectation_results() -> list[dict]:
    def outcome(name, success, severity="ERROR", column="email", mostly=None):
        return {
            "mostly": mostly,
            "name": name,
            "expectation_type": "expect_column_values_to_not_be_null",
            "column": column,
            "severity": severity,
            "success": success,
            "element_count": 4,
            "unexpected_count": 0 if success else 1,
            "unexpected_percent": 0.0 if success else 25.0,
            "observed_value": None,
            "description": f"{name} check",
        }

    return [
        {
            "suite": "crm",
            "stage": "standardized",
            "outcomes": [
                outcome("email present", False, "WARN", mostly=0.9),
                outcome("ids unique", True, column="source_record_id"),
            ],
        },
        {
            "suite": "billing",
            "stage": "standardized",
            "outcomes": [outcome("phone ok", True, column="phone")],
        },
    ]


def profiles() -> pl.DataFrame:
    return pl.concat(
        [
            profile_source(crm_standardized(), "crm"),
            profile_source(billing_standardized(), "billing"),
        ]
    )


def dq(previous=None):
    return data_quality_report(
        profiles=profiles(),
        expectation_results=expectation_results(),
        quarantine=quarantine_frame(),
        previous_metrics=previous,
        generated_at=WHEN,
        run_id="run-2",
    )


def section(html: str, sid: str) -> str:
    match = re.search(rf'<section id="{re.escape(sid)}">(.*?)</section>', html, re.S)
    assert match, f"no section {sid}"
    return match.group(1)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


# ---------------------------------------------------------------------------------- profiling


def test_profile_source_counts_accepted_rows_only():
    prof = profile_source(crm_standardized(), "crm")
    by_field = {r["field"]: r for r in prof.iter_rows(named=True)}
    assert list(prof.columns) == [
        "source",
        "field",
        "rows",
        "non_null",
        "completeness",
        "invalid_nulled",
        "validity",
        "distinct",
        "defaulted",
    ]
    email = by_field["email"]
    assert (email["rows"], email["non_null"], email["completeness"]) == (4, 3, 0.75)
    assert email["distinct"] == 2  # ana@x.es twice
    phone = by_field["phone"]
    assert (phone["non_null"], phone["invalid_nulled"]) == (2, 1)
    assert phone["validity"] == pytest.approx(2 / 3)
    assert by_field["date_of_birth"]["invalid_nulled"] == 1
    assert by_field["email"]["validity"] == 1.0
    # An attribute column is profiled too; lineage and private columns are not.
    assert by_field["segment"]["completeness"] == 0.75
    # two countries were filled from the sources file's default: not given by the source
    country = by_field["country"]
    assert (country["non_null"], country["defaulted"], country["completeness"]) == (4, 2, 0.5)
    assert "record_key" not in by_field and "_invalid" not in by_field
    assert set(prof["source"]) == {"crm"}


def test_profile_of_a_field_with_nothing_to_judge_has_null_validity():
    prof = profile_source(billing_standardized(), "billing")
    dob = prof.filter(pl.col("field") == "date_of_birth").row(0, named=True)
    assert dob["completeness"] == 0.0 and dob["validity"] is None
    email = prof.filter(pl.col("field") == "email").row(0, named=True)
    assert email["invalid_nulled"] == 1 and email["validity"] == 0.0


# ---------------------------------------------------------------------------- quality report


def test_a_source_with_no_accepted_row_scores_nothing_for_completeness_and_validity():
    from whiteglove.reports.metrics import source_score

    source = {
        "rows": 307,
        "accepted": 0,
        "quarantine_rate": 1.0,
        "mean_completeness": None,
        "validity": {"email": None},
        "checks_passed": 17,
        "checks_failed": 1,
    }
    scored = source_score(source)
    assert scored["score_parts"]["completeness"] == 0 and scored["score_parts"]["validity"] == 0
    assert scored["score"] == round(100 * (17 / 18) / 4, 1)
    # a source that simply lacks validated fields is not ranked down for it
    fine = source_score(source | {"accepted": 307, "quarantine_rate": 0.0})
    assert fine["score_parts"]["validity"] == 1 and fine["score_parts"]["completeness"] == 1


def test_dq_metrics_match_the_frames():
    _, metrics = dq()
    json.dumps(metrics)  # serialisable, to be stored and passed back next run
    crm = metrics["sources"]["crm"]
    assert crm["accepted"] == 4 and crm["quarantined"] == 2 and crm["rows"] == 6
    assert crm["completeness"]["email"] == 0.75
    assert crm["checks_passed"] == 1 and crm["checks_failed"] == 1
    billing = metrics["sources"]["billing"]
    assert (billing["rows"], billing["accepted"], billing["quarantined"]) == (3, 2, 1)
    assert metrics["totals"] == {
        "rows": 9,
        "accepted": 6,
        "quarantined": 3,
        "checks_passed": 2,
        "checks_failed": 1,
        "checks_failed_error": 0,
    }
    # "(first seen at row 1)" details are folded into one reason; digits too.
    assert metrics["quarantine_reasons"]["duplicate record id"] == 1
    assert metrics["quarantine_reasons"]["unparseable row: expected # fields, found #"] == 1


def test_dq_html_has_every_section_and_the_figures():
    html, _ = dq()
    for sid in (
        "summary",
        "completeness",
        "validity",
        "distinct",
        "expectations",
        "quarantine",
        "trends",
    ):
        assert f'<section id="{sid}"><h2>' in html
    completeness = section(html, "completeness")
    assert "75.0%" in completeness  # crm email: 3 of 4 accepted rows
    assert 'class="chart"' in completeness and "<svg" in completeness
    assert "66.7%" in section(html, "validity")  # crm phone: 2 valid, 1 nulled
    summary = text(section(html, "summary"))
    assert "crm 6 4 2 33.3%" in summary  # rows read, accepted, quarantined, rate
    assert "All sources 9 6 3" in summary


def test_expectations_are_listed_with_badges_failures_first():
    html, _ = dq()
    exp = section(html, "expectations")
    failed, every = exp.split('id="all-expectations"')
    # the failures on their own first, then every result behind a toggle
    assert failed.count('class="badge b-fail"') == 1 and 'class="badge b-pass"' not in failed
    assert every.count('class="badge b-fail"') == 1 and every.count('class="badge b-pass"') == 2
    assert every.index("email present") < every.index("ids unique")  # failures first here too
    assert "WARN" in failed and "25.00%" in failed
    assert 'href="data_docs/index.html"' in exp


def test_sources_are_ranked_worst_first_by_a_score_the_reader_can_redo():
    html, metrics = dq()
    crm, billing = metrics["sources"]["crm"], metrics["sources"]["billing"]
    for source in (crm, billing):
        parts = source["score_parts"]
        assert source["score"] == pytest.approx(100 * sum(parts.values()) / 4, abs=0.1)
    # crm: a third of its rows quarantined, a failed check, email below its threshold
    assert crm["score_parts"]["acceptance"] == pytest.approx(4 / 6, abs=1e-3)
    assert crm["score_parts"]["checks"] == 0.5
    assert metrics["ranking"] == ["crm", "billing"] and crm["score"] < billing["score"]
    ranking = section(html, "ranking")
    assert "Worst source: crm" in text(ranking)
    rows = re.findall(r'<tr class="rank" data-source="([^"]+)" data-score="([^"]+)"', ranking)
    assert [r[0] for r in rows] == ["crm", "billing"]
    assert [float(r[1]) for r in rows] == sorted(float(r[1]) for r in rows)


def test_the_heatmap_draws_each_sources_threshold_and_marks_defaults():
    html, metrics = dq()
    crm = metrics["sources"]["crm"]
    # the suite asks for 90% of emails; 3 of 4 accepted crm rows have one
    assert crm["thresholds"]["email"] == 0.9 and crm["below_threshold"] == ["email"]
    assert crm["defaulted"] == {"country": 2}
    completeness = section(html, "completeness")
    cells = re.findall(r'<td class="num heat( below)?"[^>]*title="([^"]+)"', completeness)
    below = {title.split(":")[0] for flag, title in cells if flag}
    assert below == {"crm · email"}
    assert "min 90.0%" in text(completeness)
    assert "+2 from defaults" in text(completeness)  # two crm countries were filled in
    # billing gave no country at all: a default is not completeness
    assert "2 from defaults" in text(completeness).replace("+2 from defaults", "")


def test_quarantine_counts_and_masked_sample():
    html, _ = dq()
    quarantine = section(html, "quarantine")
    assert "<svg" in quarantine
    rows = text(quarantine)
    assert "missing record id 1 · 1" in rows  # crm 1, billing none, total 1
    assert "Quarantined rows 2 1 3" in rows
    assert "m***@gmail.com" in quarantine


def test_personal_data_never_appears_verbatim():
    html, _ = dq()
    for secret in (SECRET_EMAIL, SECRET_PHONE, SECRET_DNI, "612345678", "García", "ana@x.es"):
        assert secret not in html


def test_mask_raw_json_and_broken_lines():
    masked = mask_raw(
        json.dumps(
            {
                "name": "María García",
                "email": SECRET_EMAIL,
                "phone": "+34 612 345 678",
                "country": "ES",
            }
        )
    )
    parsed = json.loads(masked)
    assert parsed == {
        "name": "M*** G***",
        "email": "m***@gmail.com",
        "phone": "****678",
        "country": "ES",
    }
    line = mask_raw(f'1234,"Lucía",{SECRET_EMAIL},{SECRET_DNI},ES')
    assert SECRET_EMAIL not in line and SECRET_DNI not in line and "Lucía" not in line
    assert line == '1234,"L***",m***@gmail.com,****78Z,ES'
    assert mask_raw(None) == ""
    assert len(mask_raw(json.dumps({"note": "x" * 1000}))) <= 240


def assert_self_contained(html: str) -> None:
    external = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
    assert not external.search(html)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", html, re.I)
    assert "<link" not in html.lower() and "@import" not in html
    assert "http://" not in html and "https://" not in html


def test_reports_are_self_contained():
    html, _ = dq()
    assert_self_contained(html)
    html, _ = linkage(accuracy=ACCURACY)
    assert_self_contained(html)


def test_first_run_says_so():
    html, _ = dq()
    trends = section(html, "trends")
    assert "first run" in trends
    assert "▲" not in trends and "▼" not in trends


def test_trends_show_deltas_against_previous_metrics():
    _, first = dq()
    previous = json.loads(json.dumps(first))
    previous["run_id"] = "run-1"
    previous["sources"]["crm"]["completeness"]["email"] = 0.5
    previous["sources"]["crm"]["quarantined"] = 5
    previous["sources"]["crm"]["accepted"] = 4
    del previous["sources"]["billing"]
    html, _ = dq(previous)
    trends = section(html, "trends")
    assert "run-1" in trends and "first run" not in trends
    assert "▲ +25.0 pp" in trends  # email completeness 50% -> 75%
    assert '<span class="delta up"' in trends
    assert "▼ -3" in trends  # quarantined 5 -> 2: fewer is better
    assert "NEW" in trends  # billing was not in the previous run


def test_metadata_markdown_for_quality_metrics():
    _, metrics = dq()
    md = metadata_markdown(metrics)
    assert "run-2" in md
    assert "| crm | 6 | 4 | 2 |" in md
    assert "2 checks passed, 1 failed" in md


def test_empty_inputs_still_render():
    empty_q = quarantine_frame().clear()
    html, metrics = data_quality_report(
        profiles=pl.DataFrame(),
        expectation_results=[],
        quarantine=empty_q,
        previous_metrics=None,
        generated_at=WHEN,
        run_id="r",
    )
    assert metrics["totals"]["rows"] == 0
    assert "No row was quarantined" in section(html, "quarantine")


# ---------------------------------------------------------------------------- linkage report

ACCURACY = {
    "records": 7,
    "true_pairs": 4,
    "predicted_pairs": 4,
    "true_positives": 3,
    "precision": 0.75,
    "recall": 0.75,
    "f1": 0.75,
    "curve": [
        {"threshold": 0.5, "precision": 0.6, "recall": 0.9},
        {"threshold": 0.9, "precision": 0.75, "recall": 0.75},
        {"threshold": 0.99, "precision": 0.95, "recall": 0.4},
    ],
}


# A model of two comparisons, as Splink saves one; a label with markup must be shown as text.
MODEL = {
    "comparisons": [
        {
            "output_column_name": "date_of_birth",
            "comparison_levels": [
                {"is_null_level": True, "label_for_charts": "null"},
                {"label_for_charts": "Exact match", "m_probability": 0.9, "u_probability": 0.001},
                {"label_for_charts": "<b>Else</b>", "m_probability": 0.01, "u_probability": 0.9},
            ],
        },
        {
            "output_column_name": "customer_no",
            "comparison_levels": [
                {
                    "label_for_charts": "Exact match",
                    "m_probability": 0.7,
                    "u_probability": 0.0001,
                    "tf_adjustment_column": "customer_no",
                },
                {"label_for_charts": "All other", "m_probability": 0.3, "u_probability": 0.9999},
            ],
        },
    ]
}


def choices_for(pairs: pl.DataFrame, match: float = 0.9, review: float = 0.4) -> dict:
    config = LinkageConfig(match_threshold=match, review_threshold=review)
    chosen = ThresholdChoice(match, "sources file")
    return linkage_choices(pairs["match_probability"], MODEL, chosen, config)


def linkage(accuracy=None):
    # G1: crm + billing (2 records); G2: crm x2 + marketing (3); G3, G4: crm alone.
    xref = pl.DataFrame(
        {
            "source": ["crm", "billing", "crm", "crm", "marketing", "crm", "crm"],
            "source_record_id": ["1", "a", "2", "3", "m", "4", "5"],
            "golden_id": ["G1", "G1", "G2", "G2", "G2", "G3", "G4"],
            "row_number": [1, 1, 2, 3, 1, 4, 5],
            "match_confidence": [0.99, 0.99, 0.95, 0.95, 0.95, None, None],
        }
    )
    pairs = pl.DataFrame(
        {
            "unique_id_l": ["crm:1", "crm:2", "crm:2", "crm:4", "crm:5"],
            "unique_id_r": ["billing:a", "crm:3", "marketing:m", "crm:5", "billing:a"],
            "match_weight": [10.0, 8.0, 5.0, 0.0, -6.0],
            "match_probability": [0.999, 0.996, 0.97, 0.5, 0.015],
        }
    )
    return linkage_report(
        match_pairs=pairs,
        xref=xref,
        choices=choices_for(pairs),
        model=MODEL,
        review_queue_size=1,
        accuracy=accuracy,
        generated_at=WHEN,
        run_id="run-2",
    )


def test_linkage_metrics_match_the_frames():
    _, m = linkage()
    json.dumps(m)
    assert m["records"] == 7 and m["golden_customers"] == 4
    assert m["multi_record_customers"] == 2 and m["singletons"] == 2
    assert m["largest_cluster"] == 3 and m["multi_source_customers"] == 2
    assert m["pairs_scored"] == 5
    assert m["pairs_above_match_threshold"] == 3
    assert m["pairs_in_review_band"] == 1
    assert m["golden_per_source"] == {"billing": 1, "crm": 4, "marketing": 1}
    assert m["source_combinations"] == {"crm": 2, "billing + crm": 1, "crm + marketing": 1}
    assert m["accuracy"] is None


def test_linkage_html_sections_and_charts():
    html, _ = linkage()
    for sid in ("summary", "match-weights", "cluster-sizes", "overlap", "accuracy"):
        assert f'<section id="{sid}"><h2>' in html
    weights = section(html, "match-weights")
    assert '<svg class="chart"' in weights
    assert "match ≥ 0.9" in weights and "review ≥ 0.4" in weights
    clusters = text(section(html, "cluster-sizes"))
    assert "1 2 50.0% 2 28.6%" in clusters  # two singletons, 2 of 7 records
    overlap = section(html, "overlap")
    assert "billing + crm" in overlap and "crm + marketing" in overlap
    assert 'title="1 golden customers in both billing and crm' in overlap
    assert "no labels" in text(section(html, "accuracy"))


def test_linkage_report_says_what_chose_the_threshold_and_the_guards():
    html, _ = linkage()
    chosen = text(section(html, "choices"))
    assert "Match threshold 0.9, chosen by linkage.match_threshold in the sources file" in chosen
    # the model's estimate at 0.9: three pairs of mean probability 0.988, holding 2.965 of
    # the 3.48 true matches the five scored pairs hold by the same estimate
    assert "precision 98.83% and recall 85.20%" in chosen
    assert "0.9 98.83% 85.20% 91.51% used" in chosen
    assert "date_of_birth 1.00% yes" in chosen  # 1% of true matches disagree: under 2%
    assert "more than 50 records" in chosen
    model = section(html, "model")
    assert "&lt;b&gt;Else&lt;/b&gt;" in model and "<b>Else" not in model
    assert "Exact match tf 70.00% 0.0100% +12.8" in text(model)
    assert "customer_no" in model


def test_linkage_accuracy_table_and_curve():
    html, m = linkage(accuracy=ACCURACY)
    acc = section(html, "accuracy")
    assert "75.00%" in acc
    assert "<polyline" in acc and 'class="chart"' in acc
    assert m["accuracy"]["f1"] == 0.75 and "curve" not in m["accuracy"]
    md = metadata_markdown(m)
    assert "| golden customers | 4 |" in md and "| precision | 75.00% |" in md


def test_linkage_report_is_fast_on_large_frames():
    import time

    n = 200_000
    xref = pl.DataFrame(
        {
            "source": pl.Series(["crm", "billing", "marketing", "support"] * (n // 4)),
            "source_record_id": pl.int_range(n, eager=True).cast(pl.String),
            "golden_id": (pl.int_range(n, eager=True) // 3).cast(pl.String),
            "row_number": pl.int_range(n, eager=True),
            "match_confidence": pl.repeat(0.9, n, eager=True),
        }
    )
    w = (pl.int_range(3 * n, eager=True) % 400 - 200).cast(pl.Float64) / 10
    pairs = pl.DataFrame(
        {
            "unique_id_l": pl.repeat("a", 3 * n, eager=True),
            "unique_id_r": pl.repeat("b", 3 * n, eager=True),
            "match_weight": w,
            "match_probability": 2**w / (1 + 2**w),
        }
    )
    start = time.perf_counter()
    html, m = linkage_report(
        match_pairs=pairs,
        xref=xref,
        choices=choices_for(pairs, review=0.5),
        model=MODEL,
        review_queue_size=0,
        accuracy=None,
        generated_at=WHEN,
        run_id="big",
    )
    assert time.perf_counter() - start < 10
    assert m["golden_customers"] == n // 3 + 1 and len(html) < 200_000
