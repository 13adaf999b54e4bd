"""Where things are: the project's bundled sample, and every path inside an output folder.

An output folder (`--out`) holds:

    .whiteglove                marks the folder as whiteglove's; a run refuses any other
    .lock, .publish.lock       a run's lock, and the lock publication takes
    snapshots/<run>/...        every published file of one run, written completely first
    latest -> snapshots/<run>  switched atomically once a snapshot is complete
    golden_customers.parquet -> latest/golden_customers.parquet   (one link per output)
    suppression.json           salted hashes of people erased on request (whiteglove/suppression.py)
    erasures.jsonl             the audit log of erasures, without personal data
    .forget.json               an erasure in progress, finished by the next `whiteglove forget`
    .work/                     the asset graph's working state:
        <asset>.parquet|.json|/  each asset's value, handed to the assets downstream
        linkage_state/           the previous linkage, for incremental runs

Nothing else is written under `--out`, and nothing outside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SOURCES = PROJECT_ROOT / "data" / "sources.yaml"
DEFAULT_OUT = PROJECT_ROOT / "data" / "output"
# The reports a run publishes, under reports/ of its snapshot, by the name the Dagster metadata
# and the run summary give each.
REPORTS_DIR = "reports"
DATA_QUALITY_REPORT = "data_quality.html"
DATA_DOCS_DIR = "data_docs"
LINKAGE_REPORT = "linkage.html"
REPORT_FILES = {
    "data_quality_report": DATA_QUALITY_REPORT,
    "data_docs": f"{DATA_DOCS_DIR}/index.html",
    "linkage_report": LINKAGE_REPORT,
}


def report_paths(snapshot: Path) -> dict[str, Path]:
    """Where each report of a snapshot (or of the output folder's links) is."""
    return {name: snapshot / REPORTS_DIR / file for name, file in REPORT_FILES.items()}


class OutputLayout:
    """The paths of one output folder; nothing here touches the file system."""

    MARKER = ".whiteglove"
    RUN_LOCK = ".lock"
    PUBLISH_LOCK = ".publish.lock"
    SNAPSHOTS = "snapshots"
    LATEST = "latest"
    WORK = ".work"
    SUPPRESSION = "suppression.json"
    ERASURE_LOG = "erasures.jsonl"
    FORGET_JOURNAL = ".forget.json"
    # Entries whiteglove itself puts in an output folder; anything else is the user's.
    OWN_ENTRIES = frozenset(
        {
            MARKER,
            RUN_LOCK,
            PUBLISH_LOCK,
            SNAPSHOTS,
            LATEST,
            WORK,
            SUPPRESSION,
            ERASURE_LOG,
            FORGET_JOURNAL,
        }
    )

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.marker = self.root / self.MARKER
        self.snapshots = self.root / self.SNAPSHOTS
        self.latest = self.root / self.LATEST
        self.work = self.root / self.WORK
        self.linkage_state = self.work / "linkage_state"
        self.suppression = self.root / self.SUPPRESSION
        self.erasure_log = self.root / self.ERASURE_LOG
        self.forget_journal = self.root / self.FORGET_JOURNAL

    def lock(self, name: str) -> Path:
        """A lock file: RUN_LOCK or PUBLISH_LOCK."""
        return self.root / name

    def asset_value(self, asset: str, suffix: str) -> Path:
        """Where the value an asset hands downstream is stored (`.parquet`, `.json`, or
        a folder for Documents)."""
        return (self.work / asset).with_suffix(suffix)

    def snapshot(self, run_started: datetime, run_id: str) -> Path:
        """The snapshot a run publishes into, named by when it started.

        Known from the start of the run, so a report can link to where it will be published;
        runs never overlap (the run lock), so names sort in the order runs published.
        """
        return self.snapshots / f"{run_started.astimezone(UTC):%Y%m%dT%H%M%S}Z-{run_id[:8]}"

    def published(self, name: str) -> Path:
        """The top-level name readers open, a link through `latest`."""
        return self.root / name
