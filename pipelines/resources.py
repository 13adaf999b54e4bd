"""Resources: where the sources file and outputs are, and how frames pass between assets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext

from whiteglove.config import SourcesConfig, load_sources

WORK_DIR = ".work"
# A run tagged with this ("true") reuses what it can: unchanged sources are left out of its
# selection, and linkage scores only pairs with a new or changed record (see
# pipelines/incremental.py). Every other run rebuilds everything and retrains.
INCREMENTAL_TAG = "whiteglove/incremental"
REUSED_TAG = "whiteglove/reused_sources"  # the sources such a run does not rebuild


class WhiteGloveSettings(ConfigurableResource):
    """The run's inputs and output folder, as the CLI or the code location set them."""

    sources_path: str
    out_dir: str

    def sources(self) -> SourcesConfig:
        # Re-read at run time: a run launched from the UI must see the file as it is now.
        return load_sources(self.sources_path)

    @property
    def output(self) -> Path:
        return Path(self.out_dir)


class ParquetFrameIOManager(ConfigurableIOManager):
    """Stores each asset's Polars frame as `<base_dir>/<asset>.parquet` (a dict as `.json`).

    Written to a temporary name and renamed, so a killed step never leaves a truncated file
    that a later run would read as valid.
    """

    base_dir: str

    def _path(self, context: InputContext | OutputContext, suffix: str) -> Path:
        return Path(self.base_dir, *context.asset_key.path).with_suffix(suffix)

    def handle_output(self, context: OutputContext, obj: pl.DataFrame | dict | None) -> None:
        if obj is None:
            return
        path = self._path(context, ".json" if isinstance(obj, dict) else ".parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if isinstance(obj, dict):
            tmp.write_text(json.dumps(obj, indent=2), encoding="utf-8")
        else:
            # read whole by the next step, never filtered: column statistics would cost a
            # quarter of the write time for nothing
            obj.write_parquet(tmp, compression="lz4", statistics=False)
        os.replace(tmp, path)

    def load_input(self, context: InputContext) -> pl.DataFrame | dict:
        as_json = self._path(context, ".json")
        if as_json.exists():
            return json.loads(as_json.read_text(encoding="utf-8"))
        return pl.read_parquet(self._path(context, ".parquet"))
