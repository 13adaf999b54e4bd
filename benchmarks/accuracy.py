"""The accuracy part of `make bench`: whiteglove and a plain Splink script on public and
generated benchmarks, side by side, each scored against its ground truth.

    python benchmarks/accuracy.py [--results benchmarks/RESULTS.md]

- `fake_1000` (Splink's heavily corrupted person records) and FEBRL4: whiteglove through a
  sources file with the canonical mapping only, against `benchmarks/tutorial_splink.py`
  (Splink's tutorial settings);
- the bundled sample (`data/`): whiteglove on `data/sources.yaml`, against
  `benchmarks/plain_splink.py` (the same plain script `bench.py` times at a million records,
  whose F1 it reports).

Pairwise precision, recall and F1 of the clusters (`whiteglove.evaluation`); one set of
defaults for every dataset, nothing tuned per benchmark. Then golden-value accuracy per field
(survivorship against the generator's truth of values) on three freshly generated samples.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks import plain_splink, tutorial_splink  # noqa: E402
from benchmarks.fake1000 import DATA as FAKE_1000  # noqa: E402
from benchmarks.fake1000 import write_fake_1000  # noqa: E402
from benchmarks.febrl import write_febrl4  # noqa: E402
from whiteglove.evaluation import PairwiseScores, pairwise_scores  # noqa: E402
from whiteglove.layout import BUNDLED_SOURCES  # noqa: E402

BEGIN, END = "<!-- accuracy:begin", "<!-- accuracy:end -->"


@dataclass(frozen=True)
class Score:
    scores: PairwiseScores
    seconds: float
    threshold: float | None = None  # whiteglove's match threshold, as the run chose it


@dataclass(frozen=True)
class Benchmark:
    name: str
    sources: Callable[[Path], Path]  # writes the exports under a folder; the sources file
    truth: Callable[[Path], pl.DataFrame]  # record_key, entity
    plain: Callable[[Path], pl.DataFrame]  # record_key, cluster
    plain_name: str


def whiteglove(sources: Path, truth: pl.DataFrame, out: Path) -> Score:
    from dagster import DagsterInstance

    from pipelines.runner import run_pipeline

    started = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")
    if not outcome.success:
        raise RuntimeError(f"whiteglove failed on {sources}: {outcome.failures}")
    seconds = time.perf_counter() - started
    xref = pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("golden_id").alias("cluster"),
    )
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    return Score(pairwise_scores(xref, truth), seconds, summary["linkage"]["match_threshold"])


def plain(clusters: Callable[[], pl.DataFrame], truth: pl.DataFrame) -> Score:
    started = time.perf_counter()
    found = clusters()
    return Score(pairwise_scores(found, truth), time.perf_counter() - started)


# ------------------------------------------------------------------------------ fake_1000
def _fake_truth(root: Path) -> pl.DataFrame:
    return pl.read_csv(root / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("cluster").alias("entity"),
    )


def _fake_plain(root: Path) -> pl.DataFrame:
    records = pl.read_csv(FAKE_1000, infer_schema=False).with_columns(
        ("people:" + pl.col("unique_id")).alias("unique_id")
    )
    columns = tutorial_splink.Columns(
        first_name="first_name", surname="surname", dob="dob", email="email", exact=["city"]
    )
    return tutorial_splink.clusters(records.drop("cluster"), columns).rename(
        {"unique_id": "record_key", "cluster_id": "cluster"}
    )


# ------------------------------------------------------------------------------ FEBRL4
def _febrl_truth(root: Path) -> pl.DataFrame:
    return pl.read_csv(root / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("entity_id").alias("entity"),
    )


def _febrl_plain(root: Path) -> pl.DataFrame:
    frames = [
        pl.read_csv(root / "exports" / f"{name}.csv", infer_schema=False).with_columns(
            (pl.lit(f"{name}:") + pl.col("rec_id")).alias("unique_id")
        )
        for name in ("febrl_a", "febrl_b")
    ]
    records = pl.concat(frames).select(
        "unique_id",
        "given_name",
        "surname",
        pl.col("date_of_birth").str.to_date("%Y%m%d", strict=False).dt.to_string().alias("dob"),
        "soc_sec_id",
        "suburb",
        "postcode",
        "state",
        "address",
    )
    columns = tutorial_splink.Columns(
        first_name="given_name",
        surname="surname",
        dob="dob",
        identifier="soc_sec_id",
        exact=["suburb", "postcode", "state", "address"],
    )
    return tutorial_splink.clusters(records, columns).rename(
        {"unique_id": "record_key", "cluster_id": "cluster"}
    )


# ------------------------------------------------------------------------------ bundled sample
def _bundled_sources(root: Path) -> Path:
    return BUNDLED_SOURCES


def _bundled_truth(root: Path) -> pl.DataFrame:
    return _truth_of(BUNDLED_SOURCES.parent)


def _truth_of(folder: Path) -> pl.DataFrame:
    """A generated sample's truth.csv as record_key, entity."""
    return pl.read_csv(folder / "truth.csv", infer_schema=False).select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.col("person_id").alias("entity"),
    )


def _bundled_plain(root: Path) -> pl.DataFrame:
    out = root / "plain_clusters.parquet"
    plain_splink.run(BUNDLED_SOURCES.parent / "exports", out)
    return pl.read_parquet(out).select(
        pl.col("unique_id").alias("record_key"),
        pl.col("cluster_id").cast(pl.String).alias("cluster"),
    )


BENCHMARKS = [
    Benchmark("fake_1000", write_fake_1000, _fake_truth, _fake_plain, "Splink tutorial"),
    Benchmark("FEBRL4", write_febrl4, _febrl_truth, _febrl_plain, "Splink tutorial"),
    Benchmark(
        "bundled sample", _bundled_sources, _bundled_truth, _bundled_plain, "plain_splink.py"
    ),
]


def measure(benchmark: Benchmark, workdir: Path) -> tuple[Score, Score, int]:
    root = workdir / re.sub(r"\W+", "_", benchmark.name)
    root.mkdir(parents=True, exist_ok=True)
    sources = benchmark.sources(root)
    truth = benchmark.truth(root)
    ours = whiteglove(sources, truth, root / "out")
    theirs = plain(lambda: benchmark.plain(root), truth)
    return ours, theirs, truth.height


def table(rows: list[tuple[Benchmark, Score, Score, int]]) -> str:
    lines = [
        "| data | records | whiteglove P / R / F1 | threshold | plain script | plain P / R / F1 "
        "| ahead |",
        "|---|---:|---|---:|---|---|:---:|",
    ]
    for benchmark, ours, theirs, records in rows:
        a, b = ours.scores, theirs.scores
        lines.append(
            f"| {benchmark.name} | {records:,} | {a.precision:.4f} / {a.recall:.4f} / "
            f"**{a.f1:.4f}** | {ours.threshold:g} | {benchmark.plain_name} | "
            f"{b.precision:.4f} / {b.recall:.4f} / "
            f"{b.f1:.4f} | {'yes' if a.f1 > b.f1 else 'no'} |"
        )
    return "\n".join(lines)


def write_results(path: Path, text: str) -> None:
    """Replace the accuracy block of `path` (or append one), keeping everything else."""
    block = (
        f"{BEGIN} (written by benchmarks/accuracy.py; edit outside the markers) -->\n{text}\n{END}"
    )
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + block + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current, encoding="utf-8")


# --------------------------------------------------------------------- golden values (#23)
# Freshly generated samples, none of them the bundled one: survivorship is judged on data its
# defaults were not chosen on.
VALUE_SEEDS = (101, 202, 303)
VALUE_PEOPLE = 4000


def golden_values(workdir: Path, seed: int) -> dict:
    """Golden-value accuracy per field (whiteglove.evaluation) of a run on a generated sample."""
    from whiteglove.evaluation import golden_value_accuracy, load_labels, load_truth_values
    from whiteglove.sample_data import generate

    root = workdir / f"values_{seed}"
    sources = generate(root, people=VALUE_PEOPLE, seed=seed).config
    out = root / "out"
    truth = _truth_of(root)
    whiteglove(sources, truth, out)
    records = pl.read_parquet(out / ".work" / "customer_records.parquet")
    xref = pl.read_parquet(out / "customer_xref.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "golden_id"
    )
    scores = golden_value_accuracy(
        pl.read_parquet(out / "golden_customers.parquet"),
        xref,
        load_labels(records, "person_id", root / "truth.csv"),
        load_truth_values(root / "truth_values.csv"),
        records,
    )
    return {field: score.as_dict() for field, score in scores.items()}


def values_table(per_seed: dict[int, dict]) -> str:
    fields = list(next(iter(per_seed.values())))
    lines = [
        "",
        f"Golden values against the generator's truth ({VALUE_PEOPLE:,} people a sample, seeds "
        f"{', '.join(map(str, per_seed))}; each cell seed by seed): current among the customers "
        "whose current value is in any of their records, and of all customers the share "
        "current / outdated / wrong.",
        "",
        "| field | current where available | current / outdated / wrong |",
        "|---|---|---|",
    ]
    for field in fields:
        where = " / ".join(f"{s[field]['current_where_available']:.2%}" for s in per_seed.values())
        split = " · ".join(
            f"{s[field]['current']:.2%} / {s[field]['outdated']:.2%} / {s[field]['wrong']:.2%}"
            for s in per_seed.values()
        )
        lines.append(f"| {field} | {where} | {split} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="RESULTS.md whose accuracy block to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="whiteglove-accuracy-") as workdir:
        rows = []
        for benchmark in BENCHMARKS:
            ours, theirs, records = measure(benchmark, Path(workdir))
            rows.append((benchmark, ours, theirs, records))
            print(
                f"{benchmark.name}: whiteglove F1 {ours.scores.f1:.4f} at threshold "
                f"{ours.threshold:g} ({ours.seconds:.1f} s), "
                f"{benchmark.plain_name} F1 {theirs.scores.f1:.4f} ({theirs.seconds:.1f} s)",
                flush=True,
            )
        values = {seed: golden_values(Path(workdir), seed) for seed in VALUE_SEEDS}
    text = table(rows) + "\n" + values_table(values)
    print(text)
    if args.results:
        write_results(args.results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
