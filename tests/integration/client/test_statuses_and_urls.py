"""Which statuses are retried (one rule, client.retry.retryable_status), over real loopback
HTTP; and base URLs that would leak or misroute (user:password@, ?query, #fragment, names
under .localhost) refused at Client()."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

import sessionkit as sk
from sessionkit.client import RetryPolicy
from sessionkit.client.retry import retryable_status
from tests.servers import http_server, send_json, session


def test_the_retry_rule() -> None:
    assert all(retryable_status(s) for s in (409, 429, 500, 502, 503, 504, 507, 520, 524, 529, 599))
    assert not any(retryable_status(s) for s in (400, 401, 403, 404, 421, 501, 505))


@pytest.fixture
def flaky() -> Iterator[tuple[str, dict[str, int]]]:
    """Answers ``state['status']`` to the first ``state['fail']`` requests, then a page."""
    state = {"calls": 0, "fail": 0, "status": 500}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        state["calls"] += 1
        if state["calls"] <= state["fail"]:
            send_json(handler, state["status"], {"success": False, "message": "trouble"})
        else:
            send_json(handler, 200, {"success": True, "data": [session(0)]})

    with http_server(respond) as url:
        yield url, state


def _client(url: str) -> sk.Client:
    policy = RetryPolicy(max_retries=3, budget=10.0, base=0.01, cap=0.02)
    return sk.Client("sk_canary_0123456789abcdefghij", base_url=url, retry=policy, timeout=5)


@pytest.mark.parametrize("status", [507, 520, 522, 529])
def test_cdn_and_storage_5xx_are_retried(flaky: tuple[str, dict[str, int]], status: int) -> None:
    url, state = flaky
    state.update(status=status, fail=2)
    assert _client(url).list_sessions_page().rows == 1
    assert state["calls"] == 3


@pytest.mark.parametrize("status", [501, 505])
def test_a_final_5xx_is_not_retried_and_says_so(
    flaky: tuple[str, dict[str, int]], status: int
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
