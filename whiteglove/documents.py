"""Documents: a set of files (a report, a Data Docs site) handed from one step to another.

Reports are built in memory as `relative path -> bytes`, handed downstream as one value and
written into the published snapshot as they are. Paths are checked when a set is made, so a
name taken from data can never point outside the folder the files are written to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath


class Documents(Mapping[str, bytes]):
    """Files by relative POSIX path (`reports/data_docs/index.html`), contents as bytes."""

    def __init__(self, files: Mapping[str, bytes | str] | None = None) -> None:
        self._files: dict[str, bytes] = {}
        for name, content in (files or {}).items():
            self._files[_checked(name)] = (
                content.encode("utf-8") if isinstance(content, str) else bytes(content)
            )

    def __getitem__(self, name: str) -> bytes:
        return self._files[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def text(self, name: str) -> str:
        return self._files[name].decode("utf-8")

    def under(self, prefix: str) -> Documents:
        """The same files, each path prefixed with the folder `prefix`."""
        return Documents({f"{_checked(prefix)}/{name}": data for name, data in self.items()})

    def __or__(self, other: Mapping[str, bytes]) -> Documents:
        return Documents({**self._files, **other})

    @property
    def folders(self) -> set[str]:
        """The first component of every path: the names the files appear under at the top."""
        return {name.split("/", 1)[0] for name in self._files}


def _checked(name: str) -> str:
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise ValueError(f"{name!r} is not a plain relative file path")
    return str(path)


def read_documents(folder: Path) -> Documents:
    """Every file below `folder` (links are not followed)."""
    return Documents(
        {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.is_symlink()
        }
    )


def write_documents(documents: Mapping[str, bytes], folder: Path) -> None:
    """Write every file below `folder`, which must exist and be empty."""
    for name, content in documents.items():
        target = folder / _checked(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
