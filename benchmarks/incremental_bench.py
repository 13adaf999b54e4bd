"""Incremental run vs full rebuild after one export changes: wall time and accuracy.

    python benchmarks/incremental_bench.py --people 35000

Generates a sample, builds it once with the billing export missing one row in ten, then the
complete billing export arrives and the same output folder is updated with
`whiteglove run --incremental`; a full rebuild of the same data into a fresh folder is the
comparison; then `--incremental` again with nothing changed. Each run is a `whiteglove run`
subprocess; F1 is pairwise against the truth.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import make_sample  # noqa: E402
from whiteglove.evaluation import pairwise_scores  # noqa: E402


def timed_run(sources: Path, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--quiet", "--sources", str(sources),
         "--out", str(out), *extra],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def f1(out: Path, truth: pl.DataFrame) -> float:
    keys = pl.concat_str("source", "source_record_id", separator=":").alias("record_key")
    clusters = pl.read_parquet(out / "customer_xref.parquet").select(
        keys, pl.col("golden_id").alias("cluster")
    )
    return pairwise_scores(clusters, truth).f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=35_000)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="whiteglove-incremental-"))
    try:
        sources = make_sample(work, args.people, args.seed)
        billing = work / "exports" / "billing.parquet"
        complete = pl.read_parquet(billing)
        complete.filter(pl.int_range(pl.len()) % 10 != 1).write_parquet(billing)
        truth = pl.read_csv(work / "truth.csv", infer_schema=False).select(
            pl.concat_str("source", "source_record_id", separator=":").alias("record_key"),
            pl.col("person_id").alias("entity"),
        )
        first = timed_run(sources, work / "out")
        complete.write_parquet(billing)
        incremental = timed_run(sources, work / "out", "--incremental")
        unchanged = timed_run(sources, work / "out", "--incremental")
        rebuild = timed_run(sources, work / "rebuild")
        records = pl.read_parquet(work / "out" / "customer_xref.parquet").height
        print(f"{records:,} records; billing gains {complete.height // 10:,} rows")
        print("| run | wall s | F1 |\n|---|---:|---:|")
        print(f"| first full run (billing 90%) | {first:.1f} | — |")
        after, rebuilt = f1(work / "out", truth), f1(work / "rebuild", truth)
        print(f"| incremental, billing complete | {incremental:.1f} | {after:.4f} |")
        print(f"| full rebuild, billing complete | {rebuild:.1f} | {rebuilt:.4f} |")
        print(f"| incremental again, nothing changed | {unchanged:.1f} | {after:.4f} |")
        print(f"\nnothing changed / full rebuild: {unchanged / rebuild:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
