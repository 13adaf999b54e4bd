"""Run the asset graph in-process: the one code path behind `whiteglove run`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, JobDefinition, build_reconstructable_job, execute_job

from assets.resources import INCREMENTAL_TAG, INPUTS_TAG, REUSED_TAG
from pipelines.build import BUILD_JOB, build_definitions
from pipelines.incremental import incremental_selection
from whiteglove.atomic import remove_temporaries
from whiteglove.config import load_sources
from whiteglove.decisions import decisions_file, read_decisions
from whiteglove.incremental import run_fingerprint
from whiteglove.layout import OutputLayout
from whiteglove.publish import (
    PUBLISH_LOCK,
    RUN_LOCK,
    OutputFolderError,
    PreviousPublication,
    claim_output_folder,
    output_lock,
    remove_leftovers,
)

NOT_STARTED = "(not started)"  # the run id of a run refused before Dagster started it


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str
    description: str | None = None  # what the check found, when it says (the contract's does)


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    run_id: str
    out_dir: Path
    summary: dict | None
    failures: list[str]
    checks: list[CheckOutcome]
    materialized: list[str] = field(default_factory=list)  # asset keys this run rebuilt
    # an incremental run that found nothing changed since the latest publication: no run was
    # started, and run_id and summary are the latest publication's
    unchanged: bool = False

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]


def run_pipeline(
    sources: Path,
    out_dir: Path,
    instance: DagsterInstance | None = None,
    log_level: str = "INFO",
    lock_timeout: float = 0.0,
    incremental: bool = False,
) -> RunOutcome:
    """Materialize every asset for `sources` into `out_dir`.

    A bad sources file raises SourcesConfigError, a malformed decisions file DecisionsError,
    before anything runs. A failing step ends
    the run with `success=False` and the previous published output untouched. So does an
    output folder that holds someone else's files, or one another run is using: the run
    holds an exclusive lock on the folder from start to end, waiting up to `lock_timeout`
    seconds for it.

    `incremental` reuses what is still valid: sources whose files, settings and code did not
    change since they were last built are not extracted again, and linkage scores only the
    pairs that involve a new or changed record, with the previous run's model.
    """
    # A bad sources file or suite is refused here, before anything is locked or written;
    # so is a malformed decisions file (the steward_decisions asset reads it again, for runs
    # the UI or the sensor start).
    config = load_sources(sources)
    read_decisions(decisions_file(config.base_dir, config.linkage.decisions))
    if instance is None and (problem := dagster_home_problem(os.environ.get("DAGSTER_HOME"))):
        return RunOutcome(False, NOT_STARTED, out_dir, None, [problem], [])
    key = (str(sources), str(out_dir))
    _JOBS[key] = build_definitions(Path(sources), Path(out_dir), config).resolve_job_def(BUILD_JOB)
    folder = out_dir.resolve()
    try:
        claim_output_folder(folder)
        with output_lock(folder, RUN_LOCK, timeout=lock_timeout):
            _remove_leftovers(folder)
            # what this run reads, hashed before it reads it: the publication records it, and
            # an incremental run finding the same has nothing to do
            inputs = run_fingerprint(config, OutputLayout(folder))
            if incremental and (kept := _unchanged_publication(folder, inputs)) is not None:
                return RunOutcome(True, kept.get("run_id", ""), out_dir, kept, [], [], [], True)
            selection, tags = None, {INPUTS_TAG: inputs}
            if incremental:
                selection, reused = incremental_selection(config, folder)
                tags |= {INCREMENTAL_TAG: "true", REUSED_TAG: ",".join(reused)}
            with _instance(instance) as active:
                # execute_job, not execute_in_process: the latter keeps every step's output
                # in memory until the run ends (gigabytes at a million records), for tests
                # that ask for them; here each step reads its inputs from the IO manager.
                result = execute_job(
                    build_reconstructable_job(__name__, build_job.__name__, key),
                    instance=active,
                    raise_on_error=False,
                    run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                    asset_selection=selection,
                    tags=tags,
                )
                return _outcome(result, out_dir)
    except OutputFolderError as exc:
        return RunOutcome(False, NOT_STARTED, out_dir, None, [str(exc)], [])
    finally:
        _JOBS.pop(key, None)


# The jobs of the runs this process is starting. execute_job reconstructs the job from
# `build_job` four times per run; building it anew each time would read the sources file and
# every export's header again each time.
_JOBS: dict[tuple[str, str], JobDefinition] = {}


def build_job(sources: str, out_dir: str) -> JobDefinition:
    """The build job for one sources file and output folder (what execute_job reconstructs)."""
    job = _JOBS.get((sources, out_dir))
    return job or build_definitions(Path(sources), Path(out_dir)).resolve_job_def(BUILD_JOB)


def dagster_home_problem(home: str | None) -> str | None:
    """Why DAGSTER_HOME cannot hold this run's history, or None when it can (or is unset)."""
    # Dagster's own message for this is a traceback from deep inside the run's set-up.
    if home and not Path(home).is_dir():
        return (
            f"DAGSTER_HOME={home} is not a directory: create it (`mkdir -p {home}`) or unset "
            "DAGSTER_HOME to run without a kept run history"
        )
    return None


@contextmanager
def _instance(instance: DagsterInstance | None) -> Iterator[DagsterInstance]:
    if instance is not None:
        yield instance
        return
    # An instance made here is closed here, so a caller looping over runs leaks nothing.
    made = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    with made:
        yield made


def _unchanged_publication(out_dir: Path, inputs: str) -> dict | None:
    """The latest publication's summary, if it was built from exactly `inputs`."""
    summary = PreviousPublication.pin(OutputLayout(out_dir)).document("run_summary.json")
    if summary is not None and summary.get("inputs_fingerprint") == inputs:
        return summary
    return None


def _remove_leftovers(out_dir: Path) -> None:
    """What killed runs left: partial publications and temporary files.

    Called holding the run lock, so no other run of this folder is writing them; the
    publish lock is taken too, for runs started from the Dagster UI, which do not take the
    run lock.
    """
    with output_lock(out_dir, PUBLISH_LOCK, timeout=600.0):
        remove_leftovers(out_dir)
    remove_temporaries(OutputLayout(out_dir).work)


def _outcome(result, out_dir: Path) -> RunOutcome:
    failures = [
        f"{event.step_key}: {_error_text(event)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    checks = [
        CheckOutcome(
            e.asset_key.to_user_string(), e.check_name, e.passed, e.severity.value, e.description
        )
        for e in result.get_asset_check_evaluations()
    ]
    summary_path = out_dir / "run_summary.json"
    summary = (
        json.loads(summary_path.read_text()) if result.success and summary_path.exists() else None
    )
    materialized = sorted(
        {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    )
    return RunOutcome(
        result.success, result.run_id, out_dir, summary, failures, checks, materialized
    )


def _error_text(event) -> str:
    error = event.step_failure_data.error
    if error.cls_name == "DagsterExecutionInterruptedError":
        return "interrupted: the run was stopped by a signal before this step finished"
    # the user's exception is the cause of Dagster's wrapper; show it, not the wrapper
    while error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause
    return error.message.strip()
