"""Publish a run's tables so that readers never see a half-written output.

The output folder's layout is described in `whiteglove/layout.py`. Every published file is
written into a new snapshot first; the top-level names are symlinks through `latest`, so
every published path flips from the previous run to the new one at the same instant; a run
that fails or is killed before the switch leaves the previous output in place. What a killed
run leaves behind (a staging folder, a temporary link, a snapshot that was never switched
to) is removed by the next publication, under the same lock, before it writes anything.

Two processes never publish into one folder at the same time: `publish` holds an exclusive
lock on `<out>/.publish.lock`, and `output_lock` gives callers (the CLI's runner) a lock for
a whole run.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from whiteglove.documents import Documents, write_documents
from whiteglove.layout import OutputLayout

SNAPSHOTS = OutputLayout.SNAPSHOTS
LATEST = OutputLayout.LATEST
MARKER = OutputLayout.MARKER
RUN_LOCK = OutputLayout.RUN_LOCK
PUBLISH_LOCK = OutputLayout.PUBLISH_LOCK
OWN_ENTRIES = OutputLayout.OWN_ENTRIES
KEEP_SNAPSHOTS = 5  # the default of `publication.keep_snapshots` (whiteglove/config.py)
# Written into a snapshot once `latest` points to it: that snapshot was seen by readers.
PUBLISHED = ".published"
# Table names become SQL identifiers in customers.duckdb; they come from code, and this keeps
# them plain identifiers anyway.
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Test hook, for tests/test_crash_safety.py only: when this variable names a point of
# `publish` ("staged", "renamed", "switched"), the process says so on stderr and sleeps there,
# so that a test can kill it at exactly that point.
PAUSE_VARIABLE = "WHITEGLOVE_TEST_PAUSE_IN_PUBLISH"
PAUSE_SECONDS = 120.0


class OutputFolderError(RuntimeError):
    """The output folder cannot be used: it holds someone else's files, or it is busy."""


class OutputBusyError(OutputFolderError):
    """Another process holds the folder's lock."""


@dataclass(frozen=True)
class Publication:
    snapshot: Path
    files: list[str]


@dataclass(frozen=True)
class PreviousPublication:
    """The snapshot that was published when a run started (None: nothing published yet)."""

    snapshot: Path | None

    @classmethod
    def pin(cls, layout: OutputLayout) -> PreviousPublication:
        """The snapshot `latest` points to now, if it is one of this folder's own snapshots."""
        name = _latest_target(layout.root)
        if name is None:
            return cls(None)
        snapshot = layout.snapshots / name
        # `latest` is written as "snapshots/<run>"; a link elsewhere is not our publication
        if Path(os.readlink(layout.latest)) != Path(SNAPSHOTS) / name or not _real_dir(snapshot):
            return cls(None)
        return cls(snapshot)

    def path(self, name: str) -> Path | None:
        """A published file, if the pinned snapshot has it."""
        if self.snapshot is None:
            return None
        path = self.snapshot / name
        return path if path.is_file() and not path.is_symlink() else None

    def table(self, name: str) -> pl.DataFrame | None:
        path = self.path(f"{name}.parquet")
        return pl.read_parquet(path) if path else None

    def document(self, name: str) -> dict | None:
        path = self.path(name)
        return json.loads(path.read_text(encoding="utf-8")) if path else None


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def claim_output_folder(out_dir: Path) -> None:
    """Make `out_dir` whiteglove's, or refuse it if it already holds other files.

    Publishing replaces top-level names and prunes old snapshots; in a folder that holds a
    user's own files that could delete or shadow them. So a folder is used only when it is
    new, empty, or already whiteglove's (it has the marker, or a `latest` link from before
    the marker existed), and only when its own entries are what whiteglove makes them
    (`check_output_folder`).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"output folder {out_dir} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    layout = OutputLayout(out_dir)
    if not layout.marker.is_file() or layout.marker.is_symlink():
        # A `latest` link is how folders published before the marker existed are recognized.
        legacy = layout.latest.is_symlink() and _real_dir(layout.snapshots)
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in OWN_ENTRIES)
        if foreign and not legacy:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputFolderError(
                f"output folder {out_dir} holds files whiteglove did not write ({shown}); "
                "choose a new or empty folder for --out"
            )
    check_output_folder(layout)
    if not layout.marker.exists():
        text = b"This folder holds whiteglove output; whiteglove may replace its files.\n"
        try:
            fd = os.open(layout.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW)
        except OSError as exc:
            raise OutputFolderError(
                f"cannot write to output folder {out_dir}: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)


def check_output_folder(layout: OutputLayout) -> None:
    """Refuse a folder whose own entries are not what whiteglove makes them.

    Whatever already sits in an output folder is untrusted. Its own entries are followed by
    name (locks opened, snapshots pruned, working files replaced), so a symbolic link planted
    among them would make a run read, write or delete outside the folder. Only `latest` is a
    link, to one of the folder's own snapshots; top-level outputs are links that publication
    replaces without following.
    """
    problems = [
        f"{path} is a symbolic link"
        for path in (
            layout.marker,
            layout.lock(RUN_LOCK),
            layout.lock(PUBLISH_LOCK),
            layout.suppression,
            layout.erasure_log,
            layout.forget_journal,
        )
        if path.is_symlink()
    ]
    for folder in (layout.snapshots, layout.work):
        if folder.is_symlink():
            problems.append(f"{folder} is a symbolic link")
        elif folder.exists():
            problems += [f"{link} is a symbolic link" for link in _links_below(folder)]
    if layout.latest.is_symlink():
        target = Path(os.readlink(layout.latest))
        if target.parent != Path(SNAPSHOTS) or target.name in ("", ".", ".."):
            problems.append(f"{layout.latest} points to {target}, not into {SNAPSHOTS}/")
    elif layout.latest.exists():
        problems.append(f"{layout.latest} is not a link to a snapshot")
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise OutputFolderError(
            f"output folder {layout.root} has entries whiteglove did not make ({shown}): "
            "whiteglove follows no link in its output folder; remove them or choose another "
            "folder for --out"
        )


def _links_below(folder: Path) -> list[Path]:
    found = []
    for parent, dirs, files in os.walk(folder):
        found += [Path(parent, n) for n in (*dirs, *files) if Path(parent, n).is_symlink()]
    return found


@contextmanager
def output_lock(out_dir: Path, name: str = RUN_LOCK, timeout: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on `out_dir/name`, waiting up to `timeout` seconds for it.

    flock(2) locks belong to the open file, so the kernel releases them when the holder
    exits, however it exits: a killed run never leaves a stale lock behind. The file keeps
    the holder's pid so that the one who waits can be told who holds it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    try:
        # never through a link: a planted one would truncate a file outside the folder
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise OutputFolderError(f"cannot open the lock {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OutputBusyError(
                        f"another run is publishing to {out_dir} (pid {_lock_holder(path)}); "
                        "wait for it to finish, or choose another output folder"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def publish(
    out_dir: Path,
    run_id: str,
    tables: dict[str, pl.DataFrame],
    documents: dict[str, dict],
    files: Documents | None = None,
    lock_timeout: float = 600.0,
    descriptions: dict[str, dict[str, str]] | None = None,
    keep_snapshots: int = KEEP_SNAPSHOTS,
    max_snapshot_age_days: float | None = None,
    parquet_only: frozenset[str] = frozenset(),
) -> Publication:
    """Write tables (Parquet + one DuckDB file), JSON documents and other files, then switch.

    `files` may hold folders (`reports/linkage.html`): each top-level name gets one link.
    `descriptions` (table -> column -> text) go into the Parquet field metadata and the
    DuckDB column comments, so a reader of either sees what a column holds.
    Afterwards older snapshots beyond `keep_snapshots`, or older than `max_snapshot_age_days`,
    are removed (never the one just published).

    Tables named in `parquet_only` are written as Parquet but not into customers.duckdb:
    what the project's own tools read (lookups, explain, the review page), not SQL readers.
    """
    files = files or Documents()
    names = [f"{t}.parquet" for t in tables] + ["customers.duckdb", *sorted(files.folders)]
    names += list(documents)
    for table in tables:
        if not TABLE_NAME.fullmatch(table):
            raise ValueError(f"table name {table!r} must match {TABLE_NAME.pattern}")
    for name in [run_id, *names]:
        if not name or name != Path(name).name or name.startswith(".") or name in OWN_ENTRIES:
            raise ValueError(f"{name!r} cannot be published: it must be a plain file name")
    claim_output_folder(out_dir)
    # Refused before anything is written: a half-linked output would be a mix of two runs.
    blocked = [n for n in names if (out_dir / n).exists() and not (out_dir / n).is_symlink()]
    if blocked:
        raise OutputFolderError(
            f"{', '.join(str(out_dir / n) for n in blocked)} exist(s) and are not whiteglove "
            "links; move them away first"
        )
    with output_lock(out_dir, PUBLISH_LOCK, timeout=lock_timeout):
        snapshots = out_dir / SNAPSHOTS
        snapshots.mkdir(exist_ok=True)
        remove_leftovers(out_dir)
        final = snapshots / run_id
        staging = snapshots / f".{run_id}.partial"
        staging.mkdir()
        try:
            _write_snapshot(staging, tables, documents, files, descriptions or {}, parquet_only)
            _fsync_dir(staging)
            _pause("staged")
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _pause("renamed")
        _switch_latest(out_dir, final)
        (final / PUBLISHED).touch()
        _pause("switched")
        for name in names:
            _ensure_link(out_dir / name, Path(LATEST) / name)
        _prune(snapshots, keep=keep_snapshots, current=final, max_age_days=max_snapshot_age_days)
    return Publication(snapshot=final, files=names)


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Remove what a killed publication left behind; call only while holding the lock.

    Staging folders, half-pruned snapshots, temporary links, and complete snapshots that a
    killed run wrote but never switched `latest` to: none of them was ever published. A
    snapshot is known to have been published by its PUBLISHED mark; one without it (older
    whiteglove versions did not write it) is only removed when it is newer than the current
    one, as a run killed before its switch leaves it.
    """
    removed: list[Path] = []
    snapshots = out_dir / SNAPSHOTS
    if snapshots.is_dir():
        current = _latest_target(out_dir)
        for entry in snapshots.iterdir():
            never_published = not (entry / PUBLISHED).exists() and (
                current is None or entry.name > current
            )
            if entry.name.startswith(".") or (entry.name != current and never_published):
                _remove(entry)
                removed.append(entry)
    for entry in out_dir.iterdir():
        if entry.is_symlink() and (
            entry.name.startswith(f".{LATEST}.") or entry.name.endswith(".link")
        ):
            entry.unlink()
            removed.append(entry)
    return removed


def _latest_target(out_dir: Path) -> str | None:
    link = out_dir / LATEST
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_VARIABLE) == point:
        print(f"whiteglove-test: paused in publish at {point}", file=sys.stderr, flush=True)
        time.sleep(PAUSE_SECONDS)


def _write_snapshot(
    folder: Path,
    tables: dict[str, pl.DataFrame],
    documents: dict[str, dict],
    files: Documents,
    descriptions: dict[str, dict[str, str]],
    parquet_only: frozenset[str] = frozenset(),
) -> None:
    for name, frame in tables.items():
        frame.write_parquet(
            folder / f"{name}.parquet",
            compression="zstd",
            arrow_schema=_described_schema(frame, descriptions.get(name, {})),
        )
    # Rows of a SQL table have no order (readers sort); keeping the Parquet files' order
    # cost 11.3 s and 356 MB at a million records, against 7.3 s and 242 MB without.
    con = duckdb.connect(
        str(folder / "customers.duckdb"), config={"preserve_insertion_order": False}
    )
    try:
        for name in (t for t in tables if t not in parquet_only):
            # The path is a bound parameter and the name a quoted identifier: neither is
            # ever spliced into SQL as text.
            con.execute(
                f"create table {_identifier(name)} as select * from read_parquet($1)",
                [str(folder / f"{name}.parquet")],
            )
            for column, text in descriptions.get(name, {}).items():
                if column in tables[name].columns and text:
                    con.execute(
                        f"comment on column {_identifier(name)}.{_identifier(column)} "
                        f"is {_literal(text)}"
                    )
    finally:
        con.close()
    write_documents(files, folder)
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document, indent=2, default=str) + "\n")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    # COMMENT ON takes no bound parameter; a standard SQL string (quotes doubled, no
    # backslash escapes in DuckDB) holds any text a description quotes from the sources file
    return "'" + text.replace("'", "''") + "'"


def _described_schema(frame: pl.DataFrame, descriptions: dict[str, str]) -> pa.Schema | None:
    """The frame's Arrow schema with each column's description as field metadata."""
    if not descriptions:
        return None
    schema = frame.head(0).to_arrow().schema  # the types alone: no data converted
    return pa.schema(
        [
            f.with_metadata({"description": descriptions[f.name]})
            if descriptions.get(f.name)
            else f
            for f in schema
        ]
    )


def _switch_latest(out_dir: Path, snapshot: Path) -> None:
    link = out_dir / LATEST
    tmp = out_dir / f".{LATEST}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(Path(SNAPSHOTS) / snapshot.name)
    os.replace(tmp, link)  # rename(2) over the old link: atomic on POSIX
    _fsync_dir(out_dir)


def _ensure_link(path: Path, target: Path) -> None:
    if path.is_symlink() and Path(os.readlink(path)) == target:
        return
    if path.exists() and not path.is_symlink():
        raise FileExistsError(f"{path} exists and is not a whiteglove link; move it away first")
    tmp = path.with_name(f".{path.name}.link")
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, path)


def _prune(snapshots: Path, keep: int, current: Path, max_age_days: float | None = None) -> None:
    runs = sorted(p for p in snapshots.iterdir() if not p.name.startswith("."))
    doomed_runs = set(runs[:-keep])
    if max_age_days is not None:
        oldest = datetime.now(UTC) - timedelta(days=max_age_days)
        doomed_runs |= {run for run in runs if _published_at(run) < oldest}
    for old in sorted(doomed_runs):
        if old != current:
            # Renamed first, so a kill midway leaves a dot-folder the next run removes, not
            # a half-deleted snapshot that looks complete.
            doomed = old.with_name(f".{old.name}.deleting")
            os.replace(old, doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def _published_at(snapshot: Path) -> datetime:
    """When a snapshot's run started, from its name (layout.py names it so); the folder's
    modification time for a name that does not say."""
    try:
        return datetime.strptime(snapshot.name.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return datetime.fromtimestamp(snapshot.stat().st_mtime, UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
