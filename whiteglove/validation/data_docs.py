"""Great Expectations Data Docs, built from a run's validation results.

GX's renderers put the text of a result into HTML as it is: a column name, a value a check
quotes, or a description holding `<script>` would run in the reader's browser. So every text
of a result is HTML-escaped before GX sees it, and the pages show it as text.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from whiteglove.atomic import scratch_folder
from whiteglove.documents import Documents, read_documents
from whiteglove.validation.gx_runner import GX_LOCK, gx

_DOCS_SITE = "whiteglove"


def data_docs(results: list[dict], scratch: Path) -> Documents:
    """GX Data Docs for `results` (GX validation results as JSON), as a set of files.

    GX's own site builder renders the pages, from an in-memory context that is given the
    results; it writes them into a temporary folder inside `scratch`, which is removed.

    The pages are static files, but GX links Bootstrap, jQuery and Font Awesome from CDNs and
    fills its index table with JavaScript. Offline, result pages still show their content
    (without the CDN styling) and the index shows the plain list of results added below
    GX's table, so the site stays navigable without network access.
    """
    with scratch_folder(scratch) as site, GX_LOCK:
        _build_site([escaped(r) for r in results], site)
        return read_documents(site)


def escaped(value: Any) -> Any:
    """A JSON value with every text in it HTML-escaped (keys are the format's, kept as they are)."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped(v) for v in value]
    return value


def _build_site(results: list[dict], site_dir: Path) -> None:
    great_expectations = gx()
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = great_expectations.get_context(mode="ephemeral")
    context.add_data_docs_site(
        _DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site_dir.resolve()),
            },
            # No "how to" buttons linking to GX's online docs: the site is a run artefact.
            "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    schema = ExpectationSuiteValidationResultSchema()
    suites: dict[str, Any] = {}
    listed: list[tuple[str, str, str, bool]] = []
    for number, payload in enumerate(results, start=1):
        try:
            result = schema.load(payload)
        except Exception as exc:  # noqa: BLE001 - name the bad result, whatever went wrong
            raise ValueError(f"validation result {number} cannot be read: {exc}") from None
        run = result.meta.get("run_id") or {}
        run_id = run if isinstance(run, RunIdentifier) else RunIdentifier(**run)
        # unique even when two results share suite, run and batch
        name = f"{result.suite_name}.{number}"
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(result.suite_name), run_id, name
        )
        context.validation_results_store.set(key, result)
        listed.append((name, result.suite_name, run_id.run_name or "", bool(result.success)))
        # The suite as it was run, so the Expectations section of the site has a page too.
        suites[result.suite_name] = great_expectations.ExpectationSuite(
            name=result.suite_name,
            expectations=[r.expectation_config for r in result.results],
        )
    for suite in suites.values():
        context.suites.add(suite)
    context.build_data_docs(site_names=[_DOCS_SITE])
    index = site_dir / "index.html"
    if not index.exists():
        raise RuntimeError(f"GX did not write {index}")
    _add_offline_list(index, listed)


def _add_offline_list(index: Path, listed: list[tuple[str, str, str, bool]]) -> None:
    """Append a plain list of result pages to GX's index: its own table needs CDN scripts."""
    site = index.parent
    pages = {p.stem: p.relative_to(site).as_posix() for p in site.glob("validations/**/*.html")}
    items = "".join(
        f'<li><a href="{html.escape(pages[stem])}">{html.escape(suite)}</a> &mdash; run '
        f"{html.escape(run)} &mdash; {'passed' if success else 'failed'}</li>"
        for stem, suite, run, success in listed
        if stem in pages
    )
    block = (
        '<div class="container" id="whiteglove-results"><h4>All validation results</h4>'
        f"<ul>{items}</ul></div>"
    )
    page = index.read_text(encoding="utf-8")
    at = page.rfind("</body>")
    page = page[:at] + block + page[at:] if at >= 0 else page + block
    index.write_text(page, encoding="utf-8")
