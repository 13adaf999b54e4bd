"""Is this run's linkage plausible? Four figures, each judged against a documented threshold.

The link stage can go wrong without failing: an export whose phones lost their country code
links almost nothing, a placeholder email ("sin@email.com") chains strangers together, a
retrained model scores everything differently. None of that breaks a run, so these are
warnings (WARN asset checks on match_pairs, review_queue and clusters, assets/link.py), each
with the figure it observed and the threshold it was held to:

- linked share: the share of records linked to at least one other record. Outside a
  plausible band, or fallen sharply since the previous publication, something changed in
  the data or the matching, not in the customers.
- review share: of the pairs the model finds plausible (at or above the review threshold),
  the share left to a steward because it is unsure.
- cluster-size tail: clusters at the size guard (max_cluster_size), and the share of records
  in clusters of at least half that size.
- match-weight drift: the population stability index (PSI) of this run's match weights
  against the previous publication's, over the previous run's deciles (first run: nothing to
  compare with, so it passes and says so).

Plain functions of frames and numbers; the thresholds are arguments whose defaults are the
constants below, so a test can hold a figure to a threshold and see it judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

# A plausible linked share. Below 1%, matching found (almost) nothing, which is what a broken
# standardizer, a renamed column or a blocking rule on an empty field looks like: even one
# source of customer data holds a few duplicates in every hundred records. Above 99%, next to
# no customer is known to one system only, which real systems never give; a placeholder value
# (a shop's phone, "noreply@") chaining strangers does.
LINKED_SHARE_BAND = (0.01, 0.99)
# A fall of ten percentage points since the previous publication: new and updated customers
# move the share little from one run to the next (the bundled sample and two generated ones
# all link 94% of their records), while an export that changed format (phones without a
# country code, masked emails) takes one record in ten or more out of its links.
LINKED_SHARE_MAX_DROP = 0.10
# A quarter of the plausible pairs waiting for a steward: the model then separates matches
# from non-matches poorly (a degraded field, m and u estimated on too few pairs), and the queue
# outgrows what a steward reviews; a healthy model leaves a few percent (6-7% on the bundled
# and generated samples).
REVIEW_SHARE_MAX = 0.25
# No cluster should reach the size guard: one that does is a chain the guard cut to size or
# could not split, and its golden record mixes people.
CLUSTERS_AT_GUARD_MAX = 0
# Records in clusters of at least half the guard's size: customers with that many records are
# rare (none on the sample, whose largest cluster holds 10 of the default guard's 50), so more
# than 1% of the records there means chaining the guard has not yet caught.
LARGE_CLUSTER_FRACTION = 0.5
LARGE_CLUSTER_SHARE_MAX = 0.01
# PSI above 0.25 is the usual mark of a significant shift in a score's distribution (below
# 0.1 none, 0.1-0.25 moderate). Runs on the same customers stay far below it: even two samples
# of 3,000 different generated people, each scored by its own trained model, differ by 0.02 to
# 0.08, and the bundled sample's weights all moved by half a unit give 0.14. All moved by one
# unit (every Bayes factor twice what it was) give 0.8, and 20% wider 0.26.
MATCH_WEIGHT_PSI_MAX = 0.25
PSI_BINS = 10
# A match weight is the log2 of a Bayes factor; each counts as spread over half a unit either
# side (a factor of 1.4), so a weight that a retrained model moves by a hair does not carry its
# many equal neighbours into the next bin: a model gives one weight to every pair with the same
# comparison levels, and a bin edge often falls right on such a weight.
PSI_SPREAD = 0.5
# An empty bin in either run would divide by zero or take a log of it: it counts as this share.
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Health:
    """One judged figure: whether it passed, the figure, the threshold, in words."""

    passed: bool
    observed: float
    threshold: str  # as people read it, e.g. "between 1% and 99%"
    text: str  # the outcome in a sentence
    figures: dict[str, float | int | str] = field(default_factory=dict)


def linked_share(members: pl.DataFrame, cluster: str) -> float:
    """The share of records (rows of `members`) whose `cluster` holds another record too."""
    if members.height == 0:
        return 0.0
    sizes = members.group_by(cluster).len()
    return float(sizes.filter(pl.col("len") > 1)["len"].sum()) / members.height


def judge_linked_share(
    share: float,
    previous: float | None,
    band: tuple[float, float] = LINKED_SHARE_BAND,
    max_drop: float = LINKED_SHARE_MAX_DROP,
) -> Health:
    """Outside `band`, or more than `max_drop` below the `previous` publication's share."""
    low, high = band
    problems = []
    if share < low:
        problems.append(f"below {_pct(low)}")
    if share > high:
        problems.append(f"above {_pct(high)}")
    drop = None if previous is None else previous - share
    if drop is not None and drop > max_drop:
        problems.append(f"{_points(drop)} below the previous run's {_pct(previous)}")
    threshold = (
        f"between {_pct(low)} and {_pct(high)}, at most {_points(max_drop)} below the previous run"
    )
    was = "no previous run" if previous is None else f"previous run {_pct(previous)}"
    text = f"{_pct(share)} of records are linked to another ({was})"
    figures: dict[str, float | int | str] = {
        "linked_share": share,
        "band_low": low,
        "band_high": high,
        "max_drop": max_drop,
        "previous_linked_share": "no previous run" if previous is None else previous,
    }
    if problems:
        text += ": " + "; ".join(problems)
    return Health(not problems, share, threshold, text, figures)


def judge_review_share(
    review_pairs: int, matched_pairs: int, max_share: float = REVIEW_SHARE_MAX
) -> Health:
    """The share of plausible pairs (the review band and above) that wait for a steward."""
    plausible = review_pairs + matched_pairs
    share = review_pairs / plausible if plausible else 0.0
    passed = share <= max_share
    text = f"{review_pairs:,} of {plausible:,} plausible pairs ({_pct(share)}) wait for review" + (
        "" if passed else f": above {_pct(max_share)}"
    )
    figures: dict[str, float | int | str] = {
        "review_share": share,
        "review_pairs": review_pairs,
        "matched_pairs": matched_pairs,
        "max_share": max_share,
    }
    return Health(passed, share, f"at most {_pct(max_share)}", text, figures)


def judge_cluster_tail(
    members: pl.DataFrame,
    cluster: str,
    max_cluster_size: int,
    max_at_guard: int = CLUSTERS_AT_GUARD_MAX,
    large_fraction: float = LARGE_CLUSTER_FRACTION,
    max_large_share: float = LARGE_CLUSTER_SHARE_MAX,
) -> Health:
    """Clusters at or above `max_cluster_size` (at most `max_at_guard`), and the share of
    records in clusters of at least `large_fraction` of it (at most `max_large_share`)."""
    sizes = members.group_by(cluster).len()["len"]
    large_size = max(2, math.ceil(max_cluster_size * large_fraction))
    at_guard = int((sizes >= max_cluster_size).sum())
    in_large = int(sizes.filter(sizes >= large_size).sum())
    share = in_large / members.height if members.height else 0.0
    largest = int(sizes.max() or 0)
    problems = []
    if at_guard > max_at_guard:
        problems.append(f"{at_guard:,} cluster(s) at or above max_cluster_size {max_cluster_size}")
    if share > max_large_share:
        problems.append(f"{_pct(share)} of records in clusters of {large_size}+")
    text = (
        f"largest cluster {largest:,} records; {at_guard:,} at or above {max_cluster_size}; "
        f"{_pct(share)} of records in clusters of {large_size}+"
    )
    if problems:
        text += ": too many " + "; ".join(problems)
    threshold = (
        f"at most {max_at_guard} cluster(s) of {max_cluster_size}+ records, at most "
        f"{_pct(max_large_share)} of records in clusters of {large_size}+"
    )
    figures: dict[str, float | int | str] = {
        "largest_cluster": largest,
        "clusters_at_or_above_max_cluster_size": at_guard,
        "max_cluster_size": max_cluster_size,
        "max_clusters_at_guard": max_at_guard,
        "large_cluster_size": large_size,
        "large_cluster_record_share": share,
        "max_large_cluster_record_share": max_large_share,
    }
    return Health(not problems, share, threshold, text, figures)


def population_stability(
    current: np.ndarray,
    previous: np.ndarray,
    bins: int = PSI_BINS,
    spread: float = PSI_SPREAD,
    floor: float = PSI_FLOOR,
) -> float:
    """PSI of `current` against `previous`: sum over bins of (c - p) * ln(c / p), each share
    at least `floor`. The bins lie between `previous`'s quantiles (ties merge bins), and each
    value counts as spread evenly over `spread` either side of it, so a share moves with the
    values rather than jumping when a value crosses an edge."""
    current, previous = _numbers(current), _numbers(previous)
    edges = np.unique(np.quantile(previous, np.linspace(0, 1, bins + 1)[1:-1]))
    c, p = (np.maximum(_shares(v, edges, spread), floor) for v in (current, previous))
    return float(np.sum((c - p) * np.log(c / p)))


def _shares(values: np.ndarray, edges: np.ndarray, spread: float) -> np.ndarray:
    """The share of `values` in each bin between `edges` (and beyond the outer two)."""
    if len(values) == 0:
        return np.zeros(len(edges) + 1)
    ordered = np.sort(values)
    below = []
    for edge in edges:
        if spread <= 0:
            below.append(np.searchsorted(ordered, edge, side="left"))
            continue
        # wholly below the edge, plus the part below it of each value within `spread` of it
        low = np.searchsorted(ordered, edge - spread, side="right")
        high = np.searchsorted(ordered, edge + spread, side="left")
        near = ordered[low:high]
        below.append(low + float(np.sum((edge - near + spread) / (2 * spread))))
    return np.diff([0.0, *below, float(len(values))]) / len(values)


def _numbers(values: np.ndarray) -> np.ndarray:
    """Without NaN; an infinite weight (a certain match or non-match) made finite beyond any
    real one, so it sits in an end bin and quantiles stay numbers."""
    values = np.asarray(values, dtype=float)
    return np.nan_to_num(values[~np.isnan(values)], posinf=1e9, neginf=-1e9)


def judge_match_weight_drift(
    current: pl.Series, previous: pl.Series | None, max_psi: float = MATCH_WEIGHT_PSI_MAX
) -> Health:
    """This run's match weights against the previous publication's; none: nothing to judge."""
    threshold = f"PSI at most {max_psi:g}"
    if previous is None or previous.drop_nulls().len() == 0:
        figures: dict[str, float | int | str] = {
            "previous_run": "no previous run",
            "max_psi": max_psi,
            "pairs": current.len(),
        }
        return Health(True, 0.0, threshold, "no previous run to compare with", figures)
    now, before = current.drop_nulls().to_numpy(), previous.drop_nulls().to_numpy()
    psi = population_stability(now, before) if len(now) else math.inf
    passed = psi <= max_psi
    text = (
        f"match-weight PSI {psi:.3f} against the previous run "
        f"(median weight {_median(now)} now, {_median(before)} before)"
    )
    if not passed:
        text += f": above {max_psi:g}, the scores shifted"
    figures = {
        "psi": psi if math.isfinite(psi) else "infinite (no pairs now)",
        "max_psi": max_psi,
        "pairs": len(now),
        "previous_pairs": len(before),
    }
    return Health(passed, psi, threshold, text, figures)


def _median(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{float(np.median(finite)):.2f}" if len(finite) else "none"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _points(share: float) -> str:
    return f"{share * 100:.1f} percentage points"
