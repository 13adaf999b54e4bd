"""What an incremental run may reuse: unchanged sources, and the previous run's linkage.

A source is unchanged when its fingerprint (its files' content, its entry in the sources file,
its expectation suite, whiteglove's code and library versions) equals the one recorded when
it was last extracted and standardized with every ERROR check passing. The record is
withdrawn as soon as the source is extracted or standardized again and confirmed only after
those checks pass, so a killed or failed run never leaves a stale "unchanged" behind. Values
judged against today's date (birth dates in the future, "today" bounds in suites) are judged
again only when a source is rebuilt; a full run rebuilds every source.

The linkage state is the model, one hash per record of what the model compared, and the
pairs and review band it scored. It is reused only under the same linkage settings and code;
`linkage.link` then scores only the pairs that involve a new or changed record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import polars as pl

from whiteglove.config import LinkageConfig, SourceConfig, SourcesConfig
from whiteglove.linkage import LinkageResult, PreviousLinkage
from whiteglove.validation import suite_for

FINGERPRINTS_DIR = "fingerprints"
LINKAGE_STATE_DIR = "linkage_state"
_PROJECT = Path(__file__).resolve().parent.parent
# Settings that decide clusters or resources, not scores or the stored review band: changing
# them does not make what the previous run stored wrong.
_NOT_SCORING = {
    "max_cluster_size",
    "one_record_per_customer",
    "decisions",
    "labels",
    "spark",
    "duckdb_memory_limit",
}
# Libraries whose output is stored in reused tables or states; a new version rebuilds them.
_LIBRARIES = ["polars", "pyarrow", "duckdb", "splink", "phonenumbers", "great_expectations"]
# The code that writes what is reused: the domain package and the assets and pipelines.
_CODE_DIRS = ["whiteglove", "assets", "pipelines"]
_CHUNK = 1 << 20


@functools.cache
def code_version() -> str:
    """A digest of whiteglove's code and of the libraries whose output it stores."""
    digest = hashlib.sha256()
    for name in _LIBRARIES:
        digest.update(f"{name} {_version(name)}\n".encode())
    for folder in _CODE_DIRS:
        for path in sorted((_PROJECT / folder).rglob("*.py")):
            digest.update(path.relative_to(_PROJECT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def source_fingerprint(config: SourcesConfig, source: SourceConfig, suite: dict) -> str:
    """Changes whenever re-extracting and re-standardizing `source` could give another result."""
    digest = hashlib.sha256()
    settings = {
        "source": source.model_dump(mode="json"),
        "defaults": config.defaults.model_dump(mode="json"),
        "suite": suite,
        "code": code_version(),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in config.files(source):
        digest.update(f"\0{path.resolve()}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def forget_fingerprint(work: Path, source: str) -> None:
    """The source is being extracted again: it is no longer known to be unchanged."""
    for suffix in (".json", ".pending"):
        (work / FINGERPRINTS_DIR / f"{source}{suffix}").unlink(missing_ok=True)


def stage_fingerprint(work: Path, source: str, fingerprint: str) -> None:
    """The fingerprint of what was just extracted, confirmed once it passes validation."""
    _write_atomically(work / FINGERPRINTS_DIR / f"{source}.pending", fingerprint)


def demote_fingerprint(work: Path, source: str) -> None:
    """The source is being standardized again: unconfirmed until that passes validation."""
    confirmed = work / FINGERPRINTS_DIR / f"{source}.json"
    if confirmed.exists():
        os.replace(confirmed, confirmed.with_suffix(".pending"))


def confirm_fingerprint(work: Path, source: str) -> None:
    pending = work / FINGERPRINTS_DIR / f"{source}.pending"
    if pending.exists():
        os.replace(pending, pending.with_suffix(".json"))


def recorded_fingerprint(work: Path, source: str) -> str | None:
    path = work / FINGERPRINTS_DIR / f"{source}.json"
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def is_unchanged(config: SourcesConfig, work: Path, name: str) -> bool:
    """Whether source `name` is as it was when last built and validated without ERRORs."""
    try:
        current = source_fingerprint(config, config.source(name), suite_for(config, name))
    except OSError:  # a file vanished while we looked: not known to be unchanged
        return False
    return recorded_fingerprint(work, name) == current


def reuse_problems(
    config: SourcesConfig, work: Path, graph_sources: list[str], reused: list[str]
) -> list[str]:
    """Why a run cannot use the stored tables it was planned to reuse (none: it can).

    Checked when the run reaches the union of sources: between the moment a run is planned
    (a sensor tick) and the moment it runs, an export, the sources file or a failed run may
    have made a stored table something a rebuild would not give.
    """
    known = {s.name for s in config.sources}
    problems = [
        f"source {name!r} is in the loaded code location but no longer in the sources file; "
        "reload the definitions"
        for name in graph_sources
        if name not in known
    ]
    for name in reused:
        if name in known and not is_unchanged(config, work, name):
            problems.append(
                f"source {name!r} changed (or failed validation) after this run was planned "
                "to reuse it; the next run rebuilds it"
            )
    return problems


def linkage_key(config: LinkageConfig) -> str:
    """Equal keys: pairs scored under one setting are scored the same under the other."""
    settings = config.model_dump(mode="json", exclude=_NOT_SCORING)
    text = json.dumps({"linkage": settings, "code": code_version()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def replace_folder(target: Path, fill: Callable[[Path], None]) -> None:
    """Replace `target` with a folder that `fill` writes, all files at once.

    `fill` writes into a hidden staging folder that is swapped in only when complete; what a
    killed run leaves (names ending in .tmp) the next run removes.
    """
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir(parents=True)
    try:
        fill(staging)
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old.tmp")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_linkage_state(work: Path, result: LinkageResult, key: str) -> None:
    """Replace the stored linkage state with this run's, all files at once."""

    def fill(folder: Path) -> None:
        (folder / "model.json").write_text(json.dumps(result.model_json), encoding="utf-8")
        result.records.write_parquet(folder / "records.parquet")
        result.pairs.write_parquet(folder / "pairs.parquet")
        result.review.write_parquet(folder / "review.parquet")
        # written last: a state folder without it is never read
        (folder / "state.json").write_text(
            json.dumps({"key": key, "design": result.design}), encoding="utf-8"
        )

    replace_folder(work / LINKAGE_STATE_DIR, fill)


def load_linkage_state(work: Path, key: str) -> PreviousLinkage | None:
    """The stored linkage state, if there is one and it was made under `key`."""
    folder = work / LINKAGE_STATE_DIR
    state_file = folder / "state.json"
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if state.get("key") != key:
        return None
    return PreviousLinkage(
        model=json.loads((folder / "model.json").read_text(encoding="utf-8")),
        records=pl.read_parquet(folder / "records.parquet"),
        pairs=pl.read_parquet(folder / "pairs.parquet"),
        review=pl.read_parquet(folder / "review.parquet"),
        design=list(state.get("design", [])),
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
