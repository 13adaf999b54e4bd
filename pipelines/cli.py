"""The command line: `whiteglove run [--sources PATH] [--out DIR]`, `whiteglove generate`,
`whiteglove lookup` and `whiteglove serve` (pipelines/lookup_cli.py), `whiteglove explain`
and `whiteglove review` (pipelines/review_cli.py), `whiteglove forget`
(pipelines/forget_cli.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipelines import forget_cli, lookup_cli, review_cli
from whiteglove.layout import BUNDLED_SOURCES, DEFAULT_OUT, report_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="whiteglove", description="Golden customer records from fragmented exports."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole asset graph and publish the outputs")
    run.add_argument("--sources", type=Path, default=BUNDLED_SOURCES, help="sources.yaml to read")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    run.add_argument("--quiet", action="store_true", help="print only the summary and errors")
    run.add_argument(
        "--incremental",
        action="store_true",
        help="reuse unchanged sources and the previous run's model; score only what changed",
    )
    generate = commands.add_parser("generate", help="write a synthetic sample of exports")
    generate.add_argument("--people", type=int, default=3000)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", type=Path, required=True)
    lookup_cli.add_commands(commands)
    review_cli.add_commands(commands)
    forget_cli.add_command(commands)
    args = parser.parse_args(argv)
    try:
        code = _command(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
        return code
    except BrokenPipeError:
        if args.command == "serve":  # a caller's socket, not this command's output
            raise
        # the reader went away (`whiteglove lookup ... | head`): nothing is left to say, and
        # Python would print a traceback flushing stdout at exit; point it at /dev/null
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "forget":
        return forget_cli.run_command(args)
    if args.command in ("lookup", "serve"):
        return lookup_cli.run_command(args)
    if args.command in ("explain", "review"):
        return review_cli.run_command(args)
    if args.command == "generate":
        from whiteglove.sample_data import generate as write_sample

        summary = write_sample(args.out, people=args.people, seed=args.seed)
        print(f"wrote {summary}")
        return 0
    return _run(args.sources, args.out, args.quiet, args.incremental)


def _run(sources: Path, out_dir: Path, quiet: bool, incremental: bool = False) -> int:
    from pipelines.runner import run_pipeline
    from whiteglove.config import SourcesConfigError
    from whiteglove.decisions import DecisionsError

    try:
        outcome = run_pipeline(
            sources, out_dir, log_level="WARNING" if quiet else "INFO", incremental=incremental
        )
    except (SourcesConfigError, DecisionsError) as exc:
        print(f"whiteglove: refusing to run: {exc}", file=sys.stderr)
        return 2
    if not outcome.success:
        print(
            f"whiteglove: run {outcome.run_id} failed; the output in {out_dir} is unchanged.",
            file=sys.stderr,
        )
        for failure in outcome.failures:
            print(f"  - {failure}", file=sys.stderr)
        for check in outcome.failed_checks:
            if check.severity == "ERROR" and check.description:
                print(f"  - {check.asset} {check.check}: {check.description}", file=sys.stderr)
        return 1
    if outcome.unchanged:
        print(
            f"whiteglove: nothing changed since run {outcome.run_id} (exports, sources file, "
            f"decisions, code); its publication in {out_dir} stays as it is."
        )
        return 0
    print(format_summary(outcome.summary or {}, out_dir))
    if incremental:
        sources = (outcome.summary or {}).get("sources", {})
        reused = [name for name in sources if f"raw_{name}" not in outcome.materialized]
        print(f"  reused unchanged: {', '.join(reused) or 'none'}")
    return 0


REPORT_LABELS = {
    "data_quality_report": "data quality:",
    "data_docs": "GX Data Docs:",
    "linkage_report": "linkage:",
}


def format_summary(summary: dict, out_dir: Path) -> str:
    lines = ["", "whiteglove run finished", ""]
    lines.append(f"{'source':<12}{'read':>9}{'accepted':>10}{'quarantined':>13}")
    for name, s in summary.get("sources", {}).items():
        lines.append(f"{name:<12}{s['rows_read'] or 0:>9}{s['accepted']:>10}{s['quarantined']:>13}")
    stages = summary.get("stages", {})
    linkage = summary.get("linkage", {})
    lines += [
        "",
        f"golden customers: {stages.get('golden_customers', 0)} "
        f"(from {stages.get('customer_records', 0)} records; "
        f"{linkage.get('multi_source_customers', 0)} seen in more than one source; "
        f"largest cluster {linkage.get('largest_cluster', 0)})",
        f"scored pairs kept: {stages.get('match_pairs', 0)}",
        *_threshold_line(linkage.get("choices")),
        f"total step time: {sum(summary.get('step_seconds', {}).values()):.1f} s",
        "",
        f"outputs: {out_dir.resolve()}",
        f"  golden table: {out_dir.resolve() / 'golden_customers.parquet'}",
        f"  SQL:          {out_dir.resolve() / 'customers.duckdb'}",
        f"  summary:      {out_dir.resolve() / 'run_summary.json'}",
        f"  contract:     {out_dir.resolve() / 'contract.json'}",
        *(f"  {REPORT_LABELS[n]:<14}{path}" for n, path in report_paths(out_dir.resolve()).items()),
        f"  review queue: {out_dir.resolve() / 'review_queue.csv'} "
        f"({linkage.get('review_queue_pairs', 0)} pairs wait for a steward's decision)",
    ]
    lines += _contract_lines(summary.get("contract"))
    for w in summary.get("warnings", {}).get("quarantined_sources", []):
        lines.append(
            f"warning: {w['source']}: {w['quarantined']} of {w['rows_read']} rows "
            f"({w['share']:.0%}) quarantined, most for: {w['top_reason']} "
            f"({w['top_reason_rows']} rows); see quarantine.parquet"
        )
    for w in summary.get("warnings", {}).get("nulled_fields", []):
        lines.append(
            f"warning: {w['source']}.{w['field']}: {w['share']:.0%} of the values given were "
            f"nulled as invalid ({w['nulled']}); if the data is right, change {w['setting']}"
        )
    return "\n".join(lines)


def _contract_lines(contract: dict | None) -> list[str]:
    """The published contract's version, and what changed in its shape."""
    from whiteglove.contract import CONTRACT_FILE

    if not contract:
        return []
    was = contract.get("previous_version")
    lines = [
        f"contract ({CONTRACT_FILE}): version {contract['version']}"
        + (f" (was {was})" if was and was != contract["version"] else "")
    ]
    lines += [f"  added column: {c}" for c in contract.get("added_columns", [])]
    lines += [f"  new major version: {c}" for c in contract.get("breaking_changes", [])]
    return lines


def _threshold_line(choices: dict | None) -> list[str]:
    """The match threshold, what chose it and the model's estimates there."""
    if not choices:
        return []
    threshold = choices["match_threshold"]
    estimated = threshold["estimated"]
    return [
        f"match threshold: {threshold['value']:g}, chosen by {threshold['why']} (estimated "
        f"precision {estimated['precision']:.3f}, recall {estimated['recall']:.3f})"
    ]


if __name__ == "__main__":
    sys.exit(main())
