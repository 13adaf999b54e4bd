"""`whiteglove explain` and `whiteglove review`: why records are (or are not) one customer,
and the steward's review page, both over a published output folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from whiteglove.layout import DEFAULT_OUT

REVIEW_PORT = 8766  # `whiteglove serve` takes 8765


def add_commands(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain", help="why records are (or are not) one customer, from a published output"
    )
    explain.add_argument("--out", type=Path, default=DEFAULT_OUT, help="published output folder")
    explain.add_argument("--golden-id", help="a golden customer to explain")
    explain.add_argument("records", nargs="*", metavar="SOURCE:ID", help="two records")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")
    review = commands.add_parser("review", help="serve the review page on 127.0.0.1")
    review.add_argument("--out", type=Path, default=DEFAULT_OUT, help="published output folder")
    review.add_argument("--port", type=int, default=REVIEW_PORT)
    review.add_argument("--author", default=None, help="who decides (default: the OS user)")


def run_command(args: argparse.Namespace) -> int:
    if args.command == "review":
        from whiteglove.review_page import serve

        return serve(args.out, args.port, args.author)
    return _explain(args.out, args.golden_id, args.records, args.json)


def _explain(out: Path, golden_id: str | None, records: list[str], as_json: bool) -> int:
    from whiteglove.explain import (
        ExplainError,
        PublishedRun,
        as_text,
        explain_golden,
        explain_pair,
        parse_record,
    )

    try:
        if bool(golden_id) == bool(records) or (records and len(records) != 2):
            raise ExplainError("give either --golden-id ID or two records SOURCE:ID SOURCE:ID")
        run = PublishedRun(out)
        if golden_id:
            answer = explain_golden(run, golden_id)
        else:
            answer = explain_pair(run, parse_record(records[0]), parse_record(records[1]))
    except ExplainError as exc:
        print(f"whiteglove explain: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(answer, indent=2, default=str, ensure_ascii=False))
    else:
        print(as_text(answer))
    return 0
