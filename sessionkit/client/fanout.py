"""Fan-out: one call per item (a session id), a bounded number at once, with an optional
progress bar; and :func:`chunks`, which batches ids.

The one home of "fetch this for every id, concurrently, and say how far it got": the loaders
and the store's sync both call :func:`fan_out` (through :meth:`sessionkit.Client.map`).

Imports: :mod:`sessionkit.errors`, :mod:`sessionkit.progress`, :mod:`.retry`, :mod:`.workers`.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from ..errors import APIError
from ..progress import progress_bar
from .retry import STOP_POLL_S
from .workers import Workers

__all__ = ["chunks", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")


def fan_out(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    concurrency: int,
    on_done: Callable[[int], None] | None = None,
    what: str = "sessions",
    progress: bool | None = False,
) -> list[R]:
    """``[fn(item) for item in items]`` computed by ``concurrency`` threads; results in input
    order.

    ``on_done(1)`` is called as each item completes. ``progress`` shows a bar named ``what``
    (``None``: only once the work has lasted 1.5 s; ``False``, the default: none). On the first
    failure the remaining work is stopped and the error is raised; an
    :class:`~sessionkit.errors.APIError` carries how much had been fetched
    (``error.fetched``: ``"N of M <what> had been fetched"``).

    Stopping (:class:`~sessionkit.client.workers.Workers`): when this returns or raises —
    the first failure, or ``KeyboardInterrupt`` (Ctrl-C, Jupyter's stop) — the calls not
    started are cancelled and the running ones are stopped: their Client requests see the
    pool's stop event, end their retry waits at once, cut a read within
    :data:`~sessionkit.client.retry.STOP_POLL_S` and start no new request. The interrupt
    itself propagates within about that long (this thread waits in slices of it), without
    waiting for the workers.
    """
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    bar = progress_bar(len(items), what, " sessions", progress) if progress is not False else None
    done = 0
    finished: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()
    try:
        with Workers(concurrency, name="sessionkit") as workers:
            index: dict[Future[R], int] = {}
            for i, item in enumerate(items):
                future = workers.submit(fn, item)
                index[future] = i
                future.add_done_callback(finished.put)
            try:
                while done < len(items):
                    try:  # in slices, so that Ctrl-C gets through whichever thread it hits
                        future = finished.get(timeout=STOP_POLL_S)
                    except queue.Empty:
                        continue
                    results[index.pop(future)] = future.result()
                    done += 1
                    if on_done:
                        on_done(1)
                    if bar is not None:
                        bar.update(1)
            except APIError as exc:
                exc.fetched = f"{done} of {len(items)} {what} had been fetched"
                raise
    finally:
        if bar is not None:
            bar.close()
    return results


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split ``items`` into lists of at most ``size`` (the last may be shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
