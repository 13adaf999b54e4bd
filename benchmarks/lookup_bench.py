"""Single-record lookups against a published run: latency and agreement with the batch.

    python benchmarks/lookup_bench.py --out OUTPUT_FOLDER --truth truth.csv [--lookups 1000]

Run on the output folder of a whole run (benchmarks/bench.py calls it after its first
pipeline run of each size). Measures, in this process:
- the time and memory to load the index of the latest publication;
- p50 and p95 latency of single lookups of records of the batch, typed as a caller gives them
  (the identity fields as text), and the share that find the golden customer the batch put
  them in first;
- the same for records with a typo added (two letters swapped in one of the first name,
  surname or the email's user name): the share whose first candidate is the right customer
  (the golden customer holding most of that person's records, from the truth) against the
  share of the same records the batch placed there. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whiteglove.lookup import LookupIndex  # noqa: E402
from whiteglove.schema import IDENTITY_FIELDS  # noqa: E402

# every identity field a record can carry (full_name is split into first and last already;
# the country is the sources file's default)
IDENTITY = [f for f in IDENTITY_FIELDS if f not in ("full_name", "country")]


def as_caller(row: dict) -> dict[str, str]:
    return {f: str(row[f]) for f in IDENTITY if row.get(f) is not None}


def with_typos(caller: dict[str, str], rng: random.Random) -> dict[str, str]:
    def swap(text: str) -> str:
        if len(text) < 4:
            return text
        i = rng.randrange(1, len(text) - 2)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]

    typed = dict(caller)
    fields = [f for f in ("first_name", "last_name", "email") if f in typed]
    if not fields:
        return typed
    field = rng.choice(fields)
    if field == "email":
        user, _, domain = typed["email"].partition("@")
        typed["email"] = f"{swap(user)}@{domain}"
    else:
        typed[field] = swap(typed[field])
    return typed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(out: Path, truth_path: Path, lookups: int, seed: int) -> dict:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = LookupIndex.open(out)
    load_seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    records = pl.read_parquet(out / ".work" / "customer_records.parquet")
    xref = pl.read_parquet(out / "customer_xref.parquet").select(
        "source", "source_record_id", "golden_id"
    )
    truth = pl.read_csv(truth_path, schema_overrides={"source_record_id": pl.String}).unique(
        ["source", "source_record_id"]
    )
    batch = records.join(xref, on=["source", "source_record_id"]).join(
        truth.select("source", "source_record_id", "person_id"), on=["source", "source_record_id"]
    )
    # the right customer of a person: the golden customer holding most of their records
    right = (
        batch.group_by("person_id", "golden_id")
        .len()
        .sort("len", "golden_id", descending=[True, False])
        .unique("person_id", keep="first")
        .select("person_id", pl.col("golden_id").alias("right_golden_id"))
    )
    batch = batch.join(right, on="person_id")
    rng = random.Random(seed)
    sample = batch.sample(n=min(2 * lookups, batch.height), seed=seed)
    own, typo = sample.head(lookups), sample.tail(min(lookups, sample.height - lookups))

    latencies, found_own = [], 0
    for row in own.iter_rows(named=True):
        t = time.perf_counter()
        answer = index.lookup(as_caller(row))
        latencies.append(time.perf_counter() - t)
        found_own += bool(answer["candidates"]) and (
            answer["candidates"][0]["golden_id"] == row["golden_id"]
        )
    found_right = batch_right = 0
    typo_latencies = []
    for row in typo.iter_rows(named=True):
        t = time.perf_counter()
        answer = index.lookup(with_typos(as_caller(row), rng))
        typo_latencies.append(time.perf_counter() - t)
        first = answer["candidates"][0]["golden_id"] if answer["candidates"] else None
        found_right += first == row["right_golden_id"]
        batch_right += row["golden_id"] == row["right_golden_id"]
    return {
        "records_indexed": index.records.height,
        "index_load_seconds": round(load_seconds, 2),
        "index_rss_gib": round((rss_after - rss_before) / (1 << 20), 2),
        "lookups": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "own_customer_first": round(found_own / len(latencies), 4),
        "typo_lookups": typo.height,
        "typo_p95_ms": round(1000 * percentile(typo_latencies, 0.95), 1),
        "typo_right_customer_first": round(found_right / max(typo.height, 1), 4),
        "batch_right_customer": round(batch_right / max(typo.height, 1), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder of a run")
    parser.add_argument("--truth", type=Path, required=True, help="truth.csv of its data")
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.out, args.truth, args.lookups, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
