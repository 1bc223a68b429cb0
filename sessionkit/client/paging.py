"""Walking ``GET /session`` page by page: the :class:`Page` value, the walk strategy and its
progress guard. Knows nothing about HTTP: a walk is given a page-fetch function.

The interface a walk strategy offers (:class:`Walk`)::

    walk(fetch, query, limit, concurrency) -> Iterator[Page]

``fetch(params, offset, limit)`` returns one :class:`Page` of the list endpoint for the query
parameters ``params`` (the walk may add its own, e.g. a time slice); ``query``
(:class:`WalkQuery`) is what to walk; ``limit`` the page size asked; ``concurrency`` the
requests a walk may have in flight. Every walk yields pages in order with ``repeated`` set,
and runs each page through :class:`WalkGuard`, which refuses a server that does not page.
:class:`OffsetWalk` is the strategy in use (limit/offset, speculative and concurrent).

Imports: :mod:`sessionkit.errors` only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..errors import BadResponseError

__all__ = [
    "PAGE_MAX",
    "Fetch",
    "OffsetWalk",
    "Page",
    "Walk",
    "WalkGuard",
    "WalkQuery",
    "read_ahead",
]

logger = logging.getLogger("sessionkit")

PAGE_MAX = 100  # the spec: the official CLI never asks more than 100 per page

WALK_REQUESTS_SLACK = 20  # idle pages a walk may read beyond twice its productive ones
WALK_STALE_PAGES = 3  # this many pages in a row repeating an earlier page: offset ignored
CAP_FLOOR = 5  # a later page cap below this is taken for arrivals (a first page's is kept)
PAGING_HINT = (
    "The server at this base URL does not follow the paging contract of GET /session "
    "(limit/offset: the page at offset N starts at the N-th session). Check that base_url points "
    "at the Agentuity API or the emulator, not a proxy or mock that ignores the query string; "
    "if sessions arrive faster than the walk reads them, narrow the walk (since=/until=, "
    "limit=) or sync a Store. Nothing was loaded from this walk."
)


@dataclass(frozen=True)
class Page:
    """One page of ``GET /session``: its offset, the raw body and the ids it held, in order.

    In a walk, ``repeated`` holds the ids the page shares with the walk's previous page
    (consecutive pages overlap on purpose; drop these rows to count each session once).
    """

    offset: int
    body: bytes
    ids: tuple[str, ...]
    repeated: frozenset[str] = frozenset()

    @property
    def rows(self) -> int:
        """Number of sessions on the page."""
        return len(self.ids)


#: ``fetch(params, offset, limit)``: one page of the list endpoint.
Fetch = Callable[[Mapping[str, str], int, int], Page]


@dataclass(frozen=True)
class WalkQuery:
    """What one walk reads: the list endpoint's query ``params`` (filters, sort), from row
    ``start``, at most ``max_rows`` rows (``None``: to the end). ``ramp=True`` grows the
    look-ahead 1, 2, 4, ... so a caller stopping after a page or two pays for a page or two.
    ``url`` names the endpoint in error messages."""

    params: Mapping[str, str] = field(default_factory=dict)
    start: int = 0
    max_rows: int | None = None
    ramp: bool = False
    url: str = "/session"


class Walk(Protocol):
    """A walk strategy: the pages of ``query``, in order, each with ``repeated`` set."""

    def __call__(
        self, fetch: Fetch, query: WalkQuery, limit: int, concurrency: int
    ) -> Iterator[Page]: ...


class WalkGuard:
    """The progress check of one walk.

    Every page handed on goes through :meth:`check`. A page is *productive* when at least a
    tenth of its rows (at least one) are ids the walk had not seen, else *idle*. The walk
    raises :class:`BadResponseError` when ``WALK_STALE_PAGES`` pages in a row at new
    offsets repeat an earlier page exactly (same ids, same order: the server ignores
    ``offset``), or when idle pages outnumber ``2 × productive + 20 + concurrency`` (it returns
    pages but the walk makes no progress: a server ignoring ``offset`` or ``limit`` some other
    way). Idle pages are legitimate one at a time — sessions arriving during a walk push rows
    down, pages overlap on purpose — and a busy live project keeps most pages productive.
    Requests that are not handed on are bounded already: ``concurrency`` in flight, 3
    re-fetches per page.
    """

    def __init__(self, url: str, concurrency: int) -> None:
        self.url, self.concurrency = url, concurrency
        self.seen: set[str] = set()
        self.stale = self.productive = self.idle = 0
        self.pages: set[int] = set()  # hashes of the pages seen (ids in order)

    def check(self, page: Page, previous: Page | None) -> None:
        """Count ``page`` (handed on after ``previous``); raises ``BadResponseError`` when the
        walk is found not to progress."""
        new = len(self.seen)
        self.seen.update(page.ids)
        digest = hash(page.ids)
        repeat = digest in self.pages
        self.pages.add(digest)
        if not page.rows:
            return
        if len(self.seen) - new >= max(1, page.rows // 10):
            self.productive += 1
        else:
            self.idle += 1
            allowed = 2 * self.productive + WALK_REQUESTS_SLACK + self.concurrency
            if self.idle > allowed:
                raise BadResponseError(
                    f"GET /session made no progress: {self.idle:,} pages up to offset "
                    f"{page.offset} brought (almost) no session the walk had not seen, against "
                    f"{self.productive:,} that did (at most twice as many plus "
                    f"{allowed - 2 * self.productive} are allowed); the server ignores offset or "
                    "limit, paging cannot continue.",
                    method="GET",
                    url=self.url,
                    hint=PAGING_HINT,
                )
        if previous is None or len(self.seen) > new or not repeat:
            self.stale = 0
            return
        self.stale += 1
        if self.stale >= WALK_STALE_PAGES:
            run = f"{self.stale} pages in a row up to offset {page.offset}"
            raise ignored_offset(self.url, page.offset, previous.offset, run)


def ignored_offset(url: str, offset: int, previous: int, run: str = "") -> BadResponseError:
    """The error of a walk whose page at ``offset`` repeats what earlier pages held."""
    return BadResponseError(
        f"GET /session: the server ignored offset={offset}: the page at offset {offset} "
        f"returned only sessions already seen on earlier pages (offset {previous} and "
        f"before{'; ' + run if run else ''}), paging cannot continue.",
        method="GET",
        url=url,
        hint=PAGING_HINT,
    )


def guarded(pages: Iterator[Page], url: str, concurrency: int) -> Iterator[Page]:
    """``pages`` (a walk's, in order) checked by one :class:`WalkGuard`, each with
    ``repeated`` set to the ids it shares with the page before it."""
    guard = WalkGuard(url, concurrency)
    previous: Page | None = None
    for page in pages:
        guard.check(page, previous)
        if previous is not None:
            page = replace(page, repeated=frozenset(previous.ids) & frozenset(page.ids))
        yield page
        previous = page


class OffsetWalk:
    """The limit/offset walk, ``concurrency`` page requests in flight; a :class:`Walk`.

    There is no total: pages are fetched ahead speculatively and the walk stops at the first
    page shorter than the page size. If the first page is short but not empty, one probe
    checks whether the server caps pages below ``limit``; if so the walk continues with the
    server's page size, so a low cap loses nothing. Consecutive pages overlap by a few rows
    (``size // 20``, at least 1), and each page must contain the last id of the page before
    it: pages fetched concurrently are answered at different moments, so while sessions arrive
    a page fetched *before* its predecessor can start too far on and skip rows; the overlap
    detects that and the page is fetched again (now after its predecessor, so it can only
    start earlier). ``on_refetch`` is called for every such second request.
    """

    def __init__(self, on_refetch: Callable[[], None] | None = None) -> None:
        self.on_refetch = on_refetch

    def __call__(
        self, fetch: Fetch, query: WalkQuery, limit: int, concurrency: int
    ) -> Iterator[Page]:
        """The pages of ``query``, in order, guarded, with ``repeated`` set."""
        return guarded(self._walk(fetch, query, limit, concurrency), query.url, concurrency)

    def _walk(self, fetch: Fetch, query: WalkQuery, limit: int, concurrency: int) -> Iterator[Page]:
        """The walk's pages without the guard and the ``repeated`` sets.

        A page shorter than the page size ends a walk only when the next offset is empty:
        a server may cap pages below ``limit`` from the first page on, or only from a later
        one (a full first page, then 50 rows a page); each short, non-empty page is followed
        by one probe at the next offset, and when that holds rows the walk has not seen (not
        merely rows pushed down by sessions arriving meanwhile) the walk continues with the
        server's page size (it can only shrink, so this happens at most ``limit`` times)."""
        max_rows = query.max_rows
        size = min(limit, PAGE_MAX, max_rows or PAGE_MAX)
        seen: set[str] = set()
        reach = [query.start]  # the offset past the furthest row handed on
        first = self._pages_from(fetch, query, query.start, size, max_rows, concurrency)
        short = yield from _counted(first, seen, reach)
        previous_full = len(seen) > (short.rows if short is not None else 0)
        while short is not None:  # a short page: the end, or a server capping pages
            probe = fetch(query.params, reach[0], size)
            if not set(probe.ids) - seen:
                if probe.rows and probe.ids == short.ids:
                    # the same page at a new offset: a server ignoring offset? the guard
                    # tells after three in a row (arrivals would move or end the page)
                    reach[0] += probe.rows
                    yield probe
                    short = probe
                    continue
                return  # empty, or rows pushed down by arrivals: the end
            seen.update(probe.ids)
            reach[0] = probe.offset + probe.rows
            yield probe
            if probe.rows < short.rows or (short.rows < CAP_FLOOR and previous_full):
                # no cap: the end, and what arrived meanwhile (an ascending walk); a few rows
                # after full pages are arrivals too (no server caps pages at 1-4 rows later
                # on), and adapting to them would chase a live project at 1 row a page
                return
            logger.info("the server caps pages at %d rows (asked %d); adapting", short.rows, size)
            size = short.rows
            remaining = None if max_rows is None else max_rows - len(seen)
            if remaining is not None and remaining <= 0:
                return
            if probe.rows < size:
                short = probe  # shorter still: probe past it too
                continue
            rest = self._pages_from(
                fetch, query, probe.offset + size, size, remaining, concurrency, previous=probe
            )
            short = yield from _counted(rest, seen, reach)

    def _pages_from(
        self,
        fetch: Fetch,
        query: WalkQuery,
        offset: int,
        size: int,
        max_rows: int | None,
        concurrency: int,
        *,
        previous: Page | None = None,
    ) -> Generator[Page, None, Page | None]:
        """Pages from ``offset`` on, ``concurrency`` requests in flight, yielded in order.

        Returns the page that ended the loop when it was short but not empty (the caller
        probes past it for a page cap); ``None`` when the walk is over (an empty page, or
        ``max_rows`` reached).
        """
        overlap = max(1, size // 20) if size > 1 else 0
        step = size - overlap
        if previous is not None:
            offset -= overlap
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sessionkit-page")
        pending: dict[int, Future[Page]] = {}
        start, seen = offset, 0
        window, yielded = (1 if query.ramp else concurrency), 0
        try:
            while True:
                while len(pending) < window and (
                    max_rows is None or offset - start < max_rows + overlap
                ):
                    pending[offset] = pool.submit(fetch, query.params, offset, size)
                    offset += step
                head = min(pending)
                page = pending.pop(head).result()
                page = self._continuous(fetch, query, page, previous, size, overlap)
                yield page
                seen += page.rows - (overlap if previous is not None else 0)
                previous = page
                yielded += 1  # look-ahead 1, 1, 2, 4, ... (only a third page is speculative)
                window = min(max(window, 2 ** (yielded - 1)), concurrency)
                if max_rows is not None and seen >= max_rows:
                    return None
                if page.rows < size:
                    return page if page.rows else None
        finally:
            for future in pending.values():
                future.cancel()
            # requests already on the wire finish in the background; their pages are not needed
            pool.shutdown(wait=False, cancel_futures=True)

    def _refetch(self, fetch: Fetch, query: WalkQuery, page: Page, size: int) -> Page:
        """``page`` asked again (counted through ``on_refetch``)."""
        if self.on_refetch:
            self.on_refetch()
        return fetch(query.params, page.offset, size)

    def _continuous(
        self,
        fetch: Fetch,
        query: WalkQuery,
        page: Page,
        previous: Page | None,
        size: int,
        overlap: int,
    ) -> Page:
        """``page``, fetched again if it does not overlap ``previous`` (rows would be skipped)
        or is empty (an empty end may have been answered before ``previous``, above rows
        pushed down since; a non-empty one proves itself by the overlap)."""
        if previous is None or not overlap or previous.rows < size:
            return page
        if not page.rows:  # at most one request per walk: the end, asked again after `previous`
            page = self._refetch(fetch, query, page, size)
            if not page.rows:
                return page
        if page.ids == previous.ids:
            raise ignored_offset(query.url, page.offset, previous.offset)
        for _ in range(3):
            if previous.ids[-1] in page.ids:
                return page
            logger.info(
                "page at offset %d does not overlap its predecessor; fetching it again", page.offset
            )
            page = self._refetch(fetch, query, page, size)
        if previous.ids[-1] not in page.ids:
            logger.warning(
                "GET /session pages at offsets %d and %d do not overlap even when re-fetched "
                "(sessions deleted during the walk?); rows between them may be missing",
                previous.offset,
                page.offset,
            )
        return page


def _counted(
    pages: Generator[Page, None, Page | None], seen: set[str], reach: list[int]
) -> Generator[Page, None, Page | None]:
    """``pages``, each page's ids added to ``seen`` and ``reach[0]`` moved past its last row
    as it is handed on; returns what ``pages`` returns. Closing this closes ``pages`` (its
    pool stops)."""
    try:
        while True:
            try:
                page = next(pages)
            except StopIteration as stop:
                return stop.value
            seen.update(page.ids)
            reach[0] = max(reach[0], page.offset + page.rows)
            yield page
    finally:
        pages.close()


def read_ahead(pages: Iterator[Page], depth: int) -> Iterator[Page]:
    """``pages``, advanced by a background thread up to ``depth`` pages ahead of the caller.

    A walk's generator only asks for more pages while it is being iterated; a caller that
    spends time on each batch of pages (parsing them into Arrow) would leave the connection
    idle meanwhile. Here the walk runs on, so fetching overlaps the caller's work. The walk's
    exception, if any, is raised to the caller when it reaches that point; stopping the
    iteration early stops the walk at its next page (at most ``depth`` pages were wasted).
    """
    buffer: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

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
            page, error = buffer.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
