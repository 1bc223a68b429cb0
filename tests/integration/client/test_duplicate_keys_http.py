"""A page body that repeats a key reads differently to different JSON parsers (simdjson keeps
the first, Arrow and orjson the last): the walk's checked ids and the parsed rows must agree,
or the pages are refused — a page with two "data" arrays put 2,000 rows into the frame from a
request for 100, past the "more rows than asked" check, with no warning."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

import sessionkit as sk
from tests.servers import http_server, send, session

ROWS = [session(i) for i in reversed(range(5))]  # newest first, as a time walk asks
BIG = [session(100 + i) for i in range(2000)]


def _dup_id() -> bytes:
    parts = [json.dumps(r) for r in ROWS]
    parts[2] = parts[2][:-1] + ', "id": "sess_' + "f" * 32 + '"}'
    return ('{"success": true, "data": [' + ",".join(parts) + "]}").encode()


def _dup_data() -> bytes:
    return (
        '{"success": true, "data": ' + json.dumps(ROWS[:1]) + ', "data": ' + json.dumps(BIG) + "}"
    ).encode()


@pytest.mark.parametrize("body", [_dup_id, _dup_data], ids=["id-twice", "data-twice"])
def test_pages_whose_parsers_disagree_are_refused(body: object) -> None:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        first = (  # the walk's first page; the rest (bounded, the far end: limit=1) empty
            query.get("offset", ["0"])[0] == "0"
            and "startBefore" not in query
            and query.get("limit", ["10"])[0] != "1"
        )
        send(handler, 200, body() if first else b'{"success": true, "data": []}')  # type: ignore[operator]

    with http_server(respond) as url:
        client = sk.Client("sk_canary_0123456789abcdefghij", base_url=url, max_retries=0)
        with pytest.raises(sk.BadResponseError, match="refused"):
            sk.load_sessions(client, progress=False, agent_names=False)
