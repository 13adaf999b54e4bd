"""Crash-safe, idempotent runs: kill `whiteglove run` anywhere, and nothing is half-published.

Each case starts from the same published output (run on the old exports), starts a real
`whiteglove run` subprocess on changed exports, kills it at one point (SIGKILL, or SIGTERM,
which Dagster turns into a clean failure), and checks that:

- the published output is entirely the old one or entirely the new one, never a mix;
- a re-run succeeds, leaves no temporary or never-published files behind, and publishes
  exactly what an uninterrupted run publishes (same rows, same golden ids).

Kill points inside `publish` use its test hook (WHITEGLOVE_TEST_PAUSE_IN_PUBLISH, see
whiteglove/publish.py): the process stops there and says so, so the kill lands exactly
between writing the snapshot, renaming it into place and switching `latest`. The other points
are observed from outside: a stage's work file appearing, or the linking step's log lines.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.layout import PROJECT_ROOT
from whiteglove.publish import LATEST, PAUSE_VARIABLE, SNAPSHOTS

TABLES = ["golden_customers", "customer_xref", "golden_lineage", "match_pairs", "quarantine"]
DEADLINE = 240.0  # seconds a killed run may take to reach its kill point on a busy machine


@dataclass
class Setup:
    root: Path
    old_out: Path  # published from the old exports
    new_sources: Path  # the changed exports
    old: dict[str, pl.DataFrame]
    new: dict[str, pl.DataFrame]  # what an uninterrupted run on the changed exports publishes


def run(sources: Path, out: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")
    assert outcome.success, outcome.failures


def published(out: Path) -> dict[str, pl.DataFrame]:
    """The published tables as sorted frames: what a reader sees, not bytes or run ids.

    Clock readings of the run itself (UTC timestamps such as when a golden record last
    changed) are left out; timestamps from the data are naive and compared.
    """
    frames = {}
    for name in TABLES:
        frame = pl.read_parquet(out / f"{name}.parquet")
        frame = frame.drop(
            c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone
        )
        frame = frame.with_columns(
            [pl.col(c).list.join("|") for c, t in frame.schema.items() if isinstance(t, pl.List)]
            + [pl.col(c).round(9) for c, t in frame.schema.items() if t.is_float()]
        )
        frames[name] = frame.sort(frame.columns, nulls_last=True)
    return frames


def same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return all(a[n].equals(b[n]) for n in TABLES)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    root = tmp_path_factory.mktemp("crash")
    old_sources = make_sample(root, people=80, seed=61)
    old_out = root / "old_out"
    run(old_sources, old_out)
    # The new exports: the same people, minus the last crm rows, so the outputs differ.
    changed = root / "changed"
    shutil.copytree(root / "exports", changed / "exports")
    crm = changed / "exports" / "crm.csv"
    crm.write_text("\n".join(crm.read_text(encoding="utf-8").split("\n")[:-12]) + "\n")
    new_sources = changed / "sources.yaml"
    new_sources.write_text((root / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copyfile(root / "truth.csv", changed / "truth.csv")  # the labels it names
    reference = root / "reference"
    shutil.copytree(old_out, reference, symlinks=True)
    run(new_sources, reference)
    setup = Setup(root, old_out, new_sources, published(old_out), published(reference))
    assert not same(setup.old, setup.new), "the change must show in the output"
    return setup


class Watched:
    """A `whiteglove run` subprocess whose stderr is read as it is written."""

    def __init__(self, sources: Path, out: Path, pause_at: str | None):
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", PAUSE_VARIABLE)}
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        if pause_at:
            env[PAUSE_VARIABLE] = pause_at
        self.started = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run", "--sources", str(sources)]
            + ["--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def kill_when(self, condition: Callable[[], bool], sig: signal.Signals) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.process.poll() is not None:
                pytest.fail("the run ended before its kill point:\n" + "".join(self.lines)[-3000:])
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail("the kill point never came:\n" + "".join(self.lines)[-3000:])
            time.sleep(0.01)
        self.process.send_signal(sig)
        self.process.wait(timeout=120)
        self.reader.join(timeout=10)


def work_file_written(out: Path, pattern: str, since: float) -> Callable[[], bool]:
    def check() -> bool:
        return any(p.stat().st_mtime >= since for p in (out / ".work").glob(pattern))

    return check


LEFTOVER_PATTERNS = ["**/*.tmp", "**/*.partial", "**/*.deleting", "**/*.link", ".latest.*"]


def leftovers(out: Path) -> list[str]:
    found = {str(p.relative_to(out)) for pattern in LEFTOVER_PATTERNS for p in out.glob(pattern)}
    found |= {
        str(p.relative_to(out)) for p in (out / SNAPSHOTS).iterdir() if p.name.startswith(".")
    }
    return sorted(found)


def snapshot_names(out: Path) -> set[str]:
    return {p.name for p in (out / SNAPSHOTS).iterdir() if not p.name.startswith(".")}


def latest(out: Path) -> str:
    return Path(os.readlink(out / LATEST)).name


CASES = {
    # name: (signal, test hook point or None, condition factory, what readers must see)
    "extract": (signal.SIGKILL, None, "raw", "old"),
    "linking": (signal.SIGTERM, None, "link", "old"),
    "snapshot written, not yet renamed": (signal.SIGKILL, "staged", "pause", "old"),
    "renamed, latest not yet switched": (signal.SIGKILL, "renamed", "pause", "old"),
    "latest switched, links not yet made": (signal.SIGKILL, "switched", "pause", "new"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_killed_run_publishes_all_or_nothing_and_a_rerun_recovers(setup, tmp_path, case):
    sig, pause_at, trigger, expected = CASES[case]
    out = tmp_path / "out"
    shutil.copytree(setup.old_out, out, symlinks=True)
    before = snapshot_names(out)

    watched = Watched(setup.new_sources, out, pause_at)
    conditions = {
        "raw": work_file_written(out, "raw_*.parquet", watched.started),
        # the linking step logs its blocking rules before it trains and scores
        "link": lambda: watched.said("blocking rule"),
        "pause": lambda: watched.said(f"paused in publish at {pause_at}"),
    }
    watched.kill_when(conditions[trigger], sig)

    assert watched.process.returncode != 0
    seen = published(out)
    assert same(seen, setup.old if expected == "old" else setup.new), f"readers see a mix: {case}"
    summary = json.loads((out / "run_summary.json").read_text())
    assert latest(out).endswith(summary["run_id"][:8])  # summary and tables of one run
    published_after_kill = latest(out)

    run(setup.new_sources, out)

    assert same(published(out), setup.new)
    assert leftovers(out) == []
    # nothing but the snapshots that were published at some point
    assert snapshot_names(out) <= before | {published_after_kill, latest(out)}
    assert all((out / f"{n}.parquet").is_symlink() for n in TABLES)


def test_a_run_of_unchanged_exports_changes_nothing(setup, tmp_path):
    """Idempotent: running again on the same exports publishes the same tables and ids."""
    out = tmp_path / "out"
    shutil.copytree(setup.old_out, out, symlinks=True)
    sources = setup.root / "sources.yaml"
    run(sources, out)
    assert same(published(out), setup.old)
