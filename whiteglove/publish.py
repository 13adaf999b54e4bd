"""Publish a run's tables so that readers never see a half-written output.

Layout of an output folder:

    snapshots/<run>/...         every file of one run, written completely first
    latest -> snapshots/<run>   switched with one atomic rename once the snapshot is complete
    golden_customers.parquet -> latest/golden_customers.parquet   (and so on for each file)

The top-level names are symlinks through `latest`, so every path of contract 3 flips from
the previous run to the new one at the same instant; a run that fails before the switch
leaves the previous output in place.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

SNAPSHOTS = "snapshots"
LATEST = "latest"
KEEP_SNAPSHOTS = 5


@dataclass(frozen=True)
class Publication:
    snapshot: Path
    files: list[str]


def previous_output(out_dir: Path, name: str) -> Path | None:
    """A file of the currently published run, if there is one."""
    path = out_dir / LATEST / name
    return path if path.exists() else None


def publish(
    out_dir: Path,
    run_id: str,
    tables: dict[str, pl.DataFrame],
    documents: dict[str, dict],
    files: dict[str, Path] | None = None,
) -> Publication:
    """Write tables (Parquet + one DuckDB file), JSON documents and extra files, then switch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    snapshots = out_dir / SNAPSHOTS
    snapshots.mkdir(exist_ok=True)
    final = snapshots / run_id
    staging = snapshots / f".{run_id}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        names = _write_snapshot(staging, tables, documents, files or {})
        _fsync_dir(staging)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch_latest(out_dir, final)
    for name in names:
        _ensure_link(out_dir / name, Path(LATEST) / name)
    _prune(snapshots, keep=KEEP_SNAPSHOTS, current=final)
    return Publication(snapshot=final, files=names)


def _write_snapshot(
    folder: Path,
    tables: dict[str, pl.DataFrame],
    documents: dict[str, dict],
    files: dict[str, Path],
) -> list[str]:
    names = []
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet", compression="zstd")
        names.append(f"{name}.parquet")
    con = duckdb.connect(str(folder / "customers.duckdb"))
    try:
        for name in tables:
            path = str(folder / f"{name}.parquet").replace("'", "''")
            con.execute(f"create table \"{name}\" as select * from read_parquet('{path}')")
    finally:
        con.close()
    names.append("customers.duckdb")
    for name, target in files.items():
        if target.is_dir():
            shutil.copytree(target, folder / name)
        else:
            shutil.copy2(target, folder / name)
        names.append(name)
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document, indent=2, default=str) + "\n")
        names.append(name)
    return names


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


def _prune(snapshots: Path, keep: int, current: Path) -> None:
    runs = sorted(p for p in snapshots.iterdir() if not p.name.startswith("."))
    for old in runs[:-keep]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
