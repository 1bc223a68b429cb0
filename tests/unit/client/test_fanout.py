"""Fan-out over ids and batching (no HTTP)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from sessionkit.client.fanout import chunks, fan_out
from sessionkit.client.workers import current_stop
from sessionkit.errors import NotFoundError


def test_results_come_in_input_order_with_bounded_concurrency() -> None:
    live, peak, lock = [0], [0], threading.Lock()

    def work(i: int) -> int:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.002 * (i % 3))
        with lock:
            live[0] -= 1
        return i * i

    done: list[int] = []
    assert fan_out(work, list(range(40)), concurrency=3, on_done=done.append) == [
        i * i for i in range(40)
    ]
    assert 1 < peak[0] <= 3 and done == [1] * 40


def test_an_api_error_says_how_much_was_fetched_and_stops_the_rest() -> None:
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 3:
            raise NotFoundError("gone", status_code=404, method="GET", url="u")
        time.sleep(0.01)
        return i

    with pytest.raises(NotFoundError) as info:
        fan_out(work, list(range(200)), concurrency=1, what="session logs")
    match = re.fullmatch(r"(\d) of 200 session logs had been fetched", info.value.fetched or "")
    assert match and 2 <= int(match.group(1)) <= 3, info.value.fetched
    assert len(started) < 200


def test_other_errors_pass_unchanged() -> None:
    def work(i: int) -> int:
        raise KeyError(i)

    with pytest.raises(KeyError):
        fan_out(work, [1, 2], concurrency=2)


def test_progress_shows_a_bar_that_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionkit.client.fanout as fanout

    bars: list[object] = []

    class Bar:
        def __init__(self) -> None:
            self.n, self.closed = 0, False
            bars.append(self)

        def update(self, n: int) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(fanout, "progress_bar", lambda *a: Bar())
    fan_out(str, [1, 2, 3], concurrency=2, progress=None)
    assert [(b.n, b.closed) for b in bars] == [(3, True)]  # type: ignore[attr-defined]
    fan_out(str, [1, 2, 3], concurrency=2)  # progress=False by default: no bar
    assert len(bars) == 1


def test_nothing_to_do_is_an_empty_list() -> None:
    assert fan_out(str, [], concurrency=2) == []


def test_chunks() -> None:
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []


def test_the_first_failure_stops_the_running_calls_without_waiting_for_them() -> None:
    """A running call that waits on its pool's stop event (as a retry wait does) ends when
    another call fails; the caller gets the failure at once, not when the wait runs out."""
    ended: list[float] = []

    def work(i: int) -> int:
        if i == 0:
            time.sleep(0.2)
            raise NotFoundError("gone", status_code=404, method="GET", url="u")
        stop = current_stop()
        assert stop is not None
        stop.wait(30)
        ended.append(time.monotonic())
        return i

    began = time.monotonic()
    with pytest.raises(NotFoundError):
        fan_out(work, list(range(4)), concurrency=4)
    assert time.monotonic() - began < 2.0
    deadline = time.monotonic() + 2
    while len(ended) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(ended) == 3 and max(ended) - began < 2.0


def test_keyboard_interrupt_in_a_callback_stops_the_fan_out_at_once() -> None:
    """Ctrl-C lands in the thread that waits (here: raised by its ``on_done``)."""
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i:
            stop = current_stop()
            assert stop is not None
            stop.wait(30)
        return i

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        fan_out(work, list(range(100)), concurrency=2, on_done=interrupt)
    assert time.monotonic() - began < 2.0
    time.sleep(0.3)
    assert len(started) <= 3  # the queued calls were cancelled, not run
