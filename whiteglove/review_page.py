"""The review page: `whiteglove review --out DIR`, a local web page over a published output.

It reads what the run published (whiteglove/explain.py: the review queue, the crosswalk, the
records, the model) and writes one thing: the steward's decisions, appended atomically to
the decisions file the run resolved (whiteglove/decisions.py), which the next run honours.

- The queue, in the order whiteglove/review.py gives it: pairs across two customers, by what
  a decision would change most; pairs other links already join, grouped by customer; pairs
  one side of which is nearly empty, set apart.
- A pair: both records side by side, differences marked, the waterfall of its weight, why
  the run put them where it did; match, no match, merge the two customers, lock either, split
  either record out: one click each, with an optional note.
- A customer: its records, its golden values with how sure each is (source, agreeing sources,
  age, runner-up, low confidence), the links that hold it, lock, split a record out.
- Search by name, email, phone or id.

Safety: bound to 127.0.0.1 only; every request must name this server in its Host header (a
page elsewhere cannot reach it through DNS rebinding); every POST carries the token this
process made at start-up, and a cross-site Origin is refused, so no other site can post a
decision; no script runs, nothing is fetched from a network (a Content-Security-Policy says
so); everything shown is escaped (Jinja2 autoescape); personal values are masked unless the
sources file reveals them.
"""

from __future__ import annotations

import getpass
import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from whiteglove.decisions import Decision, DecisionsError, append_decision, read_decisions
from whiteglove.explain import (
    ExplainError,
    PublishedRun,
    explain_golden,
    explain_pair,
    waterfalls,
)
from whiteglove.review import ordered_queue

MAX_BODY = 64 * 1024
MAX_NOTE = 2000
SHOWN_PER_SECTION = 200
SEARCH_LIMIT = 50
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: Chromium then sends "Origin: null", and same-origin posts look foreign
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
COMPARED = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "national_id",
    "address_line",
    "postcode",
    "city",
)


class ReviewState:
    """The published run the page shows, and where decisions go."""

    def __init__(self, out: Path, author: str | None = None) -> None:
        self.run = PublishedRun(out)
        file = self.run.decisions.file
        if not file:
            raise ExplainError(
                f"{out}: the publication does not name a decisions file (run whiteglove again)"
            )
        self.decisions_file = Path(file)
        self.author = author or getpass.getuser()
        self.token = secrets.token_urlsafe(32)
        queue = pl.read_parquet(self.run.path("review_queue.parquet"))
        self.queue = ordered_queue(queue, self.run.xref, self.run.records, self.run.guards)

    def decided(self) -> list[Decision]:
        try:
            return read_decisions(self.decisions_file)
        except DecisionsError:
            return []


def _decided_keys(decisions: list[Decision]) -> tuple[set[frozenset], set[str]]:
    pairs = {frozenset(d.records) for d in decisions if d.kind in ("match", "no_match")}
    touched = {k for d in decisions if d.kind in ("lock", "split", "merge") for k in d.keys()}
    return pairs, touched


def _is_decided(left: str, right: str, pairs: set[frozenset], touched: set[str]) -> bool:
    return frozenset((left, right)) in pairs or left in touched or right in touched


# autoescaped: records, notes and queries are untrusted text
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("review_templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def create_app(state: ReviewState, port: int):
    """The Starlette application over `state`, answering only as 127.0.0.1:`port`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route

    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}
    run = state.run

    def page(name: str, status: int = 200, **values) -> HTMLResponse:
        html = _ENV.get_template(f"{name}.html.j2").render(
            decisions_file=state.decisions_file, **values
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def refuse(error: str, status: int = 400) -> HTMLResponse:
        return page("error", status, title="Refused", error=error)

    def trusted_host(request: Request) -> bool:
        return request.headers.get("host", "") in hosts

    @lru_cache(maxsize=256)
    def pair_answer(left: str, right: str) -> tuple[dict, dict | None]:
        answer = explain_pair(run, left, right)
        direct = [
            link
            for link in answer.get("links", [])
            if {link["left"], link["right"]} == {left, right} and link.get("waterfall")
        ]
        fall = (
            direct[0]["waterfall"]
            if direct
            else waterfalls(run, [(left, right)]).get((left, right))
        )
        return answer, fall

    @lru_cache(maxsize=256)
    def golden_answer(golden_id: str) -> dict:
        return explain_golden(run, golden_id)

    def items(frame: pl.DataFrame, decided: tuple[set, set], limit: int) -> list[dict]:
        out = []
        for row in frame.head(limit).iter_rows(named=True):
            row["href"] = "/pair?" + urlencode({"l": row["record_key_l"], "r": row["record_key_r"]})
            row["decided"] = _is_decided(row["record_key_l"], row["record_key_r"], *decided)
            row["pairs"] = row.get("pairs") or 1
            out.append(row)
        return out

    async def queue(request: Request) -> Response:
        if not trusted_host(request):
            return refuse("unknown host")
        decided = _decided_keys(state.decided())
        parts = state.queue
        grouped: dict[str, list[dict]] = {}
        for item in items(parts["one_customer"], decided, SHOWN_PER_SECTION * 5):
            grouped.setdefault(item["golden_id_l"], []).append(item)
        one = [
            ({"id": g, "query": urlencode({"id": g})}, rows)
            for g, rows in list(grouped.items())[:SHOWN_PER_SECTION]
        ]
        decide = items(parts["decide"], decided, SHOWN_PER_SECTION)
        counts = {k: v.height for k, v in parts.items()}
        counts["decided"] = len(state.decided())
        return page(
            "queue",
            title="Queue",
            decide=decide,
            one_customer=one,
            undecidable=items(parts["undecidable"], decided, SHOWN_PER_SECTION),
            guarded=items(parts["guarded"], decided, SHOWN_PER_SECTION),
            counts=counts,
            message=request.query_params.get("done", ""),
        )

    async def pair(request: Request) -> Response:
        if not trusted_host(request):
            return refuse("unknown host")
        left, right = request.query_params.get("l", ""), request.query_params.get("r", "")
        try:
            answer, fall = pair_answer(left, right)
        except ExplainError as exc:
            return refuse(str(exc), 404)
        raw = run.records.filter(pl.col("record_key").is_in([left, right]))
        raw_rows = {r["record_key"]: r for r in raw.iter_rows(named=True)}
        shown = answer["records"]
        rows = []
        for f in ("source", "source_record_id", *COMPARED):
            a, b = raw_rows[left].get(f), raw_rows[right].get(f)
            state_ = "missing" if a is None or b is None else ("same" if a == b else "differs")
            rows.append(
                {
                    "field": f,
                    "left": shown[left].get(f),
                    "right": shown[right].get(f),
                    "state": state_,
                }
            )
        mine = [
            d.describe()
            for d in state.decided()
            if {left, right} <= d.keys() or (d.kind != "no_match" and (left in d.keys()))
        ]
        gl, gr = answer["golden_ids"][left], answer["golden_ids"][right]
        return page(
            "pair",
            title=f"{left} · {right}",
            l=left,
            r=right,
            gl=gl,
            gr=gr,
            ql=urlencode({"id": gl}),
            qr=urlencode({"id": gr}),
            answer=answer,
            fall=fall,
            rows=rows,
            token=state.token,
            back="/pair?" + urlencode({"l": left, "r": right}),
            decided="; ".join(mine),
            message=request.query_params.get("done", ""),
        )

    async def customer(request: Request) -> Response:
        if not trusted_host(request):
            return refuse("unknown host")
        golden_id = request.query_params.get("id", "")
        try:
            answer = golden_answer(golden_id)
        except ExplainError as exc:
            return refuse(str(exc), 404)
        fields = [f for f in ("source", *COMPARED) if f in run.records.columns]
        return page(
            "customer",
            title=golden_id,
            answer=answer,
            fields=fields,
            token=state.token,
            back="/customer?" + urlencode({"id": golden_id}),
            message=request.query_params.get("done", ""),
        )

    async def search(request: Request) -> Response:
        if not trusted_host(request):
            return refuse("unknown host")
        q = request.query_params.get("q", "").strip()[:200]
        results = []
        if q:
            results = _search(run, q)
        return page("search", title="Search", q=q, results=results)

    async def decide(request: Request) -> Response:
        if not trusted_host(request):
            return refuse("unknown host")
        origin = request.headers.get("origin")
        if origin is not None and origin not in origins:
            return refuse("cross-site request refused", 403)
        if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
            return refuse("cross-site request refused", 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return refuse("request too large", 413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not hmac.compare_digest(form.get("token", ""), state.token):
            return refuse("this page is out of date or not this server's: reload it", 403)
        try:
            decision = _decision(run, form, state.author)
            written = append_decision(state.decisions_file, decision)
        except (ExplainError, DecisionsError) as exc:
            return refuse(str(exc))
        back = form.get("back", "/")
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        separator = "&" if "?" in back else "?"
        done = urlencode({"done": f"Recorded: {written.describe()}"})
        return RedirectResponse(back + separator + done, status_code=303, headers=HEADERS)

    return Starlette(
        routes=[
            Route("/", queue),
            Route("/pair", pair),
            Route("/customer", customer),
            Route("/search", search),
            Route("/decide", decide, methods=["POST"]),
        ]
    )


def _decision(run: PublishedRun, form: dict[str, str], author: str) -> Decision:
    """The decision a form asks for, the customers' records read from the publication."""
    kind = form.get("kind", "")
    note = form.get("note", "").strip()[:MAX_NOTE]
    left, right = form.get("l", ""), form.get("r", "")
    common = {"author": author, "reason": note}
    if kind in ("match", "no_match"):
        run.golden_of(left), run.golden_of(right)  # both must be published records
        if left == right:
            raise ExplainError("a pair needs two records")
        return Decision(kind, (left, right), **common)
    if kind == "merge":
        gl, gr = run.golden_of(left), run.golden_of(right)
        if gl == gr:
            raise ExplainError("the two records are already one customer")
        records = tuple(run.members(gl) + run.members(gr))
        return Decision("merge", records, golden_id=f"{gl}+{gr}", **common)
    if kind in ("lock", "lock_l", "lock_r"):
        golden = (
            form.get("golden", "")
            if kind == "lock"
            else run.golden_of(left if kind == "lock_l" else right)
        )
        members = run.members(golden)
        if not members:
            raise ExplainError(f"golden id {golden} is not in this publication")
        return Decision("lock", tuple(members), golden_id=golden, **common)
    if kind in ("split_l", "split_r") or form.get("split"):
        record = form.get("split") or (left if kind == "split_l" else right)
        golden = run.golden_of(record)
        rest = tuple(k for k in run.members(golden) if k != record)
        if not rest:
            raise ExplainError(f"{record} is alone in {golden}: nothing to split it from")
        return Decision("split", (record,), rest, golden_id=golden, **common)
    raise ExplainError(f"unknown decision {kind!r}")


def _search(run: PublishedRun, q: str) -> list[dict]:
    """Records whose name, email, phone or id holds `q` (case and spaces ignored)."""
    needle = q.lower()
    digits = "".join(c for c in q if c.isdigit())
    records = run.records
    text = pl.concat_str(
        [pl.col(c).cast(pl.String) for c in ("first_name", "last_name") if c in records.columns],
        separator=" ",
        ignore_nulls=True,
    ).str.to_lowercase()
    found = (
        text.str.contains(needle, literal=True)
        | pl.col("record_key").str.to_lowercase().str.contains(needle, literal=True)
        | pl.col("source_record_id").str.to_lowercase().str.contains(needle, literal=True)
    )
    if "email" in records.columns:
        found = found | pl.col("email").str.to_lowercase().str.contains(needle, literal=True)
    if "phone" in records.columns and len(digits) >= 4:
        found = found | pl.col("phone").str.replace_all(r"\D", "").str.contains(
            digits, literal=True
        )
    hits = records.filter(found.fill_null(False)).head(SEARCH_LIMIT)["record_key"].to_list()
    shown = run.shown(hits)
    ids = dict(
        run.xref.filter(pl.col("record_key").is_in(hits)).select("record_key", "golden_id").rows()
    )
    return [
        {
            "key": key,
            "golden_id": ids.get(key, ""),
            "query": urlencode({"id": ids.get(key, "")}),
            "name": " ".join(
                v for v in (shown[key].get("first_name"), shown[key].get("last_name")) if v
            ),
            "email": shown[key].get("email"),
            "phone": shown[key].get("phone"),
        }
        for key in hits
        if key in shown
    ]


def serve(out: Path, port: int = 8766, author: str | None = None) -> int:
    """Serve the review page on 127.0.0.1 until interrupted."""
    import sys

    import uvicorn

    try:
        state = ReviewState(out, author)
    except ExplainError as exc:
        print(f"whiteglove review: {exc}", file=sys.stderr)
        return 2
    print(f"review page: http://127.0.0.1:{port}/  (decisions go to {state.decisions_file})")
    uvicorn.run(create_app(state, port), host="127.0.0.1", port=port, log_level="warning")
    return 0
