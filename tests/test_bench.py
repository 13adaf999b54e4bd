"""The benchmark harness (benchmarks/bench.py) at a tiny size: it must run end to end and report
every figure `make bench` promises, so a broken harness fails here, not after an hour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench

TINY_RECORDS = 2_000


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> tuple[int, dict, Path]:
    root = tmp_path_factory.mktemp("bench")
    results = root / "RESULTS.md"
    results.write_text("# Results\n\nHand-written notes stay.\n", encoding="utf-8")
    code = bench.main(
        ["--sizes", str(TINY_RECORDS), "--out-dir", str(root / "out"), "--results", str(results)]
        + ["--lookups", "40"]
    )
    [json_path] = (root / "out").glob("*.json")
    return code, json.loads(json_path.read_text()), results


def test_tiny_run_reports_every_figure(tiny_report):
    code, report, _ = tiny_report
    assert code == 0
    assert {"machine", "config", "sizes", "linearity", "targets", "started_at"} <= set(report)
    machine = report["machine"]
    assert machine["cpus"] >= 1 and machine["memory_bytes"] > 0
    assert machine["packages"]["splink"] and machine["packages"]["polars"]
    [size] = report["sizes"]
    assert size["ok"], size
    # the generator's records per person keep the size near the target
    assert abs(size["records"] - TINY_RECORDS) < 0.1 * TINY_RECORDS
    dataset = size["dataset"]
    assert dataset["generation_seconds"] > 0
    assert sum(dataset["records_by_source"].values()) == size["records"]
    assert dataset["largest_true_entity"] >= 2

    for name in ("pipeline", "plain_splink", "tutorial_splink"):
        part = size[name]
        assert part["ok"] and part["runs_ok"] == 1, part["error"]
        assert part["wall_seconds"] > 0
        assert 50 * 2**20 < part["peak_rss_bytes"] < 20 * 2**30
        assert 0 < part["cpu_seconds"]
        assert part["records_per_second"] == pytest.approx(
            size["records"] / part["wall_seconds"], rel=0.01
        )
        accuracy = part["accuracy"]
        assert accuracy["records_scored"] > 0.95 * size["records"]
        assert 0.5 < accuracy["f1"] <= 1.0
        assert 1 <= accuracy["largest_cluster"] < size["records"]
    lookup = size["pipeline"]["lookup"]
    assert lookup["lookups"] == 40 and lookup["records_indexed"] > 0.95 * size["records"]
    assert 0 < lookup["p50_ms"] <= lookup["p95_ms"]
    assert lookup["own_customer_first"] > 0.9
    assert size["pipeline_to_plain_ratio"] == pytest.approx(
        size["pipeline"]["wall_seconds"] / size["plain_splink"]["wall_seconds"], rel=0.01
    )

    assert size["pipeline_to_plain_cpu_ratio"] > 0
    assert size["pipeline_to_tutorial_ratio"] == pytest.approx(
        size["pipeline"]["wall_seconds"] / size["tutorial_splink"]["wall_seconds"], rel=0.01
    )
    # the tutorial-style script keeps pairs above 0.5 only, the lighter one above 0.01
    pairs = {n: size[n]["runs"][0]["match_pairs"] for n in ("tutorial_splink", "plain_splink")}
    assert 0 < pairs["tutorial_splink"] < pairs["plain_splink"]

    steps = size["pipeline"]["step_seconds"]
    assert {"linkage", "golden_customers", "published_outputs"} <= set(steps)
    assert all(v >= 0 for v in steps.values())
    # the steps run one after another inside the measured process
    assert sum(steps.values()) < size["pipeline"]["wall_seconds"]
    assert set(size["plain_splink"]["step_seconds"]) == {
        "load",
        "train",
        "predict",
        "cluster",
        "total",
    }


def test_results_file_keeps_notes_and_gets_the_table(tiny_report):
    _, _, results = tiny_report
    text = results.read_text(encoding="utf-8")
    assert "Hand-written notes stay." in text
    assert text.count(bench.RESULTS_BEGIN) == 1 and text.count(bench.RESULTS_END) == 1
    assert "| linkage |" in text and "plain Splink" in text
    assert "Single lookups" in text and "| p95 ms |" in text
    bench.update_results(results, "second table\n")  # replaced, not appended
    text = results.read_text(encoding="utf-8")
    assert text.count(bench.RESULTS_BEGIN) == 1 and "second table" in text
    assert "| linkage |" not in text and "Hand-written notes stay." in text


def test_durations_from_dagster_logs():
    assert bench.parse_duration("8.3ms") == pytest.approx(0.0083)
    assert bench.parse_duration("533ms") == pytest.approx(0.533)
    assert bench.parse_duration("2.1s") == pytest.approx(2.1)
    assert bench.parse_duration("4m52s") == 292
    assert bench.parse_duration("1h4m") == 3840


def _size(records: int, pipeline: float | None, plain: float | None, **extra) -> dict:
    def part(wall):
        return None if wall is None else {"ok": True, "wall_seconds": wall, **extra}

    return {"records": records, "pipeline": part(pipeline), "plain_splink": part(plain)}


def test_linearity_is_the_ratio_of_per_record_times():
    result = bench.linearity([_size(100_000, 20.0, 10.0), _size(1_000_000, 300.0, 80.0)])
    assert result["records_factor"] == 10
    assert result["per_record_time_ratio"] == {"pipeline": 1.5, "plain_splink": 0.8}
    # plain: 10 s at 100k, 80 s at 1M -> 70 s per 900k more records, 2.2 s fixed
    fit = result["two_point_fit"]["plain_splink"]
    assert fit == {"fixed_seconds": 2.2, "marginal_ms_per_record": pytest.approx(0.0778)}
    assert bench.linearity([_size(100_000, 20.0, 10.0)]) is None


def test_targets_at_one_million_records():
    size = _size(
        1_000_000,
        100.0,
        80.0,
        peak_rss_bytes=5e9,
        accuracy={"f1": 0.96, "largest_cluster": 12},
    )
    size.update(
        pipeline_to_plain_ratio=1.25,
        pipeline_to_tutorial_ratio=1.05,
        dataset={"largest_true_entity": 10},
    )
    met = {t["target"]: t["met"] for t in bench.targets([size])}
    assert met == {
        "wall time < 120 s": True,
        "peak RSS < 6 GB": True,
        "pipeline <= 1.5x plain Splink": True,
        "pairwise F1 >= 0.97": False,
        "largest cluster <= largest true entity": False,
        "pipeline <= 1.0x tutorial-style Splink": False,
    }
    # the tutorial-style script not run (--tutorial-up-to below the size): no verdict
    size["pipeline_to_tutorial_ratio"] = None
    met = {t["target"]: t["met"] for t in bench.targets([size])}
    assert met["pipeline <= 1.0x tutorial-style Splink"] is None
    assert bench.targets([_size(100_000, 20.0, 10.0)]) == []


def test_reused_exports_get_todays_sources_file(tiny_report):
    """The exports are cached between runs; the sources file must not be, or a benchmark of
    today's code would run on the linkage and survivorship settings of the day of generation."""
    import yaml

    from whiteglove.layout import BUNDLED_SOURCES

    _, report, _ = tiny_report
    root = Path(report["sizes"][0]["dataset"]["root"])
    (root / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    dataset = bench.prepare_data(
        TINY_RECORDS, bench.DEFAULT_SEED, root.parent, {}, regenerate=False
    )
    assert dataset.reused
    written = yaml.safe_load((root / "sources.yaml").read_text(encoding="utf-8"))
    product = yaml.safe_load(BUNDLED_SOURCES.read_text(encoding="utf-8"))
    # the timed run scores nothing itself: real exports come without their truth
    assert product["linkage"].pop("labels") and "labels" not in written["linkage"]
    for section in ("sources", "linkage", "golden"):
        assert written.get(section) == product.get(section)
