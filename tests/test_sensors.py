"""The inbox sensor requests one run per arrival, never twice; the nightly schedule exists."""

import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    build_schedule_context,
    build_sensor_context,
)

from pipelines.build import BUILD_JOB, OWNERS, PUBLISHED_ASSETS, build_definitions
from pipelines.schedules import DAILY_SCHEDULE, PUBLISHED_FRESHNESS, TIMEZONE, TRIGGER_TAG
from pipelines.sensors import INBOX_SENSOR, inbox_sensor
from tests.conftest import make_sample, run_once

AN_HOUR_AGO = time.time() - 3600


class Ticks:
    """Evaluates a sensor tick after tick, carrying the cursor as the daemon does."""

    def __init__(self, sensor):
        self.sensor = sensor
        self.cursor: str | None = None

    def tick(self):
        data = self.sensor.evaluate_tick(build_sensor_context(cursor=self.cursor))
        if data.cursor is not None:
            self.cursor = data.cursor
        return data


def drop(path: Path, text: str, mtime: float = AN_HOUR_AGO) -> Path:
    """A finished export: written, then dated in the past so it has settled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensor_sample")
    sources = make_sample(root, people=40, seed=3)
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    config["inbox"] = "inbox"
    sources.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "inbox").mkdir()
    return build_definitions(sources, root / "out"), root / "inbox"


@pytest.fixture
def inbox(defs) -> Path:
    folder = defs[1]
    shutil.rmtree(folder)
    folder.mkdir()
    return folder


@pytest.fixture
def ticks(defs, inbox) -> Ticks:
    return Ticks(defs[0].resolve_sensor_def(INBOX_SENSOR))


def test_a_new_export_requests_exactly_one_run_and_the_next_tick_none(ticks, inbox):
    assert ticks.tick().run_requests == []
    drop(inbox / "crm_2026-03-01.csv", "IdCliente;Nombre\n1;Ana\n")
    first = ticks.tick()
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.job_name in (None, BUILD_JOB)
    assert request.tags["whiteglove/trigger"] == "inbox"
    assert "crm_2026-03-01.csv" in request.tags["whiteglove/arrivals"]
    again = ticks.tick()
    assert again.run_requests == []
    assert "no new or changed export" in again.skip_message


def test_a_changed_export_triggers_again_with_a_new_run_key(ticks, inbox):
    export = drop(inbox / "billing.csv", "account_id\n1\n")
    first = ticks.tick().run_requests
    drop(export, "account_id\n1\n2\n", mtime=AN_HOUR_AGO + 60)
    second = ticks.tick().run_requests
    assert len(first) == len(second) == 1
    assert first[0].run_key != second[0].run_key
    assert ticks.tick().run_requests == []


def test_touching_a_file_without_changing_it_does_not_rebuild(ticks, inbox):
    export = drop(inbox / "crm.csv", "IdCliente\n1\n")
    assert len(ticks.tick().run_requests) == 1
    os.utime(export, (AN_HOUR_AGO + 120, AN_HOUR_AGO + 120))
    assert ticks.tick().run_requests == []


def test_several_arrivals_in_one_tick_make_one_run(ticks, inbox):
    drop(inbox / "a.csv", "x\n1\n")
    drop(inbox / "sub" / "b.jsonl", '{"x": 1}\n')
    requests = ticks.tick().run_requests
    assert len(requests) == 1
    assert requests[0].tags["whiteglove/arrivals"] == "a.csv, sub/b.jsonl"


def test_a_replayed_tick_with_a_lost_cursor_gets_the_same_run_key(ticks, inbox):
    drop(inbox / "crm.csv", "IdCliente\n1\n")
    first = ticks.tick().run_requests[0].run_key
    ticks.cursor = None  # e.g. the cursor was reset; Dagster drops the repeated key
    assert ticks.tick().run_requests[0].run_key == first


def test_files_being_written_wait_until_they_settle(ticks, inbox):
    drop(inbox / "crm.csv.part", "IdCliente\n")
    drop(inbox / ".hidden.csv", "IdCliente\n")
    export = drop(inbox / "crm.csv", "IdCliente\n1\n", mtime=time.time())
    waiting = ticks.tick()
    assert waiting.run_requests == []
    assert "1 still being written" in waiting.skip_message
    os.utime(export, (AN_HOUR_AGO, AN_HOUR_AGO))
    assert len(ticks.tick().run_requests) == 1


def test_without_an_inbox_the_sensor_skips_and_says_why(tmp_path):
    unset = Ticks(inbox_sensor(None, BUILD_JOB)).tick()
    assert unset.run_requests == []
    assert "no inbox" in unset.skip_message
    missing = Ticks(inbox_sensor(tmp_path / "absent", BUILD_JOB)).tick()
    assert "does not exist" in missing.skip_message


def test_the_bundled_sample_watches_its_exports():
    from whiteglove.config import load_sources
    from whiteglove.layout import BUNDLED_SOURCES

    config = load_sources(BUNDLED_SOURCES)
    assert config.inbox is not None
    watched = config.resolve(config.inbox)
    assert watched.is_dir()
    assert all(watched in f.parents for s in config.sources for f in config.files(s))


def test_the_nightly_schedule_runs_the_whole_job(defs):
    schedule = defs[0].resolve_schedule_def(DAILY_SCHEDULE)
    assert schedule.job_name == BUILD_JOB
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == TIMEZONE
    job = defs[0].resolve_job_def(BUILD_JOB)
    every_asset = defs[0].resolve_asset_graph().get_all_asset_keys()
    assert job.asset_layer.executable_asset_keys == every_asset


def test_schedule_and_sensor_start_stopped_and_a_nightly_tick_requests_a_full_run(defs):
    schedule = defs[0].resolve_schedule_def(DAILY_SCHEDULE)
    sensor = defs[0].resolve_sensor_def(INBOX_SENSOR)
    # the code location `make dev` opens on a laptop must not start runs nobody asked for
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    night = datetime(2026, 11, 30, 2, 0, tzinfo=ZoneInfo(TIMEZONE))
    with build_schedule_context(scheduled_execution_time=night) as context:
        tick = schedule.evaluate_tick(context)
    (request,) = tick.run_requests
    assert request.tags[TRIGGER_TAG] == "schedule"
    # a full run: every asset, nothing reused
    assert request.asset_selection is None
    assert "whiteglove/incremental" not in request.tags


def test_owners_and_the_freshness_promise_are_applied_to_the_graph(defs):
    graph = defs[0].resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert list(node.owners) == OWNERS, key
        expected = PUBLISHED_FRESHNESS if key.to_user_string() in PUBLISHED_ASSETS else None
        assert node.freshness_policy == expected, key


def test_inbox_runs_are_incremental_and_leave_out_unchanged_sources(tmp_path):
    sources = make_sample(tmp_path, people=40, seed=4)
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    config["inbox"] = "exports"  # the sources read what lands here
    sources.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    ticks = Ticks(build_definitions(sources, out).resolve_sensor_def(INBOX_SENSOR))

    def requested() -> set[str]:
        (request,) = ticks.tick().run_requests
        assert request.tags["whiteglove/incremental"] == "true"
        return {key.to_user_string() for key in request.asset_selection}

    for export in (tmp_path / "exports").iterdir():
        os.utime(export, (AN_HOUR_AGO, AN_HOUR_AGO))
    # nothing built yet: every source is extracted
    assert {"raw_crm", "raw_billing", "standardized_support"} <= requested()

    assert run_once(sources, out).success
    crm = tmp_path / "exports" / "crm.csv"
    drop(crm, crm.read_text(encoding="utf-8") + "", mtime=AN_HOUR_AGO + 60)
    drop(tmp_path / "exports" / "notes.txt", "not an export", mtime=AN_HOUR_AGO)
    # content unchanged for every source (the note is no source's file): nothing re-extracted
    selection = requested()
    assert not {k for k in selection if k.startswith(("raw_", "standardized_"))}
    assert {"customer_records", "match_pairs", "published_outputs"} <= selection

    lines = crm.read_text(encoding="utf-8").splitlines(keepends=True)
    drop(crm, "".join(lines[:-1]), mtime=AN_HOUR_AGO + 120)  # one customer fewer
    selection = requested()
    assert {"raw_crm", "standardized_crm"} <= selection
    assert "raw_billing" not in selection
