"""Report metrics as markdown: Dagster shows it beside the report asset."""

from __future__ import annotations

from whiteglove.reports.formats import pct, thousands


def metadata_markdown(metrics: dict) -> str:
    """A compact markdown summary of report metrics, for Dagster asset metadata."""
    if metrics.get("kind") == "linkage":
        return _linkage(metrics)
    t = metrics.get("totals", {})
    lines = [
        f"**Data quality** · run `{metrics.get('run_id', '')}` · "
        f"{t.get('checks_passed', 0):,} checks passed, {t.get('checks_failed', 0):,} failed "
        f"({t.get('checks_failed_error', 0):,} ERROR)",
        "",
        "| source | rows | accepted | quarantined | mean completeness | checks failed |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for s, m in (metrics.get("sources") or {}).items():
        lines.append(
            f"| {s} | {thousands(m.get('rows'))} | {thousands(m.get('accepted'))} | "
            f"{thousands(m.get('quarantined'))} | {pct(m.get('mean_completeness'))} | "
            f"{thousands(m.get('checks_failed'))} |"
        )
    lines.append(
        f"| **total** | {thousands(t.get('rows'))} | {thousands(t.get('accepted'))} | "
        f"{thousands(t.get('quarantined'))} | | {thousands(t.get('checks_failed'))} |"
    )
    return "\n".join(lines)


def _linkage(metrics: dict) -> str:
    figures = [
        ("records", "records"),
        ("golden customers", "golden_customers"),
        ("multi-record customers", "multi_record_customers"),
        ("multi-source customers", "multi_source_customers"),
        ("largest cluster", "largest_cluster"),
        ("pairs scored", "pairs_scored"),
        ("pairs ≥ match threshold", "pairs_above_match_threshold"),
        ("review queue", "review_queue_size"),
    ]
    lines = [
        f"**Linkage** · run `{metrics.get('run_id', '')}`",
        "",
        "| figure | value |",
        "|---|--:|",
        *(f"| {label} | {thousands(metrics.get(key))} |" for label, key in figures),
    ]
    accuracy = metrics.get("accuracy") or {}
    for k in ("precision", "recall", "f1"):
        if accuracy.get(k) is not None:
            lines.append(f"| {k} | {pct(accuracy[k], 2)} |")
    return "\n".join(lines)
