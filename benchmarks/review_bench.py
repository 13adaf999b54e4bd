"""What a steward's first hundred answers are worth: the review page's order against the CSV's.

    python -m benchmarks.review_bench [--out DIR] [--items 100]

A simulated steward answers the first N items of a queue from the truth (match when the two
records are one person, no_match otherwise), and the run's clustering is done again with
those decisions, exactly as the next run's `clusters` asset would (whiteglove/clustering.py,
over the published pairs, threshold and guards). Pairwise F1 against the truth, before and
after, for two orders of the same queue:

- the review page's (`whiteglove.review.ordered_queue` and `page_order`: pairs across two
  customers that no guard keeps apart, by what a decision would change most; then pairs
  already in one customer; then pairs a guard keeps apart);
- review_queue.csv's: by match probability, highest first.

The simulated steward knows the truth even for pairs one side of which is a name alone,
which no steward could decide from the records (the page sets them apart); the CSV's first
items hold many of them, so the figure without those answers is reported too.

Without --out, the bundled sample is run first into a scratch folder.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import polars as pl

from whiteglove.clustering import cluster_records
from whiteglove.decisions import Decision, constraints, resolve
from whiteglove.evaluation import load_labels, pairwise_scores
from whiteglove.explain import PublishedRun
from whiteglove.linkage import strong_fields
from whiteglove.review import ordered_queue, page_order

KEYS = ["record_key_l", "record_key_r"]


def _f1(run: PublishedRun, truth: pl.DataFrame, decisions: list[Decision]) -> float:
    choices = run.summary["linkage"]["choices"]
    guards = choices["guards"]
    applied = resolve(decisions, run.records["record_key"]).applied
    result = cluster_records(
        run.records,
        run.pairs,
        run.threshold,
        int(guards["max_cluster_size"]),
        decisions=constraints(applied) if applied else None,
        strong=strong_fields(choices),
        one_per_customer=tuple(guards["one_record_per_customer"]),
    )
    return pairwise_scores(result.clusters.rename({"cluster_id": "cluster"}), truth).f1


def _answers(pairs: pl.DataFrame, truth: pl.DataFrame) -> list[Decision]:
    person = dict(truth.select("record_key", "entity").rows())
    return [
        Decision(
            "match" if person.get(left) == person.get(right) else "no_match",
            (left, right),
            author="simulated steward",
        )
        for left, right in pairs.select("record_key_l", "record_key_r").rows()
    ]


def steward_gain(out: Path, truth_file: Path, entity: str = "person_id", items: int = 100) -> dict:
    """F1 before and after a steward answers the first `items` of each order."""
    run = PublishedRun(out)
    truth = load_labels(run.records, entity, truth_file)
    queue = pl.read_parquet(run.path("review_queue.parquet"))
    parts = ordered_queue(queue, run.xref, run.records, run.guards)
    page = page_order(parts).head(items)
    csv = queue.sort(
        ["match_probability", "record_key_l", "record_key_r"], descending=[True, False, False]
    ).head(items)
    nearly_empty = parts["undecidable"].select(KEYS)
    published = pairwise_scores(
        run.xref.select("record_key", pl.col("golden_id").alias("cluster")), truth
    ).f1
    before = _f1(run, truth, [])
    return {
        "items": items,
        "published_f1": round(published, 4),
        "f1_before": round(before, 4),
        "f1_page_order": round(_f1(run, truth, _answers(page, truth)), 4),
        "f1_csv_order": round(_f1(run, truth, _answers(csv, truth)), 4),
        # a steward cannot tell who a record with a name alone is; the truth can
        "f1_csv_order_decidable_answers_only": round(
            _f1(run, truth, _answers(csv.join(nearly_empty, on=KEYS, how="anti"), truth)), 4
        ),
        "csv_items_nearly_empty": csv.join(nearly_empty, on=KEYS, how="semi").height,
        "page_items_answered": page.height,
        "csv_items_answered": csv.height,
    }


def main(argv: list[str] | None = None) -> int:
    from pipelines.runner import run_pipeline
    from whiteglove.layout import BUNDLED_SOURCES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="a published run of the bundled sample")
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args(argv)
    truth = BUNDLED_SOURCES.parent / "truth.csv"
    if args.out is None:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out"
            assert run_pipeline(BUNDLED_SOURCES, out, log_level="ERROR").success
            figures = steward_gain(out, truth, items=args.items)
    else:
        figures = steward_gain(args.out, truth, items=args.items)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
