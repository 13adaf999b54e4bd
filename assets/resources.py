"""What every asset may use besides its inputs: the run's settings, the previous publication,
and the IO manager that hands each asset's value to the assets downstream.

Each is set up once per run (the job runs in one process), so the sources file is parsed
once and the previous publication is pinned once, however many assets read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InitResourceContext,
    InputContext,
    OutputContext,
)
from pydantic import PrivateAttr

from whiteglove.atomic import replace_folder, write_atomically
from whiteglove.config import SourcesConfig, load_sources
from whiteglove.documents import Documents, read_documents, write_documents
from whiteglove.layout import OutputLayout
from whiteglove.publish import PreviousPublication, claim_output_folder
from whiteglove.suppression import SuppressionList

# A run tagged with this ("true") reuses what it can: unchanged sources are left out of its
# selection (pipelines/incremental.py), and linkage scores only pairs with a new or changed
# record. Every other run rebuilds everything and retrains.
INCREMENTAL_TAG = "whiteglove/incremental"
REUSED_TAG = "whiteglove/reused_sources"  # the sources such a run does not rebuild
# what a run read, hashed when it started (whiteglove.incremental.run_fingerprint)
INPUTS_TAG = "whiteglove/inputs_fingerprint"


class RunSettings(ConfigurableResource):
    """The run's sources file, parsed once when the run starts, and its output folder."""

    sources_path: str
    out_dir: str
    _config: SourcesConfig | None = PrivateAttr(default=None)
    _suppression: SuppressionList | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Read when the run starts, not when the code location loaded: a run launched from
        # the UI must see the file as it is now.
        self._config = load_sources(self.sources_path)
        # Before any asset writes there: a folder holding someone else's files, or links
        # among whiteglove's own entries, is refused (runs from the UI start here)
        claim_output_folder(Path(self.out_dir))
        # once, before any source is read: every source of the run compares with one list,
        # and a list that cannot be read stops the run before anything is written
        self._suppression = SuppressionList.load(self.layout)

    @property
    def config(self) -> SourcesConfig:
        if self._config is None:  # used outside a run (a test building one asset)
            self._config = load_sources(self.sources_path)
        return self._config

    @property
    def layout(self) -> OutputLayout:
        return OutputLayout(Path(self.out_dir))

    @property
    def suppression(self) -> SuppressionList:
        """The people erased on request (whiteglove/suppression.py), read once per run."""
        if self._suppression is None:
            self._suppression = SuppressionList.load(self.layout)
        return self._suppression

    @property
    def reveal_personal_data(self) -> bool:
        return self.config.privacy.reveal_personal_data


class PreviousPublicationResource(ConfigurableResource):
    """The publication this run replaces, pinned when the run starts.

    Read for stable golden ids, the changes since then and the report's trends. Pinned so
    that every asset of a run compares with the same publication, even one that reads it
    after this run switched `latest`.
    """

    out_dir: str
    _pinned: PreviousPublication | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._pinned = PreviousPublication.pin(OutputLayout(Path(self.out_dir)))

    @property
    def pinned(self) -> PreviousPublication:
        if self._pinned is None:  # used outside a run (a test building one asset)
            self._pinned = PreviousPublication.pin(OutputLayout(Path(self.out_dir)))
        return self._pinned

    def table(self, name: str) -> pl.DataFrame | None:
        """A table of the previous publication (None: there is none)."""
        return self.pinned.table(name)

    def document(self, name: str) -> dict | None:
        """A JSON document of the previous publication (None: there is none)."""
        return self.pinned.document(name)


class AssetValueIOManager(ConfigurableIOManager):
    """Stores each asset's value under `<out>/.work`: a Polars frame as Parquet, a dict as
    JSON, and Documents (a report's files) as a folder.

    Written under a temporary name and renamed, so a killed step never leaves a truncated
    value that a later run would read as valid.
    """

    out_dir: str

    def _path(self, context: InputContext | OutputContext, suffix: str) -> Path:
        return OutputLayout(Path(self.out_dir)).asset_value(context.asset_key.path[-1], suffix)

    def handle_output(
        self, context: OutputContext, obj: pl.DataFrame | dict | Documents | None
    ) -> None:
        if obj is None:
            return
        if isinstance(obj, Documents):
            replace_folder(self._path(context, ""), lambda folder: write_documents(obj, folder))
        elif isinstance(obj, dict):
            text = json.dumps(obj, indent=2, default=str)
            write_atomically(
                self._path(context, ".json"), lambda tmp: tmp.write_text(text, encoding="utf-8")
            )
        else:
            # read whole by the next step, never filtered: column statistics would cost a
            # quarter of the write time for nothing
            write_atomically(
                self._path(context, ".parquet"),
                lambda tmp: obj.write_parquet(tmp, compression="lz4", statistics=False),
            )

    def load_input(self, context: InputContext) -> pl.DataFrame | dict | Documents:
        value = stored_value(OutputLayout(Path(self.out_dir)), context.asset_key.path[-1])
        if value is None:
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} was never stored")
        return value


def stored_value(layout: OutputLayout, asset: str) -> pl.DataFrame | dict | Documents | None:
    """The value the IO manager stored for `asset` (None: none is stored).

    Also how an incremental run is planned, from what the previous runs stored.
    """
    as_json = layout.asset_value(asset, ".json")
    if as_json.exists():
        return json.loads(as_json.read_text(encoding="utf-8"))
    as_folder = layout.asset_value(asset, "")
    if as_folder.is_dir():
        return read_documents(as_folder)
    as_table = layout.asset_value(asset, ".parquet")
    return pl.read_parquet(as_table) if as_table.exists() else None
