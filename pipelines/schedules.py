"""The nightly rebuild of the golden customer table, and the freshness promise it keeps.

The schedule and the freshness policy on the published assets live side by side because they
are one contract: the job runs at 02:00 Madrid time, and readers can rely on a table rebuilt
within the last day when their working day starts at 06:00.

The schedule is created STOPPED. The same code location is what `dagster dev` loads on a
laptop against the bundled sample, where a nightly run nobody asked for is a surprise; in a
deployment an operator turns it on once (UI toggle or `dagster schedule start`) and the
daemon remembers that in the instance's storage across deploys.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import DefaultScheduleStatus, FreshnessPolicy, ScheduleDefinition

DAILY_SCHEDULE = "nightly_golden_customers"
DAILY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Madrid"
TRIGGER_TAG = "whiteglove/trigger"

# Evaluated by the daemon when the instance enables freshness (dagster.yaml: freshness.enabled).
# Measured from any successful run, scheduled, sensor-triggered or manual: readers care how old
# the table is, not what started the run.
PUBLISHED_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone=TIMEZONE
)


def daily_schedule(job_name: str) -> ScheduleDefinition:
    """Rebuild everything every night: exports land during the day, readers come in the morning."""
    return ScheduleDefinition(
        name=DAILY_SCHEDULE,
        job_name=job_name,
        cron_schedule=DAILY_CRON,
        execution_timezone=TIMEZONE,
        default_status=DefaultScheduleStatus.STOPPED,
        tags={TRIGGER_TAG: "schedule"},
        description=(
            f"Full rebuild and publication every day at 02:00 {TIMEZONE}. Created stopped: "
            "turn it on in the deployment that owns the output folder."
        ),
    )
