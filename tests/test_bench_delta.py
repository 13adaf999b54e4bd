"""The nightly delta of `make bench` (benchmarks/delta_data.py, and its targets in
benchmarks/bench.py): the files it changes and the figures it judges, on a small generated
sample and hand-made frames. No pipeline run: tests/test_bench.py runs the harness."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks import bench, delta_data
from whiteglove.sample_data import generate

ID_COLUMNS = {
    "crm": "IdCliente",
    "billing": "account_id",
    "marketing": "id",
    "support": "ticket_id",
}


@pytest.fixture
def sample(tmp_path) -> Path:
    generate(tmp_path, people=400, seed=11)
    return tmp_path


def _ids(exports: Path, source: str) -> list[str]:
    name, delimiter = delta_data.EXPORTS[source]
    path = exports / name
    if name.endswith(".parquet"):
        frame = pl.read_parquet(path)
    elif name.endswith(".jsonl"):
        frame = pl.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    else:
        frame = pl.read_csv(path, separator=delimiter, infer_schema=False)
    return [str(v) if v is not None else "" for v in frame[ID_COLUMNS[source]].to_list()]


def test_csv_records_keep_quoted_newlines_and_exact_bytes():
    data = b'id,note\r\n1,"two\nlines"\r\n2,"a ""quote"""\r\n3,plain\r\n'
    chunks = delta_data.csv_records(data, ",")
    assert chunks == [b"id,note\r\n", b'1,"two\nlines"\r\n', b'2,"a ""quote"""\r\n', b"3,plain\r\n"]
    assert b"".join(chunks) == data


def test_held_back_rows_are_the_newest_tickets_and_come_back_byte_for_byte(sample):
    support = sample / "exports" / "support.csv"
    original = support.read_bytes()
    truth = delta_data.read_truth(sample / "truth.csv")
    before = _ids(sample / "exports", "support")

    held = delta_data.hold_back_rows(support, 25)
    after_hold = _ids(sample / "exports", "support")
    assert after_hold == before[:-25]
    expected = delta_data.last_rows(truth, "support", 25)["source_record_id"].to_list()
    assert expected == before[-25:]
    assert held.count(b"\n") >= 25 and held.startswith(before[-25].encode())

    delta_data.append_rows(support, held)
    assert support.read_bytes() == original
    with pytest.raises(ValueError, match="cannot hold back"):
        delta_data.hold_back_rows(support, len(before))


def test_deleted_records_leave_every_export_and_nothing_else_does(sample):
    exports = sample / "exports"
    truth = delta_data.read_truth(sample / "truth.csv")
    before = {s: _ids(exports, s) for s in delta_data.EXPORTS}
    billing_schema = pl.read_parquet_schema(exports / "billing.parquet")

    deleted = delta_data.delete_records(exports, truth, 0.05, seed=3)
    assert deleted.height == round(truth.height * 0.05)
    assert deleted["source"].n_unique() == 4  # across the exports, not one file
    for source in delta_data.EXPORTS:
        rows = set(deleted.filter(pl.col("source") == source)["row_number"].to_list())
        kept = [rid for i, rid in enumerate(before[source], 1) if i not in rows]
        assert _ids(exports, source) == kept, source
    assert pl.read_parquet_schema(exports / "billing.parquet") == billing_schema

    # the files no longer match the truth: a second deletion refuses rather than guesses
    with pytest.raises(ValueError, match="truth.csv lists"):
        delta_data.delete_records(exports, truth, 0.05, seed=3)


def test_deletions_are_seeded(tmp_path):
    picked = []
    for run in ("a", "b"):
        generate(tmp_path / run, people=200, seed=5)
        truth = delta_data.read_truth(tmp_path / run / "truth.csv")
        deleted = delta_data.delete_records(tmp_path / run / "exports", truth, 0.03, seed=9)
        picked.append(deleted.sort("source", "row_number"))
    assert picked[0].equals(picked[1])


def _xref(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["source", "source_record_id", "golden_id"], orient="row")


TRUTH = pl.DataFrame(
    {
        "source": ["crm", "crm", "support", "support", "billing", "crm", "crm"],
        "source_record_id": ["C1", "C2", "T1", "T2", "B1", "C9", "C9"],
        "row_number": [1, 2, 1, 2, 1, 3, 4],
        "person_id": ["p1", "p2", "p1", "p3", "p2", "p4", "p5"],
    }
)


def test_untouched_customers_compare_golden_ids_per_record():
    before = _xref(
        [("crm", "C1", "g1"), ("crm", "C2", "g2"), ("support", "T1", "g1"),
         ("billing", "B1", "g2"), ("crm", "C9", "g9")]
    )  # fmt: skip
    after = _xref(
        [("crm", "C1", "g7"), ("crm", "C2", "g2"), ("support", "T1", "g7"),
         ("support", "T2", "g3"), ("crm", "C9", "g8")]
    )  # fmt: skip
    touched = TRUTH.filter(pl.col("source_record_id") == "T1")  # person p1
    result = delta_data.untouched_unchanged(before, after, TRUTH, touched)
    # p1's records are touched; T2 had no golden id before; C9 names two records (left out);
    # of p2's C2 (same) and B1 (gone from the crosswalk: changed), one is unchanged
    assert result == {"records": 2, "unchanged": 1, "share": 0.5, "people": 1}


def test_deleted_records_customers_reported_as_updated_retired_or_merged():
    previous = _xref(
        [("crm", "C1", "g1"), ("crm", "C2", "g2"), ("support", "T2", "g3"), ("billing", "B1", "g2")]
        + [("crm", "C3", "g4")]
    )
    deleted = pl.concat(
        [
            TRUTH.filter(pl.col("source_record_id").is_in(["C1", "C2", "T2", "C9"])),
            TRUTH.head(1).with_columns(source_record_id=pl.lit("C3"), person_id=pl.lit("p6")),
        ]
    )
    changes = pl.DataFrame(
        {"golden_id": ["g1", "g2", "g4", "g5"], "change": ["retired", "updated", "merged", "new"]}
    ).with_columns(pl.col("change").cast(pl.Enum(["new", "updated", "merged", "retired"])))
    result = delta_data.deleted_customers_reported(deleted, previous, changes)
    # C9 had no customer; g3 (T2's) is not in the changes; g4 merged into another customer
    assert result["with_customer"] == 4 and result["reported"] == 3
    assert result["share"] == pytest.approx(3 / 4, abs=1e-6)
    assert result["by_change"] == {"retired": 1, "updated": 1, "merged": 1, "not reported": 1}


def test_sources_with_sets_linkage_keys_next_to_the_original(sample):
    import yaml

    path = delta_data.sources_with(sample / "sources.yaml", "t16.yaml", duckdb_threads=16)
    assert path.parent == sample
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    original = yaml.safe_load((sample / "sources.yaml").read_text(encoding="utf-8"))
    assert written["linkage"]["duckdb_threads"] == 16
    assert written["sources"] == original["sources"]


def _run(wall: float, f1: float | None = 0.98, ok: bool = True) -> dict:
    return {
        "ok": ok,
        "wall_seconds": wall,
        "cpu_seconds": wall,
        "peak_rss_bytes": 2**30,
        "timed_out": False,
        "error": None if ok else "exit code 1: boom",
        "step_seconds": {"linkage": wall / 2},
        "accuracy": None if f1 is None else {"f1": f1},
    }


def _delta(**runs: dict) -> dict:
    delta = {
        "target_records": 1_000_000,
        "records": 996_718,
        "share": 0.01,
        "delta_records": 9_967,
        "deleted_records": 9_967,
        "ok": True,
        "runs": runs,
        "delta_untouched": {"records": 900, "unchanged": 895, "share": 0.9944, "people": 300},
        "deletion_untouched": {"records": 900, "unchanged": 880, "share": 0.9778, "people": 300},
        "deleted_reported": {
            "deleted_records": 10,
            "with_customer": 10,
            "reported": 10,
            "share": 1.0,
            "by_change": {"updated": 10},
        },
    }
    delta.update(bench.delta_figures(delta))
    return delta


def test_delta_targets():
    delta = _delta(
        base_full=_run(100),
        delta_incremental=_run(20, 0.9701),
        delta_full=_run(100, 0.9720),
        no_change_incremental=_run(12),
        deletion_incremental=_run(30, 0.9700),
        deletion_full=_run(100, 0.9705),
    )
    assert delta["delta_ratio"] == 0.2 and delta["no_change_ratio"] == 0.12
    met = {t["target"]: t["met"] for t in bench.targets([], delta)}
    assert met == {
        "delta: incremental <= 0.25x full run": True,
        "delta: F1 within 0.002 of full run": True,
        "delta: untouched customers' golden ids unchanged >= 99%": True,
        "no change: incremental <= 0.1x full run": False,
        "deletions: incremental <= 0.25x full run": False,
        "deletions: F1 within 0.002 of full run": True,
        "deletions: untouched customers' golden ids unchanged >= 99%": False,
        "deletions: deleted records' customers reported updated/retired/merged = 100%": True,
    }
    assert all(t["records"] == 996_718 for t in bench.targets([], delta))
    # the F1 gap is absolute: an incremental run better than the full one by 0.003 fails too
    worse = _delta(delta_incremental=_run(20, 0.9750), delta_full=_run(100, 0.9720))
    gap = {t["target"]: t for t in bench.targets([], worse)}["delta: F1 within 0.002 of full run"]
    assert gap["value"] == pytest.approx(0.003) and gap["met"] is False


def test_a_failed_incremental_run_has_no_ratio_and_is_shown_failed():
    delta = _delta(
        base_full=_run(100),
        delta_incremental=_run(20, None, ok=False),
        delta_full=_run(100),
    )
    assert delta["delta_ratio"] is None and delta["delta_f1_gap"] is None
    met = {t["target"]: t["met"] for t in bench.targets([], delta)}
    # no figure from a run that failed: the target is not met, not skipped
    assert met["delta: incremental <= 0.25x full run"] is False
    assert met["deletions: F1 within 0.002 of full run"] is False
    text = "\n".join(bench._delta_lines(delta))
    assert "| `--incremental`, the newest rows appended | failed |" in text
    assert "`delta_incremental` failed: exit code 1: boom" in text


def _size(records: int, wall: float, f1: float, rss: float = 4e9, ok: bool = True) -> dict:
    return {
        "records": records,
        "pipeline": {
            "ok": ok,
            "wall_seconds": wall if ok else None,
            "peak_rss_bytes": rss if ok else None,
            "accuracy": {"f1": f1, "largest_cluster": 9} if ok else None,
            "error": None if ok else "stopped after 900 s",
        },
        "plain_splink": {"ok": True, "wall_seconds": 80.0},
        "tutorial_splink": {"ok": True, "wall_seconds": 90.0},
        "pipeline_to_plain_ratio": round(wall / 80, 3),
        "pipeline_to_tutorial_ratio": round(wall / 90, 3),
        "dataset": {"largest_true_entity": 10},
    }


def test_three_million_targets_against_one_million():
    sizes = [_size(996_718, 100.0, 0.971), _size(2_990_154, 390.0, 0.969, rss=25e9)]
    up = bench.scale_up(sizes)
    # (390 / 2,990,154) / (100 / 996,718) = 1.30
    assert up["per_record_time_ratio"] == pytest.approx(1.3, abs=0.001)
    checks = {(t["target"], t["records"]): t["met"] for t in bench.targets(sizes)}
    assert checks[("per-record time <= 1.2x that near 1M", 2_990_154)] is False
    assert checks[("peak RSS within 24 GB", 2_990_154)] is False
    assert checks[("pairwise F1 >= 0.97", 2_990_154)] is False
    assert checks[("pairwise F1 >= 0.97", 996_718)] is True
    assert checks[("large run completes", 2_990_154)] is True
    # 100 s against the tutorial-style script's 90 s: 1.11x, over the 1.0x target
    assert checks[("pipeline <= 1.0x tutorial-style Splink", 996_718)] is False

    stopped = [_size(996_718, 100.0, 0.971), _size(2_990_154, 0, 0, ok=False)]
    checks = {(t["target"], t["records"]): t["met"] for t in bench.targets(stopped)}
    assert checks[("large run completes", 2_990_154)] is False
    assert checks[("per-record time <= 1.2x that near 1M", 2_990_154)] is False
    assert bench.scale_up([_size(2_990_154, 390.0, 0.97)]) is None  # nothing near 1M


def test_sixteen_threads_target_and_text():
    done = {"target_records": 20_000, "records": 19_841, "ok": True, **_run(21.0)}
    [target] = bench.targets([], threads16=done)
    assert target["met"] is True and target["records"] == 19_841
    assert "completed, 21.0 s" in "\n".join(bench._threads16_lines(done))
    failed = {"target_records": 20_000, "ok": False, "error": "Traceback ...\nMemoryError"}
    [target] = bench.targets([], threads16=failed)
    assert target["met"] is False
    assert "did **not** complete (MemoryError)" in "\n".join(bench._threads16_lines(failed))
