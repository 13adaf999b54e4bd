"""Reading the small files a user writes (the sources file, expectation suites) as data.

They are untrusted input: read with a size bound, and every way they can fail to read is
reported as a problem of that file, not as a traceback.
"""

from __future__ import annotations

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
