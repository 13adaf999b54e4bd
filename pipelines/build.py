"""Definitions for one sources file: the asset graph, its job, schedule, sensor and resources.

The graph depends on the sources file (one raw and one standardized asset per source), so it
is built from it. The CLI and the code location both call `build_definitions`.

Policies that hold for the whole location (owners, freshness of what readers consume) are
applied here, once, rather than repeated in every asset decorator.
"""

from __future__ import annotations

from pathlib import Path

from dagster import (
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    Definitions,
    define_asset_job,
    in_process_executor,
    map_asset_specs,
)

from assets import build_assets
from assets.resources import AssetValueIOManager, PreviousPublicationResource, RunSettings
from pipelines.incremental import incremental_selection
from pipelines.schedules import PUBLISHED_FRESHNESS, daily_schedule
from pipelines.sensors import inbox_sensor
from whiteglove.config import SourcesConfig, load_sources

BUILD_JOB = "build_golden_customers"
OWNERS = ["team:data-platform"]
# What downstream readers consume; the rest of the graph is intermediate.
PUBLISHED_ASSETS = frozenset({"golden_customers", "published_outputs"})


def build_definitions(
    sources_path: Path, out_dir: Path, config: SourcesConfig | None = None
) -> Definitions:
    """Definitions for one sources file; refuses a bad file before anything runs.

    `config` is the file already parsed, when the caller has just done so.
    """
    config = config or load_sources(sources_path)
    out_dir = out_dir.resolve()
    build_job = define_asset_job(
        BUILD_JOB,
        selection=AssetSelection.all(),
        description="Extract, validate, standardize, link and publish the golden customer table.",
    )
    inbox = config.resolve(config.inbox) if config.inbox else None
    return Definitions(
        assets=with_policies(build_assets(config)),
        jobs=[build_job],
        schedules=[daily_schedule(BUILD_JOB)],
        sensors=[
            inbox_sensor(
                inbox,
                BUILD_JOB,
                # decided when a tick finds arrivals, for the graph this location loaded; the
                # run checks again when it starts (see the customer_records asset)
                incremental=lambda: incremental_selection(config, out_dir),
            )
        ],
        # Runs from the UI, a schedule or a sensor execute like `whiteglove run`: one process,
        # steps in graph order. Polars and DuckDB already use every core inside a step, and a
        # process per step would pay seconds of imports twenty times per run.
        executor=in_process_executor,
        resources={
            "settings": RunSettings(
                sources_path=str(Path(sources_path).resolve()), out_dir=str(out_dir)
            ),
            "previous_publication": PreviousPublicationResource(out_dir=str(out_dir)),
            "io_manager": AssetValueIOManager(out_dir=str(out_dir)),
        },
    )


def with_policies(assets: list[AssetsDefinition]) -> list[AssetsDefinition]:
    """Owners on every asset; the freshness promise on the assets readers consume."""
    return list(map_asset_specs(_apply_policies, assets))


def _apply_policies(spec: AssetSpec) -> AssetSpec:
    spec = spec.merge_attributes(owners=[o for o in OWNERS if o not in spec.owners])
    if spec.key.to_user_string() in PUBLISHED_ASSETS:
        spec = spec.replace_attributes(freshness_policy=PUBLISHED_FRESHNESS)
    return spec
