"""The limit/offset walk of ``GET /session`` in the server's order, and its progress guard.

Used where the order is not ``start_time``: the top ``limit`` sessions by ``created``,
``updated`` or ``duration``, and the store's change feed (``updated``, newest first, until a
watermark). Every other walk is a :class:`~sessionkit.client.time_walk.TimeWalk`.

Offsets shift while the walk runs: a row inserted before a page's offset pushes it down (the
page repeats rows, harmless), a row deleted before it pulls it up (the page starts too far on
and would skip rows). Consecutive pages therefore overlap, and each page must *connect*: hold
at least one row the walk has seen. Under the one assumption an offset walk needs — the
server's order of the rows that remain does not change between requests (rows only appear or
disappear) — a page that connects leaves no gap: the rows before its first seen row are newer
arrivals, the rows after it continue where the walk stood. A page that does not connect is
fetched again (it may have been answered before its predecessor) and then the walk *steps
back* one page at a time until a page connects, and goes on from there: deletions during the
walk cost requests, never rows. Seen rows met again in another relative order mean the server
reorders rows (equal sort values shuffled between requests): after one re-fetch that is an
error naming the problem, not a silent loss.

Imports: :mod:`sessionkit.errors`, :mod:`.paging`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from ..errors import BadResponseError
from .paging import PAGE_MAX, PAGING_HINT, Fetch, Page, WalkQuery, paging_error
from .retry import STOP_POLL_S
from .workers import Workers

__all__ = ["OffsetWalk", "WalkGuard", "ignored_offset"]

logger = logging.getLogger("sessionkit")

WALK_REQUESTS_SLACK = 20  # idle pages a walk may read beyond twice its productive ones
WALK_STALE_PAGES = 3  # this many pages in a row repeating an earlier page: offset ignored
CAP_FLOOR = 5  # a later page cap below this is taken for arrivals (a first page's is kept)
REORDER_REFETCHES = 1  # a page showing seen rows in another order is asked again this often
STEP_BACK_MAX = 64  # pages a walk may step back to find where it stood


class WalkGuard:
    """The progress check of one offset walk.

    Every page handed on goes through :meth:`check`. A page is *productive* when at least a
    tenth of its rows (at least one) are ids the walk had not seen, else *idle*. The walk
    raises :class:`BadResponseError` when ``WALK_STALE_PAGES`` pages in a row at new
    offsets repeat an earlier page exactly (same ids, same order: the server ignores
    ``offset``), or when idle pages outnumber ``2 × productive + 20 + concurrency`` (it returns
    pages but the walk makes no progress: a server ignoring ``offset`` or ``limit`` some other
    way). Idle pages are legitimate one at a time — sessions arriving during a walk push rows
    down, pages overlap on purpose — and a busy live project keeps most pages productive.
    Requests that are not handed on are bounded already: ``concurrency`` in flight, a few
    re-fetches per page, at most ``STEP_BACK_MAX`` pages stepped back.
    """

    def __init__(self, url: str, concurrency: int) -> None:
        self.url, self.concurrency = url, concurrency
        #: every id handed on, with the position it was first handed on at
        self.seen: dict[str, int] = {}
        self.stale = self.productive = self.idle = 0
        self.pages: set[int] = set()  # hashes of the pages seen (ids in order)

    def check(self, page: Page, previous: Page | None) -> None:
        """Count ``page`` (handed on after ``previous``); raises ``BadResponseError`` when the
        walk is found not to progress."""
        new = len(self.seen)
        for i in page.ids:
            self.seen.setdefault(i, len(self.seen))
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


def _result(future: Future[Page], stop: threading.Event | None) -> Page | None:
    """``future``'s page, waited for in slices so ``stop`` (and Ctrl-C) gets through; ``None``
    once ``stop`` is set."""
    while True:
        if stop is not None and stop.is_set():
            return None
        try:
            return future.result(timeout=STOP_POLL_S)
        except FutureTimeout:
            continue


class OffsetWalk:
    """The limit/offset walk, ``concurrency`` page requests in flight; a
    :class:`~sessionkit.client.paging.Walk`.

    There is no total: pages are fetched ahead speculatively and the walk stops at the first
    page shorter than the page size. If the first page is short but not empty, one probe
    checks whether the server caps pages below ``limit``; if so the walk continues with the
    server's page size, so a low cap loses nothing. Consecutive pages overlap by a few rows
    (``size // 20``, at least 1) and each page must connect (the module docstring says why
    that loses nothing); ``on_refetch`` is called for every request asked again.
    """

    def __init__(self, on_refetch: Callable[[], None] | None = None) -> None:
        self.on_refetch = on_refetch

    def __call__(
        self,
        fetch: Fetch,
        query: WalkQuery,
        limit: int,
        concurrency: int,
        stop: threading.Event | None = None,
    ) -> Iterator[Page]:
        """The pages of ``query``, in order, guarded, with ``repeated`` set. Setting ``stop``
        (or closing the iterator) ends the walk: its workers send no further request."""
        guard = WalkGuard(query.url, concurrency)
        walk = self._walk(fetch, query, limit, concurrency, guard, stop)
        return self._guarded(walk, guard)

    @staticmethod
    def _guarded(pages: Iterator[Page], guard: WalkGuard) -> Iterator[Page]:
        previous: Page | None = None
        for page in pages:
            repeated = frozenset(i for i in page.ids if i in guard.seen)
            guard.check(page, previous)
            yield replace(page, repeated=repeated)
            previous = page

    def _walk(
        self,
        fetch: Fetch,
        query: WalkQuery,
        limit: int,
        concurrency: int,
        guard: WalkGuard,
        stop: threading.Event | None,
    ) -> Iterator[Page]:
        """The walk's pages without the ``repeated`` sets.

        A page shorter than the page size ends a walk only when the next offset is empty:
        a server may cap pages below ``limit`` from the first page on, or only from a later
        one (a full first page, then 50 rows a page); each short, non-empty page is followed
        by one probe at the next offset, and when that holds rows the walk has not seen (not
        merely rows pushed down by sessions arriving meanwhile) the walk continues with the
        server's page size (it can only shrink, so this happens at most ``limit`` times)."""
        size = min(limit, PAGE_MAX, query.max_rows or PAGE_MAX)
        first = self._pages_from(fetch, query, query.start, size, concurrency, guard, None, stop)
        short = yield from first
        previous_full = len(guard.seen) > (short.rows if short is not None else 0)
        while short is not None:  # a short page: the end, or a server capping pages
            probe = fetch(query.params, short.offset + short.rows, size)
            if not set(probe.ids) - guard.seen.keys():
                if probe.rows and probe.ids == short.ids:
                    # the same page at a new offset: a server ignoring offset? the guard
                    # tells after three in a row (arrivals would move or end the page)
                    yield probe
                    short = probe
                    continue
                return  # empty, or rows pushed down by arrivals: the end
            yield probe
            if probe.rows < short.rows or (short.rows < CAP_FLOOR and previous_full):
                # no cap: the end, and what arrived meanwhile (an ascending walk); a few rows
                # after full pages are arrivals too (no server caps pages at 1-4 rows later
                # on), and adapting to them would chase a live project at 1 row a page
                return
            logger.info("the server caps pages at %d rows (asked %d); adapting", short.rows, size)
            size = short.rows
            if query.max_rows is not None and len(guard.seen) >= query.max_rows:
                return
            if probe.rows < size:
                short = probe  # shorter still: probe past it too
                continue
            rest = self._pages_from(
                fetch, query, probe.offset + size, size, concurrency, guard, probe, stop
            )
            short = yield from rest

    def _pages_from(
        self,
        fetch: Fetch,
        query: WalkQuery,
        offset: int,
        size: int,
        concurrency: int,
        guard: WalkGuard,
        previous: Page | None,
        stop: threading.Event | None,
    ) -> Generator[Page, None, Page | None]:
        """Pages from ``offset`` on (after ``previous``, the last page handed on, if any),
        ``concurrency`` requests in flight, yielded in order; the walk's ids are
        ``guard.seen`` (updated as each page is handed on).

        Returns the page that ended the loop when it was short but not empty (the caller
        probes past it for a page cap); ``None`` when the walk is over (an empty page, or
        ``max_rows`` distinct rows handed on).
        """
        max_rows = query.max_rows
        overlap = max(1, size // 20) if size > 1 else 0
        step = size - overlap
        if previous is not None:
            offset -= overlap
        pool = Workers(concurrency, name="sessionkit-page")
        pending: dict[int, Future[Page]] = {}
        expect = offset  # where the next page to hand on starts
        window = 1 if query.ramp else concurrency
        yielded = 0
        try:
            while True:
                wanted = None if max_rows is None else max_rows - len(guard.seen)
                while len(pending) < window and (
                    wanted is None or offset - expect < wanted + overlap
                ):
                    pending[offset] = pool.submit(fetch, query.params, offset, size)
                    offset += step
                if not pending:
                    return None
                head = min(pending)
                page = _result(pending.pop(head), stop)
                if page is None:
                    return None  # the caller stopped the walk
                if previous is not None and previous.rows >= size and overlap:
                    # (1-row pages cannot overlap: nothing to check them by, a known limit)
                    page = self._connected(fetch, query, page, previous, size, step, guard)
                    if page.offset != head:  # stepped back: the offsets after it moved
                        for future in pending.values():
                            future.cancel()
                        pending.clear()
                        offset = page.offset + step
                yield page  # handed on: guard.seen now holds its ids
                previous, expect = page, page.offset + step
                yielded += 1  # look-ahead 1, 1, 2, 4, ... (only a third page is speculative)
                window = min(max(window, 2 ** (yielded - 1)), concurrency)
                if max_rows is not None and len(guard.seen) >= max_rows:
                    return None
                if page.rows < size:
                    return page if page.rows else None
        finally:
            pool.close()  # queued requests cancelled; running ones stop (Workers)

    def _refetch(self, fetch: Fetch, query: WalkQuery, offset: int, size: int) -> Page:
        """The page at ``offset`` asked again (counted through ``on_refetch``)."""
        if self.on_refetch:
            self.on_refetch()
        return fetch(query.params, offset, size)

    def _connected(
        self,
        fetch: Fetch,
        query: WalkQuery,
        page: Page,
        previous: Page,
        size: int,
        step: int,
        guard: WalkGuard,
    ) -> Page:
        """``page`` (after the full page ``previous``) when it connects; else the page that
        does: ``page`` asked again (it may have been answered before ``previous``), then the
        pages one step back at a time. Raises when the server is seen reordering rows, or
        when no page back to ``STEP_BACK_MAX`` steps connects."""
        if page.ids and page.ids == previous.ids:
            raise ignored_offset(query.url, page.offset, previous.offset)
        reorders = 0
        attempts = 0
        offset = page.offset
        while True:
            order = [guard.seen[i] for i in page.ids if i in guard.seen]
            if order and order != sorted(order):
                reorders += 1
                if reorders > REORDER_REFETCHES:
                    raise paging_error(
                        f"the page at offset {page.offset} returned sessions already seen in "
                        "another order than before: the server orders them differently on "
                        "each request (equal sort values shuffled?), so an offset walk in "
                        f"this order ({query.params.get('sort', 'created')}) cannot be "
                        "exact. Leave out limit= (every walk without a limit is keyed by "
                        "start_time, which survives this), or sort by startTime.",
                        query.url,
                    )
                page = self._refetch(fetch, query, offset, size)
                continue
            if order:
                return page
            attempts += 1
            if attempts == 1:  # answered before its predecessor? ask again, now after it
                logger.info("page at offset %d does not connect; fetching it again", offset)
                page = self._refetch(fetch, query, offset, size)
                continue
            # rows before the offset were deleted: the page starts too far on; step back
            if attempts > STEP_BACK_MAX + 1 or offset == 0:
                raise paging_error(
                    f"no page back to offset {offset} holds a session the walk had seen "
                    f"(from offset {previous.offset}); sessions are deleted faster than the "
                    "walk can follow, or the server does not keep its order.",
                    query.url,
                )
            offset = max(0, offset - step)
            logger.info("stepping back to offset %d (rows deleted during the walk)", offset)
            page = self._refetch(fetch, query, offset, size)
