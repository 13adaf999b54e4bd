"""Write a file or a whole folder so that a reader never sees half of it.

Everything is written under a hidden temporary name in the same folder, then renamed over
the target: rename(2) within one file system is atomic, so the target is either the old
version or the complete new one, even when the writer is killed midway. What a killed writer
leaves behind is a hidden name ending in `.tmp`, which `remove_temporaries` clears.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_sibling(path: Path, tag: str = "") -> Path:
    """A hidden, unique name beside `path` that `remove_temporaries` recognises."""
    return path.with_name(f".{path.name}.{tag}{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` to write the file, then rename it to `path`; return `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_folder(target: Path, fill: Callable[[Path], object]) -> Path:
    """Replace the folder `target` with one that `fill(staging)` writes, all files at once.

    The old folder is renamed aside before the new one is renamed into place, so for an
    instant `target` is missing, never a mix of old and new files.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_sibling(target)
    staging.mkdir()
    try:
        fill(staging)
        old = temporary_sibling(target, "old.")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextmanager
def scratch_folder(parent: Path) -> Iterator[Path]:
    """A new empty folder inside `parent` for the duration of the block, then removed."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    folder = temporary_sibling(parent / "scratch")
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_temporaries(folder: Path) -> None:
    """Remove what killed writers left below `folder`: hidden names ending in `.tmp`."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for leftover in list(folder.rglob(f".*{TEMPORARY_SUFFIX}")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
