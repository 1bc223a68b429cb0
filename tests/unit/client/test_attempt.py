"""One attempt over httpx.MockTransport: status -> exception, size limit, server message."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from sessionkit.client.attempt import Attempt
from sessionkit.client.retry import Retryable, Stopped
from sessionkit.config import Secret
from sessionkit.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    WrongRegionError,
)

KEY = "sk_test_0123456789abcdef0123"


def _attempt(handler: Callable[[httpx.Request], httpx.Response], **kw: int) -> Attempt:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Attempt(http, key=Secret(KEY), timeout=5.0, max_response_bytes=kw.get("max_bytes", 1000))


def _answer(status: int, body: bytes = b"{}", **headers: str) -> Attempt:
    return _attempt(lambda r: httpx.Response(status, content=body, headers=headers))


def test_a_2xx_answer_carries_body_url_and_content_type() -> None:
    got = _attempt(
        lambda r: httpx.Response(200, content=b"{}", headers={"content-type": "text/x"})
    ).get("http://h/session", {"limit": "5"})
    assert (got.body, got.url, got.content_type) == (b"{}", "http://h/session?limit=5", "text/x")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (421, WrongRegionError),
    ],
)
def test_statuses_that_raise_at_once(status: int, cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        _answer(status).get("http://h/x")
    assert not isinstance(info.value, Retryable) and info.value.status_code == status  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(409, RateLimitError), (429, RateLimitError), (500, ServerError), (503, ServerError)],
)
def test_statuses_worth_another_attempt(status: int, cls: type[Exception]) -> None:
    with pytest.raises(Retryable) as info:
        _answer(status, **{"Retry-After": "3"}).get("http://h/x")
    assert isinstance(info.value.error, cls) and info.value.wait_hint == 3.0


def test_a_rate_limit_carries_its_wait() -> None:
    with pytest.raises(Retryable) as info:
        _answer(429, **{"X-RateLimit-Retry-After": "2"}).get("http://h/x")
    assert isinstance(info.value.error, RateLimitError) and info.value.error.retry_after == 2.0


def test_a_421_names_the_region() -> None:
    with pytest.raises(WrongRegionError) as info:
        _answer(421, **{"x-agentuity-region": "use"}).get("http://h/x")
    assert info.value.region == "use"


def test_the_server_message_validation_issues_and_code_are_quoted() -> None:
    body = (
        b'{"message": "invalid", "code": "E1", "error": '
        b'{"issues": [{"path": ["limit"], "message": "too big"}]}}'
    )
    with pytest.raises(BadRequestError, match=r"HTTP 400: invalid; limit: too big") as info:
        _answer(400, body).get("http://h/x")
    assert info.value.code == "E1"


def test_a_non_json_error_body_is_quoted_redacted() -> None:
    body = f"<h1>bad gateway for {KEY}</h1>".encode()
    with pytest.raises(Retryable) as info:
        _answer(502, body).get("http://h/x")
    text = str(info.value.error)
    assert "non-JSON body: <h1>bad gateway for" in text and KEY not in text


def test_the_key_in_a_url_is_redacted() -> None:
    with pytest.raises(NotFoundError) as info:
        _answer(404).get(f"http://h/session/{KEY}")
    assert KEY not in str(info.value) and KEY not in (info.value.url or "")


def test_a_body_over_the_limit_is_refused_announced_or_sent() -> None:
    with pytest.raises(ResponseTooLargeError, match="announced 5,000 bytes"):
        _answer(200, b"x" * 5000).get("http://h/x")

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"x" * 5000))  # no content-length

    with pytest.raises(ResponseTooLargeError, match="sent more than max_response_bytes=1,000"):
        _attempt(streamed).get("http://h/x")


def test_transport_failures_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Retryable) as info:
        _attempt(refuse).get("http://h/x")
    assert type(info.value.error) is APIConnectionError
    with pytest.raises(Retryable) as info:
        _attempt(slow).get("http://h/x")
    assert isinstance(info.value.error, APITimeoutError)


def test_a_stopped_attempt_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"{}")

    stop = threading.Event()
    attempt = _attempt(record)
    assert attempt.get("http://h/x", stop=stop).body == b"{}"  # not set: sent
    stop.set()
    with pytest.raises(Stopped):
        attempt.get("http://h/x", stop=stop)
    assert len(sent) == 1


def test_a_body_that_times_out_between_chunks_says_how_much_came() -> None:
    """A transport the deadline is not installed in (here in memory) still times out per
    read; the message tells headers-but-incomplete-body apart from no answer."""

    class SlowBody(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"x" * 123
            raise httpx.ReadTimeout("slow")

    with pytest.raises(Retryable) as info:
        _attempt(lambda r: httpx.Response(200, stream=SlowBody())).get("http://h/x")
    assert isinstance(info.value.error, APITimeoutError)
    assert "did not complete within 5 s (the server sent 123 bytes of its body" in str(
        info.value.error
    )
