"""Run the asset graph in-process: the one code path behind `whiteglove run`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance

from pipelines.build import BUILD_JOB, build_definitions


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    run_id: str
    out_dir: Path
    summary: dict | None
    failures: list[str]
    checks: list[CheckOutcome]

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]


def run_pipeline(
    sources: Path, out_dir: Path, instance: DagsterInstance | None = None, log_level: str = "INFO"
) -> RunOutcome:
    """Materialize every asset for `sources` into `out_dir`.

    A bad sources file raises SourcesConfigError before anything runs. A failing step ends
    the run with `success=False` and the previous published output untouched.
    """
    defs = build_definitions(sources, out_dir)
    job = defs.resolve_job_def(BUILD_JOB)
    if instance is None:
        instance = (
            DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
        )
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    failures = [
        f"{event.step_key}: {_error_text(event)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    checks = [
        CheckOutcome(e.asset_key.to_user_string(), e.check_name, e.passed, e.severity.value)
        for e in result.get_asset_check_evaluations()
    ]
    summary_path = out_dir / "run_summary.json"
    summary = (
        json.loads(summary_path.read_text()) if result.success and summary_path.exists() else None
    )
    return RunOutcome(result.success, result.run_id, out_dir, summary, failures, checks)


def _error_text(event) -> str:
    error = event.step_failure_data.error
    # the user's exception is the cause of Dagster's wrapper; show it, not the wrapper
    while error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause
    return error.message.strip()
