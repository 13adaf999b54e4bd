"""The report pages: figures (metrics.py) and charts (charts.py) rendered by the templates.

Each report is ONE html file with inline CSS and inline SVG charts: no scripts, no CDN, no
fonts to fetch, so it opens offline, attaches to a ticket and survives being archived.
Templates are autoescaped: every name and value from the data is escaped where it is written,
and only the package's own markup (the stylesheet, the charts) is marked safe.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from importlib.resources import files

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from whiteglove.layout import DATA_DOCS_DIR
from whiteglove.reports import charts
from whiteglove.reports.formats import number, pct, pct_value, thousands
from whiteglove.reports.metrics import (
    SCORE_PARTS,
    change,
    linkage_figures,
    match_weight,
    quality_figures,
    report_header,
    top_combinations,
    unique_in_order,
)
from whiteglove.schema import IDENTITY_FIELDS

KEPT, REVIEW, LINKED = "#9aa5b1", "#e0a030", "#1e7b3c"
ACCURACY_NAMES = {
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "records": "Records scored",
    "true_pairs": "True pairs",
    "predicted_pairs": "Predicted pairs",
    "true_positives": "True positives",
    "threshold": "Threshold",
    "true_customers": "True customers",
    "predicted_customers": "Golden customers",
    "rebuilt_exactly": "True customers rebuilt exactly",
    "rebuilt_exactly_share": "Share rebuilt exactly",
    "split_customers": "True customers split apart",
    "merged_clusters": "Golden customers merging true ones",
}
SHARES = ("precision", "recall", "f1", "rebuilt_exactly_share")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("whiteglove.reports", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a misspelt name fails the report, not blanks a cell
    )
    env.filters.update(
        thousands=thousands, pct=pct, pct_value=pct_value, heat=charts.heat, blue=charts.blue
    )
    env.globals["identity_fields"] = IDENTITY_FIELDS
    return env


@cache
def stylesheet() -> Markup:
    # The package's own file; escaped, its quoted font names would break inside <style>.
    return Markup((files("whiteglove.reports") / "style.css").read_text(encoding="utf-8"))


def render(template: str, *, run_id: str, generated_at: datetime, **context: object) -> str:
    """A whole page, its stylesheet inlined."""
    return (
        environment()
        .get_template(template)
        .render(
            css=stylesheet(),
            run_id=run_id,
            generated_at=generated_at.isoformat(sep=" ", timespec="seconds"),
            **context,
        )
    )


# --------------------------------------------------------------------------------------------
# Data quality report


def data_quality_report(
    *,
    profiles: pl.DataFrame,
    expectation_results: list[dict],
    quarantine: pl.DataFrame,
    previous_metrics: dict | None,
    generated_at: datetime,
    run_id: str,
) -> tuple[str, dict]:
    """The data-quality report (html) and its metrics, to pass back next run for trends."""
    fig = quality_figures(profiles, expectation_results, quarantine)
    metrics = report_header("data_quality", run_id, generated_at) | fig["metrics"]
    sources, fields, prof = fig["sources"], fig["fields"], fig["profiles"]
    colors = charts.palette(sources)
    q = fig["quarantine"]
    reasons = [r["reason"] for r in q["by_reason"]]
    counts = {
        (r["reason"], s): n
        for r in q["by_reason"]
        for s, n in zip(q["sources"], r["counts"], strict=True)
    }
    page = render(
        "data_quality.html.j2",
        run_id=run_id,
        generated_at=generated_at,
        metrics=metrics,
        sources=sources,
        fields=fields,
        profiles=prof,
        validity_fields=fig["validity_fields"],
        outcomes=fig["outcomes"],
        ranking=metrics["ranking"],
        score_parts=SCORE_PARTS,
        data_docs=f"{DATA_DOCS_DIR}/index.html",
        quarantine=q,
        colors=colors,
        heat_gradient=charts.heat_gradient(),
        summary_cards=_quality_cards(metrics["totals"], len(sources)),
        trends=_trends(metrics, previous_metrics, sources, fields),
        charts={
            "completeness": charts.grouped_bars(
                fields,
                sources,
                {
                    (f, s): prof[(s, f)]["completeness"]
                    for f in fields
                    for s in sources
                    # a field every value of which is a default has no completeness to draw
                    if (s, f) in prof and prof[(s, f)]["defaulted"] < prof[(s, f)]["rows"]
                },
                colors,
                title="Completeness by field and source",
            ),
            "quarantine": charts.stacked_bars(
                reasons, q["sources"], counts, colors, title="Quarantined rows by reason and source"
            ),
        },
    )
    return page, metrics


def _quality_cards(t: dict, n_sources: int) -> list[tuple[str, str, str, str | None]]:
    rate = t["quarantined"] / t["rows"] if t["rows"] else None
    failed_tone = "err" if t["checks_failed_error"] else ("warn" if t["checks_failed"] else None)
    return [
        ("Rows read", thousands(t["rows"]), f"{n_sources} source(s)", None),
        ("Accepted", thousands(t["accepted"]), pct(None if rate is None else 1 - rate), "ok"),
        (
            "Quarantined",
            thousands(t["quarantined"]),
            pct(rate),
            "err" if t["quarantined"] else None,
        ),
        (
            "Checks passed",
            f"{t['checks_passed']:,} / {t['checks_passed'] + t['checks_failed']:,}",
            "expectations",
            failed_tone or "ok",
        ),
        (
            "Checks failed",
            thousands(t["checks_failed"]),
            f"{t['checks_failed_error']:,} with severity ERROR",
            failed_tone,
        ),
    ]


def _trends(
    metrics: dict, previous: dict | None, sources: list[str], fields: list[str]
) -> dict | None:
    """Each figure against the previous run's, or None on a first run."""
    if not previous or not isinstance(previous.get("sources"), dict):
        return None
    before = previous["sources"]
    by_source = []
    for s in unique_in_order(list(sources) + list(before)):
        now, old = metrics["sources"].get(s), before.get(s) or {}
        cells = None
        if now is not None:
            cells = [
                trend(now["rows"], old.get("rows"), good=None),
                trend(now["accepted"], old.get("accepted"), good="up"),
                trend(now["quarantined"], old.get("quarantined"), good="down"),
                trend(
                    now["mean_completeness"], old.get("mean_completeness"), good="up", points=True
                ),
                trend(now["checks_failed"], old.get("checks_failed"), good="down"),
            ]
        by_source.append({"source": s, "new": not before.get(s), "cells": cells})
    by_field = [
        {
            "field": f,
            "cells": [
                trend(
                    metrics["sources"][s]["completeness"].get(f),
                    (before.get(s) or {}).get("completeness", {}).get(f),
                    good="up",
                    points=True,
                )
                for s in sources
            ],
        }
        for f in fields
    ]
    when = previous.get("generated_at")
    return {
        "run_id": previous.get("run_id", "?"),
        "when": str(when).replace("T", " ") if when else None,
        "by_source": by_source,
        "by_field": by_field,
    }


def trend(
    current: float | None, previous: float | None, *, good: str | None, points: bool = False
) -> dict:
    """A figure and its change since the previous run, as shown: '75.0%' '▲ +5.0 pp'.

    good is "up" or "down" (which way is better: green) or None (neither: grey).
    """
    shown = pct(current) if points else thousands(current)
    diff = change(current, previous, points=points)
    if current is None:
        return {"shown": shown, "delta": None}
    if diff is None:
        return {"shown": shown, "delta": "new", "tone": "flat", "before": None}
    if abs(diff) < (0.05 if points else 0.5):
        return {"shown": shown, "delta": "±0", "tone": "flat", "before": None}
    tone = "flat" if good is None else ("up" if (diff > 0) == (good == "up") else "down")
    return {
        "shown": shown,
        "delta": f"{'▲' if diff > 0 else '▼'} "
        + (f"{diff:+.1f} pp" if points else f"{int(round(diff)):+,}"),
        "tone": tone,
        "before": pct(previous) if points else thousands(previous),
    }


# --------------------------------------------------------------------------------------------
# Linkage report


def linkage_report(
    *,
    match_pairs: pl.DataFrame,
    xref: pl.DataFrame,
    choices: dict,
    model: dict,
    review_queue_size: int,
    accuracy: dict | None,
    generated_at: datetime,
    run_id: str,
    examples: list[dict] | None = None,
    decisions: dict | None = None,
) -> tuple[str, dict]:
    """The linkage report (html) and its metrics.

    `choices` are the run's linkage choices (whiteglove/linkage/choices.py): the thresholds,
    what chose them, and the cluster guards. Thresholds are match probabilities, as the
    pipeline uses them; on the match-weight histogram they are drawn at the equivalent weight
    log2(p / (1 - p)). `examples` are example pairs per match-weight band with their
    waterfalls (whiteglove/reports/examples.py), personal values already masked. `decisions`:
    the steward decisions of the run (whiteglove/decisions.py, `Resolved.as_dict`), if any.
    """
    match_threshold = choices["match_threshold"]["value"]
    review_threshold = choices["review_threshold"]
    fig = linkage_figures(
        match_pairs,
        xref,
        thresholds=(match_threshold, review_threshold),
        review_queue_size=review_queue_size,
        accuracy=accuracy,
    )
    m = report_header("linkage", run_id, generated_at) | fig["metrics"]
    sources, overlap = fig["sources"], fig["overlap"]
    combinations = top_combinations(fig["combinations"])
    sizes = fig["cluster_sizes"]
    comparisons = _comparison_levels(model)
    page = render(
        "linkage.html.j2",
        run_id=run_id,
        generated_at=generated_at,
        summary_cards=_linkage_cards(m),
        figures=[
            ("Match threshold (probability)", f"{match_threshold:g}"),
            ("Review threshold (probability)", f"{review_threshold:g}"),
            ("Pairs in review band", thousands(m["pairs_in_review_band"])),
            ("Singletons (one record)", thousands(m["singletons"])),
            ("Largest cluster (records)", thousands(m["largest_cluster"])),
        ],
        weight_legend=[(KEPT, "kept apart"), (REVIEW, "review band"), (LINKED, "linked")],
        cluster_sizes=sizes,
        sources=sources,
        colors=charts.palette(sources),
        combinations=combinations,
        golden=sum(n for _, n in fig["combinations"]),
        overlap=overlap,
        biggest=max((overlap[(s, s)] for s in sources), default=0) or 1,
        review_cards=[
            (
                "Review queue",
                thousands(m["review_queue_size"]),
                "pairs awaiting a decision",
                "warn" if m["review_queue_size"] else "ok",
            ),
            (
                "Review band",
                thousands(m["pairs_in_review_band"]),
                f"pairs with {review_threshold:g} ≤ p < {match_threshold:g}",
                None,
            ),
        ],
        threshold=choices["match_threshold"],
        review_threshold=review_threshold,
        guards=choices["guards"],
        comparisons=comparisons,
        examples=_with_waterfalls(examples),
        decisions=decisions if decisions and decisions.get("entries") else None,
        accuracy=[
            (ACCURACY_NAMES.get(k, k), pct(v, 2) if k in SHARES else number(v))
            for k, v in fig["accuracy"]
        ]
        if accuracy
        else None,
        charts={
            "weights": _weights_chart(fig["weight_bins"], match_threshold, review_threshold),
            "levels": charts.level_weights(
                comparisons, title="m, u and match weight of each comparison level"
            )
            if any(c["levels"] for c in comparisons)
            else "",
            "clusters": charts.columns(
                [r["label"] for r in sizes],
                [r["customers"] for r in sizes],
                color=charts.PALETTE[0],
                title="Golden customers by number of records",
                x_label="records per golden customer",
            ),
            "overlap": charts.stacked_bars(
                [label for label, _ in combinations],
                ["golden customers"],
                {(label, "golden customers"): n for label, n in combinations},
                {"golden customers": charts.PALETTE[0]},
                title="Golden customers by combination of sources",
                legend=False,
            ),
            "pr_curve": charts.pr_curve(fig["pr_points"], match_threshold)
            if fig["pr_points"]
            else "",
        },
    )
    return page, m


def _comparison_levels(model: dict) -> list[dict]:
    """Each comparison of the model with its levels: what share of true matches (m) and of
    other pairs (u) fall in each, and the match weight log2(m / u) a pair there gets."""
    comparisons = []
    for comparison in model.get("comparisons", []):
        levels = []
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            levels.append(
                {
                    "label": level.get("label_for_charts") or level.get("sql_condition", ""),
                    "m": m,
                    "u": u,
                    "weight": weight,
                    "tf": bool(level.get("tf_adjustment_column")),
                }
            )
        comparisons.append({"name": comparison.get("output_column_name", ""), "levels": levels})
    return comparisons


def _linkage_cards(m: dict) -> list[tuple[str, str, str, str | None]]:
    golden, records = m["golden_customers"], m["records"]
    compression = 1 - golden / records if records else None
    multi_share = m["multi_record_customers"] / golden if golden else None
    return [
        ("Records", thousands(records), "in customer_xref", None),
        ("Golden customers", thousands(golden), f"{pct(compression)} fewer than records", "ok"),
        (
            "Multi-record",
            thousands(m["multi_record_customers"]),
            f"{pct(multi_share)} of golden customers",
            None,
        ),
        ("Multi-source", thousands(m["multi_source_customers"]), "seen in 2+ sources", None),
        (
            "Pairs scored",
            thousands(m["pairs_scored"]),
            f"{m['pairs_above_match_threshold']:,} above match threshold",
            None,
        ),
        (
            "Review queue",
            thousands(m["review_queue_size"]),
            "pairs for a steward",
            "warn" if m["review_queue_size"] else None,
        ),
    ]


def _weights_chart(bins: list, match_threshold: float, review_threshold: float) -> Markup | str:
    if not bins:
        return ""
    mw, rw = match_weight(match_threshold), match_weight(review_threshold)
    return charts.histogram(
        bins,
        markers=[
            (rw, f"review ≥ {review_threshold:g}", "#a86400"),
            (mw, f"match ≥ {match_threshold:g}", LINKED),
        ],
        color=lambda lo, hi: LINKED if lo >= mw else (REVIEW if hi > rw else KEPT),
        title="Scored pairs by match weight",
        x_label="match weight (log2 odds)",
        y_label="scored pairs",
    )


def _with_waterfalls(examples: list[dict] | None) -> list[dict] | None:
    """Each example pair given its waterfall chart."""
    if examples is None:
        return None
    return [
        {
            **band,
            "pairs": [
                {
                    **pair,
                    "probability_text": charts.probability_text(pair["match_probability"]),
                    "chart": charts.waterfall(
                        pair["waterfall"],
                        title=f"How the match weight of {pair['left']} and {pair['right']} adds up",
                        match_weight=pair["match_weight"],
                    ),
                }
                for pair in band["pairs"]
            ],
        }
        for band in examples
    ]
