"""Great Expectations Data Docs, built from a run's validation results, readable offline.

GX's renderers put the text of a result into HTML as it is: a column name, a value a check
quotes, or a description holding `<script>` would run in the reader's browser. So every text
of a result is HTML-escaped before GX sees it, and the pages show it as text.

GX's pages load Bootstrap, jQuery, Font Awesome, bootstrap-table and Vega from CDNs and its
logo from S3, and no installed package ships those files to serve instead. Data Docs are
read where the run ran, often with no network: there the pages wait on requests that never
complete, show blank status icons and fail in their scripts. So every page GX writes is
rewritten into one that needs nothing from elsewhere (`_Offline`): no external stylesheet,
script or image, no script at all (every one of GX's needs jQuery), a small stylesheet of
our own (data_docs.css) inlined, and status icons as characters, which need no font. The
index's tables are filled by a script from data inside it, so they are replaced with tables
written here from the results themselves.
"""

from __future__ import annotations

import html
import posixpath
import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from whiteglove.atomic import scratch_folder
from whiteglove.documents import Documents, read_documents
from whiteglove.validation.gx_runner import GX_LOCK, gx

_DOCS_SITE = "whiteglove"


def data_docs(results: list[dict], scratch: Path) -> Documents:
    """GX Data Docs for `results` (GX validation results as JSON), as a set of files.

    GX's own site builder renders the pages, from an in-memory context that is given the
    results; it writes them into a temporary folder inside `scratch`, which is removed. The
    pages are then rewritten to need no network (see the module's docstring).
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
    _make_offline(site_dir, listed)


def _make_offline(site: Path, listed: list[tuple[str, str, str, bool]]) -> None:
    """Rewrite every page of `site` to need no network; drop the static files none uses.

    GX copies 4 MB of fonts and images into every site, of which the pages use the favicon.
    """
    index = site / "index.html"
    own = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    used: set[str] = set()
    for page in sorted(site.rglob("*.html")):
        folder = posixpath.dirname(page.relative_to(site).as_posix())
        rewriter = _Offline(folder, own, _index_tables(site, listed) if page == index else None)
        page.write_text(rewriter.rewrite(page.read_text(encoding="utf-8")), encoding="utf-8")
        used |= rewriter.used
    for name in sorted(own - used):
        if name.startswith("static/"):
            (site / name).unlink()
    for path in sorted(site.glob("static/**"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _index_tables(site: Path, listed: list[tuple[str, str, str, bool]]) -> str:
    """The index's content: every result page and every suite page, as plain linked tables.

    Names went through `escaped` already; unescaping first keeps them escaped exactly once.
    """
    results = {p.stem: p for p in site.glob("validations/**/*.html")}
    suites = {
        p.relative_to(site / "expectations").with_suffix("").as_posix().replace("/", "."): p
        for p in site.glob("expectations/**/*.html")
    }

    def link(path: Path, text: str) -> str:
        href = html.escape(path.relative_to(site).as_posix(), quote=True)
        return f'<a href="{href}">{_text(text)}</a>'

    rows = "".join(
        f"<tr><td>{_status_icon(success)}</td>"
        f"<td>{link(suites[suite], suite) if suite in suites else _text(suite)}</td>"
        f"<td>{_text(run)}</td><td>{link(results[stem], stem)}</td></tr>"
        for stem, suite, run, success in listed
        if stem in results
    )
    suite_items = "".join(f"<li>{link(path, name)}</li>" for name, path in sorted(suites.items()))
    return (
        '<div class="col-12" id="whiteglove-results"><h4>Validation results</h4>'
        '<table class="table table-sm"><thead><tr><th>Status</th><th>Expectation suite</th>'
        f"<th>Run</th><th>Result</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<h4>Expectation suites</h4><ul>{suite_items}</ul></div>"
    )


def _text(value: str) -> str:
    return html.escape(html.unescape(value), quote=True)


def _status_icon(success: bool) -> str:
    return _icon(*_ICONS["fa-check-circle" if success else "fa-times"], ())


def _icon(character: str, kind: str, label: str, classes: tuple[str, ...]) -> str:
    names = " ".join(("dd-icon", f"dd-{kind}", *classes))
    return (
        f'<span class="{html.escape(names)}" role="img" title="{label}" aria-label="{label}">'
        f"{character}</span>"
    )


# Font Awesome icons GX uses -> (character, our class suffix, what the icon says)
_ICONS = {
    "fa-check-circle": ("\u2713", "passed", "passed"),
    "fa-times": ("\u2717", "failed", "failed"),
    "fa-exclamation-triangle": ("\u26a0", "error", "raised an error"),
    "fa-comment": ("\u270e", "note", "has notes"),
    "fa-question-circle": ("?", "help", "help"),
}
_FONT_AWESOME = re.compile(r"^fa[srbl]?$|^fa-")
# What a browser would fetch on its own when the page loads (`href` of <a>/<area> is only
# followed on a click, so links out stay).
_FETCHED = {"src", "srcset", "poster", "data", "background", "href", "xlink:href"}
_FOLLOWED_ONLY = {"a", "area"}
# Any URL with a scheme but data:, or protocol-relative ("//host", which "\\host" also means).
_REMOTE = re.compile(r"(?!data:)[a-z][a-z0-9+.-]*:|[\\/]{2}", re.IGNORECASE)
_URL_NOISE = str.maketrans("", "", "\t\n\r")  # browsers drop these anywhere in a URL
_URL_LEAD = "".join(map(chr, range(0x21)))  # and these at its start
_CSS_URL = re.compile(r"""url\(\s*(?:["']\s*)?([^)"'\s]*)(?:["'\s][^)]*)?\)""", re.I)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip


def _remote(url: str) -> bool:
    return bool(_REMOTE.match(url.translate(_URL_NOISE).lstrip(_URL_LEAD)))


def _urls(name: str, value: str) -> list[str]:
    """The URLs an attribute names (srcset lists several, each with a size)."""
    if name != "srcset":
        return [value]
    return [part.split()[0] for part in value.split(",") if part.split()]


class _Offline(HTMLParser):
    """One GX page rewritten, tag by tag, into one that loads nothing from elsewhere.

    - <script> elements go, with their content: GX's need jQuery and would fail.
    - an element that would fetch a remote URL goes (an image leaves its alt text).
    - on* attributes go (their functions were in the scripts); @import goes from CSS, and
      url() that reach out become `none`, in <style> and in style attributes.
    - Font Awesome <i> icons become a character in a <span class="dd-icon dd-passed">
      (or dd-failed, dd-error, ...) with a title and aria-label.
    - our stylesheet is added at the end of <head>, after GX's.
    - `replacement`, if given, takes the place of GX's index tabs (tables filled by script).

    Start tags that need no change are written back exactly as GX wrote them; text is
    written back escaped, so what was text stays text. The parse is one pass, linear in the
    page's size for what GX writes: every text in it is escaped, so each "<" opens a whole
    tag (Python's parser slows down on thousands of unclosed tags, which GX never writes).
    A fetch of one of the site's own files (`own`, relative to the site) stays, unless the file
    is not there: GX links a favicon one folder too high from result pages, and a missing
    file is an error in the console. `used` collects the site's files the page loads.
    """

    def __init__(self, folder: str, own: set[str], replacement: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.used: set[str] = set()
        self._folder = folder
        self._own = own
        self._out: list[str] = []
        self._replacement = replacement
        self._skipping: tuple[str, int] | None = None  # element being dropped, nesting depth
        self._icons: list[bool] = []  # per open <i>: did it become a <span>
        self._in_style = False
        self._styled = False

    def rewrite(self, page: str) -> str:
        self.feed(page)
        self.close()
        if not self._styled:
            self._out.insert(0, self._stylesheet())
        if self._replacement is not None:  # GX's tabs were not found: the tables go last
            self._out.append(self._replacement)
        return "".join(self._out)

    def _stylesheet(self) -> str:
        self._styled = True
        css = files("whiteglove.validation").joinpath("data_docs.css").read_text(encoding="utf-8")
        return f'<style id="whiteglove-data-docs">{css}</style>'

    def _skip(self, tag: str) -> None:
        if tag not in _VOID:
            self._skipping = (tag, 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if self._skipping is not None:
            skipped, depth = self._skipping
            if tag == skipped and not closed:
                self._skipping = (skipped, depth + 1)
            return
        values = {name: value or "" for name, value in attrs}
        classes = values.get("class", "").split()
        if tag == "script" or not self._loads(tag, attrs):
            if tag == "img" and values.get("alt"):
                self._out.append(f'<span class="dd-img-alt">{html.escape(values["alt"])}</span>')
            if not closed:
                self._skip(tag)
            return
        if self._replacement is not None and "ge-index-page-tabs-container" in classes:
            self._out.append(self._replacement)
            self._replacement = None
            if not closed:
                self._skip(tag)
            return
        if tag == "i":
            if any(_FONT_AWESOME.match(c) for c in classes):
                self._font_awesome(classes, values, closed)
                return
            if not closed:
                self._icons.append(False)
        kept = [
            (name, self._css(value) if name == "style" and value else value)
            for name, value in attrs
            if not name.startswith("on")
        ]
        if kept == attrs:
            self._out.append(self.get_starttag_text() or "")
        else:
            self._out.append(_tag(tag, kept, closed))
        if tag == "style" and not closed:
            self._in_style = True

    def _loads(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        """Whether every URL the element would fetch on its own can be loaded offline."""
        return all(
            self._available(url)
            for name, value in attrs
            if name in _FETCHED and value and not (name == "href" and tag in _FOLLOWED_ONLY)
            for url in _urls(name, value)
        )

    def _available(self, url: str) -> bool:
        """Whether `url` loads with no network: data:, or a file of the site (noted in `used`)."""
        if _remote(url):
            return False
        plain = url.translate(_URL_NOISE).strip(_URL_LEAD)
        path = unquote(plain.split("#", 1)[0].split("?", 1)[0])
        if not path or plain[:5].lower() == "data:":
            return True
        name = posixpath.normpath(posixpath.join(self._folder, path))
        if name in self._own:
            self.used.add(name)
            return True
        return False

    def _css(self, css: str) -> str:
        """`css` with no @import, and `none` for each url() that would not load offline."""
        # Data Docs import nothing: every @import would be a fetch.
        css = _CSS_IMPORT.sub("", css)
        # Only up to the last ")": a "url(" with none after it would be scanned to the end
        # of the text, once for each such "url(", and a url() needs its ")" anyway.
        end = css.rfind(")") + 1
        checked = _CSS_URL.sub(
            lambda m: m.group(0) if self._available(m.group(1)) else "none", css[:end]
        )
        return checked + css[end:]

    def _font_awesome(self, classes: list[str], values: dict[str, str], closed: bool) -> None:
        known = next((c for c in classes if c in _ICONS), None)
        if known is None:  # an icon we have no character for: it says nothing offline
            if not closed:
                self._skip("i")
            return
        others = tuple(c for c in classes if not _FONT_AWESOME.match(c))
        icon = _icon(*_ICONS[known], others)
        if values.get("aria-hidden") == "true":  # GX writes the word next to it
            icon = icon.replace(' role="img"', ' aria-hidden="true"', 1)
        if closed:
            self._out.append(icon)
        else:
            self._out.append(icon.removesuffix("</span>"))
            self._icons.append(True)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping is not None:
            skipped, depth = self._skipping
            if tag == skipped:
                self._skipping = (skipped, depth - 1) if depth > 1 else None
            return
        if tag == "i" and self._icons:
            self._out.append("</span>" if self._icons.pop() else "</i>")
            return
        if tag == "style":
            self._in_style = False
        if tag == "head" and not self._styled:
            self._out.append(self._stylesheet())
        if tag == "body" and self._replacement is not None:
            self._out.append(self._replacement)
            self._replacement = None
        self._out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._skipping is not None:
            return
        if self._in_style:  # raw text: no entities in it to escape
            self._out.append(self._css(data))
        else:
            self._out.append(html.escape(data, quote=False))

    def handle_decl(self, decl: str) -> None:
        if self._skipping is None:
            self._out.append(f"<!{decl}>")

    # Comments, processing instructions and CDATA sections carry nothing a reader needs.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def _tag(tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> str:
    written = "".join(
        f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<{tag}{written}{' /' if closed else ''}>"
