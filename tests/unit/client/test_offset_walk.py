"""The offset walk and its guard over in-memory fakes of ``GET /session`` (no server)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Mapping

import orjson
import pytest

from sessionkit.client.offset_walk import OffsetWalk, WalkGuard
from sessionkit.client.paging import PAGE_MAX, Page, WalkQuery
from sessionkit.errors import BadResponseError
from tests.fake_api import FakeSessions, distinct, spread


def _page(offset: int, ids: list[str]) -> Page:
    body = orjson.dumps({"success": True, "data": [{"id": i} for i in ids]})
    return Page(offset, body, tuple(ids))


class Rows:
    """A project of sessions, newest first; ``fetch`` answers like the list endpoint."""

    def __init__(self, n: int, *, cap: int = PAGE_MAX) -> None:
        self.rows = [f"s{i:05d}" for i in range(n)]
        self.cap = cap
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        with self.lock:
            self.calls.append((offset, limit))
            return _page(offset, self.rows[offset : offset + min(limit, self.cap)])


def _walk(
    fetch: object, *, limit: int = PAGE_MAX, concurrency: int = 4, **query: object
) -> list[Page]:
    return list(OffsetWalk()(fetch, WalkQuery(**query), limit, concurrency))  # type: ignore[arg-type]


def _distinct(pages: list[Page]) -> list[str]:
    """The walk's rows, each once, in order (what the loaders keep)."""
    out: list[str] = []
    for page in pages:
        out.extend(i for i in page.ids if i not in page.repeated)
    return out


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 950, 1000])
def test_a_walk_yields_every_row_once_in_order(n: int) -> None:
    rows = Rows(n)
    pages = _walk(rows.fetch)
    assert _distinct(pages) == rows.rows
    assert [p.offset for p in pages] == sorted(p.offset for p in pages)


def test_consecutive_pages_overlap_and_repeated_names_the_shared_ids() -> None:
    pages = _walk(Rows(300).fetch)
    assert pages[0].repeated == frozenset()
    for before, page in itertools.pairwise(pages):
        assert page.offset == before.offset + 95  # overlap 100 // 20
        assert page.repeated == frozenset(before.ids) & frozenset(page.ids) != frozenset()


def test_max_rows_and_start_bound_the_walk() -> None:
    rows = Rows(1000)
    pages = _walk(rows.fetch, max_rows=150, start=10)
    kept = _distinct(pages)
    assert kept[:150] == rows.rows[10:160]
    assert max(offset for offset, _ in rows.calls) < 10 + 150 + 100  # no walk to the end


def test_a_max_rows_below_the_page_size_asks_that_many() -> None:
    rows = Rows(1000)
    pages = _walk(rows.fetch, max_rows=7)
    assert rows.calls[0] == (0, 7) and _distinct(pages)[:7] == rows.rows[:7]


def test_a_server_capping_pages_below_limit_loses_no_row() -> None:
    rows = Rows(457, cap=30)
    pages = _walk(rows.fetch)
    assert _distinct(pages) == rows.rows
    asked_full = [offset for offset, limit in rows.calls if limit == PAGE_MAX]
    assert len(asked_full) <= 4 + 1  # the first look-ahead and the probe; then the cap


class Growing(Rows):
    """New sessions arrive at the front between calls: every page shifts down."""

    def __init__(self, n: int, every: int = 1, arrivals: int = 3) -> None:
        super().__init__(n)
        self.every, self.arrivals, self.new = every, arrivals, 0

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        with self.lock:
            if len(self.calls) % self.every == 0:
                for _ in range(self.arrivals):
                    self.rows.insert(0, f"new{self.new:05d}")
                    self.new += 1
        return super().fetch(params, offset, limit)


def test_rows_inserted_during_the_walk_do_not_push_old_rows_out_of_it() -> None:
    rows = Growing(800)
    original = [r for r in rows.rows]
    kept = _distinct(_walk(rows.fetch, concurrency=1))
    assert set(original) <= set(kept)
    assert len(kept) == len(set(kept))


class Shuffled(Growing):
    """Concurrent requests answered out of order (every other page late), while rows arrive
    at each answer: a page answered before its predecessor starts too far down."""

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        time.sleep(0.01 if (offset // 95) % 2 == 0 else 0.0)
        return super().fetch(params, offset, limit)


def test_pages_answered_out_of_order_are_refetched_until_they_overlap() -> None:
    rows = Shuffled(1500, every=1, arrivals=2)
    original = list(rows.rows)
    refetched: list[int] = []
    walk = OffsetWalk(on_refetch=lambda: refetched.append(1))
    pages = list(walk(rows.fetch, WalkQuery(), PAGE_MAX, 8))
    kept = _distinct(pages)
    assert set(original) <= set(kept)
    assert [p.offset for p in pages] == sorted(p.offset for p in pages)
    for before, page in itertools.pairwise(pages):
        if page.rows:
            assert before.ids[-1] in page.ids  # continuous: no row between them skipped
    assert refetched, "no page was answered ahead of its predecessor: the test proves nothing"


class IgnoresOffset(Rows):
    """Answers the first page whatever the offset."""

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        page = super().fetch(params, 0, limit)
        return Page(offset, page.body, page.ids)


def test_a_server_ignoring_offset_is_refused_by_name() -> None:
    with pytest.raises(BadResponseError, match=r"ignored offset=95") as info:
        _walk(IgnoresOffset(1000).fetch)
    assert info.value.url == "/session" and "paging contract" in (info.value.hint or "")


class Reshuffles(Rows):
    """Ignores offset but answers the first rows in a new order each time: pages differ, yet
    bring nothing new — endless idle pages."""

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        ids = self.rows[:limit]
        with self.lock:
            self.calls.append((offset, limit))
            if len(self.calls) > 500:
                raise AssertionError("the walk did not stop on endless idle pages")
            order = random.Random(len(self.calls)).sample(ids, len(ids))
        return _page(offset, order)


def test_a_server_reshuffling_seen_rows_is_refused_at_once() -> None:
    rows = Reshuffles(1000)
    with pytest.raises(BadResponseError, match=r"already seen in another order") as info:
        _walk(rows.fetch, concurrency=4)
    assert "paging contract" in (info.value.hint or "")
    assert len(rows.calls) <= 2 + 4 + 1  # two pages, the look-ahead in flight, one re-fetch


class Creeps(Rows):
    """Ignores offset and answers the first rows shifted by one more on each request: every
    page connects, none repeats an earlier one, each brings one new row — endless idle
    pages."""

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        with self.lock:
            self.calls.append((offset, limit))
            if len(self.calls) > 500:
                raise AssertionError("the walk did not stop on endless idle pages")
            shift = len(self.calls)
        return _page(offset, self.rows[shift : shift + limit])


def test_endless_idle_pages_end_the_walk_with_no_progress() -> None:
    rows = Creeps(10_000)
    with pytest.raises(BadResponseError, match=r"made no progress: 27 pages.*plus 24 are allowed"):
        _walk(rows.fetch, concurrency=4)
    assert len(rows.calls) <= 28 + 4  # the pages checked, plus the look-ahead in flight


def test_a_page_longer_than_asked_is_the_callers_check_not_the_walks() -> None:
    # the walk trusts fetch's page; Client.list_sessions_page refuses a page over limit
    rows = Rows(50)
    pages = _walk(rows.fetch, limit=10, max_rows=10)
    assert pages[0].rows == 10


def test_ramp_starts_with_one_request_in_flight() -> None:
    rows = Rows(10_000)
    walk = iter(OffsetWalk()(rows.fetch, WalkQuery(ramp=True), PAGE_MAX, 8))
    next(walk)
    assert len(rows.calls) == 1
    walk.close()


def test_stopping_a_walk_stops_asking() -> None:
    rows = Rows(100_000)
    walk = iter(OffsetWalk()(rows.fetch, WalkQuery(), PAGE_MAX, 4))
    next(walk)
    walk.close()
    time.sleep(0.05)
    assert len(rows.calls) <= 8


def test_the_guard_counts_productive_and_idle_pages() -> None:
    guard = WalkGuard("u", concurrency=1)
    first = _page(0, [f"a{i}" for i in range(100)])
    guard.check(first, None)
    assert (guard.productive, guard.idle) == (1, 0)
    mostly_old = _page(95, [f"a{i}" for i in range(91)] + [f"b{i}" for i in range(9)])
    guard.check(mostly_old, first)  # 9 new of 100: under a tenth
    assert (guard.productive, guard.idle) == (1, 1)
    guard.check(_page(190, []), mostly_old)  # an empty end counts as neither
    assert (guard.productive, guard.idle) == (1, 1)


def test_the_guard_raises_on_the_third_exact_repeat() -> None:
    guard = WalkGuard("u", concurrency=1)
    a, b = _page(0, ["x", "y"]), _page(1, ["y", "z"])
    guard.check(a, None)
    guard.check(b, a)
    guard.check(_page(2, ["x", "y"]), b)
    guard.check(_page(3, ["y", "z"]), b)
    with pytest.raises(BadResponseError, match=r"ignored offset=4.*3 pages in a row"):
        guard.check(_page(4, ["x", "y"]), b)


class CapsLater(Rows):
    """A server whose pages shrink after a while: full pages first, then at most ``later``
    rows a page from ``from_offset`` on (a load balancer mixing two configurations)."""

    def __init__(self, n: int, *, later: int, from_offset: int) -> None:
        super().__init__(n)
        self.later, self.from_offset = later, from_offset

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        cap = self.later if offset >= self.from_offset else limit
        with self.lock:
            self.calls.append((offset, limit))
            return _page(offset, self.rows[offset : offset + min(limit, cap)])


@pytest.mark.parametrize(("later", "from_offset"), [(50, 1), (50, 95), (7, 300), (5, 900)])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_page_cap_that_starts_after_the_first_page_loses_nothing(
    later: int, from_offset: int, concurrency: int
) -> None:
    """A full first page, then 50 a page: the walk stopped at the first short page (145 of
    1,000 sessions, no error); now a short page is probed past before it ends a walk."""
    rows = CapsLater(1000, later=later, from_offset=from_offset)
    assert _distinct(_walk(rows.fetch, concurrency=concurrency)) == rows.rows


def test_a_short_last_page_with_arrivals_ends_the_walk() -> None:
    """The probe past a short last page finds only rows pushed down by arrivals (already
    seen): that is the end, not a cap."""
    rows = Growing(250, every=1, arrivals=3)
    original = list(rows.rows)
    kept = _distinct(_walk(rows.fetch, concurrency=1))
    assert set(original) <= set(kept) and len(kept) == len(set(kept))
    assert len(rows.calls) <= 6


# ---------------------------------------------------------------- deletes and reorders


def _delete_some(seed: int, most: int) -> object:
    rng = random.Random(seed)

    def delete(server: FakeSessions) -> None:
        for _ in range(rng.randint(1, most)):
            if server.rows:
                server.rows.pop(rng.randrange(len(server.rows)))

    return delete


@pytest.mark.parametrize("concurrency", [1, 8])
def test_deletes_between_requests_lose_no_surviving_row(concurrency: int) -> None:
    """Offsets pulled up by deletes made pages start too far on: 24-675 surviving sessions were
    lost with only a log line. Now a page must connect, and the walk steps back until one
    does."""
    rows = spread(3000)
    fake = FakeSessions(list(rows), before_request=_delete_some(3, 8))  # type: ignore[arg-type]
    walk = OffsetWalk()
    pages = list(walk(fake.fetch, WalkQuery({"sort": "created"}), PAGE_MAX, concurrency))
    got = distinct(pages)
    assert len(fake.alive()) < 3000 - 100  # the server deleted under the walk
    assert fake.alive() <= set(got) and len(got) == len(set(got))


def test_a_limited_walk_under_deletes_keeps_the_top_rows() -> None:
    rows = spread(2000)
    fake = FakeSessions(list(rows), before_request=_delete_some(5, 8))  # type: ignore[arg-type]
    pages = list(
        OffsetWalk()(fake.fetch, WalkQuery({"sort": "created"}, max_rows=450), PAGE_MAX, 4)
    )
    got = set(distinct(pages))
    alive = fake.alive()
    newest = [r.id for r in sorted(rows, key=lambda r: -r.created) if r.id in alive]
    assert set(newest[:400]) <= got  # every survivor among the top rows (450 read, some deleted)


def test_seen_rows_in_another_order_are_refused_not_lost() -> None:
    """Equal sort values shuffled on each request: the offset walk cannot be exact there; it
    says so instead of losing rows."""
    fake = FakeSessions(spread(2000, ties=40), shuffle_ties=True)
    rows = fake.rows
    try:
        pages = list(OffsetWalk()(fake.fetch, WalkQuery({"sort": "created"}), PAGE_MAX, 4))
    except BadResponseError as exc:
        assert "another order than before" in str(exc) and "sort by startTime" in str(exc)
        return
    assert sorted(distinct(pages)) == sorted(r.id for r in rows)  # (when no shuffle showed)
