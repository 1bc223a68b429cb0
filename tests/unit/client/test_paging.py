"""What every walk shares: :func:`read_ahead` (no server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sessionkit.client.paging import Page, WalkQuery, read_ahead
from sessionkit.client.time_walk import TimeWalk
from sessionkit.errors import BadResponseError
from tests.fake_api import FakeSessions, distinct, page_of, spread


def test_read_ahead_yields_the_walk_in_order_and_runs_ahead_of_its_caller() -> None:
    fake = FakeSessions(spread(2000))
    pages = read_ahead(TimeWalk()(fake.fetch, WalkQuery(), 100, 2), depth=8)
    first = next(pages)
    deadline = time.monotonic() + 5
    while len(fake.calls) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(fake.calls) >= 6  # fetched on while the caller held the first page
    assert distinct([first, *pages]) == [r.id for r in reversed(fake.rows)]


def test_read_ahead_raises_the_walks_error_where_it_happened() -> None:
    def walk() -> Iterator[Page]:
        yield page_of(0, ["a"])
        raise BadResponseError("broken", method="GET", url="u")

    pages = read_ahead(walk(), depth=4)
    assert next(pages).ids == ("a",)
    with pytest.raises(BadResponseError, match="broken"):
        next(pages)


def test_stopping_a_read_ahead_stops_the_walk() -> None:
    closed = threading.Event()

    def walk() -> Iterator[Page]:
        try:
            for i in range(10**6):
                yield page_of(i, [str(i)])
        finally:
            closed.set()

    pages = read_ahead(walk(), depth=4)
    next(pages)
    pages.close()  # type: ignore[attr-defined]
    assert closed.wait(5)
