"""The Dagster event log, where `whiteglove forget` cannot reach by rewriting files.

Previews in the event log are masked, but names stay readable (whiteglove/masking.py): a
person among the first rows of a table's preview keeps their name in that run's events.
Dagster offers no way to edit an event, only to delete a run with its events. So `forget`
looks through the runs of the instance the runs use (DAGSTER_HOME) and names those whose
events hold one of the person's values; with `--delete-dagster-runs` it deletes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dagster import DagsterInstance
from dagster._serdes import serialize_value


def event_log_check(delete: bool) -> Callable[[list[str]], dict]:
    """A check for `whiteglove.forget.forget(elsewhere=...)`: the searched texts are
    case-folded, as written in text, HTML and JSON (the event log is stored as JSON)."""

    def check(forms: list[str]) -> dict:
        if not os.environ.get("DAGSTER_HOME"):
            return {"dagster_event_log": "not searched: DAGSTER_HOME is not set"}
        if not forms:
            return {"dagster_event_log": "nothing to search for"}
        with DagsterInstance.get() as instance:
            holding = [
                run.run_id for run in instance.get_runs() if _holds(instance, run.run_id, forms)
            ]
            if delete:
                for run_id in holding:
                    instance.delete_run(run_id)
        return {
            "dagster_runs_holding_values": holding,
            "dagster_runs_deleted": len(holding) if delete else 0,
        }

    return check


def _holds(instance: DagsterInstance, run_id: str, forms: list[str]) -> bool:
    for entry in instance.all_logs(run_id):
        text = serialize_value(entry).casefold()
        if any(form in text for form in forms):
            return True
    return False
