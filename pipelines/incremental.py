"""Which assets an incremental run rebuilds: everything but the unchanged sources' assets."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from assets import build_assets
from whiteglove.config import SourcesConfig
from whiteglove.incremental import STAGES, SourceFingerprints
from whiteglove.layout import OutputLayout
from whiteglove.schema import VALIDATION_SUFFIX


def incremental_selection(config: SourcesConfig, out_dir: Path) -> tuple[list[AssetKey], list[str]]:
    """The asset keys an incremental run materializes, and the sources it reuses.

    A reused source keeps its stored tables and their validations: neither is rebuilt.
    """
    reused = SourceFingerprints(OutputLayout(out_dir)).unchanged_sources(config)
    skipped = {f"{stage}_{name}" for name in reused for stage in STAGES}
    return [
        key
        for definition in build_assets(config)
        for key in definition.keys
        if key.to_user_string().removesuffix(VALIDATION_SUFFIX) not in skipped
    ], reused
