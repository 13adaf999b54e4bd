"""`whiteglove lookup` and `whiteglove serve`: one caller resolved against the golden table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from whiteglove.layout import DEFAULT_OUT


def add_commands(commands: argparse._SubParsersAction) -> None:
    lookup = commands.add_parser(
        "lookup",
        help="which golden customer is this record? (JSON: candidates with probability and why)",
        description=(
            "Resolve one record against the published golden table: "
            'whiteglove lookup --out DIR first_name=Ana last_name="Ruiz Gil" phone=612000001'
        ),
    )
    lookup.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder of a run")
    lookup.add_argument("--top", type=int, default=5, help="how many customers to list")
    lookup.add_argument("fields", nargs="+", metavar="FIELD=VALUE", help="the record's values")
    serve = commands.add_parser("serve", help="answer POST /lookup over HTTP (JSON)")
    serve.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder of a run")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765)


def run_command(args: argparse.Namespace) -> int:
    from whiteglove.lookup import LookupIndex, LookupInputError, LookupUnavailable

    try:
        if args.command == "serve":
            from whiteglove.lookup.server import serve

            print(f"whiteglove: serving lookups from {args.out} on http://{args.host}:{args.port}")
            serve(args.out, args.host, args.port)
            return 0
        values = _pairs(args.fields)
        answer = LookupIndex.open(args.out).lookup(values, top=max(1, args.top))
    except (LookupInputError, LookupUnavailable) as exc:
        print(f"whiteglove: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


def _pairs(fields: list[str]) -> dict[str, str]:
    from whiteglove.lookup import LookupInputError

    values = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise LookupInputError(f"{item!r}: write each field as name=value")
        values[name.strip()] = value
    return values
