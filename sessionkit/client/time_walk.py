"""Keyset paging of ``GET /session`` on ``start_time``, concurrent by time slices.

Why
---
Offset paging over a live project loses rows: a session deleted between two requests pulls
every later row up by one, so the next page starts one row too far; a server that orders equal
sort values differently on each request hands out a different subset of a tie at each page
boundary. Keyset paging asks for rows *older than the oldest row seen* instead of *the next
N rows*, so neither moves anything: ``sort=startTime&direction=desc&startBefore=<cursor>``.

The walk
--------
A walk runs newest first (or oldest first when the caller asked ``sort=startTime,
direction=asc``; the code sees time through :class:`_Axis`, in which every walk moves from
high to low). Its range is cut into *slices*, each walked sequentially from its top by keyset
requests; up to ``concurrency`` slices run at once, in threads. A slice ends when a full page
reaches below its bottom (the rows past it are the next slice's, fetched again there and
dropped as repeats) or at a short page (nothing is older). Pages are yielded in walk order:
slice after slice, so a caller reads the walk newest first and the memory held for pages of
slices ahead of the one being read is bounded (``READ_AHEAD_PAGES``).

Slices are made by splitting: the first slice starts as the whole walk; once its first page and
a probe for the far end (the oldest session, ``limit=1``) have answered, free workers split off
the lower part of the last slice (a chunk of ``P`` pages by the density seen so far stays with
it), and when no new slice can be made, the running slice with the most rows left is cut in
two. ``P`` grows with the walk (2 pages at first, up to 64), so a walk of a few pages stays a
few requests and a walk of a million rows pays for a few hundred slice boundaries.

What makes it exact
-------------------
* The cursor is the oldest ``start_time`` on the last full page; the next request asks for rows
  before the cursor plus ``MARGIN_NS`` (1 ms), so the rows *at* the cursor (a tie of any size
  under a page, in any order) are asked again and every row is met; repeats are dropped by id.
  Inserts and deletes between requests move nothing: a request only names a time.
* Each page must *connect*: hold a row at or after the cursor (the rows at the cursor exist;
  a page without them means a server that rounds ``startBefore`` coarser than the margin, or
  those rows were deleted). A page that does not connect is asked again with a 1 s margin; if
  that finds rows the first answer lacked, the server rounds, and the rest of the walk uses
  the 1 s margin. The same check joins consecutive slices.
* More rows than a page between two instants a margin apart (a burst, or a tie of a page or
  more) is a *dense window*: it is read by offset within that window, twice, and accepted only
  when a second reading finds nothing the first missed (else a third and a fourth; a server
  that never repeats itself there is refused by name).
* A short page ends the walk only where nothing can be older: at the far end the probe found,
  or when one more request past it finds no row the walk lacks; otherwise the server caps
  pages below ``limit`` and the walk goes on with that size.
* A server that answers rows outside the bounds it was sent, or not in ``start_time`` order,
  is refused by name (it ignores the query string; no walk over it can be exact).

Sessions without a readable ``start_time`` cannot be reached by a time bound; rows of them on
a page are yielded (each once), and a full page without any dated row is refused by name.

Imports: :mod:`sessionkit.timestamps`, :mod:`.paging`.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from functools import partial

from .. import timestamps
from .paging import PAGE_MAX, Fetch, Page, WalkQuery, paging_error
from .retry import STOP_POLL_S, Stopped
from .workers import Workers

__all__ = ["MARGIN_NS", "TimeWalk"]

logger = logging.getLogger("sessionkit")

MARGIN_NS = 1_000_000  # 1 ms: what a cursor is widened by (exclusive bounds, µs/ms precision)
COARSE_MARGIN_NS = 1_000_000_000  # 1 s: after a server is found rounding bounds coarser
SLICE_PAGES = (2, 64)  # pages a new slice is cut for: at least, at most
READ_AHEAD_PAGES = 256  # pages held for slices ahead of the one being read: no new slice past
DENSE_PASSES = 4  # readings of a dense window before an unstable one is refused
STEP_BACKS = 64  # pages a dense reading may step back in a row (rows deleted under it)
_INF = math.inf


class _Axis:
    """Time as a walk sees it: ``x = t`` newest first, ``x = -t`` oldest first, so every walk
    moves from high ``x`` to low ``x``. ``near`` is the query parameter that bounds the cursor
    side (``startBefore`` newest first), ``far`` the other."""

    def __init__(self, desc: bool) -> None:
        self.desc = desc
        self.near, self.far = (
            ("startBefore", "startAfter") if desc else ("startAfter", "startBefore")
        )
        self.direction = "desc" if desc else "asc"

    def x(self, t: int) -> int:
        return t if self.desc else -t

    def t(self, x: float) -> int:
        return int(x) if self.desc else -int(x)


@dataclass(eq=False)
class _Slice:
    """One part of the walk: rows with ``bottom <= x < top`` (``x`` as :class:`_Axis`),
    walked from ``top`` down. ``last``: no slice below it (it walks to the end)."""

    top: float
    bottom: float
    last: bool
    cursor: float = _INF  # the lowest x the slice has reached (its frontier)
    started: bool = False
    done: bool = False
    error: BaseException | None = None
    pages: deque[tuple[Page, list[int | None]]] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    rows: int = 0  # rows fetched
    span: float = 0.0  # x covered by its full pages (for the density)


class TimeWalk:
    """Keyset paging on ``start_time`` in concurrent time slices; a
    :class:`~sessionkit.client.paging.Walk`. The module docstring says how and why.

    ``on_refetch`` is called for every request that re-reads what the walk asked before
    (a connection check, a cap probe, a dense window's second reading). ``stats`` counts the
    walk's requests by kind (``pages``, ``probes``, ``slices``, ``dense``, ``refetches``).
    """

    def __init__(self, on_refetch: Callable[[], None] | None = None) -> None:
        self.on_refetch = on_refetch
        self.stats: dict[str, int] = {"walks": 0, "slices": 0, "requests": 0}
        self._stats_lock = threading.Lock()

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to ``stats[name]``."""
        with self._stats_lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def __call__(
        self,
        fetch: Fetch,
        query: WalkQuery,
        limit: int,
        concurrency: int,
        stop: threading.Event | None = None,
    ) -> Iterator[Page]:
        """The pages of ``query`` in walk order, each with ``repeated`` and ``covered`` set.
        Setting ``stop`` (or closing the iterator, or an exception in it) ends the walk: its
        workers send no further request (:class:`~sessionkit.client.workers.Workers`)."""
        self.count("walks")
        return _Run(self, fetch, query, limit, concurrency, stop).pages()


class _Run:
    """One walk: its slices, the shared state the workers and the reader meet in."""

    def __init__(
        self,
        owner: TimeWalk,
        fetch: Fetch,
        query: WalkQuery,
        limit: int,
        concurrency: int,
        cancel: threading.Event | None,
    ) -> None:
        self.owner, self.fetch, self.query = owner, fetch, query
        self.cancel = cancel  # the caller's stop
        self.concurrency = concurrency
        self.size = min(limit, PAGE_MAX, query.max_rows or PAGE_MAX)
        self.full_rows = self.size  # rows that make a page full (lower when the server caps)
        self.longest = 0  # the most rows any page had
        params = dict(query.params)
        desc = not (params.get("sort") == "startTime" and params.get("direction") == "asc")
        self.axis = _Axis(desc)
        near = params.pop(self.axis.near, None)
        far = params.get(self.axis.far)
        self.near_x = _INF if near is None else self._bound_x(near, self.axis.near)
        self.far_x = -_INF if far is None else self._bound_x(far, self.axis.far)
        params.update(sort="startTime", direction=self.axis.direction)
        self.params: dict[str, str] = params
        self.margin = MARGIN_NS
        self.lock = threading.Condition()
        self.pool = Workers(concurrency, name="sessionkit-slice")
        self.stop = self.pool.stop  # set when the walk ends: its workers send nothing more
        self.slices: list[_Slice] = [_Slice(top=self.near_x, bottom=-_INF, last=True)]
        self.far_end: float | None = None  # x of the far end (the probe's answer)
        self.far_probe: Future[None] | None = None
        self.far_known = False
        self.densities: deque[tuple[int, float]] = deque(maxlen=16)  # (rows, x span) of pages
        self.yielded_pages = 0
        self.running = 0
        self.slice_pages: int | None = None  # pages a new slice is cut for (set at the first cut)
        self.yielded: set[str] = set()  # ids yielded (the reader's)
        self.top: int | None = None  # x of the first dated row yielded
        self.floor: float = _INF  # every row with x >= floor has been yielded

    def _bound_x(self, text: str, name: str) -> int:
        ns = timestamps.parse_one(text)
        if ns is None:
            raise paging_error(f"{name}={text!r} is not an RFC 3339 time", self.query.url)
        return self.axis.x(ns)

    # ------------------------------------------------------------------ requests

    def _request(
        self, near_x: float, *, far_x: float | None = None, offset: int = 0
    ) -> tuple[Page, list[int | None]]:
        """One page: rows with ``x < near_x`` (and ``x > far_x``), checked: inside the bounds
        asked (give or take 1 s of rounding) and in ``start_time`` order."""
        if self.stop.is_set():
            raise Stopped("the walk has ended")
        params = dict(self.params)
        near = min(near_x, self.near_x)
        if near < _INF:
            params[self.axis.near] = timestamps.format_ns(self.axis.t(near))
        low = self.far_x if far_x is None else max(far_x, self.far_x)
        if far_x is not None and low > -_INF:
            params[self.axis.far] = timestamps.format_ns(self.axis.t(low))
        self.owner.count("requests")
        page = self.fetch(params, offset, self.size)
        xs = self._xs(page)
        self._check(page, xs, near, low)
        return page, xs

    def _xs(self, page: Page) -> list[int | None]:
        starts = page.starts if len(page.starts) == page.rows else (None,) * page.rows
        return [None if t is None else self.axis.x(t) for t in starts]

    def _check(self, page: Page, xs: list[int | None], near: float, low: float) -> None:
        dated = [x for x in xs if x is not None]
        if not dated:
            return
        slack = COARSE_MARGIN_NS
        if max(dated) >= near + slack or min(dated) <= low - slack:
            raise paging_error(
                f"asked for sessions that started {'before' if self.axis.desc else 'after'} "
                f"{timestamps.format_ns(self.axis.t(near))}"
                + (
                    ""
                    if low == -_INF
                    else f" and {'after' if self.axis.desc else 'before'} "
                    f"{timestamps.format_ns(self.axis.t(low))}"
                )
                + ", the server answered sessions outside that window: it ignores "
                f"{self.axis.near}/{self.axis.far}, so no walk over it can be exact.",
                self.query.url,
            )
        if any(b > a for a, b in itertools.pairwise(dated)):
            raise paging_error(
                f"asked for sort=startTime&direction={self.axis.direction}, the server "
                "answered sessions in another order: it ignores sort, so no walk over it can "
                "be exact.",
                self.query.url,
            )

    def _refetched(self) -> None:
        self.owner.count("refetches")
        if self.owner.on_refetch is not None:
            self.owner.on_refetch()

    # ------------------------------------------------------------------ slices (workers)

    def _start(self, sl: _Slice) -> None:
        self.owner.count("slices")
        sl.started = True
        self.running += 1
        future = self.pool.submit(self._walk_slice, sl)
        future.add_done_callback(partial(self._finished, sl))

    def _finished(self, sl: _Slice, future: Future[None]) -> None:
        with self.lock:
            error = None if future.cancelled() else future.exception()
            if error is not None and not isinstance(error, Stopped):
                sl.error = error
            sl.done = True
            self.running -= 1
            self.lock.notify_all()

    def _push(self, sl: _Slice, page: Page, xs: list[int | None]) -> None:
        sl.seen.update(page.ids)
        dated = [x for x in xs if x is not None]
        with self.lock:
            sl.pages.append((page, xs))
            sl.rows += page.rows
            self.longest = max(self.longest, page.rows)
            if page.rows >= self.full_rows and len(dated) > 1:
                span = max(dated) - min(dated)
                sl.span += span
                self.densities.append((page.rows, float(span)))
            if dated:
                sl.cursor = min(sl.cursor, min(dated))
            self.lock.notify_all()

    def _walk_slice(self, sl: _Slice) -> None:
        """Walk ``sl`` from its top down until a full page reaches ``COARSE_MARGIN_NS`` below
        its bottom (read under the lock: a split may raise it meanwhile; the second below it
        is read twice, so a server rounding the next slice's first bound by up to 1 s leaves
        no gap between them) or a short page ends the walk."""
        cursor: float = sl.top  # the next request asks for x < cursor + margin
        anchor: float | None = None  # the lowest x of the last full page: the next must reach it
        while True:
            near = cursor + self.margin if cursor < _INF else _INF
            page, xs = self._request(near)
            if anchor is not None and not self._connects(xs, anchor):
                page, xs = self._gap(sl, anchor, page, xs)
            self._push(sl, page, xs)
            dated = [x for x in xs if x is not None]
            if page.rows < self.full_rows and (
                not page.rows or not self._past_short(sl, page, dated)
            ):
                return  # nothing before the bound, or nothing past the page
            if not dated:
                raise paging_error(
                    f"a full page of {page.rows} sessions had no readable start_time; "
                    "sessions cannot be paged by time without it.",
                    self.query.url,
                )
            frontier = min(dated)
            with self.lock:
                bottom = sl.bottom
            if frontier < bottom - COARSE_MARGIN_NS:
                return  # a second into the next slice
            if cursor < _INF and frontier >= cursor:  # a page of rows within a margin
                passed = self._dense(sl, cursor)
                if passed is None:
                    return  # the rows ended within it
                frontier = int(passed)
                with self.lock:
                    bottom = sl.bottom
                if frontier < bottom - COARSE_MARGIN_NS:
                    return
            cursor = anchor = frontier

    @staticmethod
    def _connects(xs: list[int | None], anchor: float) -> bool:
        return any(x is not None and x >= anchor for x in xs)

    def _gap(
        self, sl: _Slice, anchor: float, page: Page, xs: list[int | None]
    ) -> tuple[Page, list[int | None]]:
        """``page`` was asked for rows before ``anchor`` plus the margin and holds none at or
        after the anchor (which exists: it is the lowest row of the page before). Ask again
        with a 1 s margin: when that finds rows at or before the anchor that the walk lacks, or
        cannot tell (a full page not reaching below the anchor), the server rounds its bounds coarser than
        the margin, and the walk keeps 1 s from now on, going on from the wider page. When it
        finds nothing missing, the rows at the anchor were deleted meanwhile: ``page`` stands."""
        self._refetched()
        wide, wide_xs = self._request(anchor + COARSE_MARGIN_NS)
        taken = sl.seen | set(page.ids)
        missed = any(
            i not in taken and x is not None and x <= anchor
            for i, x in zip(wide.ids, wide_xs, strict=True)
        )
        # a full page that does not reach below the anchor cannot show what is missing there
        # (as long as any page the server gave: a page cap not found yet cannot tell either)
        unsure = wide.rows >= min(self.full_rows, self.longest) and all(
            x is None or x >= anchor for x in wide_xs
        )
        if not (missed or unsure):
            return page, xs
        if self.margin < COARSE_MARGIN_NS:
            logger.warning(
                "the server rounds startAfter/startBefore coarser than %g ms; the walk widens "
                "its bounds to 1 s (more repeated rows, nothing lost)",
                self.margin / 1e6,
            )
            self.margin = COARSE_MARGIN_NS
        return wide, wide_xs

    def _past_short(self, sl: _Slice, page: Page, dated: list[int]) -> bool:
        """After a short, non-empty ``page``: whether the server caps pages below ``limit``
        (then the walk adopts the cap and goes on) rather than having nothing older.

        Asks for the rows from the page's lowest row on (its ``x`` plus the margin): an honest
        end answers only rows the walk has; a server that caps answers rows past the cap.
        When that answer is as long as the page and holds only rows at the lowest one (a cap as
        tight as the rows there), it asks for the rows strictly below it, then (a tie as wide
        as the cap) the same question at the offset past them. Keyset first, so rows deleted
        meanwhile shift nothing that is asked."""
        if not dated:
            return False  # rows without a time: nothing to page past
        low = min(dated)
        self._refetched()
        probe, probe_xs = self._request(low + self.margin)
        if not self._connects(probe_xs, low):
            probe, probe_xs = self._gap(sl, low, probe, probe_xs)
        more = self._new_below(sl, probe, probe_xs, low)
        self._await_far_end()
        with self.lock:
            oldest = self.far_end is not None and low <= self.far_end  # nothing is below it
        capped = probe.rows and probe.rows >= page.rows  # as long as the page: maybe a cap
        if not more and capped and all(x is None or x >= low for x in probe_xs):
            # only rows at or above the lowest one came back, as many as a page: a cap that
            # tight hides what is below them (ask for that alone, unless it is the oldest row
            # there is) or the rest of a tie as wide as the cap (ask past it by offset)
            if not oldest:
                self._refetched()
                below, below_xs = self._request(low)
                more = self._new_below(sl, below, below_xs, low)
            if not more:
                self._refetched()
                beyond, beyond_xs = self._request(low + self.margin, offset=probe.rows)
                more = self._new_below(sl, beyond, beyond_xs, low)
        if more and probe.rows >= page.rows:
            # (a shorter answer is no cap: rows that appeared below meanwhile, read on)
            self._adopt_cap(page.rows)
        return more

    def _await_far_end(self) -> None:
        """Wait for the far-end probe when one is on its way (it was sent with the first
        page: it saves asking past a short page whether anything is older)."""
        probe = self.far_probe
        if probe is None:
            return
        started = time.monotonic()
        while not (probe.running() or probe.done()):  # a free worker takes it at once
            if time.monotonic() - started > STOP_POLL_S or self.stop.is_set():
                return  # queued behind the walk's own work: go on without it
            time.sleep(0.001)
        while not probe.done() and not self.stop.is_set():
            try:
                probe.exception(timeout=STOP_POLL_S)
            except FutureTimeout:
                continue

    def _past_short_offset(self, sl: _Slice, page: Page, near: float, offset: int) -> bool:
        """Within a dense window read by offset: whether rows follow the short ``page`` at
        ``offset`` (a cap, adopted), asked at the offset past it."""
        self._refetched()
        probe, probe_xs = self._request(near, offset=offset + page.rows)
        low = min((x for x in self._xs(page) if x is not None), default=_INF)
        more = self._new_below(sl, probe, probe_xs, low)
        if more:
            self._adopt_cap(page.rows)
        return more

    @staticmethod
    def _new_below(sl: _Slice, page: Page, xs: list[int | None], low: float) -> bool:
        """Whether ``page`` holds a row at or below ``low`` that ``sl`` has not read (rows
        above it come from a margin or the slice above, and prove nothing)."""
        return any(
            i not in sl.seen and (x is None or x <= low) for i, x in zip(page.ids, xs, strict=True)
        )

    def _adopt_cap(self, rows: int) -> None:
        """Take ``rows`` as the server's page size (it answered that many when more exist):
        a page of that many rows is full from now on."""
        if rows < self.full_rows:
            logger.info("the server caps pages at %d rows (asked %d); adapting", rows, self.size)
            self.full_rows = rows

    def _dense(self, sl: _Slice, cursor: float) -> float | None:
        """Read past a *dense window* — more than a page of rows within a margin of
        ``cursor`` — by offset under the same bound (``cursor`` plus the margin), page after
        page until one reaches a margin below ``cursor``. Returns that page's lowest ``x``
        (the walk goes on by keyset from there), or ``None`` when the rows ended first.

        Each page starts where the tie the previous page ended in starts (at least a quarter of
        a page back), so ties narrower than a page are read whole in any order. The reading is
        repeated until two in a row agree on the rows within the window (the later holds the
        earlier's, less any deleted meanwhile — and in the same order, where a page was a single
        tie: a tie wider than a page can only be read by offset if the server keeps its order);
        a server that never agrees is refused after ``DENSE_PASSES`` readings."""
        near, low = cursor + self.margin, cursor - self.margin
        before: list[str] | None = None
        for reading in range(DENSE_PASSES):
            if reading:
                self._refetched()
            order: list[str] = []
            where: dict[str, int | None] = {}
            offset, previous = 0, None
            end: float | None = None
            backs = 0
            exact = False
            while True:
                page, xs = self._request(near, offset=offset)
                full = self.full_rows  # (a page cap found meanwhile lowers it)
                step = max(1, full - max(1, full // 4))
                if full > 1 and previous is not None and not (set(page.ids) & set(previous.ids)):
                    # (1-row pages cannot overlap: nothing to check them by, a known limit)
                    backs += 1  # rows deleted meanwhile moved the rest up: step back
                    if backs > STEP_BACKS:
                        raise paging_error(
                            "more than a page of sessions started within "
                            f"{2 * self.margin / 1e6:g} ms of "
                            f"{timestamps.format_ns(self.axis.t(cursor))}, and no page back "
                            f"to offset {offset} overlaps the last one read: sessions are "
                            "deleted faster than they can be read.",
                            self.query.url,
                        )
                    offset = max(0, offset - step)
                    continue
                if not backs and page.rows >= full and all(i in where for i in page.ids):
                    raise paging_error(
                        f"the page at offset {offset} past "
                        f"{timestamps.format_ns(self.axis.t(near))} repeated rows already "
                        "read: the server ignores offset.",
                        self.query.url,
                    )
                backs = 0
                self._push(sl, page, xs)
                for i, x in zip(page.ids, xs, strict=True):
                    if i not in where:
                        where[i] = x
                        order.append(i)
                dated = [x for x in xs if x is not None]
                if page.rows < full:
                    if not page.rows or not self._past_short_offset(sl, page, near, offset):
                        break  # the rows ended
                    full = self.full_rows  # a cap: read on at its size
                    step = max(1, full - max(1, full // 4))
                if dated and min(dated) < low:
                    end = min(dated)
                    break
                # the next page starts no later than the tie the page ends in, so a tie is
                # read whole on one page in whatever order the server gives it; a page that
                # is one tie throughout may be part of a wider one: that window must then
                # read the same, row for row, twice
                tie = _trailing_tie(xs)
                if tie == 0:
                    exact = True
                offset, previous = offset + max(1, min(step, tie or step)), page
            window = [i for i in order if (x := where[i]) is None or x >= low]
            if before is not None:
                now = set(window)
                agree = now <= set(before)
                if agree and exact:
                    agree = window == [i for i in before if i in now]
                if agree:
                    return end
            before = window
        raise paging_error(
            f"more than a page of sessions started within {2 * self.margin / 1e6:g} ms of "
            f"{timestamps.format_ns(self.axis.t(cursor))}, and {DENSE_PASSES} readings of "
            "them by offset never agreed: the server orders them differently on each "
            "request, so they cannot be read exactly "
            f"({len(before or ()):,} in the last reading).",
            self.query.url,
        )

    # ------------------------------------------------------------------ the reader

    def pages(self) -> Iterator[Page]:
        """Yield every slice's pages in walk order; start and split slices as workers free
        up; stop the workers when the caller stops."""
        max_rows = self.query.max_rows
        probe: Future[None] | None = None
        try:
            if self.far_x > -_INF:  # the walk's own bound is its far end
                self.far_end, self.far_known = self.far_x, True
            elif self.concurrency > 1 and (max_rows is None or max_rows > self.size):
                # (it serves the cutting into slices: one worker walks alone); sent first,
                # so the first page's worker finds it on its way
                probe = self.far_probe = self.pool.submit(self._probe_far_end)
            with self.lock:
                self._start(self.slices[0])
            head = 0
            while head < len(self.slices):
                with self.lock:
                    while True:
                        sl = self.slices[head]
                        if sl.pages or sl.done:
                            break
                        if self.cancel is not None and self.cancel.is_set():
                            return
                        self._schedule(probe)
                        self.lock.wait(STOP_POLL_S)
                    if sl.error is not None and not sl.pages:
                        raise sl.error
                    if probe is not None and probe.done() and not probe.cancelled():
                        error = probe.exception()
                        if error is not None and not isinstance(error, Stopped):
                            raise error
                    item = sl.pages.popleft() if sl.pages else None
                if item is None:  # the slice is done and read
                    head += 1
                    continue
                yield from self._emit(*item)
                if max_rows is not None and len(self.yielded) >= max_rows:
                    return
                with self.lock:
                    self._schedule(probe)
        finally:
            self.pool.close()  # sets self.stop
            with self.lock:
                self.lock.notify_all()

    def _emit(self, page: Page, xs: list[int | None]) -> Iterator[Page]:
        """``page`` as yielded: ``repeated`` (ids yielded before) and ``covered`` set."""
        dated = [x for x in xs if x is not None]
        if self.top is None and dated:
            self.top = max(dated)
        repeated = frozenset(i for i in page.ids if i in self.yielded)
        self.yielded.update(page.ids)
        if dated and page.rows >= self.full_rows:
            self.floor = min(self.floor, min(dated) + 1)
        covered = None
        if self.top is not None and self.floor < _INF:
            a, b = self.axis.t(self.floor), self.axis.t(self.top)
            covered = (min(a, b), max(a, b))
        self.yielded_pages += 1
        yield replace(page, repeated=repeated, covered=covered)

    def _probe_far_end(self) -> None:
        """The far end of the walk: the one row furthest from the start, ``limit=1``."""
        params = {**self.params, "direction": "asc" if self.axis.desc else "desc"}
        if self.near_x < _INF:
            params[self.axis.near] = timestamps.format_ns(self.axis.t(self.near_x))
        self.owner.count("probes")
        page = self.fetch(params, 0, 1)
        xs = [x for x in self._xs(page) if x is not None]
        with self.lock:
            self.far_end = min(xs) if xs else None
            self.far_known = True
            self.lock.notify_all()

    # ------------------------------------------------------------------ scheduling

    def _density(self) -> float | None:
        rows = sum(r for r, _ in self.densities)
        span = sum(s for _, s in self.densities)
        return rows / span if rows and span > 0 else None

    def _schedule(self, probe: Future[None] | None) -> None:
        """Under the lock: split slices while workers are free (the module docstring says
        which)."""
        if not self.far_known or self.far_end is None or self.stop.is_set():
            return
        density = self._density()
        if density is None:
            return
        cap = (
            self.concurrency
            if not self.query.ramp
            else min(self.concurrency, 1 + self.yielded_pages)
        )
        if probe is not None and not probe.done():
            cap -= 1
        if self.slice_pages is None:  # the walk's first split: cut it in `concurrency` parts
            tail = self.slices[-1]
            end = max(self.far_end, self.far_x)
            estimate = max(0.0, tail.cursor - end) * density / self.full_rows
            self.slice_pages = max(
                SLICE_PAGES[0], min(SLICE_PAGES[1], math.ceil(estimate / self.concurrency))
            )
        pages = self.slice_pages
        chunk = pages * self.full_rows / density
        while self.running < cap:
            if self.query.max_rows is not None:
                wanted = self.query.max_rows - sum(s.rows for s in self.slices)
                if wanted <= self.running * self.full_rows * pages:
                    return
            choice = self._split_point(density, chunk)
            if choice is None:
                return
            index, at = choice
            sl = self.slices[index]
            new = _Slice(top=at, bottom=sl.bottom, last=sl.last, cursor=at)
            sl.bottom, sl.last = at, False
            self.slices.insert(index + 1, new)
            self._start(new)

    def _split_point(self, density: float, chunk: float) -> tuple[int, float] | None:
        """``(index, x)``: where to cut a slice, or ``None``."""
        assert self.far_end is not None
        end = max(self.far_end, self.far_x)
        held = sum(len(s.pages) for s in self.slices)
        best: tuple[float, int, float] | None = None
        for index, sl in enumerate(self.slices):
            if sl.done or not sl.started or sl.cursor == _INF:
                continue
            low = max(sl.bottom, end)
            left = (sl.cursor - low) * density  # rows estimated between its frontier and bottom
            if sl.last and held < READ_AHEAD_PAGES and left > chunk * density + self.full_rows:
                at = sl.cursor - chunk
                if low < at < sl.cursor:
                    return index, at
            if held >= READ_AHEAD_PAGES and best is not None:
                break  # only the first running slice may be cut while pages pile up
            middle = (sl.cursor + low) / 2
            if (
                left > 2 * self.full_rows
                and low < middle < sl.cursor
                and (best is None or left > best[0])
            ):
                best = (left, index, middle)
        if best is None:
            return None
        return best[1], best[2]


def _trailing_tie(xs: list[int | None]) -> int | None:
    """Where the run of rows sharing the last row's time starts on a page (``0``: the whole
    page is one time), or ``None`` when the last row has no time."""
    if not xs or xs[-1] is None:
        return None
    last, i = xs[-1], len(xs) - 1
    while i > 0 and xs[i - 1] == last:
        i -= 1
    return i
