"""Walking ``GET /session``: the :class:`Page` value, the walk interface, and what every walk
strategy shares. Knows nothing about HTTP: a walk is given a page-fetch function.

The interface a walk strategy offers (:class:`Walk`)::

    walk(fetch, query, limit, concurrency) -> Iterator[Page]

``fetch(params, offset, limit)`` returns one :class:`Page` of the list endpoint for the query
parameters ``params`` (the walk adds its own: a time bound, a sort); ``query``
(:class:`WalkQuery`) is what to walk; ``limit`` the page size asked; ``concurrency`` the
requests a walk may have in flight. Every walk yields pages in its order with ``repeated``
set to the rows already yielded (drop them to count each session once).

Two strategies:

* :class:`~sessionkit.client.time_walk.TimeWalk` — keyset paging on ``start_time``
  (``sort=startTime`` with ``startBefore``/``startAfter``), concurrent by time slices. Rows
  inserted or deleted between requests, and ties in any order, lose nothing. Every walk
  without a row limit, and every walk in ``startTime`` order, is one.
* :class:`~sessionkit.client.offset_walk.OffsetWalk` — limit/offset in the server's order, for
  the top ``limit`` rows in another order (``created``, ``updated``, ``duration``) and the
  store's change feed (``updated``, newest first, until a watermark).

Imports: :mod:`sessionkit.errors`, :mod:`.retry`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import BadResponseError
from .retry import STOP_POLL_S

__all__ = [
    "PAGE_MAX",
    "PAGING_HINT",
    "Fetch",
    "Page",
    "Walk",
    "WalkQuery",
    "paging_error",
    "read_ahead",
]

PAGE_MAX = 100  # the spec: the official CLI never asks more than 100 per page

PAGING_HINT = (
    "The server at this base URL does not follow the paging contract of GET /session "
    "(limit/offset; sort=startTime with startAfter/startBefore). Check that base_url points at "
    "the Agentuity API or the emulator, not a proxy or mock that ignores the query string. "
    "Nothing was loaded from this walk."
)


@dataclass(frozen=True)
class Page:
    """One page of ``GET /session``: its offset, the raw body and the ids it held, in order.

    ``starts`` holds each row's ``start_time`` in nanoseconds since the epoch (``None`` where a
    row has none or it is unreadable; empty when the page was not read for times).

    In a walk, ``repeated`` holds the ids of the page's rows the walk yielded before (pages
    overlap on purpose; drop these rows to count each session once), and a time walk sets
    ``covered``: the ``start_time`` range ``(low, high)`` in nanoseconds, inclusive, whose
    every row (as of its request) has been yielded once this page is.
    """

    offset: int
    body: bytes
    ids: tuple[str, ...]
    repeated: frozenset[str] = frozenset()
    starts: tuple[int | None, ...] = ()
    covered: tuple[int, int] | None = None

    @property
    def rows(self) -> int:
        """Number of sessions on the page."""
        return len(self.ids)


#: ``fetch(params, offset, limit)``: one page of the list endpoint.
Fetch = Callable[[Mapping[str, str], int, int], Page]


@dataclass(frozen=True)
class WalkQuery:
    """What one walk reads: the list endpoint's query ``params`` (filters, sort, direction,
    the time window as ``startAfter``/``startBefore``), at most ``max_rows`` rows (``None``: to
    the end). An offset walk starts at row ``start``. ``ramp=True`` grows the look-ahead 1, 2,
    4, ... so a caller stopping after a page or two pays for a page or two. ``url`` names the
    endpoint in error messages."""

    params: Mapping[str, str] = field(default_factory=dict)
    start: int = 0
    max_rows: int | None = None
    ramp: bool = False
    url: str = "/session"


class Walk(Protocol):
    """A walk strategy: the pages of ``query``, in order, each with ``repeated`` set; setting
    ``stop`` ends it (no request is sent after it)."""

    def __call__(
        self,
        fetch: Fetch,
        query: WalkQuery,
        limit: int,
        concurrency: int,
        stop: threading.Event | None = None,
    ) -> Iterator[Page]: ...


def paging_error(message: str, url: str) -> BadResponseError:
    """The error of a server that does not page as the contract says (:data:`PAGING_HINT`)."""
    return BadResponseError(f"GET /session: {message}", method="GET", url=url, hint=PAGING_HINT)


def read_ahead(
    pages: Iterator[Page], depth: int, stop: threading.Event | None = None
) -> Iterator[Page]:
    """``pages``, advanced by a background thread up to ``depth`` pages ahead of the caller.

    A walk's generator only runs while it is being iterated; a caller that spends time on each
    batch of pages (parsing them into Arrow) would leave the walk idle meanwhile. Here the walk
    runs on, so fetching overlaps the caller's work. The walk's exception, if any, is raised
    to the caller when it reaches that point; stopping the iteration early stops the walk at
    its next page (at most ``depth`` pages were wasted). ``stop``, the walk's own stop event,
    is set when the caller stops (the walk then ends at once, not at its next page).
    The caller waits in slices of :data:`~.retry.STOP_POLL_S`, so Ctrl-C gets through.
    """
    buffer: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(depth)
    stop = stop or threading.Event()

    def put(item: tuple[Page | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put((page, None)):
                    return
            put((None, None))
        except BaseException as exc:  # handed to the caller, raised there
            put((None, exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="sessionkit-walk", daemon=True)
    thread.start()
    try:
        while True:
            try:
                page, error = buffer.get(timeout=STOP_POLL_S)
            except queue.Empty:
                continue
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
