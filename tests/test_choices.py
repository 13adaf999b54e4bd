"""The match threshold and cluster guards a run chooses from what its model estimates."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from whiteglove.config import LinkageConfig
from whiteglove.linkage.choices import (
    THRESHOLD_GRID,
    ThresholdChoice,
    choose_threshold,
    estimated_curve,
    kept_threshold,
    linkage_choices,
    strong_fields,
)


def calibrated_pairs(n: int, seed: int, matches_score: tuple[float, float]) -> pl.DataFrame:
    """Scored pairs whose probabilities are right: each is a true match with its probability.
    True matches' log-odds are drawn around `matches_score`; the others' around -6."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < 0.3
    centre, spread = matches_score
    log_odds = np.where(is_match, rng.normal(centre, spread, n), rng.normal(-6, 3, n))
    p = 1 / (1 + np.exp(-log_odds))
    # the truth follows the probability, so the model's estimates can be checked against it
    truth = rng.random(n) < p
    return pl.DataFrame({"match_probability": p, "truth": truth})


@pytest.mark.parametrize("matches_score", [(6.0, 3.0), (1.0, 2.0)])
def test_estimated_precision_and_recall_agree_with_the_truth_when_calibrated(matches_score):
    pairs = calibrated_pairs(200_000, 3, matches_score)
    total = pairs["truth"].sum()
    for estimate in estimated_curve(pairs["match_probability"], THRESHOLD_GRID):
        linked = pairs.filter(pl.col("match_probability") >= estimate.threshold)
        assert estimate.precision == pytest.approx(linked["truth"].mean(), abs=0.01)
        assert estimate.recall == pytest.approx(linked["truth"].sum() / total, abs=0.01)


def test_data_whose_true_matches_score_lower_gets_a_lower_threshold():
    config = LinkageConfig()
    assert config.match_threshold == "auto"
    confident = calibrated_pairs(50_000, 5, (8.0, 3.0))["match_probability"]
    doubtful = calibrated_pairs(50_000, 5, (0.5, 1.5))["match_probability"]
    high, low = choose_threshold(confident, config), choose_threshold(doubtful, config)
    assert high.chosen_by == low.chosen_by == "estimated"
    assert low.value < high.value


def test_the_threshold_of_best_estimated_f1_is_chosen_the_higher_on_a_tie():
    # ten pairs at 0.9, ten at 0.6, ten at 0.1: 16 true matches expected in all. Linking at
    # 0.6 or below: 20 pairs holding 15 (P 0.75, R 0.94, F1 0.83); above 0.6: 10 holding 9
    # (P 0.9, R 0.56, F1 0.69). Every threshold from 0.3 to 0.6 ties; 0.6 links least.
    probabilities = pl.Series([0.9] * 10 + [0.6] * 10 + [0.1] * 10)
    assert choose_threshold(probabilities, LinkageConfig()) == ThresholdChoice(0.6, "estimated")
    (at,) = [e for e in estimated_curve(probabilities, (0.6,))]
    assert (at.precision, at.recall) == pytest.approx((0.75, 15 / 16))


def test_a_threshold_in_the_sources_file_is_used_as_given():
    probabilities = calibrated_pairs(10_000, 1, (1.0, 2.0))["match_probability"]
    config = LinkageConfig(match_threshold=0.93)
    assert choose_threshold(probabilities, config) == ThresholdChoice(0.93, "sources file")
    assert kept_threshold(0.55, config) == ThresholdChoice(0.93, "sources file")
    assert kept_threshold(0.55, LinkageConfig()) == ThresholdChoice(0.55, "previous run")


def test_an_estimated_threshold_is_never_below_the_review_threshold():
    probabilities = calibrated_pairs(50_000, 5, (0.5, 1.5))["match_probability"]
    assert choose_threshold(probabilities, LinkageConfig()).value < 0.6
    chosen = choose_threshold(probabilities, LinkageConfig(review_threshold=0.6))
    assert chosen.value >= 0.6


def model_with(dob_disagreeing: float, phone_disagreeing: float) -> dict:
    def comparison(name: str, disagree: float) -> dict:
        return {
            "output_column_name": name,
            "comparison_levels": [
                {"is_null_level": True},
                {"m_probability": 1 - disagree, "u_probability": 0.01},
                {"m_probability": disagree, "u_probability": 0.99},
            ],
        }

    return {
        "comparisons": [
            comparison("first_name", 0.3),
            comparison("date_of_birth", dob_disagreeing),
            comparison("phone", phone_disagreeing),
        ]
    }


def test_a_field_guards_clusters_only_where_true_matches_rarely_disagree_on_it():
    probabilities = pl.Series([0.9, 0.1])
    chosen = ThresholdChoice(0.5, "estimated")
    clean = linkage_choices(probabilities, model_with(0.01, 0.015), chosen, LinkageConfig())
    assert strong_fields(clean) == ("date_of_birth", "phone")
    # data where true matches often disagree on a birth date: the date no longer splits
    noisy = linkage_choices(probabilities, model_with(0.15, 0.015), chosen, LinkageConfig())
    assert strong_fields(noisy) == ("phone",)
    (dob,) = [g for g in noisy["guards"]["identifiers"] if g["field"] == "date_of_birth"]
    assert dob == {
        "field": "date_of_birth",
        "true_matches_disagreeing": 0.15,
        "splits_clusters": False,
    }
    # first names are not a guard candidate, however rarely they disagree
    assert "first_name" not in [g["field"] for g in noisy["guards"]["identifiers"]]
