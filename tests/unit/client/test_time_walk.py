"""The keyset walk on ``start_time`` over an in-memory ``GET /session`` (``tests/fake_api.py``):
every surviving row once, whatever the server does between requests; a clear error where no
walk can be exact."""

from __future__ import annotations

import random
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionkit import timestamps
from sessionkit.client.paging import Page, WalkQuery
from sessionkit.client.time_walk import TimeWalk
from sessionkit.errors import BadResponseError
from tests.fake_api import NS, FakeSessions, Row, distinct, spread


def _walk(
    fake: FakeSessions,
    *,
    concurrency: int = 8,
    limit: int = 100,
    walk: TimeWalk | None = None,
    **query: object,
) -> list[Page]:
    strategy = walk or TimeWalk()
    return list(strategy(fake.fetch, WalkQuery(**query), limit, concurrency))  # type: ignore[arg-type]


def _newest_first(rows: list[Row]) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: (-r.start, r.id))]


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 950, 1000, 12_345])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_every_row_once_newest_first(n: int, concurrency: int) -> None:
    fake = FakeSessions(spread(n))
    pages = _walk(fake, concurrency=concurrency)
    assert distinct(pages) == _newest_first(fake.rows)


def test_oldest_first_when_asked_for_start_time_ascending() -> None:
    fake = FakeSessions(spread(3000))
    pages = _walk(fake, params={"sort": "startTime", "direction": "asc"})
    assert distinct(pages) == [r.id for r in fake.rows]
    assert all(c["sort"] == "startTime" and c["direction"] in ("asc", "desc") for c in fake.calls)


def test_any_other_sort_is_walked_by_start_time() -> None:
    fake = FakeSessions(spread(500))
    pages = _walk(fake, params={"sort": "created", "direction": "asc", "env": "prod"})
    assert sorted(distinct(pages)) == sorted(r.id for r in fake.rows)
    assert {c["sort"] for c in fake.calls} == {"startTime"}
    assert all(c["env"] == "prod" for c in fake.calls)  # filters go with every request


def test_the_time_window_bounds_every_request() -> None:
    rows = spread(3000)
    low, high = rows[500].start, rows[2500].start
    fake = FakeSessions(rows)
    params = {"startAfter": timestamps.format_ns(low), "startBefore": timestamps.format_ns(high)}
    pages = _walk(fake, params=params)
    assert distinct(pages) == _newest_first([r for r in rows if low < r.start < high])
    for call in fake.calls:
        if call["limit"] != "1":
            assert timestamps.parse_one(call["startBefore"]) <= high  # type: ignore[operator]
            assert call["startAfter"] == params["startAfter"]


def test_max_rows_stops_the_walk_early() -> None:
    fake = FakeSessions(spread(10_000))
    pages = _walk(fake, max_rows=250, params={"sort": "startTime"})
    assert distinct(pages)[:250] == _newest_first(fake.rows)[:250]
    assert len(fake.calls) <= 2 + 8 + 3  # not the whole project


def test_a_walk_of_one_page_costs_one_round_trip() -> None:
    fake = FakeSessions(spread(40))
    assert distinct(_walk(fake)) == _newest_first(fake.rows)
    assert len(fake.calls) <= 3  # the page, the far end, at most one look past it


def test_concurrency_is_used_and_slices_stay_few() -> None:
    fake = FakeSessions(spread(10_000))
    walk = TimeWalk()
    assert len(distinct(_walk(fake, walk=walk))) == 10_000
    # 100 pages' worth: a few slice boundaries, not one per page
    assert walk.stats["requests"] <= 100 * 1.2
    assert 8 <= walk.stats["slices"] <= 24


class _Deleter:
    """Before each request, delete 1-8 rows: the newest, or anywhere."""

    def __init__(self, seed: int, newest: bool) -> None:
        self.rng, self.newest = random.Random(seed), newest
        self.deleted = 0

    def __call__(self, server: FakeSessions) -> None:
        for _ in range(self.rng.randint(1, 8)):
            if not server.rows:
                return
            at = (
                max(range(len(server.rows)), key=lambda i: server.rows[i].start)
                if self.newest
                else self.rng.randrange(len(server.rows))
            )
            server.rows.pop(at)
            self.deleted += 1


@pytest.mark.parametrize("newest", [True, False])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_deletes_between_requests_lose_no_surviving_row(newest: bool, concurrency: int) -> None:
    """Offset paging lost 24-675 surviving sessions under 1-8 deletes per request."""
    rows = spread(5000)
    deleter = _Deleter(7, newest)
    fake = FakeSessions(list(rows), before_request=deleter)
    got = distinct(_walk(fake, concurrency=concurrency))
    assert deleter.deleted > 100  # the server really deleted during the walk
    assert fake.alive() <= set(got)  # every survivor
    assert len(got) == len(set(got)) and set(got) <= {r.id for r in rows}


def test_rows_arriving_during_the_walk_are_not_in_it_and_move_nothing() -> None:
    rows = spread(3000)
    count = [0]

    def arrive(server: FakeSessions) -> None:
        top = max(r.start for r in server.rows)
        for _ in range(5):
            count[0] += 1
            server.rows.append(Row(f"new{count[0]:05d}", top + NS))

    fake = FakeSessions(list(rows), before_request=arrive)
    got = distinct(_walk(fake))
    assert set(got) >= {r.id for r in rows}
    assert len(got) == len(set(got))


@pytest.mark.parametrize("ties", [2, 30, 99])
def test_ties_in_random_order_lose_nothing(ties: int) -> None:
    """Offset paging over ties shuffled on each request lost 637 of 2,000 sessions."""
    fake = FakeSessions(spread(2000, ties=ties), shuffle_ties=True)
    got = distinct(_walk(fake))
    assert sorted(got) == sorted(r.id for r in fake.rows)


def test_a_tie_larger_than_a_page_in_a_stable_order_is_read_by_offset() -> None:
    fake = FakeSessions(spread(3000, ties=250))
    got = distinct(_walk(fake))
    assert sorted(got) == sorted(r.id for r in fake.rows)


def test_a_tie_larger_than_a_page_in_random_order_is_refused_by_name() -> None:
    fake = FakeSessions(spread(3000, ties=250), shuffle_ties=True)
    with pytest.raises(BadResponseError, match=r"never agreed: the server orders them differently"):
        _walk(fake)


@pytest.mark.parametrize("precision", [1000, 1_000_000, NS])
@pytest.mark.parametrize("gap", [NS // 7, 3 * NS + 123_456_789])
def test_a_server_rounding_its_bounds_loses_nothing(precision: int, gap: int) -> None:
    fake = FakeSessions(spread(3000, gap=gap), precision=precision)
    assert distinct(_walk(fake)) == _newest_first(fake.rows)


def test_bounds_read_inclusively_lose_nothing() -> None:
    fake = FakeSessions(spread(3000, gap=NS // 3), inclusive=True)
    assert distinct(_walk(fake)) == _newest_first(fake.rows)


@pytest.mark.parametrize("cap", [30, 50, 99])
@pytest.mark.parametrize("later", [False, True])
def test_a_server_capping_pages_loses_nothing(cap: int, later: bool) -> None:
    fake = FakeSessions(
        spread(1000), cap=lambda calls, params: None if later and calls <= 2 else cap
    )
    assert distinct(_walk(fake)) == _newest_first(fake.rows)


def test_a_server_ignoring_the_time_bounds_is_refused_by_name() -> None:
    fake = FakeSessions(spread(3000), ignore_bounds=True)
    with pytest.raises(
        BadResponseError, match=r"outside that window: it ignores startBefore"
    ) as info:
        _walk(fake)
    assert "paging contract" in (info.value.hint or "")
    assert len(fake.calls) < 20


def test_a_server_ignoring_the_sort_is_refused_by_name() -> None:
    fake = FakeSessions(spread(300))
    original = fake.fetch

    def unsorted(params, offset, limit):  # type: ignore[no-untyped-def]
        page = original({**params, "sort": "created", "direction": "asc"}, offset, limit)
        return page

    with pytest.raises(BadResponseError, match=r"in another order: it ignores sort"):
        list(TimeWalk()(unsorted, WalkQuery(), 100, 4))


def test_a_full_page_without_start_times_is_refused_by_name() -> None:
    def undated(params, offset, limit):  # type: ignore[no-untyped-def]
        ids = tuple(f"s{offset + i}" for i in range(limit))
        return Page(offset, b"{}", ids, starts=(None,) * limit)

    with pytest.raises(BadResponseError, match=r"no readable start_time"):
        list(TimeWalk()(undated, WalkQuery(), 100, 2))


def test_covered_grows_down_from_the_top_and_ends_at_the_oldest_row() -> None:
    fake = FakeSessions(spread(2500))
    pages = _walk(fake)
    covers = [p.covered for p in pages if p.covered is not None]
    assert covers, "no page said what it covered"
    assert all(hi == fake.rows[-1].start for _, hi in covers)
    lows = [lo for lo, _ in covers]
    assert lows == sorted(lows, reverse=True)
    seen: set[str] = set()
    for page in pages:
        seen.update(page.ids)
        if page.covered is not None:
            lo, hi = page.covered
            assert {r.id for r in fake.rows if lo <= r.start <= hi} <= seen


def test_stopping_the_walk_stops_its_workers() -> None:
    fake = FakeSessions(spread(100_000))
    pages = iter(TimeWalk()(fake.fetch, WalkQuery(), 100, 8))
    next(pages)
    next(pages)
    pages.close()  # type: ignore[attr-defined]
    time.sleep(0.2)
    asked = len(fake.calls)
    time.sleep(0.3)
    assert len(fake.calls) - asked <= 8  # at most what was on the wire
    assert asked < 100


def test_a_workers_error_reaches_the_reader() -> None:
    fake = FakeSessions(spread(5000))
    original = fake.fetch
    count = [0]
    lock = threading.Lock()

    def failing(params, offset, limit):  # type: ignore[no-untyped-def]
        with lock:
            count[0] += 1
            if count[0] == 12:
                raise BadResponseError("broken on purpose", method="GET", url="u")
        return original(params, offset, limit)

    with pytest.raises(BadResponseError, match="broken on purpose"):
        list(TimeWalk()(failing, WalkQuery(), 100, 8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 1500),
    ties=st.integers(1, 60),
    gap=st.sampled_from([1, 1_000, NS // 10, 3 * NS]),
    deletes=st.integers(0, 6),
    shuffle=st.booleans(),
    inclusive=st.booleans(),
    precision=st.sampled_from([1, 1_000_000, NS]),
    cap=st.sampled_from([None, 40, 100]),
    desc=st.booleans(),
    concurrency=st.sampled_from([1, 3, 8]),
    seed=st.integers(0, 1000),
)
def test_property_every_survivor_exactly_once(
    n: int,
    ties: int,
    gap: int,
    deletes: int,
    shuffle: bool,
    inclusive: bool,
    precision: int,
    cap: int | None,
    desc: bool,
    concurrency: int,
    seed: int,
) -> None:
    rows = spread(n, ties=ties, gap=gap)
    rng = random.Random(seed)

    def delete(server: FakeSessions) -> None:
        for _ in range(rng.randint(0, deletes)):
            if server.rows:
                server.rows.pop(rng.randrange(len(server.rows)))

    fake = FakeSessions(
        list(rows),
        shuffle_ties=shuffle,
        inclusive=inclusive,
        precision=precision,
        cap=lambda calls, params: cap,
        before_request=delete,
        seed=seed,
    )
    params = {} if desc else {"sort": "startTime", "direction": "asc"}
    try:
        got = distinct(_walk(fake, concurrency=concurrency, params=params))
    except BadResponseError as exc:
        # only where no walk can be exact: more than a page within 2 ms that the server
        # reorders between requests, or deletes under it faster than it can be read
        message = str(exc)
        assert ("never agreed" in message and shuffle) or (
            "deleted faster than they can be read" in message and deletes
        ), message
        return
    assert fake.alive() <= set(got)
    assert set(got) <= {r.id for r in rows} and len(got) == len(set(got))
    if not deletes:
        starts = {r.id: r.start for r in rows}
        order = [starts[i] for i in got]
        assert order == sorted(order, reverse=desc)
