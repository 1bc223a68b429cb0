"""Fan-out: one call per item (a session id), a bounded number at once, with an optional
progress bar; and :func:`chunks`, which batches ids.

The one home of "fetch this for every id, concurrently, and say how far it got": the loaders
and the store's sync both call :func:`fan_out` (through :meth:`sessionkit.Client.map`).

Imports: :mod:`sessionkit.errors`, :mod:`sessionkit.progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from ..errors import APIError
from ..progress import progress_bar

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
    failure the remaining work is cancelled and the error is raised; an
    :class:`~sessionkit.errors.APIError` carries how much had been fetched
    (``error.fetched``: ``"N of M <what> had been fetched"``).
    """
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    bar = progress_bar(len(items), what, " sessions", progress) if progress is not False else None
    done = 0
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sessionkit") as pool:
            index = {pool.submit(fn, item): i for i, item in enumerate(items)}
            remaining = set(index)
            try:
                while remaining:
                    finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for future in finished:
                        results[index[future]] = future.result()
                        done += 1
                        if on_done:
                            on_done(1)
                        if bar is not None:
                            bar.update(1)
            except APIError as exc:
                for future in remaining:
                    future.cancel()
                exc.fetched = f"{done} of {len(items)} {what} had been fetched"
                raise
            except BaseException:
                for future in remaining:
                    future.cancel()
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
