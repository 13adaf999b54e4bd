"""WARN checks on the link stage: linked share, review share, cluster-size tail, weight drift.

The figures and thresholds are plain functions (whiteglove/linkage_health.py), tested with
hand-made numbers just either side of each threshold; the Dagster checks are thin and are
seen passing on the bundled and a freshly generated sample, and failing (without failing the
run) when the previous publication's match weights are made to differ.
"""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from dagster import AssetCheckSeverity

from assets.link import MATCH_WEIGHT_DRIFT_CHECK, health_result
from tests.conftest import run_once
from whiteglove.layout import BUNDLED_SOURCES
from whiteglove.linkage_health import (
    CLUSTERS_AT_GUARD_MAX,
    LARGE_CLUSTER_SHARE_MAX,
    LINKED_SHARE_BAND,
    LINKED_SHARE_MAX_DROP,
    MATCH_WEIGHT_PSI_MAX,
    REVIEW_SHARE_MAX,
    judge_cluster_tail,
    judge_linked_share,
    judge_match_weight_drift,
    judge_review_share,
    linked_share,
    population_stability,
)

LINK_CHECKS = {
    ("match_pairs", "match_weight_drift"),
    ("review_queue", "review_queue_share"),
    ("clusters", "linked_records_share"),
    ("clusters", "cluster_size_tail"),
}


def members(sizes: list[int]) -> pl.DataFrame:
    """One row per record, clusters of the given sizes."""
    return pl.DataFrame({"cluster_id": [i for i, n in enumerate(sizes) for _ in range(n)]})


# --- linked share -----------------------------------------------------------------------------


def test_linked_share_counts_records_that_share_their_cluster():
    assert linked_share(members([1, 1, 2, 3]), "cluster_id") == pytest.approx(5 / 7)
    assert linked_share(members([]), "cluster_id") == 0.0


def test_linked_share_outside_the_band_warns():
    low, high = LINKED_SHARE_BAND
    assert judge_linked_share(low + 0.001, None).passed
    assert judge_linked_share(high - 0.001, None).passed
    below = judge_linked_share(low - 0.001, None)
    above = judge_linked_share(high + 0.001, None)
    assert not below.passed and "below" in below.text
    assert not above.passed and "above" in above.text
    # the band given is the band used
    assert not judge_linked_share(0.5, None, band=(0.6, 0.9)).passed


def test_a_sharp_drop_since_the_previous_run_warns():
    steady = judge_linked_share(0.80, 0.80 + LINKED_SHARE_MAX_DROP - 0.005)
    dropped = judge_linked_share(0.80, 0.80 + LINKED_SHARE_MAX_DROP + 0.005)
    assert steady.passed
    assert not dropped.passed and "previous run" in dropped.text
    assert dropped.figures["previous_linked_share"] == pytest.approx(0.905)
    # a rise is no drop; a tighter allowance is applied
    assert judge_linked_share(0.95, 0.80).passed
    assert not judge_linked_share(0.80, 0.83, max_drop=0.02).passed


def test_a_first_run_judges_the_band_only():
    first = judge_linked_share(0.9, None)
    assert first.passed and first.figures["previous_linked_share"] == "no previous run"


# --- review share -----------------------------------------------------------------------------


def test_a_review_queue_above_its_share_of_plausible_pairs_warns():
    # 100 plausible pairs: those waiting for review, and those linked
    at_limit = round(REVIEW_SHARE_MAX * 100)
    assert judge_review_share(at_limit, 100 - at_limit).passed
    over = judge_review_share(at_limit + 1, 100 - at_limit - 1)
    assert not over.passed
    assert over.observed == pytest.approx((at_limit + 1) / 100)
    assert over.figures["max_share"] == REVIEW_SHARE_MAX
    assert not judge_review_share(20, 80, max_share=0.1).passed
    assert judge_review_share(0, 0).passed  # nothing plausible, nothing waiting


# --- cluster-size tail ------------------------------------------------------------------------


def test_a_cluster_at_the_size_guard_warns():
    assert CLUSTERS_AT_GUARD_MAX == 0
    below = members([1] * 1000 + [9])
    at_guard = members([1] * 1000 + [10])
    assert judge_cluster_tail(below, "cluster_id", 10).passed
    tail = judge_cluster_tail(at_guard, "cluster_id", 10)
    assert not tail.passed
    assert tail.figures["clusters_at_or_above_max_cluster_size"] == 1
    assert tail.figures["largest_cluster"] == 10
    assert judge_cluster_tail(at_guard, "cluster_id", 10, max_at_guard=1).passed


def test_many_records_in_large_clusters_warn():
    # guard 50: clusters of 25+ are large; 1% of 10,000 records is 100
    allowed = round(LARGE_CLUSTER_SHARE_MAX * 10_000)
    few = members([1] * (10_000 - allowed) + [25] * (allowed // 25))
    many = members([1] * (10_000 - allowed - 25) + [25] * (allowed // 25 + 1))
    assert judge_cluster_tail(few, "cluster_id", 50).passed
    tail = judge_cluster_tail(many, "cluster_id", 50)
    assert not tail.passed and tail.figures["large_cluster_size"] == 25
    assert tail.observed == pytest.approx(125 / 10_000)
    assert not judge_cluster_tail(few, "cluster_id", 50, max_large_share=0.005).passed


# --- match-weight drift -----------------------------------------------------------------------


def weights(seed: int, n: int = 20_000, shift: float = 0.0) -> pl.Series:
    """Match weights shaped like Splink's: a few heavily repeated non-match weights, and a
    spread of match weights."""
    rng = np.random.default_rng(seed)
    levels = np.array([-6.5, -6.1, -5.9, -5.0, -4.3, -4.1, -2.8, 0.5, 3.1])
    low = rng.choice(levels, size=n * 6 // 10)
    high = rng.normal(18, 8, size=n - len(low))
    return pl.Series("match_weight", np.concatenate([low, high]) + shift)


def test_a_first_run_has_no_drift_to_judge():
    first = judge_match_weight_drift(weights(1), None)
    assert first.passed and first.figures["previous_run"] == "no previous run"


def test_the_same_kind_of_scores_do_not_drift():
    assert population_stability(weights(1).to_numpy(), weights(1).to_numpy()) == 0.0
    assert judge_match_weight_drift(weights(2), weights(1)).passed
    # the repeated weights moving a little do not move whole bins (edges lie between values)
    assert judge_match_weight_drift(weights(1, shift=0.05), weights(1)).observed < 0.01


def test_a_different_distribution_of_match_weights_warns():
    drifted = judge_match_weight_drift(weights(2, shift=3.0), weights(1))
    assert not drifted.passed
    assert drifted.observed > MATCH_WEIGHT_PSI_MAX
    assert "above" in drifted.text
    # the threshold given is the one used
    mild = judge_match_weight_drift(weights(2, shift=0.3), weights(1))
    assert mild.passed
    assert not judge_match_weight_drift(
        weights(2, shift=0.3), weights(1), max_psi=mild.observed / 2
    ).passed


def test_infinite_and_missing_weights_are_judged_not_crashed_on():
    previous = pl.Series([-np.inf, -5.0, -5.0, 2.0, 10.0, np.inf, None], dtype=pl.Float64)
    assert judge_match_weight_drift(previous, previous).observed == 0.0
    gone = judge_match_weight_drift(pl.Series([], dtype=pl.Float64), previous)
    assert not gone.passed  # no pairs any more: every bin emptied


def test_the_dagster_check_is_a_non_blocking_warning_with_its_figure_and_threshold():
    result = health_result(
        MATCH_WEIGHT_DRIFT_CHECK, judge_match_weight_drift(weights(2, shift=3.0), weights(1))
    )
    assert not result.passed
    assert result.severity == AssetCheckSeverity.WARN
    assert not MATCH_WEIGHT_DRIFT_CHECK.blocking
    assert result.check_name == "match_weight_drift"
    assert result.asset_key.to_user_string() == "match_pairs"
    assert {"observed", "threshold", "psi", "max_psi"} <= set(result.metadata)


# --- in the pipeline --------------------------------------------------------------------------


def link_checks(outcome) -> dict[tuple[str, str], bool]:
    return {
        (c.asset, c.check): c.passed for c in outcome.checks if (c.asset, c.check) in LINK_CHECKS
    }


def test_link_checks_pass_on_a_freshly_generated_sample(fresh_run):
    checks = link_checks(fresh_run.outcome)
    assert set(checks) == LINK_CHECKS
    assert all(checks.values()), checks
    assert all(
        c.severity == "WARN" for c in fresh_run.outcome.checks if (c.asset, c.check) in LINK_CHECKS
    )


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    """The bundled sample, run and published once."""
    out = tmp_path_factory.mktemp("bundled") / "out"
    outcome = run_once(BUNDLED_SOURCES, out)
    assert outcome.success, outcome.failures
    checks = link_checks(outcome)
    assert set(checks) == LINK_CHECKS
    assert all(checks.values()), checks
    return out


def test_drifted_match_weights_warn_and_the_run_still_publishes(bundled):
    """The previous publication's match weights made to differ: the next run of the same data
    warns about drift, passes the other link checks, and publishes."""
    snapshot = (bundled / "latest").resolve()
    published = snapshot / "match_pairs.parquet"
    pairs = pl.read_parquet(published)
    pairs.with_columns(pl.col("match_weight") + 5).write_parquet(published)

    outcome = run_once(BUNDLED_SOURCES, bundled)

    assert outcome.success, outcome.failures
    checks = link_checks(outcome)
    assert checks.pop(("match_pairs", "match_weight_drift")) is False
    assert all(checks.values()), checks  # the linked share matches the previous run's
    assert (bundled / "latest").resolve() != snapshot  # published all the same
