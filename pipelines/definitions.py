"""The code location `dagster dev -w workspace.yaml` loads.

WHITEGLOVE_SOURCES and WHITEGLOVE_OUT choose the sources file and the output folder; both
default to the bundled sample.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions

from pipelines.build import build_definitions
from whiteglove.layout import BUNDLED_SOURCES, DEFAULT_OUT


def _defs_from_environment() -> Definitions:
    return build_definitions(
        Path(os.environ.get("WHITEGLOVE_SOURCES", BUNDLED_SOURCES)),
        Path(os.environ.get("WHITEGLOVE_OUT", DEFAULT_OUT)),
    )


defs = _defs_from_environment()
