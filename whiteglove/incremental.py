"""What an incremental run may reuse: unchanged sources, and the previous run's linkage.

A source is unchanged when its fingerprint (its files' content, its entry in the sources file,
its expectation suite, the code of the source stage and the versions of the libraries whose
output is stored) equals the one its stored tables were built from, as their validations
record it, and neither failed an ERROR check. The record lives in the validations
themselves, so a killed or failed run never leaves a stale "unchanged" behind: what it
rewrote no longer agrees with the rest. Values judged against today's date (birth dates in
the future, "today" bounds in suites) are judged again only when a source is rebuilt; a full
run rebuilds every source.

The linkage state is the model, one hash per record of what the model compared, the pairs
and review band it scored, and the match threshold the run chose. It is reused only under
the same linkage settings and the same linkage code; `whiteglove.linkage.link` then scores
only the pairs that involve a new or changed record.

Code counts per stage: editing a report or survivorship invalidates neither, while editing
anything the source stage runs (or imports) rebuilds every source.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.atomic import replace_folder
from whiteglove.config import LinkageConfig, SourceConfig, SourcesConfig
from whiteglove.layout import PROJECT_ROOT, OutputLayout
from whiteglove.validation import Suite, suite_for

if TYPE_CHECKING:
    from whiteglove.linkage import LinkageResult, PreviousLinkage

# The code each reused stage runs: these modules, what they import from the project, and
# the asset modules that call them.
SOURCE_STAGE = (
    "whiteglove.extract",
    "whiteglove.appended",
    "whiteglove.standardize",
    "whiteglove.validation",
)
SOURCE_STAGE_ASSETS = ("assets.extract", "assets.standardize")
LINKAGE_STAGE = ("whiteglove.linkage",)
LINKAGE_STAGE_ASSETS = ("assets.link",)
# Settings that decide clusters or resources, not scores or the stored review band: changing
# them does not make what the previous run stored wrong.
_NOT_SCORING = {
    "max_cluster_size",
    "one_record_per_customer",
    "decisions",
    "labels",
    "spark",
    "duckdb_memory_limit",
    "duckdb_threads",
}
# Libraries whose output is stored in reused tables or states; a new version rebuilds them.
_LIBRARIES = ["polars", "pyarrow", "duckdb", "splink", "phonenumbers", "great_expectations"]
_PROJECT_PACKAGES = ("whiteglove", "assets", "pipelines")
_CHUNK = 1 << 20


@functools.cache
def code_version(domain_modules: tuple[str, ...], asset_modules: tuple[str, ...] = ()) -> str:
    """A digest of the code a stage runs and of the libraries whose output it stores.

    The stage's domain modules count with every project module they import, transitively;
    its asset modules count by their own text (what they import is the run's plumbing).
    """
    files = sorted(
        {path for name in domain_modules for path in _imported_files(name)}
        | {_module_file(name) for name in asset_modules}
    )
    digest = hashlib.sha256()
    for name in _LIBRARIES:
        digest.update(f"{name} {_version(name)}\n".encode())
    for path in files:
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def source_stage_version() -> str:
    return code_version(SOURCE_STAGE, SOURCE_STAGE_ASSETS)


def linkage_stage_version() -> str:
    return code_version(LINKAGE_STAGE, LINKAGE_STAGE_ASSETS)


def _module_file(name: str) -> Path:
    base = PROJECT_ROOT.joinpath(*name.split("."))
    package = base / "__init__.py"
    return package if package.exists() else base.with_suffix(".py")


def _imported_files(name: str) -> set[Path]:
    """The file of module `name` and of every project module it imports, transitively."""
    seen: set[Path] = set()
    pending = [name]
    while pending:
        module = pending.pop()
        path = _module_file(module)
        if path in seen or not path.exists():
            continue
        seen.add(path)
        if path.name == "__init__.py":  # a package: all of its modules are its code
            pending += [
                f"{module}.{p.stem}" for p in path.parent.glob("*.py") if p.stem != "__init__"
            ]
        pending += _project_imports(path, module)
    return seen


def _project_imports(path: Path, module: str) -> list[str]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append(base)
            # `from whiteglove import linkage` imports a module, not a name
            found += [f"{base}.{alias.name}" for alias in node.names]
    return [
        name for name in found if name.split(".")[0] == "whiteglove" and _module_file(name).exists()
    ]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def _source_settings(config: SourcesConfig, source: SourceConfig, suite: Suite) -> bytes:
    settings = {
        "source": source.model_dump(mode="json"),
        "defaults": config.defaults.model_dump(mode="json"),
        "validity": config.validity_for(source).model_dump(mode="json"),
        "limits": config.limits.model_dump(mode="json"),
        "suite": suite.as_json(),
        "code": source_stage_version(),
    }
    return json.dumps(settings, sort_keys=True, default=str).encode()


def source_settings_fingerprint(config: SourcesConfig, source: SourceConfig, suite: Suite) -> str:
    """The part of `source_fingerprint` that is not its files: its settings, suite and code."""
    return hashlib.sha256(_source_settings(config, source, suite)).hexdigest()


def source_fingerprint(config: SourcesConfig, source: SourceConfig, suite: Suite) -> str:
    """Changes whenever re-extracting and re-standardizing `source` could give another result."""
    digest = hashlib.sha256()
    digest.update(_source_settings(config, source, suite))
    for path in config.files(source):
        digest.update(f"\0{path.resolve()}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def run_fingerprint(config: SourcesConfig, layout: OutputLayout | None = None) -> str:
    """Changes whenever a whole run could publish something else: every source's fingerprint,
    the whole sources file, the golden suite, every file the sources file points to (the
    decisions file, a saved model, labels), the output folder's suppression list (people
    erased on request) and all of the project's code.

    An incremental run whose fingerprint equals the one the latest publication was built
    from has nothing to do (the runner then keeps that publication)."""
    from whiteglove.decisions import decisions_file
    from whiteglove.validation import GOLDEN_SUITE

    digest = hashlib.sha256()
    settings = {
        "sources": {
            s.name: source_fingerprint(config, s, suite_for(config, s.name)) for s in config.sources
        },
        "config": config.model_dump(mode="json", exclude={"base_dir"}),
        "golden_suite": suite_for(config, GOLDEN_SUITE).as_json(),
        "code": project_code_version(),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    linkage = config.linkage
    # by role and content: where the output folder is (a copy, a moved folder) does not count
    referenced = {
        "decisions": decisions_file(config.base_dir, linkage.decisions),
        "model": config.resolve(linkage.model) if linkage.model else None,
        "labels": (
            config.resolve(linkage.labels.file) if linkage.labels and linkage.labels.file else None
        ),
        "suppression": layout.suppression if layout is not None else None,
    }
    for role, path in referenced.items():
        digest.update(f"\0{role}\0".encode())
        if path is not None and path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def project_code_version() -> str:
    """A digest of every file of the project's packages (code, templates, styles) and of the
    libraries whose output a run stores."""
    digest = hashlib.sha256()
    for name in _LIBRARIES:
        digest.update(f"{name} {_version(name)}\n".encode())
    for package in _PROJECT_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


# The per-source assets an incremental run may reuse.
STAGES = ("raw", "standardized")


def is_reusable(
    config: SourcesConfig, name: str, raw_validation: dict | None, validation: dict | None
) -> bool:
    """Whether source `name`'s stored tables are what a rebuild would give now.

    `raw_validation` and `validation` are the stored validations of its raw and standardized
    tables. Each names the fingerprint its table was built from (`built_from`, recorded by
    extraction and carried on by standardizing only when the raw checks passed); both must
    match the source's fingerprint now, and neither may have failed an ERROR check. A run
    killed or failed midway leaves a pair that disagrees with the files, so it is rebuilt.
    """
    stored = [raw_validation, validation]
    if not all(v and v.get("success") and v.get("built_from") for v in stored):
        return False
    try:
        current = source_fingerprint(config, config.source(name), suite_for(config, name))
    except OSError:  # a file vanished while we looked: not known to be unchanged
        return False
    return all(v["built_from"] == current for v in stored)  # type: ignore[index]


def reuse_problems(
    config: SourcesConfig,
    graph_sources: list[str],
    reused: dict[str, tuple[dict, dict]],
) -> list[str]:
    """Why a run cannot use the stored tables it was planned to reuse (none: it can).

    Checked when the run reaches the union of sources: between the moment a run is planned
    (a sensor tick) and the moment it runs, an export, the sources file or a failed run may
    have made a stored table something a rebuild would not give. `reused` holds each reused
    source's raw and standardized validations.
    """
    known = {s.name for s in config.sources}
    problems = [
        f"source {name!r} is in the loaded code location but no longer in the sources file; "
        "reload the definitions"
        for name in graph_sources
        if name not in known
    ]
    for name, (raw_validation, validation) in reused.items():
        if name in known and not is_reusable(config, name, raw_validation, validation):
            problems.append(
                f"source {name!r} changed (or failed validation) after this run was planned "
                "to reuse it; the next run rebuilds it"
            )
    return problems


def linkage_key(config: LinkageConfig) -> str:
    """Equal keys: pairs scored under one setting are scored the same under the other."""
    settings = config.model_dump(mode="json", exclude=_NOT_SCORING)
    text = json.dumps(
        {"linkage": settings, "code": linkage_stage_version()}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def save_linkage_state(layout: OutputLayout, result: LinkageResult, key: str) -> None:
    """Replace the stored linkage state with this run's, all files at once."""

    def fill(folder: Path) -> None:
        (folder / "model.json").write_text(json.dumps(result.model_json), encoding="utf-8")
        result.records.write_parquet(folder / "records.parquet")
        result.pairs.write_parquet(folder / "pairs.parquet")
        result.review.write_parquet(folder / "review.parquet")
        # written last: a state folder without it is never read
        (folder / "state.json").write_text(
            json.dumps(
                {
                    "key": key,
                    "design": result.design,
                    "threshold": {
                        "value": result.threshold.value,
                        "chosen_by": result.threshold.chosen_by,
                    },
                }
            ),
            encoding="utf-8",
        )

    replace_folder(layout.linkage_state, fill)


def load_linkage_state(layout: OutputLayout, key: str) -> PreviousLinkage | None:
    """The stored linkage state, if there is one and it was made under `key`."""
    from whiteglove.linkage import PreviousLinkage

    folder = layout.linkage_state
    state_file = folder / "state.json"
    if not state_file.exists():
        return None
    # the folder is not trusted: a state that is not what this code writes means no state
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        return None
    entry, design = state.get("threshold"), state.get("design")
    threshold = entry.get("value") if isinstance(entry, dict) else None
    if not isinstance(threshold, float) or not 0 < threshold < 1:
        return None
    if not isinstance(design, list) or not all(isinstance(d, str) for d in design):
        return None
    return PreviousLinkage(
        match_threshold=threshold,
        model=json.loads((folder / "model.json").read_text(encoding="utf-8")),
        records=pl.read_parquet(folder / "records.parquet"),
        pairs=pl.read_parquet(folder / "pairs.parquet"),
        review=pl.read_parquet(folder / "review.parquet"),
        design=design,
    )
