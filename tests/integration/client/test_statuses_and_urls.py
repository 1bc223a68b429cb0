"""Which statuses are retried (one rule, client.retry.retryable_status), over real loopback
HTTP; and base URLs that would leak or misroute (user:password@, ?query, #fragment, names
under .localhost) refused at Client()."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import sessionkit as sk
from sessionkit.client import RetryPolicy
from sessionkit.client.retry import retryable_status
from tests.servers import session


def test_the_retry_rule() -> None:
    assert all(retryable_status(s) for s in (409, 429, 500, 502, 503, 504, 507, 520, 524, 529, 599))
    assert not any(retryable_status(s) for s in (400, 401, 403, 404, 421, 501, 505))


@pytest.fixture
def flaky() -> Iterator[tuple[str, dict[str, object]]]:
    """Answers ``state['status']`` to the first ``state['fail']`` requests, then a page."""
    state: dict[str, object] = {"calls": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            calls = int(state["calls"])  # type: ignore[call-overload]
            state["calls"] = calls + 1
            if calls < int(state["fail"]):  # type: ignore[call-overload]
                status, body = int(state["status"]), {"success": False, "message": "trouble"}  # type: ignore[call-overload]
            else:
                status, body = 200, {"success": True, "data": [session(0)]}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()


def _client(url: str) -> sk.Client:
    policy = RetryPolicy(max_retries=3, budget=10.0, base=0.01, cap=0.02)
    return sk.Client("sk_canary_0123456789abcdefghij", base_url=url, retry=policy, timeout=5)


@pytest.mark.parametrize("status", [507, 520, 522, 529])
def test_cdn_and_storage_5xx_are_retried(flaky: tuple[str, dict[str, object]], status: int) -> None:
    url, state = flaky
    state.update(status=status, fail=2)
    assert _client(url).list_sessions_page().rows == 1
    assert state["calls"] == 3


@pytest.mark.parametrize("status", [501, 505])
def test_a_final_5xx_is_not_retried_and_says_so(
    flaky: tuple[str, dict[str, object]], status: int
) -> None:
    url, state = flaky
    state.update(status=status, fail=5)
    with pytest.raises(sk.ServerError) as info:
        _client(url).list_sessions_page()
    assert state["calls"] == 1
    assert "not retried" in str(info.value) and "retried with backoff" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2secret@127.0.0.1:9",
        "http://127.0.0.1:9/api?tenant=1",
        "http://127.0.0.1:9/api#x",
        "http://evil.localhost:9",
    ],
)
def test_base_urls_that_would_leak_or_misroute_are_refused(url: str) -> None:
    with pytest.raises(sk.ConfigurationError) as info:
        sk.Client("sk_canary_0123456789abcdefghij", base_url=url)
    assert "hunter2secret" not in str(info.value)
