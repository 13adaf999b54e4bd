"""Definitions for one sources file: the asset graph, its job and its resources.

The graph depends on the sources file (one raw and one standardized asset per source), so it
is built from it. The CLI and the code location both call `build_definitions`.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetSelection, Definitions, define_asset_job

from assets import build_assets
from pipelines.resources import WORK_DIR, ParquetFrameIOManager, WhiteGloveSettings
from whiteglove.config import load_sources

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = PROJECT_ROOT / "data" / "sources.yaml"
DEFAULT_OUT = PROJECT_ROOT / "data" / "output"
BUILD_JOB = "build_golden_customers"


def build_definitions(sources_path: Path, out_dir: Path) -> Definitions:
    """Definitions for one sources file; refuses a bad file before anything runs."""
    config = load_sources(sources_path)
    out_dir = out_dir.resolve()
    build_job = define_asset_job(
        BUILD_JOB,
        selection=AssetSelection.all(),
        description="Extract, validate, standardize, link and publish the golden customer table.",
    )
    return Definitions(
        assets=build_assets(config),
        jobs=[build_job],
        resources={
            "settings": WhiteGloveSettings(
                sources_path=str(Path(sources_path).resolve()), out_dir=str(out_dir)
            ),
            "io_manager": ParquetFrameIOManager(base_dir=str(out_dir / WORK_DIR)),
        },
    )
