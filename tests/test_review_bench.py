"""A steward's first hundred answers, taken in the review page's order, raise F1 more than the
same number taken in review_queue.csv's probability order (benchmarks/review_bench.py)."""

from benchmarks.review_bench import steward_gain


def test_the_page_order_is_worth_more_than_the_probability_order(fresh_run):
    figures = steward_gain(fresh_run.out, fresh_run.root / "truth.csv", items=100)
    print(f"\nsteward, first 100 items: {figures}")
    assert figures["f1_before"] == figures["published_f1"]  # the re-clustering is the run's
    assert figures["page_items_answered"] == figures["csv_items_answered"] == 100
    assert figures["f1_page_order"] > figures["f1_csv_order"]
    assert figures["f1_page_order"] > figures["f1_before"]
