"""Twenty runs back to back in one process leave memory, file handles and disk use flat.

A long-lived process (the Dagster daemon, a notebook, a service calling run_pipeline) must
not leak: every run closes its DuckDB connections, files and Dagster instance, old snapshots
are pruned to five, and a run's scratch folder is removed once it is published.

Bounds, measured after each run:
- open file descriptors: the same count after every run from the third on (a leak of one
  per run would show as +17);
- disk use of the output folder: once pruning has kicked in (run 6 on), within 15% of the
  median of runs 6-10 (each run's files differ by a few bytes; a kept scratch folder or an
  unpruned snapshot adds a whole run's worth, about 30%);
- resident memory: the mean of the last five runs within 15% (and 60 MB) of the mean of
  runs 6-10. Allocators keep freed pages and imports warm up during the first runs, so the
  early runs are not the baseline; a leak of a frame or a DuckDB database per run (several
  MB each) compounds to well over that by run 20.
"""

import os
import statistics
import time
from pathlib import Path

from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.conftest import make_sample

RUNS = 20


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def disk_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_twenty_runs_back_to_back_stay_flat(tmp_path):
    sources = make_sample(tmp_path, people=150, seed=83)
    out = tmp_path / "out"
    memory, files, disk, seconds = [], [], [], []
    for _ in range(RUNS):
        started = time.monotonic()
        with DagsterInstance.ephemeral() as instance:
            outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert outcome.success, outcome.failures
        seconds.append(time.monotonic() - started)
        memory.append(resident_mb())
        files.append(open_files())
        disk.append(disk_bytes(out))
    report = (
        f"seconds {[round(s, 1) for s in seconds]}\nRSS MB {[round(m) for m in memory]}\n"
        f"fds {files}\ndisk KB {[d // 1024 for d in disk]}"
    )
    print(report)

    assert max(files[2:]) == min(files[2:]), report
    baseline_disk = statistics.median(disk[5:10])
    assert max(disk[5:]) <= baseline_disk * 1.15, report
    assert len(list((out / "snapshots").iterdir())) == 5
    # the working folder holds one value per asset and the incremental state, no more
    assert not list((out / ".work").glob(".*"))
    baseline_memory = statistics.mean(memory[5:10])
    last_memory = statistics.mean(memory[-5:])
    assert last_memory <= max(baseline_memory * 1.15, baseline_memory + 60), report
