"""Reading what users give as untrusted input: their small files (the sources file,
expectation suites) and the bounds every export must keep.

Read with a size bound, and every way a file can fail to read is reported as a problem of
that file, not as a traceback.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Far above any real sources file or suite, far below what would hurt to hold in memory.
MAX_BYTES = 10 * 2**20


def read_document(
    path: Path,
    parse: Callable[[str], Any],
    kind: str,
    error: Callable[[Path, list[str]], Exception],
) -> Any:
    """`parse` of the file's UTF-8 text; `error(path, [problem])` raised when it cannot be."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise error(path, ["file not found"]) from None
    except OSError as exc:
        raise error(path, [f"cannot be read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_BYTES:
        raise error(path, [f"larger than {MAX_BYTES // 2**20} MB: not a {kind} file"])
    try:
        return parse(data.decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - every parser error is the file's problem
        raise error(path, [f"not valid {kind}: {exc}"]) from None


def export_problem(path: Path, max_bytes: int) -> str | None:
    """Why `path` cannot be read as an export (None: it can).

    Only regular files are read, through links too: a device (/dev/zero) never ends and a
    FIFO blocks whoever opens it. A file larger than `max_bytes` is refused before reading.
    """
    try:
        info = os.stat(path)  # follows links: what counts is what would be read
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, a pipe or a folder): refused"
    if info.st_size > max_bytes:
        return (
            f"{info.st_size / 2**20:,.0f} MB, larger than limits.max_file_mb "
            f"({max_bytes / 2**20:,.0f} MB)"
        )
    return None
