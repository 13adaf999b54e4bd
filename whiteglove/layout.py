"""Where things are: the project's bundled sample, and every path inside an output folder.

An output folder (`--out`) holds:

    .whiteglove                marks the folder as whiteglove's; a run refuses any other
    .lock, .publish.lock       a run's lock, and the lock publication takes
    snapshots/<run>/...        every published file of one run, written completely first
    latest -> snapshots/<run>  switched atomically once a snapshot is complete
    golden_customers.parquet -> latest/golden_customers.parquet   (one link per output)
    .work/                     the asset graph's working state:
        <asset>.parquet|.json    each asset's value, handed to the assets downstream
        fingerprints/            what each source's stored tables were built from
        linkage_state/           the previous linkage, for incremental runs

Nothing else is written under `--out`, and nothing outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SOURCES = PROJECT_ROOT / "data" / "sources.yaml"
DEFAULT_OUT = PROJECT_ROOT / "data" / "output"


@dataclass(frozen=True)
class OutputLayout:
    """The paths of one output folder; nothing here touches the file system."""

    root: Path

    MARKER = ".whiteglove"
    RUN_LOCK = ".lock"
    PUBLISH_LOCK = ".publish.lock"
    SNAPSHOTS = "snapshots"
    LATEST = "latest"
    WORK = ".work"
    # Entries whiteglove itself puts in an output folder; anything else is the user's.
    OWN_ENTRIES = frozenset({MARKER, RUN_LOCK, PUBLISH_LOCK, SNAPSHOTS, LATEST, WORK})

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def marker(self) -> Path:
        return self.root / self.MARKER

    @property
    def snapshots(self) -> Path:
        return self.root / self.SNAPSHOTS

    @property
    def latest(self) -> Path:
        return self.root / self.LATEST

    @property
    def work(self) -> Path:
        return self.root / self.WORK

    @property
    def fingerprints(self) -> Path:
        return self.work / "fingerprints"

    @property
    def linkage_state(self) -> Path:
        return self.work / "linkage_state"

    def lock(self, name: str) -> Path:
        return self.root / name

    def asset_value(self, asset: str, suffix: str) -> Path:
        """Where the value an asset hands downstream is stored (`.parquet` or `.json`)."""
        return (self.work / asset).with_suffix(suffix)

    def published(self, name: str) -> Path:
        """The top-level name readers open, a link through `latest`."""
        return self.root / name
