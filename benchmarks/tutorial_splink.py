"""A plain Splink 5 script with the settings of Splink's own tutorials, for public benchmarks.

What Splink's quickstart on fake_1000 teaches for person records: `NameComparison` on first
name and surname, `DateOfBirthComparison`, `EmailComparison`, exact matches (city with term
frequencies) on the rest; candidate pairs sharing a first name or a surname (or an
identifier); the prior from the identifier; u by random sampling of 5e6 pairs; EM on an
identifier block (the birth date where there is no id) and on first name + surname; predict
at 0.5 and cluster at 0.5.

It deliberately imports nothing from whiteglove: it is what whiteglove is measured against.
`benchmarks/accuracy.py` gives it each benchmark's records, one table of strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

U_MAX_PAIRS = 5e6
THRESHOLD = 0.5
SEED = 42


@dataclass(frozen=True)
class Columns:
    """Which columns of the records hold what (None: the benchmark has no such column)."""

    first_name: str
    surname: str
    dob: str | None = None  # YYYY-MM-DD text
    email: str | None = None
    identifier: str | None = None  # an id two records of one person share (tax id, ...)
    exact: list[str] = field(default_factory=list)  # compared exactly, with term frequencies


def clusters(records: pl.DataFrame, columns: Columns) -> pl.DataFrame:
    """unique_id, cluster_id for `records` (with a unique_id column and `columns`)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    comparisons = [cl.NameComparison(columns.first_name), cl.NameComparison(columns.surname)]
    if columns.dob:
        comparisons.append(cl.DateOfBirthComparison(columns.dob, input_is_string=True))
    if columns.email:
        comparisons.append(cl.EmailComparison(columns.email))
    if columns.identifier:
        comparisons.append(cl.ExactMatch(columns.identifier))
    comparisons += [
        cl.ExactMatch(c).configure(term_frequency_adjustments=True) for c in columns.exact
    ]
    names = block_on(columns.first_name, columns.surname)
    identifier = columns.identifier or columns.dob
    # the quickstart's blocking: each name alone (cheap at these benchmarks' sizes)
    blocking = [block_on(columns.first_name), block_on(columns.surname)]
    if identifier:
        blocking.append(block_on(identifier))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(records, table_name="records"), settings, log_level=30)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(identifier) if identifier else names], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    if identifier:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(identifier))
    linker.training.estimate_parameters_using_expectation_maximisation(names)
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    frame = pl.from_arrow(clustered.as_duckdbpyrelation().select("unique_id, cluster_id").arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame
