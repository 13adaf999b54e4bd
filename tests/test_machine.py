"""DuckDB's threads and memory follow the machine unless the sources file sets them."""

from __future__ import annotations

import pytest

from whiteglove import machine
from whiteglove.config import LinkageConfig
from whiteglove.linkage.backends import duckdb_connection
from whiteglove.machine import GIB, duckdb_limits, parse_size


def test_auto_gives_every_core_a_thread_and_every_thread_its_memory() -> None:
    small = duckdb_limits("auto", "auto", cores=2, memory=24 * GIB)
    assert (small.threads, small.memory_bytes) == (2, 2 * GIB)
    big = duckdb_limits("auto", "auto", cores=16, memory=128 * GIB)
    assert (big.threads, big.memory_bytes) == (16, 16 * GIB)
    assert big.threads_derived and big.memory_derived


def test_sixteen_threads_on_a_small_machine_get_the_memory_they_need() -> None:
    # a fixed 2 GB is what failed with sixteen threads ("failed to pin block")
    limits = duckdb_limits("auto", 16, cores=2, memory=24 * GIB)
    assert limits.threads == 16
    assert limits.memory_bytes == int(24 * GIB * machine.MEMORY_SHARE)
    assert limits.memory_bytes / limits.threads > 0.85 * GIB


def test_memory_is_capped_by_the_machine_and_threads_shrink_to_fit() -> None:
    limits = duckdb_limits("auto", "auto", cores=64, memory=16 * GIB)
    assert limits.memory_bytes == int(16 * GIB * machine.MEMORY_SHARE)
    assert limits.threads == limits.memory_bytes // machine.MEMORY_PER_THREAD < 64


def test_a_set_memory_limit_bounds_the_threads_chosen_for_it() -> None:
    limits = duckdb_limits("2GB", "auto", cores=16, memory=128 * GIB)
    assert limits.memory_bytes == 2 * GIB
    assert limits.threads == 2


def test_set_values_are_kept_as_given() -> None:
    limits = duckdb_limits("3GB", 5, cores=16, memory=128 * GIB)
    assert (limits.threads, limits.memory_bytes) == (5, 3 * GIB)
    assert limits.summary()["threads_chosen_by"] == "the sources file"
    assert limits.summary()["memory_limit_chosen_by"] == "the sources file"
    mixed = duckdb_limits("auto", 16, cores=2, memory=24 * GIB).summary()
    assert (mixed["threads_chosen_by"], mixed["memory_limit_chosen_by"]) == (
        "the sources file",
        "the machine (auto)",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * GIB), ("500MiB", 500 << 20), ("1.5 GB", int(1.5 * GIB)), ("25%", 4 * GIB)],
)
def test_sizes_in_duckdb_syntax(text: str, expected: int) -> None:
    assert parse_size(text, 16 * GIB) == expected


def test_a_cgroup_quota_bounds_cores_and_memory(tmp_path, monkeypatch) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one core's worth
    (tmp_path / "memory.max").write_text(str(3 * GIB))
    monkeypatch.setattr(machine, "_CGROUP", tmp_path)
    assert machine.available_cores() == 1
    assert machine.available_memory() == 3 * GIB
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert machine.available_cores() >= 1
    assert machine.available_memory() > 0


def test_the_linking_connection_runs_with_the_chosen_limits() -> None:
    config = LinkageConfig(duckdb_threads=3, duckdb_memory_limit="1GB")
    with duckdb_connection(config) as con:
        threads, memory = con.sql(
            "select current_setting('threads'), current_setting('memory_limit')"
        ).fetchall()[0]
    assert int(threads) == 3
    assert memory.replace(" ", "") in {"1.0GiB", "1024.0MiB", "1.0GB", "953.6MiB"}


def test_the_sources_file_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="duckdb_threads"):
        LinkageConfig(duckdb_threads=0)
    with pytest.raises(ValueError, match="duckdb_memory_limit"):
        LinkageConfig(duckdb_memory_limit="lots")
