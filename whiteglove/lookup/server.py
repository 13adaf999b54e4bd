"""`whiteglove serve`: lookups over HTTP for contact-centre applications.

    POST /lookup   {"first_name": "Ana", "last_name": "Ruiz Gil", "phone": "612000001"}
                   -> the JSON `whiteglove lookup` prints
    GET  /health   -> the publication served and the records indexed

Bodies over MAX_BODY_BYTES are refused (413) before they are read whole; anything that is
not a JSON object of fields gets 400 with what is wrong. The server answers from the latest
publication and moves to a new one without a restart (index.LiveIndex).
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from whiteglove.lookup.index import TOP, LiveIndex
from whiteglove.lookup.query import LookupInputError

MAX_BODY_BYTES = 16 * 1024
MAX_TOP = 20


class _TooLarge(Exception):
    pass


def create_app(out_dir: Path) -> Starlette:
    """The HTTP application serving lookups from `out_dir`'s publications."""
    live = LiveIndex(out_dir)

    async def lookup(request: Request) -> JSONResponse:
        if "json" not in request.headers.get("content-type", ""):
            return _error(415, "send the record as JSON (Content-Type: application/json)")
        try:
            body = await _bounded_body(request)
        except _TooLarge:
            return _error(413, f"a lookup body is at most {MAX_BODY_BYTES} bytes")
        try:
            values = json.loads(body)
        except ValueError:
            return _error(400, "the body is not valid JSON")
        if not isinstance(values, dict):
            return _error(400, "send one JSON object of field names and values")
        top = values.pop("top", TOP)
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP:
            return _error(400, f"top must be a whole number from 1 to {MAX_TOP}")
        index = live.current()
        try:
            answer = await run_in_threadpool(index.lookup, values, top)
        except LookupInputError as exc:
            return _error(400, str(exc))
        return JSONResponse(answer)

    async def health(request: Request) -> JSONResponse:
        index = live.current()
        return JSONResponse(
            {
                "publication": index.snapshot.name,
                "records": index.records.height,
                "last_reload_error": live.last_error,
            }
        )

    app = Starlette(
        routes=[
            Route("/lookup", lookup, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.live = live
    return app


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _TooLarge
    return bytes(body)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def serve(out_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve lookups until interrupted (uvicorn, one process)."""
    import uvicorn

    uvicorn.run(create_app(out_dir), host=host, port=port, log_level="warning")
