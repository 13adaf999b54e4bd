"""The figures the reports show, as plain dicts and frames: no HTML here.

All figures are computed with Polars expressions; Python loops only run over the handful of
sources, fields, bins and sample rows that end up on the page.

Only values read from the data are masked (`whiteglove.masking`): a quarantined row's raw
text and the unexpected values an expectation quotes. Counts and rates are figures, never
personal data; expectation descriptions and quarantine reasons are written by the program or
the suite's author, so they are shown as written.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import polars as pl

from whiteglove.masking import mask_data, mask_raw
from whiteglove.metrics import cluster_figures, cluster_sizes, nulled_field_warnings
from whiteglove.schema import CANONICAL_FIELDS, IDENTITY_FIELDS, RECORD_BOOKKEEPING_COLUMNS

PROFILE_SCHEMA = {
    "source": pl.String,
    "field": pl.String,
    "rows": pl.Int64,
    "non_null": pl.Int64,
    "completeness": pl.Float64,
    "invalid_nulled": pl.Int64,
    "validity": pl.Float64,
    "distinct": pl.Int64,
    "defaulted": pl.Int64,
}
# Fields the standard suites validate: shown under Validity even when nothing was nulled.
VALIDATED_FIELDS = {"email", "phone", "date_of_birth", "postcode", "national_id"}
QUARANTINE_SAMPLE = 20
TOP_REASONS = 12
OTHER_REASONS = "other reasons"
OBSERVED_LIMIT = 80
TOP_COMBINATIONS = 15
OTHER_COMBINATIONS = "other combinations"
HISTOGRAM_BINS = 40
CLUSTER_SIZES = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, None)]


# --------------------------------------------------------------------------------------------
# Profiling


def profile_source(standardized: pl.DataFrame, source: str) -> pl.DataFrame:
    """Completeness, validity and distinct counts of every field of one source's accepted rows.

    One row per canonical identity field present in the frame, then per attribute column:
    source, field, rows, non_null, completeness (0-1, of the values the source gave: a value
    filled from the sources file's defaults is not one), invalid_nulled (accepted rows whose
    `_invalid` names the field), validity (non_null / (non_null + invalid_nulled); null when
    there was nothing to judge), distinct (non-null distinct values) and defaulted (values
    filled from defaults, `_defaulted`).
    """
    frame = standardized
    if "_reasons" in frame.columns:
        frame = frame.filter(pl.col("_reasons").list.len().fill_null(0) == 0)
    identity = [f for f in CANONICAL_FIELDS if f in frame.columns]
    attributes = [
        c
        for c in frame.columns
        if c not in RECORD_BOOKKEEPING_COLUMNS and c not in identity and not c.startswith("_")
    ]
    fields = identity + attributes
    if not fields:
        return pl.DataFrame(schema=PROFILE_SCHEMA)

    stats = frame.select(
        *[pl.col(f).count().alias(f"nn:{f}") for f in fields],
        *[pl.col(f).drop_nulls().n_unique().alias(f"nd:{f}") for f in fields],
    ).row(0, named=True)
    invalid, defaulted = _named_fields(frame, "_invalid"), _named_fields(frame, "_defaulted")

    rows = frame.height
    out = pl.DataFrame(
        {
            "source": [source] * len(fields),
            "field": fields,
            "rows": [rows] * len(fields),
            "non_null": [stats[f"nn:{f}"] for f in fields],
            "invalid_nulled": [invalid.get(f, 0) for f in fields],
            "distinct": [stats[f"nd:{f}"] for f in fields],
            "defaulted": [defaulted.get(f, 0) for f in fields],
        },
        schema_overrides={
            k: PROFILE_SCHEMA[k] for k in ("rows", "non_null", "invalid_nulled", "defaulted")
        },
    )
    judged = pl.col("non_null") + pl.col("invalid_nulled")
    given = pl.col("non_null") - pl.col("defaulted")
    return out.with_columns(
        pl.when(pl.col("rows") > 0).then(given / pl.col("rows")).alias("completeness"),
        pl.when(judged > 0).then(pl.col("non_null") / judged).alias("validity"),
        pl.col("distinct").cast(pl.Int64),
    ).select(list(PROFILE_SCHEMA))


def _named_fields(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per field named in a list column such as `_invalid`."""
    if column not in frame.columns:
        return {}
    counts = (
        frame.select(pl.col(column).list.unique().explode().alias("field"))
        .drop_nulls()
        .group_by("field")
        .len()
    )
    return dict(counts.iter_rows())


# --------------------------------------------------------------------------------------------
# Data quality


def report_header(kind: str, run_id: str, generated_at: datetime) -> dict:
    """The first keys of a report's metrics: which report, of which run, when."""
    return {
        "kind": kind,
        "run_id": run_id,
        "generated_at": generated_at.isoformat(timespec="seconds"),
    }


def quality_figures(
    profiles: pl.DataFrame, expectation_results: list[dict], quarantine: pl.DataFrame
) -> dict:
    """Everything the data-quality report shows.

    sources and fields (names in page order); profiles ({(source, field): profile
    row}); validity_fields; outcomes (one dict per expectation, failures first); quarantine
    (reason x source counts and a masked sample); metrics (the JSON-safe summary that is
    stored and passed back next run for trends, after its `report_header`).
    """
    profiles = profiles if profiles.height else pl.DataFrame(schema=PROFILE_SCHEMA)
    sources = unique_in_order(
        profiles["source"].to_list() + quarantine["source"].drop_nulls().unique().sort().to_list()
    )
    fields = unique_in_order(profiles["field"].to_list())
    prof = {(r["source"], r["field"]): r for r in profiles.iter_rows(named=True)}
    reasons = _reason_counts(quarantine)
    outcomes = _outcomes(expectation_results)
    metrics = _quality_metrics(
        sources=sources,
        fields=fields,
        prof=prof,
        accepted=dict(profiles.group_by("source").agg(pl.col("rows").max()).iter_rows()),
        quarantined=dict(quarantine.group_by("source").len().iter_rows()),
        reasons=reasons,
        outcomes=outcomes,
    )
    metrics["nulled_fields"] = nulled_field_warnings(
        profiles.filter(pl.col("field").is_in(IDENTITY_FIELDS)).select(
            "source",
            "field",
            pl.col("non_null").alias("kept"),
            pl.col("invalid_nulled").alias("nulled"),
        )
    )
    return {
        "sources": sources,
        "fields": fields,
        "profiles": prof,
        "validity_fields": [
            f
            for f in fields
            if any((s, f) in prof for s in sources)
            and (
                f in VALIDATED_FIELDS
                or any(prof.get((s, f), {}).get("invalid_nulled") for s in sources)
            )
        ],
        "outcomes": _failures_first(outcomes),
        "quarantine": _quarantine_figures(quarantine, reasons, sources),
        "metrics": metrics,
    }


def unique_in_order(values: list) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def _outcomes(expectation_results: list[dict]) -> list[dict]:
    """Every expectation outcome with its suite and stage, in the order the suites gave them."""
    out = []
    for suite in expectation_results or []:
        for o in suite.get("outcomes") or []:
            name = o.get("name") or o.get("expectation_type") or ""
            out.append(
                {
                    "suite": suite.get("suite"),
                    "stage": suite.get("stage"),
                    "name": name,
                    "expectation_type": o.get("expectation_type"),
                    "description": o.get("description"),
                    "column": o.get("column"),
                    "severity": str(o.get("severity") or "ERROR").upper(),
                    "success": bool(o.get("success")),
                    "element_count": o.get("element_count"),
                    "unexpected_count": o.get("unexpected_count"),
                    "unexpected_percent": o.get("unexpected_percent"),
                    "nulled_as_invalid": o.get("nulled_as_invalid") or 0,
                    "mostly": o.get("mostly"),
                    "observed": observed_text(o.get("observed_value")),
                }
            )
    return out


def observed_text(value: Any) -> str:
    """An expectation's observed value as shown: numbers as they are, data values masked.

    A number is a figure GX measured (a row count, a mean). Anything else quotes the data
    (the unexpected values, when a suite opts in to showing them), so it is masked; the counts
    that go with unexpected values stay figures.
    """
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    if isinstance(value, dict) and isinstance(value.get("unexpected_values"), list):
        shown: Any = {
            **mask_data({k: v for k, v in value.items() if k != "unexpected_values"}),
            "unexpected_values": [
                {**u, "value": mask_data(u.get("value"))} if isinstance(u, dict) else mask_data(u)
                for u in value["unexpected_values"]
            ],
        }
    else:
        shown = mask_data(value)
    text = shown if isinstance(shown, str) else json.dumps(shown, default=str, ensure_ascii=False)
    return text if len(text) <= OBSERVED_LIMIT else text[: OBSERVED_LIMIT - 1] + "…"


def _failures_first(outcomes: list[dict]) -> list[dict]:
    rank = {(False, "ERROR"): 0, (False, "WARN"): 1}
    return sorted(outcomes, key=lambda o: rank.get((o["success"], o["severity"]), 2))


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


def _reason_totals(reasons: pl.DataFrame) -> pl.DataFrame:
    return (
        reasons.group_by("reason")
        .agg(pl.col("rows").sum())
        .sort(["rows", "reason"], descending=[True, False])
    )


def _quality_metrics(
    *,
    sources: list[str],
    fields: list[str],
    prof: dict[tuple[str, str], dict],
    accepted: dict[str, int],
    quarantined: dict[str, int],
    reasons: pl.DataFrame,
    outcomes: list[dict],
) -> dict:
    identity = [f for f in fields if f in IDENTITY_FIELDS]
    thresholds = completeness_thresholds(outcomes)
    per_source: dict[str, dict] = {}
    for s in sources:
        acc = int(accepted.get(s, 0) or 0)
        quar = int(quarantined.get(s, 0) or 0)
        checks = [o for o in outcomes if o["suite"] == s]
        mine = {f: prof[(s, f)] for f in fields if (s, f) in prof}
        comp = {f: _round(r["completeness"]) for f, r in mine.items()}
        # a field the source never gives (every value a default) says nothing about it
        given = [f for f in identity if f in mine and mine[f]["defaulted"] < mine[f]["rows"]]
        ident = [comp[f] for f in given if comp.get(f) is not None]
        per_source[s] = {
            "rows": acc + quar,
            "accepted": acc,
            "quarantined": quar,
            "quarantine_rate": _round(quar / (acc + quar)) if acc + quar else None,
            "mean_completeness": _round(sum(ident) / len(ident)) if ident else None,
            "completeness": comp,
            "validity": {f: _round(r["validity"]) for f, r in mine.items()},
            "invalid_nulled": {
                f: int(r["invalid_nulled"]) for f, r in mine.items() if r["invalid_nulled"]
            },
            "checks_passed": sum(o["success"] for o in checks),
            "checks_failed": sum(not o["success"] for o in checks),
            "defaulted": {f: int(r["defaulted"]) for f, r in mine.items() if r["defaulted"]},
            "thresholds": {f: t for (src, f), t in thresholds.items() if src == s},
            "below_threshold": sorted(
                f
                for (src, f), t in thresholds.items()
                if src == s and comp.get(f) is not None and comp[f] < t
            ),
        }
        per_source[s] |= source_score(per_source[s])
    suites: dict[str, dict] = {}
    for o in outcomes:
        d = suites.setdefault(str(o["suite"]), {"passed": 0, "failed": 0, "failed_error": 0})
        d["passed" if o["success"] else "failed"] += 1
        d["failed_error"] += int(not o["success"] and o["severity"] == "ERROR")
    return {
        "totals": {
            **{
                k: sum(p[k] for p in per_source.values())
                for k in ("rows", "accepted", "quarantined")
            },
            "checks_passed": sum(o["success"] for o in outcomes),
            "checks_failed": sum(not o["success"] for o in outcomes),
            "checks_failed_error": sum(
                not o["success"] and o["severity"] == "ERROR" for o in outcomes
            ),
        },
        "sources": per_source,
        "ranking": sorted(per_source, key=lambda s: (per_source[s]["score"], s)),
        "expectations": suites,
        "quarantine_reasons": {
            r: int(n) for r, n in _reason_totals(reasons).head(TOP_REASONS * 2).iter_rows()
        },
    }


# What a source's score weighs, equally: a plain mean a reader can redo from the table.
SCORE_PARTS = {
    "completeness": "mean completeness of the identity fields it gives",
    "validity": "mean share of its given values that passed validation",
    "acceptance": "share of its rows not quarantined",
    "checks": "share of its expectations that passed",
}


def source_score(source: dict) -> dict:
    """A source's data-quality score (0-100) and its parts (0-1), for the ranking.

    Each part is a share where 1 is perfect; a part with nothing to measure (no checks, no
    validated field) counts as 1, so a source is not ranked down for what it lacks. A source
    that gave rows but had none accepted gave nothing usable: its completeness and validity
    count as 0, not as perfect.
    """
    validity = [v for v in source["validity"].values() if v is not None]
    checks = source["checks_passed"] + source["checks_failed"]
    nothing = 1.0 if source["accepted"] or not source["rows"] else 0.0
    parts = {
        "completeness": source["mean_completeness"]
        if source["mean_completeness"] is not None
        else nothing,
        "validity": sum(validity) / len(validity) if validity else nothing,
        "acceptance": 1 - (source["quarantine_rate"] or 0.0),
        "checks": source["checks_passed"] / checks if checks else 1.0,
    }
    score = 100 * sum(parts.values()) / len(parts)
    return {"score": round(score, 1), "score_parts": {k: _round(v) for k, v in parts.items()}}


def completeness_thresholds(outcomes: list[dict]) -> dict[tuple[str, str], float]:
    """(source, field) -> the completeness its suite asks for: the `mostly` of the
    standardized-stage not-null expectation on the field (all values when it sets none)."""
    return {
        (str(o["suite"]), str(o["column"])): float(o["mostly"] if o["mostly"] is not None else 1.0)
        for o in outcomes
        if o["stage"] == "standardized"
        and o["expectation_type"] == "expect_column_values_to_not_be_null"
        and o["column"]
    }


def _quarantine_figures(
    quarantine: pl.DataFrame, reasons: pl.DataFrame, sources: list[str]
) -> dict:
    """rows; sources (those with quarantined rows) and their counts; by_reason (the top reasons
    and the rest as "other reasons", with a count per source and a total); sample (a few rows
    of each source, their raw text masked)."""
    if quarantine.height == 0:
        return {"rows": 0, "sources": [], "counts": [], "by_reason": [], "sample": []}
    by_source = dict(quarantine.group_by("source").len().iter_rows())
    totals = _reason_totals(reasons)["reason"]
    top = set(totals.head(TOP_REASONS).to_list())
    matrix: dict[tuple[str, str], int] = {}
    for s, r, n in reasons.iter_rows():
        key = (r if r in top else OTHER_REASONS, s)
        matrix[key] = matrix.get(key, 0) + int(n)
    labels = totals.head(TOP_REASONS).to_list() + (
        [OTHER_REASONS] if totals.len() > TOP_REASONS else []
    )
    qsources = [s for s in sources if by_source.get(s)]
    by_reason = []
    for label in labels:
        counts = [matrix.get((label, s), 0) for s in qsources]
        by_reason.append({"reason": label, "counts": counts, "total": sum(counts)})

    sample = (
        quarantine.with_row_index("_i")
        .with_columns(pl.int_range(pl.len()).over("source").alias("_k"))
        .sort("_k", "source", "_i")
        .head(QUARANTINE_SAMPLE)
        .sort("source", "row_number")
    )
    return {
        "rows": quarantine.height,
        "sources": qsources,
        "counts": [by_source[s] for s in qsources],
        "by_reason": by_reason,
        "sample": [
            {
                "source": r["source"],
                "row_number": r["row_number"],
                "source_record_id": r.get("source_record_id"),
                "file": _basename(r.get("file")),
                "reasons": r.get("reasons") or [],
                "raw": mask_raw(r.get("raw")),
            }
            for r in sample.iter_rows(named=True)
        ],
    }


def _basename(path: str | None) -> str:
    return "" if path is None else re.split(r"[\\/]", str(path))[-1]


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def change(current: float | None, previous: float | None, *, points: bool = False) -> float | None:
    """current - previous, in percentage points for shares; None when either is missing."""
    if current is None or previous is None:
        return None
    return (current - previous) * (100 if points else 1)


# --------------------------------------------------------------------------------------------
# Linkage


def match_weight(probability: float) -> float:
    """The Splink match weight, log2 odds, of a match probability."""
    p = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def linkage_figures(
    match_pairs: pl.DataFrame,
    xref: pl.DataFrame,
    *,
    thresholds: tuple[float, float],
    review_queue_size: int,
    accuracy: dict | None,
) -> dict:
    """Everything the linkage report shows.

    sources; weight_bins (lo, hi, pairs) of the match-weight histogram; cluster_sizes; the
    source combinations and the source x source overlap; accuracy measures and the
    precision-recall points; metrics (the JSON-safe summary, after its `report_header`).
    thresholds are the match and the review threshold, as match probabilities.
    """
    match_threshold, review_threshold = thresholds
    pairs = match_pairs.select(
        pl.col("match_weight").cast(pl.Float64), pl.col("match_probability").cast(pl.Float64)
    )
    p = pl.col("match_probability")
    pair_stats = pairs.select(
        pl.len().alias("pairs"),
        (p >= match_threshold).sum().alias("above"),
        ((p >= review_threshold) & (p < match_threshold)).sum().alias("review"),
    ).row(0, named=True)
    sizes = cluster_sizes(xref, "golden_id")
    size_stats = cluster_figures(sizes)
    sources = xref["source"].drop_nulls().unique().sort().to_list()
    combinations, overlap = _overlap(xref, sources)
    measures = accuracy_measures(accuracy)
    return {
        "sources": sources,
        "weight_bins": _weight_bins(
            pairs, match_weight(match_threshold), match_weight(review_threshold)
        ),
        "cluster_sizes": _cluster_sizes(sizes),
        "combinations": combinations,
        "overlap": overlap,
        "accuracy": measures,
        "pr_points": _pr_points(accuracy),
        "metrics": {
            "match_threshold": match_threshold,
            "review_threshold": review_threshold,
            "pairs_scored": int(pair_stats["pairs"] or 0),
            "pairs_above_match_threshold": int(pair_stats["above"] or 0),
            "pairs_in_review_band": int(pair_stats["review"] or 0),
            "records": xref.height,
            "golden_customers": size_stats["customers"],
            "multi_record_customers": size_stats["multi_record"],
            "singletons": size_stats["singletons"],
            "largest_cluster": size_stats["largest"],
            "multi_source_customers": size_stats["multi_source"],
            "review_queue_size": int(review_queue_size),
            "golden_per_source": {s: overlap[(s, s)] for s in sources},
            "source_combinations": dict(combinations[: TOP_COMBINATIONS * 2]),
            "accuracy": {k: _round(v) if isinstance(v, float) else v for k, v in measures}
            if accuracy
            else None,
        },
    }


def _weight_bins(
    pairs: pl.DataFrame, match: float, review: float
) -> list[tuple[float, float, int]]:
    """Scored pairs per match-weight bin, over a range that shows both thresholds."""
    w = pairs.filter(pl.col("match_weight").is_finite())
    if w.height == 0:
        return []
    lo, hi = w.select(pl.col("match_weight").min(), pl.col("match_weight").max().alias("hi")).row(0)
    lo, hi = math.floor(min(lo, review, match) - 0.5), math.ceil(max(hi, match, review) + 0.5)
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
    return [
        (lo + i * width, lo + (i + 1) * width, int(counts.get(i, 0))) for i in range(HISTOGRAM_BINS)
    ]


def _cluster_sizes(sizes: pl.DataFrame) -> list[dict]:
    """Golden customers and their records per range of cluster size (1, 2, ... 6-10, 51+)."""
    if sizes.height == 0:
        return []
    bucket = pl.lit(None, dtype=pl.String)
    for a, b in reversed(CLUSTER_SIZES):
        cond = pl.col("size") >= a if b is None else pl.col("size").is_between(a, b)
        bucket = pl.when(cond).then(pl.lit(_size_label(a, b))).otherwise(bucket)
    dist = {
        k: (int(c), int(r))
        for k, c, r in sizes.group_by(bucket.alias("bucket"))
        .agg(pl.len(), pl.col("size").sum())
        .iter_rows()
    }
    labels = [_size_label(a, b) for a, b in CLUSTER_SIZES]
    while labels and labels[-1] not in dist and len(labels) > 5:
        labels.pop()
    customers = sum(c for c, _ in dist.values())
    records = sum(r for _, r in dist.values())
    rows = []
    for label in labels:
        c, r = dist.get(label, (0, 0))
        rows.append(
            {
                "label": label,
                "customers": c,
                "customers_share": c / customers if customers else None,
                "records": r,
                "records_share": r / records if records else None,
            }
        )
    return rows


def _size_label(a: int, b: int | None) -> str:
    return f"{a}+" if b is None else (str(a) if a == b else f"{a}–{b}")


def _overlap(
    xref: pl.DataFrame, sources: list[str]
) -> tuple[list[tuple[str, int]], dict[tuple[str, str], int]]:
    """Golden customers per combination of sources (largest first), and source x source
    co-occurrence (the diagonal: golden customers with a record in that source)."""
    if not sources:
        return [], {}
    flags = xref.group_by("golden_id").agg(
        *[(pl.col("source") == s).any().alias(f"s{i}") for i, s in enumerate(sources)]
    )
    cols = [f"s{i}" for i in range(len(sources))]
    combos = []
    for row in flags.group_by(cols).len().sort("len", descending=True).iter_rows():
        names = [s for s, flag in zip(sources, row[:-1], strict=True) if flag]
        combos.append((" + ".join(names), int(row[-1])))
    counts = flags.select(
        (pl.col(f"s{i}") & pl.col(f"s{j}")).sum().alias(f"{i}:{j}")
        for i in range(len(sources))
        for j in range(i, len(sources))
    ).row(0, named=True)
    matrix = {}
    for key, n in counts.items():
        i, j = map(int, key.split(":"))
        matrix[(sources[i], sources[j])] = matrix[(sources[j], sources[i])] = int(n)
    return combos, matrix


def top_combinations(combinations: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The largest combinations, then the rest summed as "other combinations"."""
    rest = sum(n for _, n in combinations[TOP_COMBINATIONS:])
    return combinations[:TOP_COMBINATIONS] + ([(OTHER_COMBINATIONS, rest)] if rest else [])


def accuracy_measures(accuracy: dict | None) -> list[tuple[str, int | float]]:
    """The numeric measures of an accuracy result (precision, recall, counts...), in order."""
    return [
        (k, v)
        for k, v in (accuracy or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def _pr_points(accuracy: dict | None) -> list[tuple[float, float, float]]:
    """(recall, precision, threshold) of the precision-recall curve, by threshold."""
    return sorted(
        (
            (float(c["recall"]), float(c["precision"]), float(c["threshold"]))
            for c in (accuracy or {}).get("curve") or []
            if c.get("recall") is not None and c.get("precision") is not None
        ),
        key=lambda point: point[2],
    )
