"""Failures end the run clearly and leave the last good output in place."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_sample
from tests.conftest import run_once as run
from whiteglove.config import SourcesConfigError


def published_state(out: Path) -> tuple[str, bytes]:
    return os.readlink(out / "latest"), (out / "golden_customers.parquet").read_bytes()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A small sample already published once: the 'last good output'."""
    root = tmp_path_factory.mktemp("published")
    sources = make_sample(root, people=250, seed=5)
    outcome = run(sources, root / "out")
    assert outcome.success, outcome.failures
    return root


@pytest.fixture
def workspace(published, tmp_path) -> Path:
    """A private copy of the published sample that a test may damage."""
    shutil.copytree(published, tmp_path / "ws", symlinks=True)
    return tmp_path / "ws"


def with_extra_expectation(workspace: Path, suite: str, stage: str, check: str) -> Path:
    """The workspace's sources file, its suites copied with one ERROR expectation added to
    `suite` that fails: the table must have at most ten rows."""
    suites = workspace / "suites"
    shutil.copytree(Path(__file__).parents[1] / "expectations", suites)
    edited = json.loads((suites / f"{suite}.json").read_text())
    edited["expectations"].append(
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1, "max_value": 10},
            "meta": {"stage": stage, "severity": "ERROR", "check_name": check},
        }
    )
    (suites / f"{suite}.json").write_text(json.dumps(edited))
    sources = workspace / "sources.yaml"
    sources.write_text(
        "\n".join(
            f"expectations: {suites}" if line.startswith("expectations:") else line
            for line in sources.read_text().splitlines()
        )
    )
    return sources


@pytest.mark.parametrize(
    ("suite", "stage", "asset"),
    [
        ("crm", "standardized", "standardized_crm"),
        ("golden_customers", "golden", "golden_customers"),
    ],
)
def test_failing_error_check_stops_publication(workspace, suite, stage, asset):
    before = published_state(workspace / "out")
    sources = with_extra_expectation(workspace, suite, stage, "too_many_rows")

    outcome = run(sources, workspace / "out")

    assert not outcome.success
    failed = [(c.asset, c.check, c.severity) for c in outcome.failed_checks]
    assert (asset, "too_many_rows", "ERROR") in failed
    # the blocking check stopped everything downstream: nothing was published
    assert "published_outputs" not in outcome.materialized
    assert published_state(workspace / "out") == before
    assert not list((workspace / "out" / "snapshots").glob(".*partial"))


def test_passing_run_reports_its_checks(published):
    summary = json.loads((published / "out" / "run_summary.json").read_text())
    assert summary["checks"]["failed_errors"] == []
    assert summary["checks"]["evaluated"] > 20


def test_wrong_encoding_names_source_file_and_problem(workspace):
    before = published_state(workspace / "out")
    crm = workspace / "exports" / "crm.csv"
    crm.write_bytes(crm.read_bytes() + "C999;Ñoño;Pérez;\n".encode("latin-1"))

    outcome = run(workspace / "sources.yaml", workspace / "out")

    assert not outcome.success
    (message,) = outcome.failures
    assert "raw_crm" in message and "source 'crm'" in message and "crm.csv" in message
    assert "not valid utf-8" in message
    assert published_state(workspace / "out") == before


def test_truncated_parquet_is_refused_before_the_run(workspace):
    billing = workspace / "exports" / "billing.parquet"
    billing.write_bytes(billing.read_bytes()[: billing.stat().st_size // 2])
    with pytest.raises(SourcesConfigError) as info:
        run(workspace / "sources.yaml", workspace / "out")
    assert any("billing" in p and "billing.parquet" in p for p in info.value.problems)


def test_empty_export_is_refused_before_the_run(workspace):
    (workspace / "exports" / "support.csv").write_text("")
    with pytest.raises(SourcesConfigError) as info:
        run(workspace / "sources.yaml", workspace / "out")
    assert any("support" in p and "support.csv" in p for p in info.value.problems)


def test_header_only_export_fails_with_a_clear_message(workspace):
    before = published_state(workspace / "out")
    support = workspace / "exports" / "support.csv"
    support.write_text(support.read_text().splitlines()[0] + "\n")

    outcome = run(workspace / "sources.yaml", workspace / "out")

    assert not outcome.success
    assert any("source 'support'" in f and "header but no rows" in f for f in outcome.failures)
    assert published_state(workspace / "out") == before


def test_csv_with_a_different_header_is_refused(workspace):
    crm = workspace / "exports" / "crm.csv"
    lines = crm.read_text().splitlines()
    lines[0] = lines[0].replace("Email", "Correo")
    crm.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourcesConfigError) as info:
        run(workspace / "sources.yaml", workspace / "out")
    assert any("'Email'" in p and "crm.csv" in p for p in info.value.problems)
