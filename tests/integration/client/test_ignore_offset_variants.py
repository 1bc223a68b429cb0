"""Servers that ignore offset in the three ways #15 item 13 names — the same rows shuffled,
two pages alternating, a head page growing by one — end the walk and the sync with an error
naming the problem within seconds, over real loopback HTTP (never a loop growing memory).
These servers ignore the whole query string: a walk keyed by time refuses them for that
(rows outside the time bounds asked, or out of order), a walk by offset (a limit in
``created`` order) for the offsets."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import sessionkit as sk
from tests.servers import http_server, send_json, session

ROWS = [session(i) for i in range(300)]
Pick = Callable[[int, int], list[dict[str, object]]]  # (request number, limit) -> rows

KINDS: dict[str, Pick] = {
    "shuffled": lambda n, limit: random.Random(n).sample(ROWS, limit),
    "alternating": lambda n, limit: ROWS[:limit] if n % 2 else ROWS[limit : 2 * limit],
    "growing-head": lambda n, limit: ROWS[: min(len(ROWS), 1 + n // 2)][:limit],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("what", ["load", "sync", "load-limit"])
def test_the_walk_ends_with_a_clear_error(kind: str, what: str, tmp_path: Path) -> None:
    calls = [0]

    def respond(handler: BaseHTTPRequestHandler) -> None:
        calls[0] += 1
        limit = int(parse_qs(urlsplit(handler.path).query).get("limit", ["10"])[0])
        send_json(handler, 200, {"success": True, "data": KINDS[kind](calls[0], limit)})

    with http_server(respond) as url:
        client = sk.Client("sk_canary_0123456789abcdefghij", base_url=url, max_retries=0, timeout=5)
        started = time.monotonic()
        refused = r"ignored offset|made no progress|another order|it ignores (startBefore|sort)"
        with pytest.raises(sk.BadResponseError, match=refused):
            if what == "load":
                sk.load_sessions(client, progress=False, agent_names=False)
            elif what == "load-limit":
                sk.load_sessions(
                    client, progress=False, agent_names=False, sort="created", limit=250
                )
            else:
                sk.Store(tmp_path / "s").sync(client, progress=False)
        assert time.monotonic() - started < 30 and calls[0] < 1_000
