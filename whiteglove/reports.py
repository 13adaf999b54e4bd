"""Self-contained HTML reports: data quality per source, and linkage quality.

Each report is ONE html file with inline CSS and inline SVG charts: no scripts, no CDN, no
fonts to fetch, so it opens offline, attaches to a ticket and survives being archived. Charts
are hand-written SVG (a few bar charts, grouped bars, a histogram and a line): a charting library
would add megabytes per file (plotly) or a native renderer (vega) for pictures this simple.

All figures are computed with Polars expressions; Python loops only run over the handful of
sources, fields, bins and sample rows that end up on the page.

Personal data is masked before it is written: quarantine samples show `m***@gmail.com`,
`******78Z`, `M*** G***`, never the value as exported.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import polars as pl

from whiteglove.config import IDENTITY_FIELDS

# Columns of a standardized frame that are lineage, not data to profile.
LINEAGE_COLUMNS = {
    "record_key",
    "source",
    "source_record_id",
    "row_number",
    "trust",
    "updated_at",
    "file",
    "loaded_at",
    "invalid_fields",
}
# Identity fields in display order (full_name is derived, so it comes last).
FIELD_ORDER = [f for f in IDENTITY_FIELDS if f != "full_name"] + ["full_name"]
PROFILE_SCHEMA = {
    "source": pl.String,
    "field": pl.String,
    "rows": pl.Int64,
    "non_null": pl.Int64,
    "completeness": pl.Float64,
    "invalid_nulled": pl.Int64,
    "validity": pl.Float64,
    "distinct": pl.Int64,
}
QUARANTINE_SAMPLE = 20
TOP_REASONS = 12
TOP_COMBINATIONS = 15
HISTOGRAM_BINS = 40
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]


# --------------------------------------------------------------------------------------------
# Profiling


def profile_source(standardized: pl.DataFrame, source: str) -> pl.DataFrame:
    """Completeness, validity and distinct counts of every field of one source's accepted rows.

    One row per canonical identity field present in the frame, then per attribute column:
    source, field, rows, non_null, completeness (0-1), invalid_nulled (accepted rows whose
    `_invalid` names the field), validity (non_null / (non_null + invalid_nulled); null when
    there was nothing to judge) and distinct (non-null distinct values).
    """
    frame = standardized
    if "_reasons" in frame.columns:
        frame = frame.filter(pl.col("_reasons").list.len().fill_null(0) == 0)
    identity = [f for f in FIELD_ORDER if f in frame.columns]
    attributes = [
        c
        for c in frame.columns
        if c not in LINEAGE_COLUMNS and c not in identity and not c.startswith("_")
    ]
    fields = identity + attributes
    if not fields:
        return pl.DataFrame(schema=PROFILE_SCHEMA)

    stats = frame.select(
        *[pl.col(f).count().alias(f"nn:{f}") for f in fields],
        *[pl.col(f).drop_nulls().n_unique().alias(f"nd:{f}") for f in fields],
    ).row(0, named=True)
    invalid: dict[str, int] = {}
    if "_invalid" in frame.columns:
        counts = (
            frame.select(pl.col("_invalid").list.unique().explode().alias("field"))
            .drop_nulls()
            .group_by("field")
            .len()
        )
        invalid = dict(counts.iter_rows())

    rows = frame.height
    out = pl.DataFrame(
        {
            "source": [source] * len(fields),
            "field": fields,
            "rows": [rows] * len(fields),
            "non_null": [stats[f"nn:{f}"] for f in fields],
            "invalid_nulled": [invalid.get(f, 0) for f in fields],
            "distinct": [stats[f"nd:{f}"] for f in fields],
        },
        schema_overrides={k: PROFILE_SCHEMA[k] for k in ("rows", "non_null", "invalid_nulled")},
    )
    judged = pl.col("non_null") + pl.col("invalid_nulled")
    return out.with_columns(
        pl.when(pl.col("rows") > 0).then(pl.col("non_null") / pl.col("rows")).alias("completeness"),
        pl.when(judged > 0).then(pl.col("non_null") / judged).alias("validity"),
        pl.col("distinct").cast(pl.Int64),
    ).select(list(PROFILE_SCHEMA))


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
    profiles = profiles if profiles.height else pl.DataFrame(schema=PROFILE_SCHEMA)
    sources = _unique_in_order(
        profiles["source"].to_list() + quarantine["source"].drop_nulls().unique().sort().to_list()
    )
    fields = _unique_in_order(profiles["field"].to_list())
    identity = [f for f in fields if f in IDENTITY_FIELDS]
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sources)}

    prof = {(s, f): r for s, f, r in _profile_rows(profiles)}
    accepted = dict(profiles.group_by("source").agg(pl.col("rows").max()).iter_rows())
    quarantined = dict(quarantine.group_by("source").len().iter_rows())
    reasons = _reason_counts(quarantine)
    outcomes = _flatten_outcomes(expectation_results)

    metrics = _dq_metrics(
        sources,
        fields,
        identity,
        prof,
        accepted,
        quarantined,
        reasons,
        outcomes,
        generated_at,
        run_id,
    )
    prev = previous_metrics or None

    sections = [
        ("summary", "Summary", _dq_summary(metrics, sources, colors)),
        ("completeness", "Completeness", _dq_completeness(sources, fields, prof, colors)),
        ("validity", "Validity", _dq_validity(sources, fields, prof)),
        ("distinct", "Distinct values", _dq_distinct(sources, fields, prof)),
        ("expectations", "Expectations", _dq_expectations(outcomes, metrics)),
        ("quarantine", "Quarantine", _dq_quarantine(quarantine, reasons, sources, colors)),
        ("trends", "Trends", _dq_trends(metrics, prev, sources, fields)),
    ]
    page = _page(
        title="Data quality report",
        run_id=run_id,
        generated_at=generated_at,
        sections=sections,
    )
    return page, metrics


def _profile_rows(profiles: pl.DataFrame):
    for row in profiles.iter_rows(named=True):
        yield row["source"], row["field"], row


def _unique_in_order(values: list) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def _flatten_outcomes(expectation_results: list[dict]) -> list[dict]:
    out = []
    for suite in expectation_results or []:
        for o in suite.get("outcomes") or []:
            out.append(
                {
                    "suite": suite.get("suite"),
                    "stage": suite.get("stage"),
                    **o,
                    "severity": str(o.get("severity") or "ERROR").upper(),
                    "success": bool(o.get("success")),
                }
            )
    return out


def _normalized_reason() -> pl.Expr:
    # "duplicate record id (first seen at row 12)" and "... row 40" are one reason.
    return (
        pl.col("reason")
        .str.replace(r"\s*\([^)]*\)", "")
        .str.replace_all(r"\d+", "#")
        .str.strip_chars()
        .str.slice(0, 90)
    )


def _reason_counts(quarantine: pl.DataFrame) -> pl.DataFrame:
    """source, reason, rows: quarantined rows per source and (normalised) reason."""
    if quarantine.height == 0:
        return pl.DataFrame(schema={"source": pl.String, "reason": pl.String, "rows": pl.UInt32})
    return (
        quarantine.with_row_index("_i")
        .select("_i", "source", pl.col("reasons").alias("reason"))
        .explode("reason")
        .drop_nulls("reason")
        .with_columns(_normalized_reason())
        .unique(["_i", "reason"])
        .group_by("source", "reason")
        .agg(pl.len().alias("rows"))
        .sort(["rows", "source", "reason"], descending=[True, False, False])
    )


def _dq_metrics(
    sources, fields, identity, prof, accepted, quarantined, reasons, outcomes, generated_at, run_id
) -> dict:
    per_source: dict[str, dict] = {}
    for s in sources:
        acc = int(accepted.get(s, 0) or 0)
        quar = int(quarantined.get(s, 0) or 0)
        checks = [o for o in outcomes if o["suite"] == s]
        comp = {f: _round(prof[(s, f)]["completeness"]) for f in fields if (s, f) in prof}
        valid = {f: _round(prof[(s, f)]["validity"]) for f in fields if (s, f) in prof}
        ident = [comp[f] for f in identity if comp.get(f) is not None]
        per_source[s] = {
            "rows": acc + quar,
            "accepted": acc,
            "quarantined": quar,
            "quarantine_rate": _round(quar / (acc + quar)) if acc + quar else None,
            "mean_completeness": _round(sum(ident) / len(ident)) if ident else None,
            "completeness": comp,
            "validity": valid,
            "invalid_nulled": {
                f: int(prof[(s, f)]["invalid_nulled"])
                for f in fields
                if (s, f) in prof and prof[(s, f)]["invalid_nulled"]
            },
            "checks_passed": sum(o["success"] for o in checks),
            "checks_failed": sum(not o["success"] for o in checks),
        }
    suites: dict[str, dict] = {}
    for o in outcomes:
        d = suites.setdefault(str(o["suite"]), {"passed": 0, "failed": 0, "failed_error": 0})
        d["passed" if o["success"] else "failed"] += 1
        d["failed_error"] += int(not o["success"] and o["severity"] == "ERROR")
    by_reason = (
        reasons.group_by("reason")
        .agg(pl.col("rows").sum())
        .sort(["rows", "reason"], descending=[True, False])
    )
    return {
        "kind": "data_quality",
        "run_id": run_id,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "totals": {
            "rows": sum(p["rows"] for p in per_source.values()),
            "accepted": sum(p["accepted"] for p in per_source.values()),
            "quarantined": sum(p["quarantined"] for p in per_source.values()),
            "checks_passed": sum(o["success"] for o in outcomes),
            "checks_failed": sum(not o["success"] for o in outcomes),
            "checks_failed_error": sum(
                not o["success"] and o["severity"] == "ERROR" for o in outcomes
            ),
        },
        "sources": per_source,
        "expectations": suites,
        "quarantine_reasons": {
            _mask_text(r): int(n) for r, n in by_reason.head(TOP_REASONS * 2).iter_rows()
        },
    }


def _dq_summary(metrics: dict, sources: list[str], colors: dict) -> str:
    t = metrics["totals"]
    rate = t["quarantined"] / t["rows"] if t["rows"] else None
    checks = t["checks_passed"] + t["checks_failed"]
    cards = _cards(
        [
            ("Rows read", _int(t["rows"]), f"{len(sources)} source(s)", None),
            ("Accepted", _int(t["accepted"]), _pct(1 - rate if rate is not None else None), "ok"),
            (
                "Quarantined",
                _int(t["quarantined"]),
                _pct(rate),
                "err" if t["quarantined"] else None,
            ),
            ("Checks passed", f"{t['checks_passed']:,} / {checks:,}", "expectations", "ok"),
            (
                "Checks failed",
                _int(t["checks_failed"]),
                f"{t['checks_failed_error']:,} with severity ERROR",
                "err" if t["checks_failed_error"] else ("warn" if t["checks_failed"] else None),
            ),
        ]
    )
    head = _thead(
        [
            "Source",
            "Rows read",
            "Accepted",
            "Quarantined",
            "Quarantine rate",
            "Mean completeness",
            "Checks passed",
            "Checks failed",
        ],
        num_from=1,
    )
    body = []
    for s in sources:
        m = metrics["sources"][s]
        body.append(
            "<tr>"
            + _td(_swatch(colors[s]) + _e(s))
            + _td(_int(m["rows"]), num=True)
            + _td(_int(m["accepted"]), num=True)
            + _td(_int(m["quarantined"]), num=True)
            + _td(_pct(m["quarantine_rate"]), num=True)
            + _heat_td(m["mean_completeness"])
            + _td(_int(m["checks_passed"]), num=True)
            + _td(_fail_count(m["checks_failed"]), num=True)
            + "</tr>"
        )
    total = (
        '<tr class="total">'
        + _td("All sources")
        + _td(_int(t["rows"]), num=True)
        + _td(_int(t["accepted"]), num=True)
        + _td(_int(t["quarantined"]), num=True)
        + _td(_pct(rate), num=True)
        + _td("", num=True)
        + _td(_int(t["checks_passed"]), num=True)
        + _td(_fail_count(t["checks_failed"]), num=True)
        + "</tr>"
    )
    note = (
        '<p class="note">Rows read = accepted + quarantined. Completeness and validity are '
        "measured on accepted rows; mean completeness averages the identity fields. Checks are "
        "counted per source when the expectation suite is named after the source.</p>"
    )
    return cards + _table(head, "".join(body) + total) + note


def _field_source_table(
    sources, fields, prof, cell: Callable[[str, str, dict], str | None], missing: str
) -> str:
    """Fields (rows) by sources (columns); `cell` renders one profile, None where it has none."""
    body = []
    for f in fields:
        cells = []
        for s in sources:
            r = prof.get((s, f))
            html = cell(s, f, r) if r is not None else None
            cells.append(html or _td(f'<span class="muted">{missing}</span>', num=True))
        body.append("<tr>" + _td(_field_label(f)) + "".join(cells) + "</tr>")
    return _table(_thead(["Field", *sources], num_from=1), "".join(body))


def _dq_completeness(sources, fields, prof, colors) -> str:
    if not fields:
        return '<p class="empty">No profiles were given.</p>'
    lead = (
        '<p class="lead">Share of accepted rows with a value, per source and field. '
        "Values nulled as invalid count as missing here (see Validity).</p>"
    )

    def cell(s: str, f: str, r: dict) -> str:
        tip = f"{s} · {f}: {r['non_null']:,} of {r['rows']:,} rows"
        return _heat_td(r["completeness"], title=tip)

    values = {
        (f, s): prof[(s, f)]["completeness"] for f in fields for s in sources if (s, f) in prof
    }
    chart = _svg_grouped_bars(
        fields, sources, values, colors, title="Completeness by field and source"
    )
    table = _field_source_table(sources, fields, prof, cell, missing="n/a")
    return lead + _scale_legend() + table + chart


def _dq_validity(sources, fields, prof) -> str:
    judged = [
        f
        for f in fields
        if any((s, f) in prof and (prof[(s, f)]["invalid_nulled"] or 0) > 0 for s in sources)
        or f in {"email", "phone", "date_of_birth", "postcode", "national_id"}
    ]
    judged = [f for f in judged if any((s, f) in prof for s in sources)]
    if not judged:
        return '<p class="empty">No field was checked for validity.</p>'
    lead = (
        '<p class="lead">Of the values a source gave, the share that passed validation '
        "(valid / (valid + nulled as invalid)). Invalid values are nulled, never guessed; the "
        "count of nulled values is shown beside each rate.</p>"
    )

    def cell(s: str, f: str, r: dict) -> str | None:
        if r["validity"] is None:
            return None
        extra = (
            f' <span class="sub">({r["invalid_nulled"]:,} nulled)</span>'
            if r["invalid_nulled"]
            else ""
        )
        title = f"{s} · {f}: {r['invalid_nulled']:,} invalid value(s) nulled"
        return _heat_td(r["validity"], extra=extra, title=title)

    return lead + _field_source_table(sources, judged, prof, cell, missing="—")


def _dq_distinct(sources, fields, prof) -> str:
    if not fields:
        return '<p class="empty">No profiles were given.</p>'
    lead = (
        '<p class="lead">Distinct non-null values per field. The ratio to non-null values '
        "hints at shared or placeholder values (e.g. one email used by many rows).</p>"
    )

    def cell(s: str, f: str, r: dict) -> str:
        ratio = r["distinct"] / r["non_null"] if r["non_null"] else None
        sub = f' <span class="sub">{_pct(ratio)}</span>' if ratio is not None else ""
        return _td(_int(r["distinct"]) + sub, num=True)

    return lead + _field_source_table(sources, fields, prof, cell, missing="n/a")


def _dq_expectations(outcomes: list[dict], metrics: dict) -> str:
    if not outcomes:
        return '<p class="empty">No expectation results were given.</p>'
    suites = metrics["expectations"]
    head = _thead(["Suite", "Passed", "Failed", "Failed (ERROR)"], num_from=1)
    body = "".join(
        "<tr>"
        + _td(_e(name))
        + _td(_int(d["passed"]), num=True)
        + _td(_fail_count(d["failed"]), num=True)
        + _td(_fail_count(d["failed_error"]), num=True)
        + "</tr>"
        for name, d in suites.items()
    )
    rank = {(False, "ERROR"): 0, (False, "WARN"): 1}
    ordered = sorted(
        enumerate(outcomes),
        key=lambda io: (rank.get((io[1]["success"], io[1]["severity"]), 2), io[0]),
    )
    head2 = _thead(
        [
            "Result",
            "Severity",
            "Suite",
            "Stage",
            "Expectation",
            "Column",
            "Checked",
            "Unexpected",
            "Unexpected %",
            "Observed",
        ],
        num_from=6,
        num_to=9,
    )
    rows = []
    for _, o in ordered:
        result = (
            '<span class="badge b-pass">PASS</span>'
            if o["success"]
            else '<span class="badge b-fail">FAIL</span>'
        )
        sev = o["severity"]
        sev_cls = "b-error" if sev == "ERROR" else "b-warn"
        sev_badge = f'<span class="badge {sev_cls}">{_e(sev)}</span>'
        name = o.get("name") or o.get("expectation_type") or ""
        desc = o.get("description")
        label = f"<strong>{_e(name)}</strong>"
        if o.get("expectation_type") and o.get("expectation_type") != name:
            label += f'<div class="sub"><code>{_e(o["expectation_type"])}</code></div>'
        if desc:
            label += f'<div class="sub">{_e(_mask_text(str(desc)))}</div>'
        rows.append(
            f'<tr class="{"" if o["success"] else "failed"}">'
            + _td(result)
            + _td(sev_badge)
            + _td(_e(o.get("suite") or ""))
            + _td(_e(o.get("stage") or ""))
            + _td(label)
            + _td(f"<code>{_e(o['column'])}</code>" if o.get("column") else "")
            + _td(_int(o.get("element_count")), num=True)
            + _td(_int(o.get("unexpected_count")), num=True)
            + _td(_pct_value(o.get("unexpected_percent")), num=True)
            + _td(_e(_observed(o.get("observed_value"))), cls="observed")
            + "</tr>"
        )
    return (
        "<h3>By suite</h3>"
        + _table(head, body, narrow=True)
        + "<h3>Every expectation</h3>"
        + '<p class="lead">Failures first (ERROR, then WARN). An ERROR failure stops the '
        "pipeline before publication; a WARN failure is reported only.</p>"
        + _table(head2, "".join(rows))
    )


def _dq_quarantine(quarantine: pl.DataFrame, reasons: pl.DataFrame, sources, colors) -> str:
    if quarantine.height == 0:
        return '<p class="empty">No row was quarantined in this run.</p>'
    by_source = dict(quarantine.group_by("source").len().iter_rows())
    lead = (
        f'<p class="lead">{quarantine.height:,} row(s) could not be used and were set aside '
        "with their raw content so a steward can repair them at the source. A row can have "
        "more than one reason.</p>"
    )
    totals = (
        reasons.group_by("reason")
        .agg(pl.col("rows").sum())
        .sort(["rows", "reason"], descending=[True, False])
    )
    top = totals["reason"].head(TOP_REASONS).to_list()
    other = totals["reason"].slice(TOP_REASONS).to_list()
    matrix: dict[tuple[str, str], int] = {}
    for s, r, n in reasons.iter_rows():
        key = r if r in top else "other reasons"
        matrix[(key, s)] = matrix.get((key, s), 0) + int(n)
    labels = top + (["other reasons"] if other else [])
    qsources = [s for s in sources if by_source.get(s)]
    chart = _svg_hbars(
        [_mask_text(x) for x in labels],
        qsources,
        {(_mask_text(lb), s): matrix.get((lb, s), 0) for lb in labels for s in qsources},
        colors,
        title="Quarantined rows by reason and source",
    )
    head = _thead(["Reason", *qsources, "Total"], num_from=1)
    body = []
    for lb in labels:
        cells = [
            _td(_int(matrix.get((lb, s), 0)) if matrix.get((lb, s)) else "·", num=True)
            for s in qsources
        ]
        total = sum(matrix.get((lb, s), 0) for s in qsources)
        body.append(
            "<tr>"
            + _td(_e(_mask_text(lb)))
            + "".join(cells)
            + _td(f"<strong>{_int(total)}</strong>", num=True)
            + "</tr>"
        )
    body.append(
        '<tr class="total">'
        + _td("Quarantined rows")
        + "".join(_td(_int(by_source.get(s, 0)), num=True) for s in qsources)
        + _td(_int(quarantine.height), num=True)
        + "</tr>"
    )

    sample = (
        quarantine.with_row_index("_i")
        .with_columns(pl.int_range(pl.len()).over("source").alias("_k"))
        .sort("_k", "source", "_i")
        .head(QUARANTINE_SAMPLE)
        .sort("source", "row_number")
    )
    srows = []
    for r in sample.iter_rows(named=True):
        srows.append(
            "<tr>"
            + _td(_e(r["source"]))
            + _td(_int(r["row_number"]), num=True)
            + _td(_e(r.get("source_record_id") or "—"))
            + _td(_e(_basename(r.get("file")) or ""))
            + _td("<br>".join(_e(_mask_text(x)) for x in (r.get("reasons") or [])))
            + _td(f'<code class="raw">{_e(mask_raw(r.get("raw")))}</code>')
            + "</tr>"
        )
    sample_head = _thead(
        ["Source", "Row", "Record id", "File", "Reasons", "Raw (masked)"], num_from=1, num_to=1
    )
    shown = min(QUARANTINE_SAMPLE, quarantine.height)
    return (
        lead
        + chart
        + "<h3>By reason and source</h3>"
        + _table(head, "".join(body))
        + f"<h3>Sample ({shown:,} of {quarantine.height:,} rows, personal data masked)</h3>"
        + _table(sample_head, "".join(srows))
    )


def _dq_trends(metrics: dict, prev: dict | None, sources, fields) -> str:
    if not prev or not isinstance(prev.get("sources"), dict):
        return (
            '<p class="lead first-run">This is the first run with a data-quality report: there '
            "are no previous metrics to compare with. The next run will show changes against "
            "this one.</p>"
        )
    psrc = prev["sources"]
    when = prev.get("generated_at")
    lead = (
        f'<p class="lead">Compared with run <code>{_e(prev.get("run_id", "?"))}</code>'
        + (f" of {_e(str(when).replace('T', ' '))}" if when else "")
        + ". Green is better, red is worse; completeness changes are in percentage points.</p>"
    )
    head = _thead(
        ["Source", "Rows read", "Accepted", "Quarantined", "Mean completeness", "Checks failed"],
        num_from=1,
    )
    body = []
    for s in _unique_in_order(list(sources) + list(psrc)):
        cur, old = metrics["sources"].get(s), psrc.get(s)
        if cur is None:
            body.append(
                "<tr>"
                + _td(_e(s))
                + _td('<span class="muted">not in this run</span>')
                + _td("") * 4
                + "</tr>"
            )
            continue
        old = old or {}
        new_tag = "" if psrc.get(s) else ' <span class="badge b-new">NEW</span>'
        body.append(
            "<tr>"
            + _td(_e(s) + new_tag)
            + _td(_trend(cur["rows"], old.get("rows"), good=None), num=True)
            + _td(_trend(cur["accepted"], old.get("accepted"), good="up"), num=True)
            + _td(_trend(cur["quarantined"], old.get("quarantined"), good="down"), num=True)
            + _td(
                _trend(cur["mean_completeness"], old.get("mean_completeness"), good="up", pp=True),
                num=True,
            )
            + _td(_trend(cur["checks_failed"], old.get("checks_failed"), good="down"), num=True)
            + "</tr>"
        )
    head2 = _thead(["Field", *sources], num_from=1)
    body2 = []
    for f in fields:
        cells = []
        for s in sources:
            c = metrics["sources"][s]["completeness"].get(f)
            p = (psrc.get(s) or {}).get("completeness", {}).get(f)
            cells.append(_td(_trend(c, p, good="up", pp=True), num=True))
        body2.append("<tr>" + _td(_field_label(f)) + "".join(cells) + "</tr>")
    return (
        lead
        + "<h3>Per source</h3>"
        + _table(head, "".join(body))
        + "<h3>Completeness per field</h3>"
        + _table(head2, "".join(body2))
    )


def _trend(cur, old, *, good: str | None, pp: bool = False) -> str:
    """Current value with its change since the previous run: '75.0% ▲ +5.0 pp'."""
    shown = _pct(cur) if pp else _int(cur)
    if cur is None or old is None:
        return shown + ' <span class="delta flat">new</span>' if cur is not None else shown
    diff = (cur - old) * (100 if pp else 1)
    if abs(diff) < (0.05 if pp else 0.5):
        return shown + ' <span class="delta flat">±0</span>'
    arrow = "▲" if diff > 0 else "▼"
    cls = "flat" if good is None else ("up" if (diff > 0) == (good == "up") else "down")
    figure = f"{diff:+.1f} pp" if pp else f"{int(round(diff)):+,}"
    before = _e(_pct(old) if pp else _int(old))
    return f'{shown} <span class="delta {cls}" title="previous: {before}">{arrow} {figure}</span>'


# --------------------------------------------------------------------------------------------
# Linkage report


def _weight(probability: float) -> float:
    p = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def linkage_report(
    *,
    match_pairs: pl.DataFrame,
    xref: pl.DataFrame,
    match_threshold: float,
    review_threshold: float,
    review_queue_size: int,
    accuracy: dict | None,
    generated_at: datetime,
    run_id: str,
) -> tuple[str, dict]:
    """The linkage report (html) and its metrics.

    Thresholds are match probabilities, as the pipeline uses them; on the match-weight
    histogram they are drawn at the equivalent weight log2(p / (1 - p)).
    """
    pairs = match_pairs.select(
        pl.col("match_weight").cast(pl.Float64), pl.col("match_probability").cast(pl.Float64)
    )
    p = pl.col("match_probability")
    pair_stats = pairs.select(
        pl.len().alias("pairs"),
        (p >= match_threshold).sum().alias("above"),
        ((p >= review_threshold) & (p < match_threshold)).sum().alias("review"),
    ).row(0, named=True)

    sizes = xref.group_by("golden_id").agg(
        pl.len().alias("size"), pl.col("source").n_unique().alias("nsrc")
    )
    size_stats = sizes.select(
        pl.len().alias("golden"),
        (pl.col("size") > 1).sum().alias("multi"),
        (pl.col("size") == 1).sum().alias("singletons"),
        pl.col("size").max().alias("largest"),
        (pl.col("nsrc") > 1).sum().alias("multi_source"),
    ).row(0, named=True)
    sources = xref["source"].drop_nulls().unique().sort().to_list()
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sources)}
    combos, matrix, per_source = _overlap(xref, sources)

    metrics = {
        "kind": "linkage",
        "run_id": run_id,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "match_threshold": match_threshold,
        "review_threshold": review_threshold,
        "pairs_scored": int(pair_stats["pairs"] or 0),
        "pairs_above_match_threshold": int(pair_stats["above"] or 0),
        "pairs_in_review_band": int(pair_stats["review"] or 0),
        "records": xref.height,
        "golden_customers": int(size_stats["golden"] or 0),
        "multi_record_customers": int(size_stats["multi"] or 0),
        "singletons": int(size_stats["singletons"] or 0),
        "largest_cluster": int(size_stats["largest"] or 0),
        "multi_source_customers": int(size_stats["multi_source"] or 0),
        "review_queue_size": int(review_queue_size),
        "golden_per_source": per_source,
        "source_combinations": dict(combos[: TOP_COMBINATIONS * 2]),
        "accuracy": _accuracy_figures(accuracy),
    }
    sections = [
        ("summary", "Summary", _lk_summary(metrics)),
        (
            "match-weights",
            "Match-weight distribution",
            _lk_weights(pairs, match_threshold, review_threshold),
        ),
        ("cluster-sizes", "Cluster sizes", _lk_clusters(sizes)),
        ("overlap", "Overlap between sources", _lk_overlap(combos, matrix, sources, colors)),
        ("review", "Review queue", _lk_review(metrics)),
        ("accuracy", "Accuracy", _lk_accuracy(accuracy, match_threshold)),
    ]
    page = _page(
        title="Linkage report", run_id=run_id, generated_at=generated_at, sections=sections
    )
    return page, metrics


def _overlap(xref: pl.DataFrame, sources: list[str]):
    """Golden customers per combination of sources, source x source co-occurrence, per source."""
    if not sources:
        return [], {}, {}
    flags = xref.group_by("golden_id").agg(
        *[(pl.col("source") == s).any().alias(f"s{i}") for i, s in enumerate(sources)]
    )
    cols = [f"s{i}" for i in range(len(sources))]
    combos_df = flags.group_by(cols).len().sort("len", descending=True)
    combos = []
    for row in combos_df.iter_rows():
        names = [s for s, flag in zip(sources, row[:-1], strict=True) if flag]
        combos.append((" + ".join(names), int(row[-1])))
    pair_exprs = [
        (pl.col(f"s{i}") & pl.col(f"s{j}")).sum().alias(f"{i}:{j}")
        for i in range(len(sources))
        for j in range(i, len(sources))
    ]
    counts = flags.select(pair_exprs).row(0, named=True)
    matrix = {}
    for key, n in counts.items():
        i, j = map(int, key.split(":"))
        matrix[(sources[i], sources[j])] = matrix[(sources[j], sources[i])] = int(n)
    per_source = {s: matrix[(s, s)] for s in sources}
    return combos, matrix, per_source


def _accuracy_figures(accuracy: dict | None) -> dict | None:
    if not accuracy:
        return None
    return {
        k: (_round(v) if isinstance(v, float) else v)
        for k, v in accuracy.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _lk_summary(m: dict) -> str:
    golden = m["golden_customers"]
    multi_share = m["multi_record_customers"] / golden if golden else None
    compression = 1 - m["golden_customers"] / m["records"] if m["records"] else None
    cards = _cards(
        [
            ("Records", _int(m["records"]), "in customer_xref", None),
            (
                "Golden customers",
                _int(m["golden_customers"]),
                f"{_pct(compression)} fewer than records",
                "ok",
            ),
            (
                "Multi-record",
                _int(m["multi_record_customers"]),
                f"{_pct(multi_share)} of golden customers",
                None,
            ),
            ("Multi-source", _int(m["multi_source_customers"]), "seen in 2+ sources", None),
            (
                "Pairs scored",
                _int(m["pairs_scored"]),
                f"{m['pairs_above_match_threshold']:,} above match threshold",
                None,
            ),
            (
                "Review queue",
                _int(m["review_queue_size"]),
                "pairs for a steward",
                "warn" if m["review_queue_size"] else None,
            ),
        ]
    )
    head = _thead(["Figure", "Value"], num_from=1)
    rows = [
        ("Match threshold (probability)", f"{m['match_threshold']:g}"),
        ("Review threshold (probability)", f"{m['review_threshold']:g}"),
        ("Pairs in review band", _int(m["pairs_in_review_band"])),
        ("Singletons (one record)", _int(m["singletons"])),
        ("Largest cluster (records)", _int(m["largest_cluster"])),
    ]
    body = "".join("<tr>" + _td(_e(k)) + _td(v, num=True) + "</tr>" for k, v in rows)
    return cards + _table(head, body, narrow=True)


def _lk_weights(pairs: pl.DataFrame, match_threshold: float, review_threshold: float) -> str:
    w = pairs.filter(pl.col("match_weight").is_finite())
    if w.height == 0:
        return '<p class="empty">No scored pairs.</p>'
    lo, hi = w.select(
        pl.col("match_weight").min().alias("lo"), pl.col("match_weight").max().alias("hi")
    ).row(0)
    mw, rw = _weight(match_threshold), _weight(review_threshold)
    lo, hi = math.floor(min(lo, rw, mw) - 0.5), math.ceil(max(hi, mw, rw) + 0.5)
    width = (hi - lo) / HISTOGRAM_BINS
    counts = dict(
        w.select(
            ((pl.col("match_weight") - lo) / width)
            .floor()
            .cast(pl.Int64)
            .clip(0, HISTOGRAM_BINS - 1)
            .alias("bin")
        )
        .group_by("bin")
        .len()
        .iter_rows()
    )
    bins = [
        (lo + i * width, lo + (i + 1) * width, int(counts.get(i, 0))) for i in range(HISTOGRAM_BINS)
    ]
    chart = _svg_histogram(
        bins,
        markers=[
            (rw, f"review ≥ {review_threshold:g}", "#a86400"),
            (mw, f"match ≥ {match_threshold:g}", "#1e7b3c"),
        ],
        color=lambda lo_, hi_: "#1e7b3c" if lo_ >= mw else ("#e0a030" if hi_ > rw else "#9aa5b1"),
        title="Scored pairs by match weight",
        x_label="match weight (log2 odds)",
    )
    lead = (
        '<p class="lead">Every scored candidate pair by Splink match weight. Pairs right of '
        "the match line are linked automatically; pairs between the review and match lines "
        "go to the review queue; the rest stay apart.</p>"
    )
    legend = _legend([("#9aa5b1", "kept apart"), ("#e0a030", "review band"), ("#1e7b3c", "linked")])
    return lead + legend + chart


def _lk_clusters(sizes: pl.DataFrame) -> str:
    if sizes.height == 0:
        return '<p class="empty">No records.</p>'
    edges = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, None)]
    label = pl.lit(None, dtype=pl.String)
    for a, b in reversed(edges):
        cond = pl.col("size") >= a if b is None else pl.col("size").is_between(a, b)
        label = pl.when(cond).then(pl.lit(_size_label(a, b))).otherwise(label)
    dist = dict(
        (k, (int(c), int(r)))
        for k, c, r in sizes.group_by(label.alias("bucket"))
        .agg(pl.len(), pl.col("size").sum())
        .iter_rows()
    )
    labels = [_size_label(a, b) for a, b in edges]
    while labels and labels[-1] not in dist and len(labels) > 5:
        labels.pop()
    total_c = sum(c for c, _ in dist.values())
    total_r = sum(r for _, r in dist.values())
    chart = _svg_columns(
        labels,
        [dist.get(lb, (0, 0))[0] for lb in labels],
        color="#4e79a7",
        title="Golden customers by number of records",
        x_label="records per golden customer",
    )
    head = _thead(
        ["Records per customer", "Golden customers", "Share", "Records", "Share"], num_from=1
    )
    body = "".join(
        "<tr>"
        + _td(_e(lb))
        + _td(_int(dist.get(lb, (0, 0))[0]), num=True)
        + _td(_pct(dist.get(lb, (0, 0))[0] / total_c if total_c else None), num=True)
        + _td(_int(dist.get(lb, (0, 0))[1]), num=True)
        + _td(_pct(dist.get(lb, (0, 0))[1] / total_r if total_r else None), num=True)
        + "</tr>"
        for lb in labels
    )
    return chart + _table(head, body, narrow=True)


def _size_label(a: int, b: int | None) -> str:
    return f"{a}+" if b is None else (str(a) if a == b else f"{a}–{b}")


def _lk_overlap(combos, matrix, sources, colors) -> str:
    if not sources:
        return '<p class="empty">No records.</p>'
    top = combos[:TOP_COMBINATIONS]
    rest = sum(n for _, n in combos[TOP_COMBINATIONS:])
    labels = [c for c, _ in top] + (["other combinations"] if rest else [])
    values = {(c, "golden customers"): n for c, n in top}
    if rest:
        values[("other combinations", "golden customers")] = rest
    chart = _svg_hbars(
        labels,
        ["golden customers"],
        values,
        {"golden customers": "#4e79a7"},
        title="Golden customers by combination of sources",
        legend=False,
    )
    total = sum(n for _, n in combos)
    head = _thead(["Sources", "Golden customers", "Share"], num_from=1)
    body = "".join(
        "<tr>"
        + _td(_e(lb))
        + _td(_int(n), num=True)
        + _td(_pct(n / total if total else None), num=True)
        + "</tr>"
        for lb, n in ([*top, ("other combinations", rest)] if rest else top)
    )
    biggest = max((matrix[(s, s)] for s in sources), default=0) or 1
    mhead = _thead(["", *sources], num_from=1)
    mbody = []
    for a in sources:
        cells = []
        for b in sources:
            n = matrix.get((a, b), 0)
            share = n / matrix[(a, a)] if matrix.get((a, a)) else None
            tip = (
                f"{a}: {n:,} golden customers"
                if a == b
                else f"{n:,} golden customers in both {a} and {b} ({_pct(share)} of {a}'s)"
            )
            style = f"background:{_blue(n / biggest)}"
            cls = "num heat diag" if a == b else "num heat"
            cells.append(f'<td class="{cls}" style="{style}" title="{_e(tip)}">{_int(n)}</td>')
        mbody.append("<tr>" + _td(_swatch(colors[a]) + _e(a)) + "".join(cells) + "</tr>")
    return (
        '<p class="lead">How many golden customers have records in each combination of '
        "sources. A customer seen in CRM and billing only counts under “crm + billing”.</p>"
        + chart
        + _table(head, body, narrow=True)
        + "<h3>Source × source</h3>"
        + '<p class="lead">Golden customers seen in both sources; the diagonal is the number '
        "of golden customers with at least one record in that source.</p>"
        + _table(mhead, "".join(mbody))
    )


def _lk_review(m: dict) -> str:
    return (
        _cards(
            [
                (
                    "Review queue",
                    _int(m["review_queue_size"]),
                    "pairs awaiting a decision",
                    "warn" if m["review_queue_size"] else "ok",
                ),
                (
                    "Review band",
                    _int(m["pairs_in_review_band"]),
                    f"pairs with {m['review_threshold']:g} ≤ p < {m['match_threshold']:g}",
                    None,
                ),
            ]
        )
        + '<p class="note">Pairs in the review band were not linked automatically. A steward '
        "decision on each is recorded and applied on the next run.</p>"
    )


def _lk_accuracy(accuracy: dict | None, match_threshold: float) -> str:
    if not accuracy:
        return (
            '<p class="lead">Accuracy was not measured: no labels (known true matches) were '
            "given for this run.</p>"
        )
    names = {
        "precision": "Precision",
        "recall": "Recall",
        "f1": "F1",
        "records": "Records scored",
        "true_pairs": "True pairs",
        "predicted_pairs": "Predicted pairs",
        "true_positives": "True positives",
        "threshold": "Threshold",
    }
    head = _thead(["Measure", "Value"], num_from=1)
    body = []
    for k, v in accuracy.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        shown = (
            _pct(v, 2)
            if k in ("precision", "recall", "f1")
            else (_int(v) if isinstance(v, int) else f"{v:g}")
        )
        body.append("<tr>" + _td(_e(names.get(k, k))) + _td(shown, num=True) + "</tr>")
    out = (
        '<p class="lead">Pairwise precision, recall and F1 of the clustering against the '
        "given labels (records in both).</p>" + _table(head, "".join(body), narrow=True)
    )
    curve = accuracy.get("curve")
    if curve:
        pts = sorted(
            (
                (float(c["recall"]), float(c["precision"]), float(c["threshold"]))
                for c in curve
                if c.get("recall") is not None and c.get("precision") is not None
            ),
            key=lambda t: t[2],
        )
        out += "<h3>Precision–recall curve</h3>" + _svg_pr_curve(pts, match_threshold)
    return out


# --------------------------------------------------------------------------------------------
# Markdown for Dagster metadata


def metadata_markdown(metrics: dict) -> str:
    """A compact markdown summary of report metrics, for Dagster asset metadata."""
    if metrics.get("kind") == "linkage":
        acc = metrics.get("accuracy") or {}
        lines = [
            f"**Linkage** · run `{metrics.get('run_id', '')}`",
            "",
            "| figure | value |",
            "|---|--:|",
            f"| records | {_int(metrics.get('records'))} |",
            f"| golden customers | {_int(metrics.get('golden_customers'))} |",
            f"| multi-record customers | {_int(metrics.get('multi_record_customers'))} |",
            f"| multi-source customers | {_int(metrics.get('multi_source_customers'))} |",
            f"| largest cluster | {_int(metrics.get('largest_cluster'))} |",
            f"| pairs scored | {_int(metrics.get('pairs_scored'))} |",
            f"| pairs ≥ match threshold | {_int(metrics.get('pairs_above_match_threshold'))} |",
            f"| review queue | {_int(metrics.get('review_queue_size'))} |",
        ]
        for k in ("precision", "recall", "f1"):
            if acc.get(k) is not None:
                lines.append(f"| {k} | {_pct(acc[k], 2)} |")
        return "\n".join(lines)

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
            f"| {s} | {_int(m.get('rows'))} | {_int(m.get('accepted'))} | "
            f"{_int(m.get('quarantined'))} | {_pct(m.get('mean_completeness'))} | "
            f"{_int(m.get('checks_failed'))} |"
        )
    lines.append(
        f"| **total** | {_int(t.get('rows'))} | {_int(t.get('accepted'))} | "
        f"{_int(t.get('quarantined'))} | | {_int(t.get('checks_failed'))} |"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Masking of free text and raw rows

EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+'\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
NAME_KEY = re.compile(r"name|surname|nombre|apellido", re.I)
ADDRESS_KEY = re.compile(r"addr|street|calle|direcc|line", re.I)
WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def _mask_digits(text: str, keep: int = 2) -> str:
    """Hide every digit but the last `keep`, when there are at least four of them."""
    digits = sum(ch.isdigit() for ch in text)
    if digits < 4:
        return text
    seen, out = 0, []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_text(text: str) -> str:
    """Emails as m***@gmail.com and long digit runs mostly hidden, in any text."""
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return re.sub(r"[\d][\d\s\-./()]{2,}[\d]", lambda m: _mask_digits(m.group(0)), text)


def _mask_words(text: str) -> str:
    return WORD.sub(lambda m: m.group(0)[0] + "***", text)


def _mask_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return _mask_text(json.dumps(value, ensure_ascii=False, default=str))
    masked = _mask_text(value)
    if "@" in value:
        return masked
    if NAME_KEY.search(key) or ADDRESS_KEY.search(key):
        return _mask_digits(_mask_words(masked), keep=0)
    return _mask_digits(masked)


def mask_raw(raw: str | None, limit: int = 240) -> str:
    """A quarantined row's raw text with personal data masked, shortened to `limit` chars.

    A JSON object is masked value by value (names and addresses down to initials, emails to
    m***@domain, digits all but the last two). Any other text (a broken CSV line) is masked
    cell by cell the same way, since there is no column name to go by.
    """
    if raw is None:
        return ""
    text: str
    try:
        parsed = json.loads(raw)
    except (ValueError, TypeError):
        parsed = None
    if isinstance(parsed, dict):
        masked = {k: _mask_value(str(k), v) for k, v in parsed.items()}
        text = json.dumps(masked, ensure_ascii=False)
    else:
        parts = re.split(r"([,;\t|])", raw)
        text = "".join(p if re.fullmatch(r"[,;\t|]", p) else _mask_cell(p) for p in parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mask_cell(cell: str) -> str:
    if "@" in cell:
        return _mask_text(cell)
    stripped = cell.strip().strip('"')
    if len(stripped) <= 3 and stripped.isalpha():  # country codes, flags
        return cell
    return _mask_words(_mask_digits(cell))


# --------------------------------------------------------------------------------------------
# HTML building blocks

CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f3f5f8;--card:#fff;--accent:#2f5d8a;
--ok:#1e7b3c;--warn:#9a5b00;--err:#b42318}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--ink);background:var(--bg)}
header{background:#1d3557;color:#fff;padding:22px 32px 18px}
header h1{margin:0;font-size:22px;font-weight:600;letter-spacing:.01em}
header .meta{color:#c5d3e3;font-size:13px;margin-top:4px}
header .meta code{color:#fff}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);
padding:8px 32px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
nav a{color:var(--accent);text-decoration:none;margin-right:20px;font-size:13px;font-weight:500}
nav a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:24px 32px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:20px 24px 22px;margin-bottom:22px;scroll-margin-top:48px}
h2{font-size:18px;margin:0 0 10px;font-weight:600}
h3{font-size:12px;margin:22px 0 8px;color:var(--muted);text-transform:uppercase;
letter-spacing:.06em;font-weight:600}
p.lead{color:var(--muted);margin:0 0 14px;max-width:80ch}
p.note{color:var(--muted);font-size:12px;margin:10px 0 0;max-width:90ch}
p.empty{color:var(--muted);font-style:italic;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:12px;
margin:0 0 18px}
.card{border:1px solid var(--line);border-left:4px solid #9aa5b1;border-radius:6px;
padding:10px 14px}
.card.ok{border-left-color:var(--ok)}.card.warn{border-left-color:#e0a030}
.card.err{border-left-color:var(--err)}
.card .k{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
.card .v{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums;line-height:1.3}
.card .s{color:var(--muted);font-size:12px}
.table-wrap{overflow-x:auto;margin:0 0 4px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.narrow{width:auto;min-width:420px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:#f8f9fb;white-space:nowrap;
border-bottom:2px solid var(--line)}
th.num,td.num{text-align:right;white-space:nowrap}
tbody tr:hover td{filter:brightness(.97)}
tr.total td{font-weight:600;border-top:2px solid var(--line);background:#f8f9fb}
tr.failed td{background:#fff8f7}
td.heat{font-weight:500;color:#1f2933;border:2px solid #fff;border-width:0 2px 2px 0}
td.diag{font-weight:700}
td.observed{max-width:260px;overflow-wrap:anywhere;font-size:12px}
.sub{color:var(--muted);font-size:12px;font-weight:400}
.muted{color:#9aa5b1}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
code.raw{display:block;max-width:520px;white-space:pre-wrap;overflow-wrap:anywhere;
color:#3e4c59}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:700;
letter-spacing:.04em}
.b-pass{background:#dcf3e3;color:var(--ok)}.b-fail{background:#fde3e1;color:var(--err)}
.b-error{background:#fbe4e4;color:#8a1c1c}.b-warn{background:#fff1d6;color:var(--warn)}
.b-new{background:#e3ecf7;color:var(--accent)}
.fail{color:var(--err);font-weight:600}
.delta{font-size:12px;margin-left:6px;font-weight:600}
.delta.up{color:var(--ok)}.delta.down{color:var(--err)}.delta.flat{color:#9aa5b1}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:7px;
vertical-align:0}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;font-size:12px;
color:var(--muted);margin:0 0 10px}
.scale{display:inline-block;width:160px;height:10px;border-radius:2px;vertical-align:-1px;
margin:0 6px}
svg.chart{display:block;width:100%;height:auto;margin:18px 0 14px;font-family:inherit}
svg.chart text{font-size:12px;fill:#3e4c59}
svg.chart .axis{stroke:#9aa5b1;stroke-width:1}
svg.chart .grid{stroke:#e4e7eb;stroke-width:1}
svg.chart .title{font-size:13px;font-weight:600;fill:#1f2933}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 0 28px}
@media print{nav{display:none}section{break-inside:avoid}}
"""


def _page(*, title: str, run_id: str, generated_at: datetime, sections) -> str:
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "".join(
        f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>'
        for sid, name, content in sections
    )
    when = generated_at.isoformat(sep=" ", timespec="seconds")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · {_e(run_id)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>whiteglove · {_e(title)}</h1>"
        f'<div class="meta">Run <code>{_e(run_id)}</code> · generated {_e(when)} · '
        "personal data masked</div></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        "<footer>Self-contained report: no scripts, no external resources.</footer>"
        "</body></html>\n"
    )


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _int(n: Any) -> str:
    if n is None:
        return "—"
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return _e(n)


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def _pct_value(x: Any) -> str:
    """A percentage already expressed in 0-100 (Great Expectations' unexpected_percent)."""
    if x is None:
        return "—"
    try:
        return f"{float(x):.2f}%"
    except (TypeError, ValueError):
        return _e(x)


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def _observed(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = _mask_text(text)
    return text if len(text) <= 80 else text[:79] + "…"


def _basename(path: str | None) -> str | None:
    return None if path is None else re.split(r"[\\/]", str(path))[-1]


def _field_label(field: str) -> str:
    kind = "" if field in IDENTITY_FIELDS else ' <span class="sub">attribute</span>'
    return f"<code>{_e(field)}</code>{kind}"


def _td(content: str, *, num: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    return f'<td class="{classes}">{content}</td>' if classes else f"<td>{content}</td>"


def _thead(headers: list[str], *, num_from: int = 99, num_to: int = 999) -> str:
    cells = "".join(
        f'<th class="num">{_e(h)}</th>' if num_from <= i <= num_to else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _table(head: str, body: str, *, narrow: bool = False) -> str:
    cls = ' class="narrow"' if narrow else ""
    return f'<div class="table-wrap"><table{cls}>{head}<tbody>{body}</tbody></table></div>'


def _cards(items: list[tuple[str, str, str, str | None]]) -> str:
    out = []
    for key, value, sub, tone in items:
        cls = f"card {tone}" if tone else "card"
        out.append(
            f'<div class="{cls}"><div class="k">{_e(key)}</div><div class="v">{value}</div>'
            f'<div class="s">{_e(sub)}</div></div>'
        )
    return f'<div class="cards">{"".join(out)}</div>'


def _fail_count(n: int | None) -> str:
    return f'<span class="fail">{_int(n)}</span>' if n else _int(n)


def _swatch(color: str) -> str:
    return f'<span class="swatch" style="background:{color}"></span>'


def _legend(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(f"<span>{_swatch(c)}{_e(label)}</span>" for c, label in items)
        + "</div>"
    )


# Completeness colour scale: red (empty) through amber to green (complete).
SCALE = [
    (0.0, (232, 119, 107)),
    (0.5, (246, 178, 107)),
    (0.8, (251, 227, 146)),
    (0.95, (196, 228, 160)),
    (1.0, (142, 206, 152)),
]


def _heat(x: float) -> str:
    x = min(max(x, 0.0), 1.0)
    for (a, ca), (b, cb) in zip(SCALE, SCALE[1:], strict=False):
        if x <= b:
            t = (x - a) / (b - a) if b > a else 0
            r, g, bl = (round(ca[i] + (cb[i] - ca[i]) * t) for i in range(3))
            return f"#{r:02x}{g:02x}{bl:02x}"
    r, g, bl = SCALE[-1][1]
    return f"#{r:02x}{g:02x}{bl:02x}"


def _blue(x: float) -> str:
    x = min(max(x, 0.0), 1.0)
    lo, hi = (247, 250, 253), (107, 160, 212)
    r, g, b = (round(lo[i] + (hi[i] - lo[i]) * x) for i in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def _heat_td(x: float | None, *, extra: str = "", title: str = "") -> str:
    if x is None:
        return '<td class="num"><span class="muted">—</span></td>'
    tip = f' title="{_e(title)}"' if title else ""
    return f'<td class="num heat" style="background:{_heat(x)}"{tip}>{_pct(x)}{extra}</td>'


def _scale_legend() -> str:
    stops = ",".join(f"{_heat(p)} {p * 100:.0f}%" for p, _ in SCALE)
    return (
        '<div class="legend">Colour scale: 0%'
        f'<span class="scale" style="background:linear-gradient(90deg,{stops})"></span>100%'
        "</div>"
    )


# --------------------------------------------------------------------------------------------
# Inline SVG charts

CHART_W = 880


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> tuple[float, float]:
    """An axis maximum >= value and a round tick step (1, 2, 2.5 or 5 x 10^k)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return math.ceil(value / step) * step, step


def _fmt_tick(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:,.0f}" if v == int(v) else f"{v:g}"


def _svg(width: int, height: float, title: str, inner: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} '
        f'{_f(height)}" style="max-width:{width}px" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>{inner}</svg>"
    )


def _svg_legend(series: list[str], colors: dict, x: float, y: float) -> str:
    out, cx = [], x
    for s in series:
        out.append(
            f'<rect x="{_f(cx)}" y="{_f(y - 9)}" width="10" height="10" rx="2" '
            f'fill="{colors[s]}"/><text x="{_f(cx + 15)}" y="{_f(y)}">{_e(s)}</text>'
        )
        cx += 30 + 7.2 * len(s)
    return "".join(out)


def _svg_grouped_bars(rows: list[str], series: list[str], values: dict, colors: dict, title: str):
    """One group of thin horizontal bars per row (field), one bar per series (source), 0-100%."""
    n = max(len(series), 1)
    bar_h = max(3.0, min(9.0, 24 / n))
    row_h = n * (bar_h + 1) + 10
    left, right, top = 170, 60, 52
    plot_w = CHART_W - left - right
    bottom = top + row_h * len(rows)

    def x(v: float) -> float:
        return left + v * plot_w

    parts = [
        f'<text class="title" x="0" y="16">{_e(title)}</text>',
        _svg_legend(series, colors, left, 38),
    ]
    for i in range(len(rows)):
        if i % 2 == 0:
            parts.append(
                f'<rect x="{left - 160}" y="{_f(top + i * row_h)}" width="{plot_w + 160 + right}" '
                f'height="{_f(row_h)}" fill="#f7f9fb"/>'
            )
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line class="grid" x1="{_f(x(t))}" y1="{top}" x2="{_f(x(t))}" y2="{_f(bottom)}"/>'
            f'<text x="{_f(x(t))}" y="{_f(bottom + 18)}" text-anchor="middle">{t * 100:.0f}%</text>'
        )
    for i, row in enumerate(rows):
        y0 = top + i * row_h + 5
        parts.append(
            f'<text x="{left - 12}" y="{_f(top + i * row_h + row_h / 2 + 4)}" '
            f'text-anchor="end">{_e(row)}</text>'
        )
        for k, s in enumerate(series):
            v = values.get((row, s))
            y = y0 + k * (bar_h + 1)
            if v is None:
                continue
            parts.append(
                f'<rect x="{left}" y="{_f(y)}" width="{_f(max(v * plot_w, 1.5))}" '
                f'height="{_f(bar_h)}" fill="{colors[s]}">'
                f"<title>{_e(s)} · {_e(row)}: {_pct(v)}</title></rect>"
            )
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{_f(bottom)}"/>')
    return _svg(CHART_W, bottom + 30, title, "".join(parts))


def _svg_hbars(
    labels: list[str],
    series: list[str],
    values: dict,
    colors: dict,
    title: str,
    legend: bool = True,
) -> str:
    if not labels:
        return ""
    label_w = min(340, max(120, 7 * max(len(lb) for lb in labels) + 16))
    left, right, bar_h, gap = label_w, 70, 18, 8
    top = 52 if legend and len(series) > 1 else 32
    plot_w = CHART_W - left - right
    totals = [sum(values.get((lb, s), 0) for s in series) for lb in labels]
    vmax, step = _nice_max(max(totals) if totals else 0)
    height = top + (bar_h + gap) * len(labels) + 30
    bottom = top + (bar_h + gap) * len(labels)

    def x(v: float) -> float:
        return left + v / vmax * plot_w

    parts = [f'<text class="title" x="0" y="16">{_e(title)}</text>']
    if legend and len(series) > 1:
        parts.append(_svg_legend(series, colors, left, 38))
    t = 0.0
    while t <= vmax + 1e-9:
        parts.append(
            f'<line class="grid" x1="{_f(x(t))}" y1="{top - 4}" x2="{_f(x(t))}" y2="{bottom}"/>'
            f'<text x="{_f(x(t))}" y="{bottom + 16}" text-anchor="middle">{_fmt_tick(t)}</text>'
        )
        t += step
    for i, lb in enumerate(labels):
        y = top + i * (bar_h + gap)
        shown = lb if len(lb) <= 48 else lb[:47] + "…"
        parts.append(
            f'<text x="{left - 10}" y="{_f(y + bar_h / 2 + 4)}" text-anchor="end">'
            f"{_e(shown)}<title>{_e(lb)}</title></text>"
        )
        cx = left
        for s in series:
            v = values.get((lb, s), 0)
            if not v:
                continue
            w = v / vmax * plot_w
            parts.append(
                f'<rect x="{_f(cx)}" y="{y}" width="{_f(max(w, 1))}" height="{bar_h}" '
                f'fill="{colors[s]}"><title>{_e(lb)} · {_e(s)}: {v:,}</title></rect>'
            )
            cx += w
        parts.append(f'<text x="{_f(cx + 6)}" y="{_f(y + bar_h / 2 + 4)}">{totals[i]:,}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}"/>')
    return _svg(CHART_W, height, title, "".join(parts))


def _svg_columns(labels, values, *, color: str, title: str, x_label: str) -> str:
    left, right, top, plot_h = 56, 20, 34, 200
    plot_w = CHART_W - left - right
    vmax, step = _nice_max(max(values) if values else 0)
    n = max(len(labels), 1)
    slot = plot_w / n
    bw = min(slot * 0.7, 80)
    bottom = top + plot_h
    parts = [f'<text class="title" x="0" y="16">{_e(title)}</text>']
    t = 0.0
    while t <= vmax + 1e-9:
        y = bottom - t / vmax * plot_h
        parts.append(
            f'<line class="grid" x1="{left}" y1="{_f(y)}" x2="{CHART_W - right}" y2="{_f(y)}"/>'
            f'<text x="{left - 8}" y="{_f(y + 4)}" text-anchor="end">{_fmt_tick(t)}</text>'
        )
        t += step
    for i, (lb, v) in enumerate(zip(labels, values, strict=True)):
        cx = left + slot * i + slot / 2
        h = v / vmax * plot_h
        parts.append(
            f'<rect x="{_f(cx - bw / 2)}" y="{_f(bottom - h)}" width="{_f(bw)}" '
            f'height="{_f(h)}" fill="{color}" rx="2"><title>{_e(lb)}: {v:,}</title></rect>'
            f'<text x="{_f(cx)}" y="{_f(bottom + 16)}" text-anchor="middle">{_e(lb)}</text>'
        )
        if v:
            parts.append(
                f'<text x="{_f(cx)}" y="{_f(bottom - h - 5)}" text-anchor="middle">{v:,}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{CHART_W - right}" y2="{bottom}"/>'
        f'<text x="{_f(left + plot_w / 2)}" y="{bottom + 36}" text-anchor="middle">'
        f"{_e(x_label)}</text>"
    )
    return _svg(CHART_W, bottom + 44, title, "".join(parts))


def _svg_histogram(bins, *, markers, color, title: str, x_label: str) -> str:
    left, right, top, plot_h = 56, 20, 40, 220
    plot_w = CHART_W - left - right
    lo, hi = bins[0][0], bins[-1][1]
    vmax, step = _nice_max(max(c for _, _, c in bins))
    bottom = top + plot_h

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    parts = [f'<text class="title" x="0" y="16">{_e(title)}</text>']
    t = 0.0
    while t <= vmax + 1e-9:
        y = bottom - t / vmax * plot_h
        parts.append(
            f'<line class="grid" x1="{left}" y1="{_f(y)}" x2="{CHART_W - right}" y2="{_f(y)}"/>'
            f'<text x="{left - 8}" y="{_f(y + 4)}" text-anchor="end">{_fmt_tick(t)}</text>'
        )
        t += step
    for a, b, c in bins:
        if not c:
            continue
        h = max(c / vmax * plot_h, 1)
        parts.append(
            f'<rect x="{_f(x(a) + 0.5)}" y="{_f(bottom - h)}" width="{_f(x(b) - x(a) - 1)}" '
            f'height="{_f(h)}" fill="{color(a, b)}">'
            f"<title>weight {a:.1f} to {b:.1f}: {c:,} pairs</title></rect>"
        )
    span = hi - lo
    tick = next(s for s in (1, 2, 5, 10, 20, 50, 100) if span / s <= 12)
    v = math.ceil(lo / tick) * tick
    while v <= hi:
        parts.append(
            f'<line class="axis" x1="{_f(x(v))}" y1="{bottom}" x2="{_f(x(v))}" '
            f'y2="{bottom + 4}"/><text x="{_f(x(v))}" y="{bottom + 17}" '
            f'text-anchor="middle">{v:g}</text>'
        )
        v += tick
    for i, (mv, label, mcolor) in enumerate(sorted(markers)):
        mx = x(mv)
        anchor = "end" if i == 0 and len(markers) > 1 else "start"
        dx = -5 if anchor == "end" else 5
        parts.append(
            f'<line x1="{_f(mx)}" y1="{top - 6}" x2="{_f(mx)}" y2="{bottom}" stroke="{mcolor}" '
            f'stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{_f(mx + dx)}" y="{top + 6}" text-anchor="{anchor}" fill="{mcolor}" '
            f'style="fill:{mcolor};font-weight:600">{_e(label)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{CHART_W - right}" y2="{bottom}"/>'
        f'<text x="{_f(left + plot_w / 2)}" y="{bottom + 36}" text-anchor="middle">'
        f"{_e(x_label)}</text>"
    )
    return _svg(CHART_W, bottom + 44, title, "".join(parts))


def _svg_pr_curve(points: list[tuple[float, float, float]], match_threshold: float) -> str:
    size, left, top, bottom_pad = 360, 56, 30, 46
    width = left + size + 200
    bottom = top + size

    # Zoom each axis to the data (in steps of 0.1) so a curve hugging 1.0 stays readable.
    x0 = min([0.9, *(math.floor(r * 10) / 10 for r, _, _ in points)])
    y0 = min([0.9, *(math.floor(p * 10) / 10 for _, p, _ in points)])

    def x(v: float) -> float:
        return left + (v - x0) / (1 - x0) * size

    def y(v: float) -> float:
        return bottom - (v - y0) / (1 - y0) * size

    title = "Precision against recall, by threshold"
    parts = [f'<text class="title" x="0" y="16">{_e(title)}</text>']
    for i in range(5):
        tx, ty = x0 + (1 - x0) * i / 4, y0 + (1 - y0) * i / 4
        parts.append(
            f'<line class="grid" x1="{_f(x(tx))}" y1="{top}" x2="{_f(x(tx))}" y2="{bottom}"/>'
            f'<line class="grid" x1="{left}" y1="{_f(y(ty))}" x2="{left + size}" '
            f'y2="{_f(y(ty))}"/>'
            f'<text x="{_f(x(tx))}" y="{bottom + 17}" text-anchor="middle">{tx:.3g}</text>'
            f'<text x="{left - 8}" y="{_f(y(ty) + 4)}" text-anchor="end">{ty:.3g}</text>'
        )
    if points:
        path = " ".join(f"{_f(x(r))},{_f(y(p))}" for r, p, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#4e79a7" stroke-width="2.5"/>')
        closest = min(points, key=lambda pt: abs(pt[2] - match_threshold))
        for r, p, t in points:
            hit = (r, p, t) == closest
            parts.append(
                f'<circle cx="{_f(x(r))}" cy="{_f(y(p))}" r="{6 if hit else 3.5}" '
                f'fill="{"#e15759" if hit else "#4e79a7"}" stroke="#fff" stroke-width="1">'
                f"<title>threshold {t:g}: precision {p:.3f}, recall {r:.3f}</title></circle>"
            )
        r, p, t = closest
        parts.append(
            f'<text x="{left + size + 16}" y="{top + 20}" style="font-weight:600">'
            f"At threshold {t:g}</text>"
            f'<text x="{left + size + 16}" y="{top + 40}">precision {p:.3f}</text>'
            f'<text x="{left + size + 16}" y="{top + 58}">recall {r:.3f}</text>'
            f'<circle cx="{left + size + 22}" cy="{top + 78}" r="6" fill="#e15759"/>'
            f'<text x="{left + size + 34}" y="{top + 82}">match threshold</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{left + size}" y2="{bottom}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>'
        f'<text x="{_f(left + size / 2)}" y="{bottom + 36}" text-anchor="middle">recall</text>'
        f'<text transform="translate(14 {_f(top + size / 2)}) rotate(-90)" text-anchor="middle">'
        "precision</text>"
    )
    return _svg(width, bottom + bottom_pad, title, "".join(parts))
