"""Linkage through the whole pipeline: FEBRL4, fake_1000, saved models, stable ids, decisions.

One baseline run of a 600-person sample is shared: each test that needs another run starts
from its published output. (That a run of unchanged exports publishes the same ids is
tests/test_crash_safety.py::test_a_run_of_unchanged_exports_changes_nothing.)
"""

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from benchmarks.fake1000 import write_fake_1000
from benchmarks.febrl import write_febrl4
from pipelines.runner import RunOutcome, run_pipeline
from tests.conftest import make_sample, run_once
from whiteglove.evaluation import pairwise_scores


def clusters_of(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )


def edit_sources(path: Path, **linkage) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config.setdefault("linkage", {}).update(linkage)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_febrl4_through_a_sources_file_reaches_f1_0999(tmp_path):
    sources = write_febrl4(tmp_path)
    outcome = run_once(sources, tmp_path / "out")
    assert outcome.success, outcome.failures
    truth = pl.read_csv(tmp_path / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("entity_id").alias("entity"),
    )
    scores = pairwise_scores(clusters_of(tmp_path / "out"), truth)
    print(f"\nFEBRL4: {scores}")
    assert scores.records == 10_000 and scores.true_pairs == 5_000
    assert scores.f1 >= 0.999
    built_in = json.loads((tmp_path / "out" / ".work" / "linkage_accuracy.json").read_text())
    assert built_in["f1"] == pytest.approx(scores.f1)
    assert [p["threshold"] for p in built_in["curve"]] == sorted(
        p["threshold"] for p in built_in["curve"]
    )


def test_fake_1000_heavily_corrupted_records_reach_f1_095(tmp_path):
    """Data the defaults were not built on: typos in every field, clusters of up to ten."""
    sources = write_fake_1000(tmp_path)
    outcome = run_once(sources, tmp_path / "out")
    assert outcome.success, outcome.failures
    truth = pl.read_csv(tmp_path / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("cluster").alias("entity"),
    )
    scores = pairwise_scores(clusters_of(tmp_path / "out"), truth)
    print(f"\nfake_1000: {scores}")
    assert scores.records == 1_000
    assert scores.f1 >= 0.95 and scores.precision >= 0.97


def test_a_customer_with_thirty_records_stays_one_customer(tmp_path):
    """Size alone splits no cluster: a customer who opened thirty support tickets, each a
    record, is one golden customer when the links between the records support it."""
    sources = make_sample(tmp_path, 200, 31)
    support = tmp_path / "exports" / "support.csv"
    tickets = pl.read_csv(support, infer_schema=False)
    regular = tickets.filter(
        pl.col("contact_email").is_not_null() & pl.col("contact_phone").is_not_null()
    ).row(0, named=True)
    copies = pl.DataFrame(
        [{**regular, "ticket_id": f"T-9{i:05d}", "subject": f"Consulta {i}"} for i in range(29)],
        schema=tickets.schema,
    )
    pl.concat([tickets, copies]).write_csv(support)
    outcome = run_once(sources, tmp_path / "out")
    assert outcome.success, outcome.failures
    xref = pl.read_parquet(tmp_path / "out" / "customer_xref.parquet")
    ids = [regular["ticket_id"], *copies["ticket_id"]]
    theirs = xref.filter((pl.col("source") == "support") & pl.col("source_record_id").is_in(ids))
    assert theirs.height == 30 and theirs["golden_id"].n_unique() == 1
    golden = pl.read_parquet(tmp_path / "out" / "golden_customers.parquet")
    (count,) = golden.filter(pl.col("golden_id") == theirs["golden_id"][0])["record_count"]
    assert count >= 30


@dataclass(frozen=True)
class Run:
    outcome: RunOutcome
    out: Path
    linkage_mode: str  # how the run's model came about: trained, loaded or incremental


def run_recording_mode(sources: Path, out: Path) -> Run:
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert outcome.success, outcome.failures
        event = instance.get_latest_materialization_event(AssetKey("match_pairs"))
        mode = event.asset_materialization.metadata["mode"].value
    return Run(outcome, out, mode)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("linkage")
    make_sample(root, people=600, seed=41)
    return root


@pytest.fixture(scope="module")
def baseline(sample, tmp_path_factory) -> Run:
    """The sample run once with its sources file as generated: a trained model."""
    return run_recording_mode(sample / "sources.yaml", tmp_path_factory.mktemp("baseline"))


def sources_with(sample: Path, folder: Path, **linkage) -> Path:
    """A copy of the sample's sources file in `folder`, reading the sample's exports."""
    sources = folder / "sources.yaml"
    sources.write_text((sample / "sources.yaml").read_text())
    edit_sources(sources, **linkage)
    for name in ("exports", "truth.csv"):
        (folder / name).symlink_to(sample / name)
    return sources


def test_a_saved_model_is_loaded_instead_of_trained(sample, baseline, tmp_path):
    assert baseline.linkage_mode == "trained"
    saved = baseline.out / "model.json"
    sources = sources_with(sample, tmp_path, model=str(saved))

    loaded = run_recording_mode(sources, tmp_path / "loaded")

    assert loaded.linkage_mode == "loaded"
    assert json.loads((loaded.out / "model.json").read_text()) == json.loads(saved.read_text())
    a, b = clusters_of(baseline.out), clusters_of(loaded.out)
    same = pairwise_scores(a, b.rename({"cluster": "entity"}))
    assert same.precision == 1.0 and same.recall == 1.0


def test_steward_decisions_force_and_forbid_links_in_the_next_run(sample, baseline, tmp_path):
    out = baseline.out
    queue = pl.read_csv(out / "review_queue.csv", infer_schema=False, skip_rows=1)
    assert queue.height > 0 and queue["reasons"].str.len_chars().min() > 0
    xref = clusters_of(out)
    ids = dict(xref.iter_rows())
    # an uncertain pair whose records ended in different customers (other links may have
    # joined some review pairs already)
    to_force = next(
        row
        for row in queue.iter_rows(named=True)
        if ids[row["record_key_l"]] != ids[row["record_key_r"]]
    )
    # a two-record customer away from the pair being forced, so the decisions cannot interact
    near = {ids[to_force["record_key_l"]], ids[to_force["record_key_r"]]}
    linked = (
        xref.filter(~pl.col("cluster").is_in(list(near)))
        .group_by("cluster")
        .agg(pl.col("record_key").sort())
        .filter(pl.col("record_key").list.len() == 2)
        .sort("cluster")
    )
    to_forbid = linked["record_key"][0].to_list()
    decisions = tmp_path / "decisions.csv"
    pl.DataFrame(
        {
            "record_key_l": [to_force["record_key_l"], to_forbid[0]],
            "record_key_r": [to_force["record_key_r"], to_forbid[1]],
            "decision": ["match", "no_match"],
        }
    ).write_csv(decisions)
    sources = sources_with(sample, tmp_path, decisions=str(decisions))

    assert run_once(sources, tmp_path / "decided").success

    after = dict(clusters_of(tmp_path / "decided").iter_rows())
    assert after[to_force["record_key_l"]] == after[to_force["record_key_r"]]
    assert after[to_forbid[0]] != after[to_forbid[1]]


def test_cluster_decisions_last_through_a_retrain_and_an_incremental_run(
    sample, baseline, tmp_path
):
    """Lock, split, merge and pair decisions hold after a full run with other thresholds and
    an incremental run; a contradiction and a decision about a gone record are reported."""
    from whiteglove.decisions import Decision, append_decision

    members = (
        clusters_of(baseline.out)
        .group_by("cluster")
        .agg(pl.col("record_key").sort())
        .sort("cluster")
    )
    big = members.filter(pl.col("record_key").list.len() >= 3)["record_key"].to_list()
    pairs_ = members.filter(pl.col("record_key").list.len() == 2)["record_key"].to_list()
    lock, split_from = big[0], big[1]
    merge_a, merge_b, forbid, contradicted = pairs_[0], pairs_[1], pairs_[2], pairs_[3]
    decisions = tmp_path / "decisions.csv"
    for d in [
        Decision("lock", tuple(lock), author="ana", reason="checked"),
        Decision("split", (split_from[0],), tuple(split_from[1:]), author="ana"),
        Decision("merge", (*merge_a, *merge_b), author="ana"),
        Decision("no_match", tuple(forbid), author="ana"),
        Decision("no_match", tuple(contradicted), author="ana"),
        Decision("match", tuple(contradicted), author="luis", reason="same DNI"),
        Decision("match", (lock[0], "crm:NO-SUCH-RECORD"), author="ana"),
    ]:
        append_decision(decisions, d)
    # a retrain with other thresholds: the pairs linked change, the decisions do not
    sources = sources_with(
        sample, tmp_path, decisions="decisions.csv", match_threshold=0.9, review_threshold=0.5
    )
    out = tmp_path / "decided"

    def holds(run_out: Path) -> None:
        ids = dict(clusters_of(run_out).iter_rows())
        same = {k for k, g in ids.items() if g == ids[lock[0]]}
        assert same == set(lock)
        assert ids[split_from[0]] not in {ids[k] for k in split_from[1:]}
        assert len({ids[k] for k in (*merge_a, *merge_b)}) == 1
        assert ids[forbid[0]] != ids[forbid[1]]
        assert ids[contradicted[0]] == ids[contradicted[1]]  # the later decision, a match

    assert run_once(sources, out).success
    holds(out)
    summary = json.loads((out / "run_summary.json").read_text())["decisions"]
    assert summary["applied"] == 5
    why = {e["decision"]["line"]: e for e in summary["not_applied"]}
    assert set(why) == {6, 8}
    assert [o["line"] for o in why[6]["conflicts_with"]] == [7]
    assert why[6]["conflicts_with"][0]["author"] == "luis"
    assert "NO-SUCH-RECORD gone" in why[8]["why"]
    report = (out / "reports" / "linkage.html").read_text()
    assert "decision-not-applied" in report and "same DNI" in report

    with DagsterInstance.ephemeral() as instance:
        again = run_pipeline(sources, out, instance=instance, log_level="ERROR", incremental=True)
    assert again.success, again.failures
    holds(out)


def _subset_exports(root: Path, keep_people: set[int], target: Path) -> None:
    """Copy of a generated sample holding only the rows of `keep_people`, same formats."""
    truth = pl.read_csv(root / "truth.csv", schema_overrides={"source_record_id": pl.String})
    (target / "exports").mkdir(parents=True)
    for source, name in [("crm", "crm.csv"), ("support", "support.csv")]:
        rows = set(
            truth.filter((pl.col("source") == source) & pl.col("person_id").is_in(keep_people))[
                "row_number"
            ]
        )
        lines = (root / "exports" / name).read_text(encoding="utf-8").splitlines(keepends=True)
        # the generator writes one physical line per record
        kept = [lines[0]] + [line for i, line in enumerate(lines[1:], start=1) if i in rows]
        (target / "exports" / name).write_text("".join(kept), encoding="utf-8")
    rows = set(
        truth.filter((pl.col("source") == "marketing") & pl.col("person_id").is_in(keep_people))[
            "row_number"
        ]
    )
    lines = (
        (root / "exports" / "marketing.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    )
    (target / "exports" / "marketing.jsonl").write_text(
        "".join(line for i, line in enumerate(lines, start=1) if i in rows), encoding="utf-8"
    )
    rows = set(
        truth.filter((pl.col("source") == "billing") & pl.col("person_id").is_in(keep_people))[
            "row_number"
        ]
    )
    billing = pl.read_parquet(root / "exports" / "billing.parquet").with_row_index("n", offset=1)
    billing.filter(pl.col("n").is_in(rows)).drop("n").write_parquet(
        target / "exports" / "billing.parquet"
    )
    (target / "sources.yaml").write_text((root / "sources.yaml").read_text())
    (target / "truth.csv").symlink_to(root / "truth.csv")  # the labels it names


def test_golden_ids_survive_ten_percent_more_records(sample, tmp_path):
    truth = pl.read_csv(sample / "truth.csv", schema_overrides={"source_record_id": pl.String})
    people = sorted(set(truth["person_id"]))
    newcomers = set(people[::10])  # one person in ten arrives only in the second run
    first = tmp_path / "first"
    _subset_exports(sample, set(people) - newcomers, first)
    out = tmp_path / "out"
    assert run_once(first / "sources.yaml", out).success
    before = pl.read_parquet(out / "customer_xref.parquet").select(
        "source", "source_record_id", "golden_id"
    )

    assert run_once(sample / "sources.yaml", out).success

    after = pl.read_parquet(out / "customer_xref.parquet").select(
        "source", "source_record_id", "golden_id"
    )
    assert after.height > before.height * 1.05
    kept = before.join(after, on=["source", "source_record_id", "golden_id"]).height
    print(f"\ngolden ids kept: {kept} of {before.height} ({kept / before.height:.4f})")
    assert kept / before.height >= 0.99


def test_no_published_customer_is_larger_than_max_cluster_size(sample, baseline, tmp_path):
    def largest(out: Path) -> int:
        return clusters_of(out).group_by("cluster").len()["len"].max()

    assert largest(baseline.out) > 3  # the sample has customers of more than three records
    sources = sources_with(sample, tmp_path, max_cluster_size=3)

    bounded = run_recording_mode(sources, tmp_path / "bounded")

    assert largest(bounded.out) <= 3
    assert bounded.outcome.summary["linkage"]["largest_cluster"] <= 3
    # the bound splits clusters, it does not drop records
    assert clusters_of(bounded.out).height == clusters_of(baseline.out).height
