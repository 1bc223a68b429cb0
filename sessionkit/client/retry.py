"""When to try a request again and how long to wait: the retry policy and its loop.

Pure: no HTTP here. An attempt that failed in a way worth retrying raises :class:`Retryable`
(wrapping the user-facing :class:`~sessionkit.errors.APIError`, and the server's wait hint
when it gave one); :func:`call_with_retries` runs attempts under a :class:`RetryPolicy` and
raises the last error once the policy says stop.

Stopping: a call may carry a ``stop`` :class:`threading.Event` (a fan-out or a walk sets it
when it ends early: Ctrl-C, the first failure). Its waits are ``stop.wait(delay)``, so a set
event ends them at once, and a stopped call raises :class:`Stopped` instead of starting another
attempt. :data:`STOP_POLL_S` is how often anything blocked (a read, the fan-out's wait) looks at
its stop event: the bound of a stop is a few of it.

Imports: :mod:`sessionkit.errors` only.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..errors import APIError

__all__ = [
    "STOP_POLL_S",
    "RetryPolicy",
    "Retryable",
    "Stopped",
    "call_with_retries",
    "retry_after_seconds",
    "retryable_status",
]

logger = logging.getLogger("sessionkit")

T = TypeVar("T")


#: Seconds between two looks at a stop event by whatever waits or reads (a socket read is cut
#: into slices this long when a stop event can end it; the fan-out's wait wakes this often to
#: let Ctrl-C through). A stop takes effect within about this long.
STOP_POLL_S = 0.1


class Stopped(BaseException):
    """The call was stopped: its ``stop`` event was set (the fan-out or walk it belongs to
    ended early: Ctrl-C, another request's failure) before or while it ran.

    Not a :class:`~sessionkit.errors.SessionKitError`, and a :class:`BaseException` like
    ``asyncio.CancelledError``: it ends the worker's task and is not caught by ``except
    Exception`` on the way (a loader's or a user's function). The caller that set the event
    raises its own reason (``KeyboardInterrupt``, the first error); nobody reports this one.
    """


#: 5xx statuses that say a retry cannot help: the server does not implement the request,
#: or not this HTTP version. Every other 5xx is server trouble worth another attempt.
_FINAL_5XX = frozenset({501, 505})


def retryable_status(status: int) -> bool:
    """Whether an HTTP ``status`` is worth another attempt: 409 and 429 (rate limited,
    honouring the server's wait) and every 5xx but 501 and 505 — 500, 502–504, 507, the
    520–529 of proxies and CDNs, ... (this is the one place that decides)."""
    return status in (409, 429) or (500 <= status <= 599 and status not in _FINAL_5XX)


class Retryable(Exception):
    """An attempt failed in a way worth retrying; ``error`` is what the user sees if no retry
    succeeds, ``wait_hint`` the seconds the server asked to wait (``None``: back off)."""

    def __init__(self, error: APIError, wait_hint: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_hint = wait_hint


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried.

    ``max_retries`` retries after the first attempt, all inside ``budget`` seconds (waits
    included). Without a server hint the wait before retry ``n`` (1-based) is drawn uniformly
    from ``[0, min(cap, base * 2 ** (n - 1))]`` seconds (exponential backoff, full jitter);
    with one (``Retry-After`` and kin, see :func:`retry_after_seconds`) it is the hint plus
    up to ``jitter`` seconds.
    """

    max_retries: int = 8
    budget: float = 120.0
    base: float = 0.2
    cap: float = 8.0
    jitter: float = 0.05

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.budget < 0:
            raise ValueError("max_retries and retry_budget must be >= 0 and timeout > 0")
        if self.base < 0 or self.cap < 0 or self.jitter < 0:
            raise ValueError("RetryPolicy base, cap and jitter must be >= 0 (seconds)")

    def delay(self, retry: int, hint: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), given the server's
        ``hint`` in seconds (``None``: none given)."""
        uniform = (rng or random).uniform
        if hint is not None:
            return max(0.0, hint) + uniform(0, self.jitter)
        return uniform(0, min(self.cap, self.base * 2 ** (retry - 1)))


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    on_attempt: Callable[[], None] | None = None,
    on_retry: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    stop: threading.Event | None = None,
) -> T:
    """``attempt()``'s result, retrying it while it raises :class:`Retryable` and ``policy``
    allows; ``what`` names the request in log lines. ``on_attempt`` is called before every
    attempt, ``on_retry`` before every retry's wait. When the policy says stop, the last
    attempt's error is raised with "(gave up after N attempt(s))" appended to its message.

    No attempt starts once ``policy.budget`` seconds have passed (nor a wait that would end
    past it), so the whole call lasts at most the budget plus one attempt (an attempt bounds
    itself: :class:`~sessionkit.client.attempt.Attempt`, ``timeout``).

    ``stop``: waits are ``stop.wait(delay)`` instead of ``sleep(delay)``, and :class:`Stopped`
    is raised, without another attempt, as soon as the event is set (checked before each
    attempt and ended waits at once). ``attempt`` itself may raise :class:`Stopped` too (an
    attempt refusing to start, or cut off mid-read); it passes unchanged."""
    deadline = clock() + policy.budget
    tries = 0
    while True:
        if stop is not None and stop.is_set():
            raise Stopped(f"{what}: stopped before attempt {tries + 1}")
        if on_attempt:
            on_attempt()
        try:
            return attempt()
        except Retryable as failure:
            tries += 1
            delay = policy.delay(tries, failure.wait_hint)
            if tries > policy.max_retries or clock() + delay > deadline:
                error = failure.error
                error.message += f" (gave up after {tries} attempt(s))"
                raise error from failure.__cause__
            if on_retry:
                on_retry()
            logger.info(
                "retrying %s after %s in %.2fs (attempt %d of %d)",
                what,
                type(failure.error).__name__,
                delay,
                tries,
                policy.max_retries,
            )
            if stop is None:
                sleep(delay)
            elif stop.wait(delay):
                raise Stopped(f"{what}: stopped while waiting to retry") from None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date), ``X-RateLimit-Retry-After``
    (seconds) or ``X-RateLimit-Reset`` (epoch seconds); ``None`` when none is usable.

    ``headers`` is any mapping (``httpx.Headers``, a dict); names match in any letter case.
    ``now`` is the current epoch time in seconds (default: the clock).
    """
    now = time.time() if now is None else now
    lower = {name.lower(): value for name, value in headers.items()}
    value = lower.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    value = lower.get("x-ratelimit-retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    value = lower.get("x-ratelimit-reset")
    if value:
        try:
            return max(0.0, float(value) - now)
        except ValueError:
            pass
    return None
