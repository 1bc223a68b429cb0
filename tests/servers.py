"""Small stdlib servers of the list endpoint for hostile-input tests (real loopback HTTP):
:class:`ListServer` serves a fixed list of session dicts with limit/offset and knobs for the
ways a server can misbehave."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sessionkit import timestamps

Respond = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer the request ``handler`` holds: ``status``, ``headers`` (default a JSON content
    type), a content length and ``body``."""
    handler.send_response(status)
    for name, value in (headers or {"content-type": "application/json"}).items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, status: int, value: object) -> None:
    """:func:`send` of ``value`` as JSON."""
    send(handler, status, json.dumps(value).encode())


@contextmanager
def http_server(respond: Respond) -> Iterator[str]:
    """A threading HTTP server on 127.0.0.1 whose GET (and CONNECT, for a proxy) requests
    ``respond(handler)`` answers; yields its base URL, shuts it down after."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            respond(self)

        do_CONNECT = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def session(i: int, **fields: object) -> dict[str, Any]:
    """A well-formed session object number ``i`` (distinct id and times), ``fields`` over it."""
    stamp = f"2026-11-{1 + i % 28:02d}T10:{i // 60 % 60:02d}:{i % 60:02d}Z"
    row: dict[str, Any] = {
        "id": f"sess_{i:032x}",
        "created_at": stamp,
        "updated_at": stamp,
        "start_time": stamp,
        "end_time": stamp,
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "duration": 1_000_000,
        "cpu_time": 1_000,
        "org_id": "org_1",
        "project_id": "proj_1",
        "deployment_id": "deploy_1",
        "agent_ids": ["agentid_" + "b" * 40, "agent_" + "a" * 40],
        "trigger": "api",
        "env": "production",
        "devmode": False,
        "pending": False,
        "success": True,
        "error": None,
        "llm_cost": 0.1,
        "total_cost": 0.2,
    }
    row.update(fields)
    return row


def detail(row: dict[str, Any], name: str = "alpha") -> dict[str, Any]:
    """A session detail of ``row`` whose one agent (the stable id among its ``agent_ids``)
    is called ``name``."""
    stable = next((a for a in row.get("agent_ids") or [] if str(a).startswith("agent_")), None)
    return {"session": row, "agents": [{"identifier": stable, "name": name}], "evalRuns": []}


_SORT_FIELDS = {"startTime": "start_time", "created": "created_at", "updated": "updated_at"}


def _instant(value: object) -> int | None:
    text = value if isinstance(value, str) else None
    return None if text is None else timestamps.parse_one(text)


def listing(
    sessions: list[dict[str, Any]],
    query: Mapping[str, str],
    *,
    shuffle: random.Random | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``GET /session`` for ``query`` (without limit/offset): ``startAfter`` <
    ``start_time`` < ``startBefore`` (a row without a readable start time only when neither is
    given), ordered by ``sort`` (default ``created``) in ``direction`` (default ``desc``), rows
    without the sort value last; rows with equal values in the order given, or in an order
    ``shuffle`` draws anew (a server whose ties come in any order on each request)."""
    after, before = _instant(query.get("startAfter")), _instant(query.get("startBefore"))
    rows = []
    for row in sessions:
        start = _instant(row.get("start_time")) if isinstance(row, dict) else None
        if (after is not None or before is not None) and start is None:
            continue
        if after is not None and start is not None and start <= after:
            continue
        if before is not None and start is not None and start >= before:
            continue
        rows.append(row)
    field = _SORT_FIELDS.get(query.get("sort", "created"), "created_at")
    desc = query.get("direction", "desc") == "desc"
    if shuffle is not None:
        rows = shuffle.sample(rows, len(rows))
    keyed = [
        (_instant(r.get(field)) if isinstance(r, dict) else None, i) for i, r in enumerate(rows)
    ]
    dated = sorted((k for k in keyed if k[0] is not None), key=lambda k: k[0], reverse=desc)  # type: ignore[arg-type, return-value]
    undated = [k for k in keyed if k[0] is None]
    return [rows[i] for _, i in dated + undated]


@contextmanager
def list_server(
    sessions: list[dict[str, Any]],
    *,
    page_cap: Callable[[int], int | None] = lambda offset: None,
    details: Mapping[str, dict[str, Any]] | None = None,
    shuffle_ties: bool = False,
) -> Iterator[str]:
    """Serve ``sessions`` at ``/session`` as the API does (:func:`listing`: the time bounds
    and the sort, then limit/offset); yields the base URL. ``page_cap(offset)``: the most rows the server returns at that offset (``None``:
    as asked). ``/session/<id>`` answers ``details[id]`` (404 when absent); by default every
    session with a text id has a detail naming its agent ``alpha`` (:func:`detail`).
    ``shuffle_ties``: sessions with equal sort values come in a new order on each request."""
    requests: list[str] = []
    shuffler = random.Random(7) if shuffle_ties else None
    if details is None:
        details = {r["id"]: detail(r) for r in sessions if isinstance(r.get("id"), str)}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        requests.append(handler.path)
        query = parse_qs(url.query)
        if url.path == "/session":
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["10"])[0])
            cap = page_cap(offset)
            listed = listing(sessions, {k: v[-1] for k, v in query.items()}, shuffle=shuffler)
            rows = listed[offset : offset + (limit if cap is None else min(cap, limit))]
            send_json(handler, 200, {"success": True, "data": rows})
        elif url.path.startswith("/session/") and details and url.path[9:] in details:
            send_json(handler, 200, {"success": True, "data": details[url.path[9:]]})
        else:
            send_json(handler, 404, {"success": False, "message": "not found"})

    with http_server(respond) as url:
        yield url
