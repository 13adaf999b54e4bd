"""What a validation found: one outcome per expectation, flattened from GX's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from whiteglove.validation.suites import Severity


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, flattened from GX's result object."""

    name: str
    stage: str
    expectation_type: str
    column: str | None
    severity: Severity
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: object  # JSON-safe; for a check GX could not run, its error message
    description: str
    # values standardization nulled as invalid, counted in unexpected_count (stage standardized)
    nulled_as_invalid: int = 0
    mostly: float | None = None  # the share of values that must pass (None: all)


@dataclass(frozen=True)
class SuiteResult:
    """The outcomes of one suite on one stage, in suite order."""

    suite: str
    stage: str
    outcomes: list[ExpectationOutcome]
    # GX's own validation result as JSON, which Data Docs are built from (None: nothing ran)
    gx_result: dict | None = field(default=None, compare=False, repr=False)

    @property
    def success(self) -> bool:
        """True when no ERROR check failed (failed WARN checks do not block publishing)."""
        return not self.failed_errors

    @property
    def failed_errors(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "ERROR"]

    @property
    def failed_warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "WARN"]

    def as_dict(self) -> dict:
        """JSON-serialisable summary for reports and the run summary."""
        return {
            "suite": self.suite,
            "stage": self.stage,
            "success": self.success,
            "evaluated": len(self.outcomes),
            "failed_errors": [o.name for o in self.failed_errors],
            "failed_warnings": [o.name for o in self.failed_warnings],
            "outcomes": [json_safe(asdict(o)) for o in self.outcomes],
        }


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    return json_safe(item()) if callable(item) else str(value)
