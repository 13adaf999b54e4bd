"""`generate`: one seeded sample (four exports, truth.csv, sources.yaml), and its command line."""

from __future__ import annotations

import argparse
import csv
import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from numpy.random import PCG64, Generator

from whiteglove.sample_data import exports, history
from whiteglove.sample_data.people import build_people, presence
from whiteglove.sample_data.sources_file import write_sources

SOURCES = ("crm", "billing", "marketing", "support")


@dataclass(frozen=True)
class SampleSummary:
    """What `generate` wrote: file paths and exported row counts."""

    out_dir: Path
    people: int
    seed: int
    exports: dict[str, Path]
    records: dict[str, int]
    truth: Path
    config: Path
    truth_values: Path | None = None


def _write_csv(path: Path, header: Sequence[str], rows: list, delimiter: str) -> None:
    # csv writes None as an empty field, which is how these systems export nulls.
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def generate(out_dir: Path, people: int = 3000, seed: int = 7) -> SampleSummary:
    """Write the four exports, truth.csv and truth_values.csv for `people` people into out_dir.

    Also writes ``sources.yaml``, the bundled sample's sources file (replacing any there), so
    the folder is a sample the pipeline runs on with the bundled suites.
    """
    if people < 1:
        raise ValueError("people must be >= 1")
    out_dir = Path(out_dir)
    # Millions of short-lived row tuples make the cyclic GC rescan the heap over and over
    # (it roughly doubled the runtime); nothing here creates reference cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(out_dir, people, seed)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(out_dir: Path, people: int, seed: int) -> SampleSummary:
    export_dir = out_dir / "exports"
    export_dir.mkdir(parents=True, exist_ok=True)
    rng = Generator(PCG64(seed))

    ppl = build_people(rng, people)
    pres = presence(rng, people)
    members = [np.flatnonzero(pres[:, i]) for i in range(4)]

    crm_rows, crm_truth = exports.crm(rng, ppl, members[0])
    billing_table, billing_truth = exports.billing(rng, ppl, members[1])
    mkt_lines, mkt_truth = exports.marketing(rng, ppl, members[2])
    sup_rows, sup_truth = exports.support(rng, ppl, members[3])
    crm_rows, billing_table, mkt_lines = history.make_consistent(
        seed, ppl, crm_rows, crm_truth, billing_table, billing_truth, mkt_lines, mkt_truth
    )

    paths = {
        "crm": export_dir / "crm.csv",
        "billing": export_dir / "billing.parquet",
        "marketing": export_dir / "marketing.jsonl",
        "support": export_dir / "support.csv",
    }
    _write_csv(paths["crm"], exports.CRM_COLUMNS, crm_rows, ";")
    pq.write_table(billing_table, paths["billing"], compression="zstd")
    with paths["marketing"].open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(mkt_lines) + ("\n" if mkt_lines else ""))
    _write_csv(paths["support"], exports.SUPPORT_COLUMNS, sup_rows, ",")

    truth = out_dir / "truth.csv"
    with truth.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(exports.TRUTH_COLUMNS) + "\n")
        for source, pairs in zip(
            SOURCES, (crm_truth, billing_truth, mkt_truth, sup_truth), strict=False
        ):
            # Ids never contain commas or quotes, so plain joining is valid CSV.
            fh.write(
                "".join(f"{source},{rid},{i},{pid}\n" for i, (rid, pid) in enumerate(pairs, 1))
            )

    # Written from the people alone, after every draw: the exports stay what they were.
    values = out_dir / "truth_values.csv"
    _write_csv(values, exports.TRUTH_VALUE_COLUMNS, exports.truth_values(ppl), ",")

    config = write_sources(out_dir)
    records = {
        s: len(t)
        for s, t in zip(SOURCES, (crm_truth, billing_truth, mkt_truth, sup_truth), strict=False)
    }
    return SampleSummary(out_dir, people, seed, paths, records, truth, config, values)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: ``python -m whiteglove.sample_data --people N --seed S --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m whiteglove.sample_data",
        description="Seeded, realistic sample exports for whiteglove.",
    )
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    summary = generate(args.out, people=args.people, seed=args.seed)
    counts = ", ".join(f"{k}={v}" for k, v in summary.records.items())
    print(f"wrote {summary.out_dir} for {summary.people} people: {counts}")
    return 0
