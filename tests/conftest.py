"""Shared fixtures: a freshly generated sample, run once through the whole pipeline."""

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from pipelines.runner import RunOutcome, run_pipeline
from whiteglove.sample_data import generate

# Not the committed sample's seed: accuracy is measured on data the model was never tuned on.
FRESH_SEED = 20261123
FRESH_PEOPLE = 3000  # the generator's default size


@dataclass
class GeneratedRun:
    root: Path
    sources: Path
    out: Path
    truth: pl.DataFrame
    outcome: RunOutcome


def make_sample(root: Path, people: int, seed: int) -> Path:
    """Generated exports plus the bundled sources file (and its suites) that map them."""
    return generate(root, people=people, seed=seed).config


@pytest.fixture(scope="session")
def fresh_run(tmp_path_factory) -> GeneratedRun:
    root = tmp_path_factory.mktemp("fresh")
    sources = make_sample(root, FRESH_PEOPLE, FRESH_SEED)
    out = root / "out"
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="WARNING")
    assert outcome.success, outcome.failures
    truth = pl.read_csv(root / "truth.csv", schema_overrides={"source_record_id": pl.String})
    return GeneratedRun(root, sources, out, truth, outcome)


def run_once(sources: Path, out: Path) -> RunOutcome:
    """One whole run in its own ephemeral Dagster instance, as the CLI would do it."""
    with DagsterInstance.ephemeral() as instance:
        return run_pipeline(sources, out, instance=instance, log_level="ERROR")
