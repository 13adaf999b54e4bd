"""Self-contained HTML reports: data quality per source, and linkage quality.

metrics.py computes the figures, charts.py draws them as inline SVG, pages.py renders both
through the Jinja templates in templates/ with style.css inlined, and markdown.py summarises
the metrics for Dagster. Personal data is masked by whiteglove.masking before it is written.
"""

from whiteglove.masking import mask_raw
from whiteglove.reports.markdown import metadata_markdown
from whiteglove.reports.metrics import PROFILE_SCHEMA, profile_source
from whiteglove.reports.pages import data_quality_report, linkage_report

__all__ = [
    "PROFILE_SCHEMA",
    "data_quality_report",
    "linkage_report",
    "mask_raw",
    "metadata_markdown",
    "profile_source",
]
