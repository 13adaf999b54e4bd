"""An incremental run gives what a full run gives with the same model on the same data:
records added, edited and deleted since the publication both start from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import DagsterInstance
from polars.testing import assert_frame_equal

from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.changes import HISTORY_COLUMNS, RETIRED, UPDATED

PEOPLE = 500
SEED = 20261207
KEYS = ["source", "source_record_id"]


def run(sources: Path, out: Path, incremental: bool) -> None:
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(
            sources, out, instance=instance, log_level="ERROR", incremental=incremental
        )
    assert outcome.success, outcome.failures


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A published run; then tickets arrive, marketing records change, billing and support
    records are deleted; the same output folder copied twice: one incremental run, one full
    run that loads the incremental run's model and threshold."""
    root = tmp_path_factory.mktemp("rebuild")
    sources = make_sample(root, PEOPLE, SEED)
    exports = root / "exports"
    support = lines(exports / "support.csv")
    arriving = len(support) // 50
    (exports / "support.csv").write_text("".join(support[:-arriving]), encoding="utf-8")
    base = root / "base"
    run(sources, base, incremental=False)

    # tickets arrive; every 40th earlier ticket and billing account disappears
    kept = [line for i, line in enumerate(support[:-arriving]) if i == 0 or i % 40 != 7]
    deleted = [
        line.split(",")[0] for i, line in enumerate(support[:-arriving]) if i and i % 40 == 7
    ]
    (exports / "support.csv").write_text("".join(kept + support[-arriving:]), encoding="utf-8")
    billing = pl.read_parquet(exports / "billing.parquet")
    gone = pl.int_range(pl.len()) % 40 == 3
    deleted_billing = billing.filter(gone)["account_id"].cast(pl.String).to_list()
    billing.filter(~gone).write_parquet(exports / "billing.parquet")
    # three marketing records take a new email
    marketing = lines(exports / "marketing.jsonl")
    for i in (1, 2, 3):
        record = json.loads(marketing[i])
        record["email"] = f"moved{i}@example.org"
        marketing[i] = json.dumps(record, ensure_ascii=False) + "\n"
    (exports / "marketing.jsonl").write_text("".join(marketing), encoding="utf-8")

    incremental, full = root / "incremental", root / "full"
    shutil.copytree(base, incremental, symlinks=True)
    shutil.copytree(base, full, symlinks=True)
    run(sources, incremental, incremental=True)

    chosen = json.loads((incremental / "run_summary.json").read_text(encoding="utf-8"))
    settings = yaml.safe_load(sources.read_text(encoding="utf-8"))
    linkage = settings.setdefault("linkage", {})
    linkage["model"] = str(incremental / "model.json")
    linkage["match_threshold"] = chosen["linkage"]["match_threshold"]
    same_model = sources.with_name("same_model.yaml")
    same_model.write_text(
        yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    run(same_model, full, incremental=False)
    return {
        "base": base,
        "incremental": incremental,
        "full": full,
        "deleted": [("support", d) for d in deleted] + [("billing", d) for d in deleted_billing],
        "arrived": len(support[-arriving:]),
    }


def table(out: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{name}.parquet")


def test_the_crosswalk_equals_a_full_runs(runs):
    incremental, full = (
        table(runs[k], "customer_xref").sort(KEYS) for k in ("incremental", "full")
    )
    assert_frame_equal(incremental.drop("match_confidence"), full.drop("match_confidence"))
    # pairs kept from the previous run keep the term frequencies they were scored with; a
    # rebuild takes today's: a record's best match probability may move a little
    assert_frame_equal(
        incremental.select("match_confidence"), full.select("match_confidence"), abs_tol=0.05
    )
    # the changes happened: arrivals are linked, deletions gone
    assert incremental.height == table(runs["base"], "customer_xref").height + runs[
        "arrived"
    ] - len(runs["deleted"])
    gone = pl.DataFrame(runs["deleted"], schema=KEYS, orient="row")
    assert incremental.join(gone, on=KEYS).is_empty()


def test_the_golden_table_and_lineage_equal_a_full_runs(runs):
    def changed_now(frame: pl.DataFrame) -> pl.DataFrame:
        # stamped with each run's own time: compare which rows this run changed (or created)
        stamps = [c for c in ("last_changed", "valid_from") if c in frame.columns]
        return frame.with_columns(pl.col(c).eq(pl.col(c).max()) for c in stamps)

    for name in ("golden_customers", "golden_lineage"):
        incremental, full = (changed_now(table(runs[k], name)) for k in ("incremental", "full"))
        # carried customers come first in an incremental run (whiteglove/golden_delta.py)
        assert_frame_equal(
            incremental.sort("golden_id", maintain_order=True),
            full.sort("golden_id", maintain_order=True),
        )


def test_the_changes_equal_a_full_runs(runs):
    def changes(out: Path) -> pl.DataFrame:
        return table(out, "golden_changes").drop("changed_at").sort("golden_id")

    assert_frame_equal(changes(runs["incremental"]), changes(runs["full"]))
    golden = table(runs["incremental"], "golden_customers").drop(HISTORY_COLUMNS)
    assert not golden.is_empty()


def test_each_deleted_records_customer_is_updated_or_retired(runs):
    before = table(runs["base"], "customer_xref")
    gone = pl.DataFrame(runs["deleted"], schema=KEYS, orient="row")
    customers = before.join(gone, on=KEYS)["golden_id"].unique()
    changes = table(runs["incremental"], "golden_changes")
    said = changes.filter(pl.col("golden_id").is_in(customers.implode()))
    assert set(said["golden_id"]) == set(customers)
    assert set(said["change"].cast(pl.String)) <= {UPDATED, RETIRED, "merged"}
