"""Shape changes are decisions: between two runs, an added column raises the contract's minor
version and is reported; a changed type is refused, naming the column, until the sources file
raises the major version."""

import json
import os
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from pipelines.cli import main
from pipelines.runner import run_pipeline
from tests.conftest import make_sample


def edit(sources: Path, change) -> None:
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    change(config)
    sources.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def crm(config: dict) -> dict:
    return next(s for s in config["sources"] if s["name"] == "crm")


def published(out: Path) -> tuple[str, dict]:
    return os.readlink(out / "latest"), json.loads((out / "contract.json").read_text())


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("versions")
    return make_sample(root, people=250, seed=11), root / "out"


def test_shape_changes_between_runs_are_versioned_and_breaking_ones_refused(sample, capsys):
    sources, out = sample
    with DagsterInstance.ephemeral() as instance:
        first = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert first.success, first.failures
        assert first.summary["contract"]["version"] == "1.0"

        # an added attribute is an added column: the minor version goes up and says which
        edit(sources, lambda c: crm(c)["attributes"].update(crm_number="IdCliente"))
        second = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert second.success, second.failures
        contract = second.summary["contract"]
        assert (contract["version"], contract["previous_version"]) == ("1.1", "1.0")
        assert contract["added_columns"] == ["golden_customers.crm_number"]
        changes = instance.get_latest_materialization_event(AssetKey("golden_changes"))
        metadata = changes.asset_materialization.metadata
        assert metadata["added_columns"].value == ["golden_customers.crm_number"]
        assert metadata["contract_version"].value == "1.1"

    # signup_date read as text again: a type change readers did not ask for
    before = published(out)
    edit(sources, lambda c: crm(c)["attributes"].update(signup_date="FechaAlta"))
    assert main(["run", "--sources", str(sources), "--out", str(out), "--quiet"]) == 1
    refused = capsys.readouterr().err
    assert "golden_contract published_shape_kept" in refused
    assert "golden_customers.signup_date would change type from date to string" in refused
    assert "raise contract.major_version to 2" in refused
    assert published(out) == before  # nothing was published

    # the same change as a decision: a new major version, and the summary says what broke
    edit(sources, lambda c: c.update(contract={"major_version": 2}))
    assert main(["run", "--sources", str(sources), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "version 2.0 (was 1.1)" in printed
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["contract"]["version"] == "2.0"
    assert summary["contract"]["breaking_changes"] == [
        "golden_customers.signup_date would change type from date to string"
    ]
    _, contract = published(out)
    assert contract["x-contract-version"] == "2.0"
    signup = contract["$defs"]["golden_customers"]["properties"]["signup_date"]
    assert signup["x-type"] == "string"
