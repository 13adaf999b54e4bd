"""Splink's public `fake_1000` benchmark (1,000 records, 251 people) as a whiteglove export.

Heavily corrupted names, birth dates, cities and emails, clusters of up to ten records: data
the project was not built on. Written as one CSV export and a sources file with the canonical
mapping any user would write, no tuning.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

DATA = Path(__file__).resolve().parent / "data" / "fake_1000.csv"

SOURCES_YAML = """\
# fake_1000 mapped through whiteglove's sources file: no hand-written Splink settings.
defaults:
  country: GB
sources:
  - name: people
    path: exports/fake_1000.csv
    format: csv
    id: unique_id
    trust: 1
    fields:
      first_name: first_name
      last_name: surname
      date_of_birth: {column: dob, format: "%Y-%m-%d"}
      city: city
      email: email
linkage:
  labels: {file: truth.csv, entity: cluster}
"""


def write_fake_1000(root: Path) -> Path:
    """Write the export, its truth and a sources file under `root`; return the sources file."""
    (root / "exports").mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA, root / "exports" / "fake_1000.csv")
    pl.read_csv(DATA, infer_schema=False).select(
        pl.lit("people").alias("source"),
        pl.col("unique_id").alias("source_record_id"),
        "cluster",
    ).write_csv(root / "truth.csv")
    (root / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    return root / "sources.yaml"
