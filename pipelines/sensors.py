"""A file-arrival sensor: rebuild the golden table when a new or changed export lands.

The sensor watches the `inbox:` folder of the sources file and only *triggers*: it requests
one incremental run of the job (sources whose exports did not change are reused, see
`pipelines/incremental.py`) and leaves the files where they are. What a run reads is still what
the sources' `path` entries (files or globs) match, so point them into the inbox, e.g.
`path: inbox/crm_*.csv`, and archive or delete old exports on your side.

What counts as an arrival: any regular file below the inbox, except hidden files and
in-progress names (`.tmp`, `.part`, `.partial`, `.crdownload`). Writers should write under such a
name and rename when done; as a second guard, a file modified in the last `settle_seconds` is
left for a later tick. Removing a file never triggers a run.

The cursor is JSON, `{relative path: [mtime_ns, size, sha256]}`. A file is hashed only when its
mtime or size moved, and a run is requested only when its content did: a `touch` does not
rebuild anything. The run key is derived from the arrivals (path, mtime, size, hash), so a
tick replayed with a lost cursor requests the same key and Dagster drops the duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.resources import INCREMENTAL_TAG, REUSED_TAG
from pipelines.schedules import TRIGGER_TAG

INBOX_SENSOR = "inbox_arrivals"
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
SETTLE_SECONDS = 30.0
# Dagster caps tag values; the full list is in the run's sensor tick and the cursor.
MAX_TAG_CHARS = 200

Entry = list[int | str]  # [mtime_ns, size, sha256], as stored in the JSON cursor


@dataclass(frozen=True)
class InboxScan:
    """One look at the inbox, compared with what the cursor remembers."""

    files: dict[str, Entry]  # the cursor to store after this tick
    arrivals: list[str]  # new or changed content since the cursor
    settling: list[str]  # too recently modified to trust yet


def scan_inbox(
    inbox: Path, known: dict[str, Entry], now: float, settle_seconds: float
) -> InboxScan:
    """Which files of `inbox` are new or changed relative to `known` (a decoded cursor)."""
    files: dict[str, Entry] = {}
    arrivals: list[str] = []
    settling: list[str] = []
    for path in sorted(inbox.rglob("*")):
        relative = path.relative_to(inbox).as_posix()
        if not path.is_file() or _in_progress(relative):
            continue
        try:
            stat = path.stat()
            before = known.get(relative)
            fresh = now - stat.st_mtime < settle_seconds
            digest = None if fresh else _changed_digest(path, stat, before)
        except FileNotFoundError:  # removed while we looked: as if never seen
            continue
        if fresh:
            settling.append(relative)
            if before is not None:
                files[relative] = before  # judged again once it settles
            continue
        if digest is None:
            files[relative] = before
            continue
        files[relative] = [stat.st_mtime_ns, stat.st_size, digest]
        if before is None or before[2] != digest:
            arrivals.append(relative)
    return InboxScan(files, arrivals, settling)


def run_key(scan: InboxScan) -> str:
    """The same arrivals give the same key; new content, or the same content again later, not."""
    changes = [[name, *scan.files[name]] for name in scan.arrivals]
    digest = hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()
    return f"inbox-{digest[:24]}"


def decode_cursor(cursor: str | None) -> dict[str, Entry]:
    """The remembered files; an unreadable cursor is treated as empty (every file arrives)."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3}


def inbox_sensor(
    inbox: Path | None,
    job_name: str,
    settle_seconds: float = SETTLE_SECONDS,
    incremental: Callable[[], tuple[list[AssetKey], list[str]]] | None = None,
) -> SensorDefinition:
    """The sensor for one sources file; without an inbox it is defined but always skips.

    Kept in the code location even then, so the UI shows why nothing is watched instead of a
    sensor that silently is not there. With `incremental` (the assets to rebuild and the
    sources reused, as `pipelines.incremental.incremental_selection` gives them) the runs it
    requests are incremental: exports that did not change are not extracted again.
    """

    @sensor(
        name=INBOX_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            f"Requests one run of {job_name} when a new or changed export lands in the inbox "
            f"({inbox if inbox else 'not set: add `inbox:` to the sources file'})."
        ),
    )
    def inbox_arrivals(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        if inbox is None:
            return SkipReason(
                "no inbox: the sources file has no `inbox:` folder, so nothing is watched"
            )
        if not inbox.is_dir():
            return SkipReason(f"inbox folder {inbox} does not exist")
        scan = scan_inbox(inbox, decode_cursor(context.cursor), time.time(), settle_seconds)
        cursor = json.dumps(scan.files, sort_keys=True)
        if not scan.arrivals:
            waiting = f"; {len(scan.settling)} still being written" if scan.settling else ""
            return SensorResult(
                skip_reason=(
                    f"no new or changed export in {inbox} ({len(scan.files)} known{waiting})"
                ),
                cursor=cursor,
            )
        context.log.info(f"arrived in {inbox}: {', '.join(scan.arrivals)}")
        tags = {
            TRIGGER_TAG: "inbox",
            "whiteglove/arrivals": ", ".join(scan.arrivals)[:MAX_TAG_CHARS],
        }
        selection = None
        if incremental is not None:
            try:
                selection, reused = incremental()
                tags |= {INCREMENTAL_TAG: "true", REUSED_TAG: ",".join(reused)}
            except Exception as exc:  # noqa: BLE001 - the run reports it better than a tick
                # a full run: if the sources file is broken, that run says so, with the
                # problems named, instead of this tick failing every minute
                context.log.warning(f"planning an incremental run failed ({exc}); full run")
        request = RunRequest(run_key=run_key(scan), tags=tags, asset_selection=selection)
        return SensorResult(run_requests=[request], cursor=cursor)

    return inbox_arrivals


def _in_progress(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/")) or relative.endswith(
        IN_PROGRESS_SUFFIXES
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _changed_digest(path: Path, stat: os.stat_result, before: Entry | None) -> str | None:
    """The content hash, or None when mtime and size say the file is the one remembered."""
    if before is not None and before[:2] == [stat.st_mtime_ns, stat.st_size]:
        return None
    return _sha256(path)
