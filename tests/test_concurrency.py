"""Two runs on one output folder never interleave: the second waits, or fails clearly.

A run holds an exclusive flock(2) on `<out>/.lock` from start to end (pipelines/runner.py);
`publish` also holds `<out>/.publish.lock`, for runs launched from the Dagster UI, which do not
go through the runner. The kernel drops a lock when its holder dies, so a killed run never
blocks the next one.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.layout import PROJECT_ROOT
from whiteglove.publish import LATEST, PUBLISH_LOCK, OutputBusyError, output_lock, publish


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    return make_sample(tmp_path_factory.mktemp("concurrency"), people=60, seed=71)


def env() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    return environment


def test_a_run_on_a_busy_folder_fails_clearly_and_touches_nothing(sources, tmp_path):
    out = tmp_path / "out"
    with output_lock(out):
        with DagsterInstance.ephemeral() as instance:
            started = time.monotonic()
            outcome = run_pipeline(sources, out, instance=instance, lock_timeout=1.0)
            waited = time.monotonic() - started
    assert not outcome.success
    (message,) = outcome.failures
    assert f"another run is publishing to {out.resolve()} (pid {os.getpid()})" in message
    assert waited >= 1.0  # it waited for the lock before giving up
    assert not (out / ".work").exists() and not (out / "snapshots").exists()


def test_a_waiting_run_goes_ahead_once_the_lock_is_released(sources, tmp_path):
    out = tmp_path / "out"
    held = threading.Event()

    def hold_for_a_while() -> None:
        with output_lock(out):
            held.set()
            time.sleep(2.0)

    holder = threading.Thread(target=hold_for_a_while)
    holder.start()
    held.wait(10)
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR", lock_timeout=120)
    holder.join()
    assert outcome.success, outcome.failures


def test_two_runs_started_at_once_do_not_corrupt_the_output(sources, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipelines.cli", "run", "--quiet", "--sources", str(sources)]
    runs = [
        subprocess.Popen(
            [*command, "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for _ in range(2)
    ]
    results = [(r.wait(timeout=600), *r.communicate()) for r in runs]

    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], [err[-2000:] for _, _, err in results]
    loser = next(err for code, _, err in results if code == 1)
    assert "another run is publishing to" in loser and "(pid " in loser
    summary = json.loads((out / "run_summary.json").read_text())
    assert Path(os.readlink(out / LATEST)).name.endswith(summary["run_id"][:8])
    assert pl.read_parquet(out / "golden_customers.parquet").height > 0
    assert [p.name for p in (out / "snapshots").iterdir()] == [Path(os.readlink(out / LATEST)).name]


def test_concurrent_publications_are_serialized(tmp_path):
    """Runs started from the Dagster UI skip the runner's lock; publish has its own."""
    out = tmp_path / "out"
    errors: list[BaseException] = []

    def publish_run(i: int) -> None:
        frame = pl.DataFrame({"run": [i] * 1000, "value": list(range(1000))})
        try:
            publish(out, f"run{i:02d}", tables={"golden_customers": frame}, documents={})
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=publish_run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    current = Path(os.readlink(out / LATEST)).name
    table = pl.read_parquet(out / "golden_customers.parquet")
    assert table["run"].unique().to_list() == [int(current[3:])]  # one run's table, whole
    snapshots = sorted(p.name for p in (out / "snapshots").iterdir())
    # pruned to the five newest names, plus the current one if it is older; none half-written
    assert 5 <= len(snapshots) <= 6 and current in snapshots
    assert all(
        (out / "snapshots" / name / "golden_customers.parquet").exists() for name in snapshots
    )


def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from whiteglove.publish import output_lock, PUBLISH_LOCK\n"
            "with output_lock(Path(sys.argv[1]), PUBLISH_LOCK):\n"
            "    print('locked', flush=True); time.sleep(120)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"):
        with output_lock(out, PUBLISH_LOCK):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with output_lock(out, PUBLISH_LOCK, timeout=5):  # taken at once: the kernel freed it
        pass
