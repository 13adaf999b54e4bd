"""Data-quality checks with Great Expectations: suites are JSON files, results feed Data Docs.

- `suites`: the suite files, modelled and checked (no GX import);
- `defaults`: the suites derived from a source's mapping, and which suite a run uses;
- `results`: what a validation found, flattened from GX's result;
- `gx_runner`: running a suite on a frame with GX;
- `data_docs`: GX Data Docs built from the results.
"""

from whiteglove.validation.data_docs import data_docs
from whiteglove.validation.defaults import (
    GOLDEN_SUITE,
    default_golden_suite,
    default_suite,
    suite_for,
)
from whiteglove.validation.gx_runner import HIDDEN, check_suite, validate
from whiteglove.validation.results import ExpectationOutcome, SuiteResult
from whiteglove.validation.suites import (
    CHECK_NAME,
    SEVERITIES,
    STAGES,
    CheckSpecInfo,
    Expectation,
    Severity,
    Suite,
    SuiteError,
    check_specs,
    load_suite,
)

__all__ = [
    "CHECK_NAME",
    "GOLDEN_SUITE",
    "HIDDEN",
    "SEVERITIES",
    "STAGES",
    "CheckSpecInfo",
    "Expectation",
    "ExpectationOutcome",
    "Severity",
    "Suite",
    "SuiteError",
    "SuiteResult",
    "check_specs",
    "check_suite",
    "data_docs",
    "default_golden_suite",
    "default_suite",
    "load_suite",
    "suite_for",
    "validate",
]
