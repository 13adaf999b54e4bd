"""What a run chooses from what its trained model estimates on its own data: the match
threshold, and the fields whose two values in one cluster mean two people; with why.

The model's match probability is its own estimate that a pair is a true match. Over the
scored pairs, the pairs at or above a threshold hold, by that estimate, sum(p) true matches
among their count: an estimated precision; and of all the true matches the scored pairs hold
(sum of every p), that share: an estimated recall. The threshold chosen is the one with the
best estimated F1 on a grid, so data whose true matches score lower (more typos, fewer fields)
gets a lower threshold, and data with many close namesakes a higher one. A threshold set in
the sources file is used as given; its estimates are reported all the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.backends import linking_limits
from whiteglove.linkage.model import disagreement_shares

# Thresholds an estimated one is chosen from: below 0.3 the review band would be empty and
# too many pairs would link on the model's word alone; above 0.9 too few.
THRESHOLD_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))
# Fields a cluster guard may watch: one value per person when the model says so, that is
# when it finds that fewer than STRONG_DISAGREEMENT of true matches disagree on the field;
# then two different values in one cluster mean two people.
GUARD_CANDIDATES = ("date_of_birth", "national_id", "phone")
STRONG_DISAGREEMENT = 0.02

CHOSEN_BY = {
    "estimated": "the best F1 the model estimates over this run's scored pairs",
    "sources file": "linkage.match_threshold in the sources file",
    "previous run": "the run whose model and pairs this incremental run continues",
}


@dataclass(frozen=True)
class Estimate:
    threshold: float
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ThresholdChoice:
    value: float
    chosen_by: str  # a key of CHOSEN_BY


def estimated_curve(probabilities: pl.Series, grid: tuple[float, ...]) -> list[Estimate]:
    """The model's own estimate of pairwise precision, recall and F1 at each threshold."""
    p = probabilities.drop_nulls().cast(pl.Float64)
    expected = float(p.sum())
    curve = []
    for threshold in grid:
        above = p.filter(p >= threshold)
        true = float(above.sum())
        precision = true / above.len() if above.len() else 1.0
        recall = true / expected if expected else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        curve.append(Estimate(threshold, precision, recall, f1))
    return curve


def choose_threshold(probabilities: pl.Series, config: LinkageConfig) -> ThresholdChoice:
    """linkage.match_threshold when set; else the grid threshold of best estimated F1 (the
    higher one on a tie), never below the review threshold."""
    if config.match_threshold != "auto":
        return ThresholdChoice(float(config.match_threshold), "sources file")
    grid = tuple(t for t in THRESHOLD_GRID if t >= config.review_threshold) or THRESHOLD_GRID[-1:]
    curve = estimated_curve(probabilities, grid)
    best = max(curve, key=lambda e: (e.f1, e.threshold))
    return ThresholdChoice(best.threshold, "estimated")


def kept_threshold(previous: float, config: LinkageConfig) -> ThresholdChoice:
    """The threshold of an incremental run: the one its previous run chose, unless set."""
    if config.match_threshold != "auto":
        return ThresholdChoice(float(config.match_threshold), "sources file")
    return ThresholdChoice(previous, "previous run")


def linkage_choices(
    probabilities: pl.Series,
    model: dict,
    threshold: ThresholdChoice,
    config: LinkageConfig,
    blocking_rules: list[list[str]] | None = None,
    capped_rules: list[dict] | None = None,
) -> dict:
    """The threshold, guards and blocking rules this run uses, each with what it rests on,
    for run_summary.json, the linkage report, the clusters asset and lookups."""
    grid = tuple(sorted({*THRESHOLD_GRID, threshold.value}))
    curve = estimated_curve(probabilities, grid)
    curve = [
        Estimate(e.threshold, *(round(x, 4) for x in (e.precision, e.recall, e.f1))) for e in curve
    ]
    at = next(e for e in curve if e.threshold == threshold.value)
    shares = disagreement_shares(model)
    identifiers = [
        {
            "field": name,
            "true_matches_disagreeing": round(share, 4),
            "splits_clusters": share < STRONG_DISAGREEMENT,
        }
        for name, share in shares.items()
        if name in GUARD_CANDIDATES
    ]
    return {
        "match_threshold": {
            "value": threshold.value,
            "chosen_by": threshold.chosen_by,
            "why": CHOSEN_BY[threshold.chosen_by],
            "estimated": {"precision": at.precision, "recall": at.recall, "f1": at.f1},
            "curve": [asdict(e) for e in curve],
        },
        "review_threshold": min(config.review_threshold, threshold.value),
        "guards": {
            "identifiers": identifiers,
            "why": (
                "a field splits a cluster holding two of its values (more than a typo apart) "
                f"when the model estimates that under {STRONG_DISAGREEMENT:.0%} of true "
                "matches disagree on it"
            ),
            "max_cluster_size": config.max_cluster_size,
            "one_record_per_customer": list(config.one_record_per_customer),
        },
        # each a list of match columns on which two records must agree to be compared
        "blocking_rules": blocking_rules or [],
        # those of them that pair only the records of a value held by at most max_block records
        "capped_blocking_rules": capped_rules or [],
        **({"duckdb": linking_limits(config).summary()} if config.backend == "duckdb" else {}),
    }


def strong_fields(choices: dict) -> tuple[str, ...]:
    """The fields whose two values in one cluster mean two people, as `choices` decided."""
    return tuple(g["field"] for g in choices["guards"]["identifiers"] if g["splits_clusters"])
