"""The retry policy, the retry loop and Retry-After parsing (no HTTP)."""

from __future__ import annotations

import email.utils
import random
import threading
import time

import httpx
import pytest

from sessionkit.client.retry import (
    Retryable,
    RetryPolicy,
    Stopped,
    call_with_retries,
    retry_after_seconds,
)
from sessionkit.errors import APITimeoutError, BadResponseError


def test_the_default_policy_values() -> None:
    assert RetryPolicy() == RetryPolicy(max_retries=8, budget=120.0, base=0.2, cap=8.0, jitter=0.05)


@pytest.mark.parametrize("field", ["max_retries", "budget", "base", "cap", "jitter"])
def test_negative_values_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        RetryPolicy(**{field: -1})


def test_backoff_is_exponential_full_jitter_capped() -> None:
    policy = RetryPolicy(base=0.5, cap=3.0)
    top = random.Random(0)
    top.uniform = lambda a, b: b  # type: ignore[method-assign]
    assert [policy.delay(n, None, top) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    draws = [policy.delay(3, None, random.Random(i)) for i in range(200)]
    assert 0 <= min(draws) < 0.5 and 1.5 < max(draws) <= 2.0


def test_a_server_hint_is_honoured_plus_jitter() -> None:
    policy = RetryPolicy(jitter=0.25)
    draws = [policy.delay(1, 4.0, random.Random(i)) for i in range(100)]
    assert all(4.0 <= d <= 4.25 for d in draws)
    assert policy.delay(1, -3.0, random.Random(0)) <= 0.25


def _failing(times: int, hint: float | None = None) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise Retryable(APITimeoutError("slow", method="GET", url="u"), hint)
        return "ok"

    return calls, attempt


def test_retries_until_success_counting_attempts_and_retries() -> None:
    calls, attempt = _failing(2, hint=0.0)
    counts = {"a": 0, "r": 0}
    waits: list[float] = []
    got = call_with_retries(
        attempt,  # type: ignore[arg-type]
        RetryPolicy(jitter=0.0),
        what="GET u",
        on_attempt=lambda: counts.__setitem__("a", counts["a"] + 1),
        on_retry=lambda: counts.__setitem__("r", counts["r"] + 1),
        sleep=waits.append,
    )
    assert got == "ok" and len(calls) == 3 and counts == {"a": 3, "r": 2} and waits == [0.0, 0.0]


def test_max_retries_bounds_the_attempts_and_the_error_says_so() -> None:
    calls, attempt = _failing(10, hint=0.0)
    with pytest.raises(APITimeoutError, match=r"gave up after 3 attempt\(s\)"):
        call_with_retries(attempt, RetryPolicy(max_retries=2), what="x", sleep=lambda s: None)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_the_budget_bounds_the_time_waits_included() -> None:
    now = [0.0]
    calls, attempt = _failing(10, hint=4.0)
    with pytest.raises(APITimeoutError, match=r"gave up after 3 attempt\(s\)"):
        call_with_retries(
            attempt,  # type: ignore[arg-type]
            RetryPolicy(budget=10.0, jitter=0.0),
            what="x",
            sleep=lambda s: now.__setitem__(0, now[0] + s),
            clock=lambda: now[0],
        )
    assert len(calls) == 3  # waits at 4 and 8 s; a third would end at 12 s > 10 s


def test_a_set_stop_event_starts_no_attempt() -> None:
    calls, attempt = _failing(0)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped, match="stopped before attempt 1"):
        call_with_retries(attempt, RetryPolicy(), what="GET u", stop=stop)  # type: ignore[arg-type]
    assert calls == []


def test_setting_the_stop_event_ends_a_retry_wait_at_once_and_no_attempt_follows() -> None:
    """The server asked for 30 s; the stop event, set 0.2 s into the wait, ends it."""
    calls, attempt = _failing(10, hint=30.0)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()
    with pytest.raises(Stopped, match="stopped while waiting to retry"):
        call_with_retries(attempt, RetryPolicy(), what="GET u", stop=stop)  # type: ignore[arg-type]
    assert time.monotonic() - began < 1.0
    assert len(calls) == 1


def test_stopped_is_no_exception_a_user_function_catches() -> None:
    """Like asyncio.CancelledError: ``except Exception`` in a loader's or a user's function
    on the way does not swallow it."""
    assert issubclass(Stopped, BaseException) and not issubclass(Stopped, Exception)


def test_errors_that_are_not_retryable_pass_at_once() -> None:
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise BadResponseError("no", method="GET", url="u")

    with pytest.raises(BadResponseError):
        call_with_retries(attempt, RetryPolicy(), what="x", sleep=lambda s: None)
    assert calls == [1]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"X-RateLimit-Retry-After": "4"}, 4.0),
        ({"X-RateLimit-Reset": "1030"}, 30.0),
        ({"Retry-After": "soon", "X-RateLimit-Retry-After": "9"}, 9.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=1000.0) == expected
    assert retry_after_seconds(httpx.Headers(headers), now=1000.0) == expected


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(1_000_060, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=1_000_000.0) == pytest.approx(60.0)
