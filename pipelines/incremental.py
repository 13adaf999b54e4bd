"""Which assets an incremental run rebuilds: everything but the unchanged sources' tables."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from assets import build_assets
from pipelines.resources import WORK_DIR
from whiteglove.config import SourcesConfig
from whiteglove.incremental import is_unchanged


def unchanged_sources(config: SourcesConfig, out_dir: Path) -> list[str]:
    """Sources whose stored raw and standardized tables are what a rebuild would give."""
    work = out_dir / WORK_DIR
    unchanged = []
    for source in config.sources:
        stored = [work / f"{stage}_{source.name}.parquet" for stage in ("raw", "standardized")]
        if all(p.exists() for p in stored) and is_unchanged(config, work, source.name):
            unchanged.append(source.name)
    return unchanged


def incremental_selection(config: SourcesConfig, out_dir: Path) -> tuple[list[AssetKey], list[str]]:
    """The asset keys an incremental run materializes, and the sources it reuses."""
    reused = unchanged_sources(config, out_dir)
    skipped = {f"{stage}_{name}" for name in reused for stage in ("raw", "standardized")}
    keys = [
        key
        for definition in build_assets(config)
        for key in definition.keys
        if key.to_user_string() not in skipped
    ]
    return keys, reused
