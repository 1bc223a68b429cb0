"""Worker threads that stop together (no HTTP): the pool, its stop event, the ambient stop."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest

from sessionkit.client.workers import Workers, current_stop


def test_calls_run_on_at_most_size_daemon_threads_and_give_their_results() -> None:
    names: set[str] = set()
    lock = threading.Lock()

    def work(i: int, *, times: int) -> int:
        with lock:
            names.add(threading.current_thread().name)
        assert threading.current_thread().daemon
        time.sleep(0.01)
        return i * times

    with Workers(3, name="w") as workers:
        futures = [workers.submit(work, i, times=2) for i in range(12)]
        assert [f.result(timeout=10) for f in futures] == [i * 2 for i in range(12)]
    assert names <= {"w-0", "w-1", "w-2"} and len(names) >= 2


def test_a_worker_sees_the_pool_s_stop_event_and_other_threads_see_none() -> None:
    with Workers(1) as workers:
        assert workers.submit(current_stop).result(timeout=10) is workers.stop
    assert current_stop() is None
    seen: list[threading.Event | None] = []
    thread = threading.Thread(target=lambda: seen.append(current_stop()))
    thread.start()
    thread.join()
    assert seen == [None]


def test_leaving_the_block_stops_running_calls_cancels_queued_ones_and_does_not_wait() -> None:
    started = threading.Event()
    ended: list[float] = []

    def long(_: int) -> str:
        started.set()
        stop = current_stop()
        assert stop is not None
        stopped = stop.wait(30)  # what a retry wait does
        ended.append(time.monotonic())
        return "stopped" if stopped else "ran out"

    workers = Workers(1)
    with pytest.raises(KeyboardInterrupt), workers:
        running = workers.submit(long, 0)
        queued = [workers.submit(long, i) for i in range(1, 5)]
        assert started.wait(10)
        raise KeyboardInterrupt  # what Ctrl-C does to the thread that waits
    left = time.monotonic()
    assert workers.stop.is_set()
    assert all(f.cancelled() for f in queued)
    assert running.result(timeout=5) == "stopped"
    assert ended and ended[0] - left < 1.0
    with pytest.raises(CancelledError):
        queued[0].result()


def test_a_closed_pool_refuses_work_and_its_threads_end() -> None:
    workers = Workers(2, name="ending")
    with workers:
        workers.submit(time.sleep, 0.01).result(timeout=10)
        workers.submit(time.sleep, 0.01).result(timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        workers.submit(time.sleep, 0)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("ending-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "idle workers did not end after close"
        time.sleep(0.01)


def test_an_exception_of_any_kind_reaches_the_future() -> None:
    def fail() -> None:
        raise KeyError("k")

    with Workers(1) as workers:
        with pytest.raises(KeyError):
            workers.submit(fail).result(timeout=10)
        assert workers.submit(lambda: 5).result(timeout=10) == 5  # the worker lives on


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        Workers(0)
