"""Which assets an incremental run rebuilds: everything but the unchanged sources' assets."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from assets import build_assets
from assets.checks import validation_name
from assets.resources import stored_value
from whiteglove.config import SourcesConfig
from whiteglove.incremental import STAGES, is_reusable
from whiteglove.layout import OutputLayout


def reusable_sources(config: SourcesConfig, out_dir: Path) -> list[str]:
    """The sources whose stored tables and validations a run may use as they are."""
    layout = OutputLayout(out_dir)
    found = []
    for source in config.sources:
        validations = [stored_value(layout, validation_name(f"{s}_{source.name}")) for s in STAGES]
        tables = layout.asset_value(f"standardized_{source.name}", ".parquet")
        if tables.exists() and is_reusable(config, source.name, *validations):
            found.append(source.name)
    return found


def incremental_selection(config: SourcesConfig, out_dir: Path) -> tuple[list[AssetKey], list[str]]:
    """The asset keys an incremental run materializes, and the sources it reuses.

    A reused source keeps its stored tables and their validations: neither is rebuilt.
    """
    reused = reusable_sources(config, out_dir)
    skipped = {f"{stage}_{name}" for name in reused for stage in STAGES}
    skipped |= {validation_name(asset) for asset in skipped}
    return [
        key
        for definition in build_assets(config)
        for key in definition.keys
        if key.to_user_string() not in skipped
    ], reused
