"""How sure the run is of each golden value, as `explain` and the review page show it.

Read from the published golden_lineage (whiteglove/golden.py writes it): for each value of a
golden customer, the record that supplied it and its rule, how many sources agree on it, when
it was last known true and how old that was when the run finished, the runner-up value and
whether the value is low-confidence (the runner-up has as many sources behind it).

The value and the runner-up are personal data: each is masked as its field is masked in the
records shown beside it (whiteglove/masking.py), unless the sources file reveals them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from whiteglove.masking import column_kind, mask_frame

if TYPE_CHECKING:
    from whiteglove.explain import PublishedRun


def golden_values(run: PublishedRun, golden_id: str) -> list[dict]:
    """One entry per golden value of `golden_id`, in golden column order, masked unless
    revealed. Confidence entries are None where the rule computes rather than picks."""
    rows = run.lineage.filter(pl.col("golden_id") == golden_id)
    finished = _finished(run.summary.get("finished_at"))
    out = []
    for row in rows.iter_rows(named=True):
        value, runner_up = _shown(run, row["field"], row["value"], row["runner_up"])
        dated = row.get("value_dated_at")
        out.append(
            {
                "field": row["field"],
                "value": value,
                "record": row["record_key"],
                "rule": row["rule"],
                "agreeing_sources": row.get("agreeing_sources"),
                "dated": dated.date().isoformat() if dated is not None else None,
                "age_days": (finished - dated).days if dated and finished else None,
                "runner_up": runner_up,
                "low_confidence": bool(row.get("low_confidence")),
            }
        )
    return out


def values_text(values: list[dict]) -> list[str]:
    """The golden values as terminal lines: value, source, agreement, age, runner-up."""
    lines = []
    for v in values:
        line = f"  {v['field']} = {v['value']}  from {v['record']} ({v['rule']})"
        if v["agreeing_sources"] is not None:
            line += f"; {v['agreeing_sources']} source(s) agree"
        if v["dated"] is not None:
            age = f", {v['age_days']} days old" if v["age_days"] is not None else ""
            line += f"; dated {v['dated']}{age}"
        if v["runner_up"] is not None:
            line += f"; runner-up {v['runner_up']}"
        if v["low_confidence"]:
            line += "  [LOW CONFIDENCE]"
        lines.append(line)
    return lines


def _shown(run: PublishedRun, field: str, value: str | None, runner_up: str | None):
    """The value and runner-up masked as the records' column of that field is masked (a birth
    date to its year, an email to its first letter and domain), unless revealed."""
    frame = pl.DataFrame({field: [value, runner_up]}, schema={field: pl.String})
    if not run.reveal:
        kind = column_kind(field, run.records.schema.get(field, pl.String))
        if kind == "date_of_birth":  # the lineage holds it as text; masked as the date it is
            frame = frame.with_columns(pl.col(field).str.to_date(strict=False))
        frame = mask_frame(frame, {field: kind})
    shown = [None if v is None else str(v) for v in frame[field].to_list()]
    return shown[0], shown[1]


def _finished(text: object) -> datetime | None:
    """When the run finished, naive UTC like the lineage's dates; None if unreadable."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
