"""How figures are written on the page, in the charts and in Dagster's markdown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def thousands(n: Any) -> str:
    """A count with thousands separators, '—' when missing: 1846 -> '1,846'."""
    return _written(n, lambda v: f"{int(v):,}")


def pct(x: float | None, digits: int = 1) -> str:
    """A share (0-1) as a percentage: 0.75 -> '75.0%'."""
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def pct_value(x: Any) -> str:
    """A percentage already expressed in 0-100 (Great Expectations' unexpected_percent)."""
    return _written(x, lambda v: f"{float(v):.2f}%")


def number(x: int | float) -> str:
    """A measure that is not a count or a share, as short as it reads: 0.9, 1e-05."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _written(value: Any, write: Callable[[Any], str]) -> str:
    # Figures come from JSON written by other tools: one that is not a number is shown as is.
    if value is None:
        return "—"
    try:
        return write(value)
    except (TypeError, ValueError):
        return str(value)
