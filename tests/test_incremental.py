"""Incremental runs: only what a changed source feeds is rebuilt, with the saved model."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance
from polars.testing import assert_frame_equal

from assets.resources import INCREMENTAL_TAG, REUSED_TAG
from pipelines.build import BUILD_JOB, build_definitions
from pipelines.cli import main
from pipelines.incremental import incremental_selection
from pipelines.runner import RunOutcome, run_pipeline
from tests.conftest import make_sample
from whiteglove.changes import HISTORY_COLUMNS
from whiteglove.config import LinkageConfig, load_sources
from whiteglove.evaluation import pairwise_scores
from whiteglove.golden import survive
from whiteglove.incremental import (
    code_version,
    is_reusable,
    load_linkage_state,
    run_fingerprint,
    source_fingerprint,
)
from whiteglove.layout import PROJECT_ROOT, OutputLayout
from whiteglove.linkage import PreviousLinkage, link
from whiteglove.validation import suite_for

PEOPLE = 600
SEED = 20261205
UNCHANGED = ["crm", "marketing", "support"]
KEYS = ["source", "source_record_id"]


def billing_path(root: Path) -> Path:
    return root / "exports" / "billing.parquet"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A sample whose billing export first lacks one customer in ten; kept aside in full."""
    root = tmp_path_factory.mktemp("incremental")
    sources = make_sample(root, PEOPLE, SEED)
    full = pl.read_parquet(billing_path(root))
    full.write_parquet(root / "billing_full.parquet")
    full.gather_every(10, offset=1).write_parquet(root / "billing_newcomers.parquet")
    full.filter(pl.int_range(pl.len()) % 10 != 1).write_parquet(billing_path(root))
    return sources


def run(sources: Path, out: Path, instance: DagsterInstance, incremental: bool) -> RunOutcome:
    outcome = run_pipeline(
        sources, out, instance=instance, log_level="ERROR", incremental=incremental
    )
    assert outcome.success, outcome.failures
    return outcome


def xref(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "customer_xref.parquet").select(*KEYS, "golden_id")


def forget_inputs(out: Path) -> None:
    """The latest publication as if built from other inputs (its inputs fingerprint changed)."""
    path = out / "latest" / "run_summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["inputs_fingerprint"] = "0" * 64
    path.write_text(json.dumps(summary), encoding="utf-8")


def clusters(frame: pl.DataFrame) -> pl.DataFrame:
    """Each golden id with the sorted record keys it holds."""
    return frame.group_by("golden_id").agg(
        pl.concat_str(KEYS, separator=":").sort().alias("records")
    )


@pytest.fixture(scope="module")
def runs(sample: Path, tmp_path_factory):
    """A full run, then billing's newcomers and three edited rows arrive: an incremental run."""
    root = sample.parent
    out = tmp_path_factory.mktemp("out")
    with DagsterInstance.ephemeral() as instance:
        first = run(sample, out, instance, incremental=False)
        before = xref(out)
        model_before = (out / "model.json").read_text(encoding="utf-8")
        pairs_before = pl.read_parquet(out / "match_pairs.parquet")
        summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
        threshold_before = summary["linkage"]["match_threshold"]

        full = pl.read_parquet(root / "billing_full.parquet")
        # three customers of the first run change their billing email
        edited = full.filter(pl.int_range(pl.len()) % 10 != 1)["account_id"].head(3).to_list()
        full.with_columns(
            pl.when(pl.col("account_id").is_in(edited))
            .then(pl.concat_str(pl.lit("moved."), "account_id", pl.lit("@example.org")))
            .otherwise(pl.col("email_facturacion"))
            .alias("email_facturacion")
        ).write_parquet(billing_path(root))
        second = run(sample, out, instance, incremental=True)
        event = instance.get_latest_materialization_event(AssetKey("match_pairs"))
        linkage = event.asset_materialization.metadata
        event = instance.get_latest_materialization_event(AssetKey("golden_customers"))
        golden = event.asset_materialization.metadata
    return {
        "out": out,
        "first": first,
        "second": second,
        "before": before,
        "after": xref(out),
        "model_before": model_before,
        "near_before": near_records(pairs_before, threshold_before),
        "linkage": {k: v.value for k, v in linkage.items()},
        "golden": {k: v.value for k, v in golden.items()},
        "edited": [str(e) for e in edited],
    }


def test_unchanged_sources_are_not_rebuilt(runs):
    assert {"raw_billing", "standardized_billing"} <= set(runs["first"].materialized)
    rebuilt = set(runs["second"].materialized)
    assert {"raw_billing", "standardized_billing"} <= rebuilt
    for name in UNCHANGED:
        assert f"raw_{name}" not in rebuilt and f"standardized_{name}" not in rebuilt
    # everything billing feeds is rebuilt
    assert {"customer_records", "match_pairs", "golden_customers", "published_outputs"} <= rebuilt


def near_records(pairs: pl.DataFrame, threshold: float) -> set[str]:
    """The records whose pairs an incremental run scores again, close to the threshold."""
    from whiteglove.linkage.reuse import near_threshold

    empty = pl.DataFrame()
    return set(near_threshold(PreviousLinkage(threshold, {}, empty, pairs, empty, [])))


def test_new_records_are_scored_with_the_saved_model(runs, sample):
    newcomers = pl.read_parquet(sample.parent / "billing_newcomers.parquet").height
    assert runs["linkage"]["mode"] == "incremental"
    # the newcomers, the three edited rows and the records of pairs near the threshold (whose
    # term frequencies may have moved), nothing else
    edited = {f"billing:{e}" for e in runs["edited"]}
    near = runs["near_before"] - edited
    assert 0 < len(near) < 0.1 * runs["before"].height
    assert runs["linkage"]["records_rescored"] == newcomers + 3 + len(near)
    assert (runs["out"] / "model.json").read_text(encoding="utf-8") == runs["model_before"]


def test_untouched_customers_keep_their_golden_ids(runs):
    before, after = clusters(runs["before"]), clusters(runs["after"])
    untouched = before.join(after, on="records", suffix="_after")
    print(f"\n{untouched.height} of {before.height} customers untouched")
    assert untouched.height >= 0.85 * before.height
    assert (untouched["golden_id"] == untouched["golden_id_after"]).all()
    kept = runs["before"].join(runs["after"], on=[*KEYS, "golden_id"]).height
    assert kept >= 0.99 * runs["before"].height


def test_survivorship_computes_only_the_customers_whose_records_changed(runs, sample):
    """The published golden table is what survivorship of every record gives, though only
    the customers with a new, changed or moved record were computed."""
    out, config = runs["out"], load_sources(sample)
    records = pl.read_parquet(out / "customer_records.parquet").join(
        xref(out), on=["source", "source_record_id"]
    )
    attributes = list(dict.fromkeys(a for s in config.sources for a in s.attributes))
    golden, lineage = survive(records, attributes, config.golden, config.sources)
    # carried customers first, then the computed ones (whiteglove/golden_delta.py)
    published = pl.read_parquet(out / "golden_customers.parquet").drop(HISTORY_COLUMNS)
    assert_frame_equal(published.sort("golden_id", maintain_order=True), golden)
    published_lineage = pl.read_parquet(out / "golden_lineage.parquet")
    assert_frame_equal(published_lineage.sort("golden_id", maintain_order=True), lineage)

    before, after = runs["before"], runs["after"]
    moved = after.join(before, on=KEYS, how="left", suffix="_before").filter(
        pl.col("golden_id_before").ne_missing(pl.col("golden_id"))
        | pl.col("source_record_id").is_in(runs["edited"])
    )
    touched = set(moved["golden_id"]) | set(
        after.join(moved.select(pl.col("golden_id_before").alias("golden_id")), on="golden_id")[
            "golden_id"
        ]
    )
    computed, carried = runs["golden"]["customers_computed"], runs["golden"]["customers_carried"]
    assert computed + carried == golden.height
    assert len(touched) <= computed < 0.25 * golden.height


def test_every_row_is_accounted_for_after_an_incremental_run(runs):
    summary = runs["second"].summary
    out = runs["out"]
    quarantined = pl.read_parquet(out / "quarantine.parquet").group_by("source").len()
    linked = pl.read_parquet(out / "customer_xref.parquet").group_by("source").len()
    counts = {s: 0 for s in summary["sources"]}
    for frame in (quarantined, linked):
        for source, n in frame.iter_rows():
            counts[source] += n
    # rows read are known for reused sources too, and every one is linked or quarantined
    assert {s: v["rows_read"] for s, v in summary["sources"].items()} == counts


@pytest.fixture(scope="module")
def full_rebuild(runs, sample, tmp_path_factory):
    """A full run on the same data, in a copy of the incremental run's folder."""
    out = tmp_path_factory.mktemp("full")
    shutil.copytree(runs["out"], out, symlinks=True, dirs_exist_ok=True)
    with DagsterInstance.ephemeral() as instance:
        outcome = run(sample, out, instance, incremental=False)
        event = instance.get_latest_materialization_event(AssetKey("match_pairs"))
    return {"out": out, "outcome": outcome, "mode": event.asset_materialization.metadata["mode"]}


def test_incremental_links_as_well_as_a_full_rebuild(runs, sample, full_rebuild):
    truth = pl.read_csv(sample.parent / "truth.csv", infer_schema=False).select(
        pl.concat_str(KEYS, separator=":").alias("record_key"), pl.col("person_id").alias("entity")
    )

    def scores(out: Path):
        clustered = xref(out).select(
            pl.concat_str(KEYS, separator=":").alias("record_key"),
            pl.col("golden_id").alias("cluster"),
        )
        return pairwise_scores(clustered, truth)

    incremental, rebuilt = scores(runs["out"]), scores(full_rebuild["out"])
    print(f"\nincremental: {incremental}\nfull rebuild: {rebuilt}")
    assert incremental.f1 >= rebuilt.f1 - 0.01


def test_a_full_run_rebuilds_everything_and_retrains(full_rebuild):
    assert {f"raw_{n}" for n in UNCHANGED} <= set(full_rebuild["outcome"].materialized)
    assert full_rebuild["mode"].value == "trained"


def test_a_fingerprint_follows_content_not_file_times(sample):
    config = load_sources(sample)
    crm = config.source("crm")
    suite = suite_for(config, "crm")
    before = source_fingerprint(config, crm, suite)
    path = config.files(crm)[0]
    path.touch()
    assert source_fingerprint(config, crm, suite) == before
    edited = suite.model_copy(update={"name": "edited_suite"})
    assert source_fingerprint(config, crm, edited) != before
    elsewhere = config.defaults.model_copy(update={"country": "FR"})
    moved = config.model_copy(update={"defaults": elsewhere})
    assert source_fingerprint(moved, crm, suite) != before
    original = path.read_bytes()
    try:
        path.write_bytes(original + original.splitlines(keepends=True)[-1])
        assert source_fingerprint(config, crm, suite) != before
    finally:
        path.write_bytes(original)


def test_stored_tables_count_only_when_both_validations_passed_on_todays_files(sample):
    config = load_sources(sample)
    now = source_fingerprint(config, config.source("crm"), suite_for(config, "crm"))

    def validation(built_from: str | None = now, success: bool = True) -> dict:
        return {"built_from": built_from, "success": success}

    assert is_reusable(config, "crm", validation(), validation())
    # standardizing failed an ERROR check, or never ran after a new extraction
    assert not is_reusable(config, "crm", validation(), validation(success=False))
    assert not is_reusable(config, "crm", validation(), validation(built_from=None))
    assert not is_reusable(config, "crm", validation(), None)
    # the raw table was rebuilt from other files (a run killed before standardizing), or
    # failed its checks: the pair no longer agrees
    assert not is_reusable(config, "crm", validation("other files"), validation())
    assert not is_reusable(config, "crm", validation(success=False), validation())
    # both built from files that have changed since
    assert not is_reusable(config, "crm", validation("old"), validation("old"))


def test_code_counts_per_stage_with_what_it_imports():
    from whiteglove.incremental import LINKAGE_STAGE, SOURCE_STAGE, _imported_files

    def files(modules):
        return {p.relative_to(PROJECT_ROOT).as_posix() for m in modules for p in _imported_files(m)}

    source_stage = files(SOURCE_STAGE)
    # the stage's modules and what they import, transitively
    assert {"whiteglove/extract.py", "whiteglove/standardize.py", "whiteglove/names.py"} <= (
        source_stage
    )
    assert {"whiteglove/schema.py", "whiteglove/config.py"} <= source_stage
    # editing a report, survivorship or linkage does not rebuild the sources
    assert not {f for f in source_stage if "report" in f or "golden" in f or "linkage" in f}
    # a package counts whole
    linkage = files(LINKAGE_STAGE)
    assert len([f for f in linkage if f.startswith("whiteglove/linkage")]) > 1
    assert code_version(SOURCE_STAGE) != code_version(SOURCE_STAGE[:1])


IDENTITY = [
    "first_name", "last_name", "full_name", "email", "phone", "date_of_birth", "national_id",
    "address_line", "city", "postcode",
]  # fmt: skip


def test_incremental_pairs_are_those_a_full_scoring_gives(runs, tmp_path):
    """Old pairs between unchanged records kept, every pair of a changed record scored anew."""
    records = pl.read_parquet(runs["out"] / ".work" / "customer_records.parquet")
    model = tmp_path / "model.json"
    shutil.copy(runs["out"] / "model.json", model)
    config = LinkageConfig()
    before = records.head(records.height - 50)  # 50 records arrive later
    first = link(before, config, model)
    previous = PreviousLinkage(
        first.threshold.value,
        first.model_json,
        first.records,
        first.pairs,
        first.review,
        first.design,
    )
    # and a record of the first run that had pairs takes on another customer's identity:
    # none of its old pairs may survive
    moved = first.pairs.sort("match_probability")["unique_id_l"][-1]
    donor = records.filter(pl.col("record_key") != moved).row(0, named=True)
    after = records.with_columns(
        pl.when(pl.col("record_key") == moved).then(pl.lit(donor[c])).otherwise(pl.col(c)).alias(c)
        for c in IDENTITY
    )

    incremental = link(after, config, previous=previous)
    full = link(after, config, model)

    assert incremental.mode == "incremental" and full.mode == "loaded"
    assert incremental.threshold.chosen_by == "previous run"
    assert incremental.threshold.value == first.threshold.value
    # the 50 arrivals, the moved record, and the records of pairs near the threshold
    arrived = set(records["record_key"].tail(50))
    near = near_records(first.pairs, first.threshold.value)
    assert incremental.records_rescored == len(arrived | {moved} | near)
    keys = ["unique_id_l", "unique_id_r"]
    assert incremental.pairs.select(keys).is_duplicated().sum() == 0
    assert incremental.review.select(keys).is_duplicated().sum() == 0

    def pairs(result) -> set[tuple[str, str]]:
        return set(result.pairs.select(keys).iter_rows())

    differ = pairs(incremental) ^ pairs(full)
    print(f"\n{len(differ)} of {full.pairs.height} pairs differ (term frequencies of the day)")
    assert len(differ) <= 0.005 * full.pairs.height
    assert not {p for p in differ if moved in p}
    with_moved = pl.col("unique_id_l").eq(moved) | pl.col("unique_id_r").eq(moved)
    assert pairs(first) & {p for p in pairs(first) if moved in p}  # it had pairs before
    assert incremental.pairs.filter(with_moved).height == full.pairs.filter(with_moved).height


def test_a_run_refuses_reused_tables_that_no_longer_match(runs, sample, tmp_path):
    """A run planned to reuse crm, started after crm changed, fails and publishes nothing."""
    out = tmp_path / "out"
    shutil.copytree(runs["out"], out, symlinks=True)
    published = (out / "golden_customers.parquet").read_bytes()
    crm = sample.parent / "exports" / "crm.csv"
    original = crm.read_bytes()
    keys, reused = incremental_selection(load_sources(sample), out)
    assert "crm" in reused
    try:
        crm.write_bytes(original[: original.rindex(b"\n", 0, -1) + 1])  # one row fewer
        job = build_definitions(sample, out).resolve_job_def(BUILD_JOB)
        with DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                asset_selection=keys,
                tags={INCREMENTAL_TAG: "true", REUSED_TAG: ",".join(reused)},
            )
    finally:
        crm.write_bytes(original)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "customer_records"
    assert "'crm' changed" in str(failure.step_failure_data.error)
    assert (out / "golden_customers.parquet").read_bytes() == published


def test_the_command_line_runs_incrementally_and_says_what_it_reused(
    runs, sample, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance, not the user's
    out = tmp_path / "out"
    shutil.copytree(runs["out"], out, symlinks=True)
    command = ["run", "--sources", str(sample), "--out", str(out), "--quiet", "--incremental"]
    assert main(command) == 0
    assert "nothing changed since run" in capsys.readouterr().out
    # as if the publication had been built from other inputs: the run goes ahead
    forget_inputs(out)
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "reused unchanged: crm, billing, marketing, support" in printed
    # the threshold is the first run's, kept with its model, and says so
    first = json.loads((runs["out"] / "run_summary.json").read_text(encoding="utf-8"))
    kept = first["linkage"]["match_threshold"]
    assert f"match threshold: {kept:g}, chosen by the run whose model and pairs" in printed


@pytest.mark.parametrize(
    "tamper",
    [
        {"threshold": {"value": None}},
        {"threshold": {"value": "0.5"}},
        {"threshold": {"value": 1.5}},
        {"threshold": [0.5]},
        {"design": "email"},
        "not json {",
    ],
)
def test_a_stored_linkage_state_that_is_not_what_a_run_writes_is_not_used(runs, tmp_path, tamper):
    """The output folder is not trusted: a tampered state means a full linkage, not a crash."""
    out = tmp_path / "out"
    shutil.copytree(runs["out"], out, symlinks=True)
    layout = OutputLayout(out)
    state = layout.linkage_state / "state.json"
    stored = json.loads(state.read_text(encoding="utf-8"))
    assert load_linkage_state(layout, stored["key"]) is not None
    text = tamper if isinstance(tamper, str) else json.dumps(stored | tamper)
    state.write_text(text, encoding="utf-8")
    assert load_linkage_state(layout, stored["key"]) is None


def test_an_incremental_run_with_nothing_changed_keeps_the_publication(runs, sample, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(runs["out"], out, symlinks=True)
    latest = (out / "latest").readlink()
    with DagsterInstance.ephemeral() as instance:
        outcome = run(sample, out, instance, incremental=True)
        assert outcome.unchanged
        assert outcome.run_id == runs["second"].run_id
        assert (out / "latest").readlink() == latest
        assert instance.get_runs() == []  # no Dagster run was started
        # a publication built from other inputs is no reason to skip
        forget_inputs(out)
        redone = run(sample, out, instance, incremental=True)
        assert not redone.unchanged and len(instance.get_runs()) == 1
        assert (out / "latest").readlink() != latest
        published = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
        inputs = run_fingerprint(load_sources(sample), OutputLayout(out))
        assert published["inputs_fingerprint"] == inputs
        # a person erased on request since: the suppression list is an input too
        OutputLayout(out).suppression.write_text("{}", encoding="utf-8")
        assert run_fingerprint(load_sources(sample), OutputLayout(out)) != inputs


def test_the_run_fingerprint_follows_every_input(sample, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(sample.parent, root)
    sources = root / sample.name
    config = load_sources(sources)
    before = run_fingerprint(config)
    assert run_fingerprint(load_sources(sources)) == before
    decisions = root / "decisions.csv"
    decisions.write_text("kind,record_keys,golden_ids,author,at,reason\n", encoding="utf-8")
    assert run_fingerprint(config) != before
    decisions.unlink()
    assert run_fingerprint(config) == before
    text = sources.read_text(encoding="utf-8")
    sources.write_text(text + "\nprivacy: {reveal_personal_data: true}\n", encoding="utf-8")
    assert run_fingerprint(load_sources(sources)) != before
    sources.write_text(text, encoding="utf-8")
    export = config.files(config.source("support"))[0]
    export.write_bytes(export.read_bytes() + export.read_bytes().splitlines(keepends=True)[-1])
    assert run_fingerprint(config) != before


def test_records_of_pairs_near_the_threshold_are_rescored_as_if_changed():
    # term frequencies move a kept pair's weight as other records come and go: a pair within
    # a bit of the match threshold's weight (log2(0.8 / 0.2) = 2) is scored again, the others
    # are kept; with nothing changed, nothing moved and nothing is scored again
    from whiteglove.linkage.reuse import TF_DRIFT_BITS, reusable

    hashes = pl.DataFrame({"unique_id": list("abcdefg"), "record_hash": list(range(7))})
    hashes = hashes.with_columns(pl.col("record_hash").cast(pl.UInt64))
    pairs = pl.DataFrame(
        {
            "unique_id_l": ["a", "c", "e"],
            "unique_id_r": ["b", "d", "f"],
            # below by more than the margin; above by less; above by more
            "match_weight": [
                2 - TF_DRIFT_BITS - 0.1,
                2 + 0.9 * TF_DRIFT_BITS,
                2 + TF_DRIFT_BITS + 0.1,
            ],
            "match_probability": [0.7, 0.9, 0.92],
        }
    )
    previous = PreviousLinkage(0.8, {}, hashes, pairs, pairs.head(0), ["rules"])
    assert reusable(previous, ["rules"], hashes, None).nothing_changed

    arrived = pl.DataFrame({"unique_id": ["h"], "record_hash": [99]}, schema=hashes.schema)
    reuse = reusable(previous, ["rules"], pl.concat([hashes, arrived]), None)
    changed = dict(zip([*hashes["unique_id"], "h"], reuse.changed, strict=True))
    assert [k for k, v in changed.items() if v] == ["c", "d", "h"]
    assert reuse.pairs.select("unique_id_l", "unique_id_r").rows() == [("a", "b"), ("e", "f")]
