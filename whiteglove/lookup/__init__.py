"""Resolve one record against the published golden table (`whiteglove lookup`, `serve`)."""

from whiteglove.lookup.index import (
    MATCH_RECORDS,
    MATCH_SETTINGS,
    LiveIndex,
    LookupIndex,
    LookupUnavailable,
    match_records,
    match_settings,
)
from whiteglove.lookup.query import LookupInputError

__all__ = [
    "MATCH_RECORDS",
    "MATCH_SETTINGS",
    "LiveIndex",
    "LookupIndex",
    "LookupInputError",
    "LookupUnavailable",
    "match_records",
    "match_settings",
]
