"""Training: a model for this run's records, when no saved or previous one scores them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from whiteglove.config import LinkageConfig
from whiteglove.linkage.blocking import BlockingRule, declared_identifiers, splink_rules
from whiteglove.linkage.model import M_FLOOR, floor_m_probabilities

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.splink_dataframe import SplinkDataFrame


def train(
    records: SplinkDataFrame,
    comparisons: list[ComparisonCreator],
    rules: list[BlockingRule],
    present: set[str],
    config: LinkageConfig,
) -> dict:
    """u by random sampling, m by EM on strong-identifier blocks; returns the model as data."""
    from splink import Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=splink_rules(rules),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(records, settings, log_level=logging.ERROR)
    deterministic = [block_on(*r.columns) for r in rules if r.columns in (("email",), ("phone",))]
    linker.training.estimate_probability_two_random_records_match(
        deterministic or [block_on(*rules[0].columns)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.u_sample_pairs, seed=config.seed
    )
    for columns in _em_rules(present, declared_identifiers(config)):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), record_sample_proportion=1.0
        )
    return floor_m_probabilities(linker.misc.save_model_to_json(), M_FLOOR)


def _em_rules(present: set[str], identifiers: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """EM sessions blocked on strong identifiers, so each estimates the others' m values.

    Blocking on names is avoided: namesakes would enter EM's "match" class and teach it that
    true matches often disagree on birth date and phone.
    """
    candidates = ("email", "phone", "national_id", *identifiers, "date_of_birth")
    strong = [c for c in candidates if c in present]
    sessions = [(c,) for c in strong[:2]]
    if len(sessions) < 2 and {"first_name_key", "surname_key"} <= present:
        sessions.append(("first_name_key", "surname_key"))
    return sessions or [("postcode",)]
