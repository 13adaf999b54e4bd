"""`whiteglove forget`: erase a person from an output folder (whiteglove/forget.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from whiteglove.layout import DEFAULT_OUT


def add_command(commands: argparse._SubParsersAction) -> None:
    forget = commands.add_parser(
        "forget",
        help="erase a person from the outputs, snapshots and working state (GDPR art. 17)",
        description=(
            "Erase a person from everything an output folder holds and keep them out of later "
            "runs: whiteglove forget --out DIR --golden-id G... (or --source-record crm:C001, "
            "--email, --phone, several at once, or --file of kind=value lines). Run it with no "
            "identifier to finish an erasure that was interrupted."
        ),
    )
    forget.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder of a run")
    forget.add_argument("--golden-id", action="append", default=[], metavar="ID")
    forget.add_argument(
        "--source-record", action="append", default=[], metavar="SOURCE:ID", help="crm:C001"
    )
    forget.add_argument("--email", action="append", default=[])
    forget.add_argument("--phone", action="append", default=[])
    forget.add_argument(
        "--file",
        type=Path,
        help="identifiers, one kind=value a line (golden_id, source_record, email, phone)",
    )
    forget.add_argument("--by", help="who asks, for the audit log (default: the OS user)")
    forget.add_argument(
        "--delete-dagster-runs",
        action="store_true",
        help="delete the runs of the Dagster instance (DAGSTER_HOME) whose events hold one of "
        "the person's values (they are named either way)",
    )
    forget.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for a run using the folder"
    )


def run_command(args: argparse.Namespace) -> int:
    from whiteglove.forget import ForgetError, ForgetRequest, forget, read_request_file
    from whiteglove.publish import OutputFolderError
    from whiteglove.suppression import SuppressionListError

    try:
        request = ForgetRequest()
        for kind, values in (
            ("golden_id", args.golden_id),
            ("source_record", args.source_record),
            ("email", args.email),
            ("phone", args.phone),
        ):
            for value in values:
                request.add(kind, value)
        if args.file:
            read_request_file(args.file, request)
        from pipelines.forget_events import event_log_check

        outcome = forget(
            args.out,
            request,
            by=args.by,
            lock_timeout=args.wait,
            elsewhere=event_log_check(delete=args.delete_dagster_runs),
        )
    except (ForgetError, OutputFolderError, SuppressionListError) as exc:
        print(f"whiteglove: {exc}", file=sys.stderr)
        return 2
    if outcome.already_erased:
        print("whiteglove: already erased: nothing of this person is left in the folder")
    for erasure in outcome.finished:
        print(
            json.dumps(
                {"erasure": erasure.erasure_id, **erasure.figures(), **erasure.outside},
                indent=2,
            )
        )
    if not outcome.finished and not outcome.already_erased:
        print("whiteglove: give at least one identifier (see whiteglove forget --help)")
        return 2
    return 0
