"""Worker threads that stop together: the cancellation primitive of fan-outs and walks.

A :class:`Workers` pool runs submitted calls on up to ``size`` daemon threads and owns one
``stop`` :class:`threading.Event`. Leaving its ``with`` block, for any reason (the work is
done, the first failure, ``KeyboardInterrupt`` in the thread that waits for it), sets the
event and cancels the calls not started yet; it does not wait for the running ones. Those
see the event within about :data:`~.retry.STOP_POLL_S`: a retry's wait ends at once
(``stop.wait``), a blocked read ends at its next slice (:mod:`.deadline`), no new attempt
starts (:class:`~.retry.Stopped`). So after a Ctrl-C no worker sends another request, and the
caller is not held: its ``KeyboardInterrupt`` propagates as soon as the ``with`` block is
left.

The stop event reaches the requests two ways: explicitly (``Client.list_sessions_page(...,
stop=workers.stop)``, what a walk passes) and implicitly: while a worker runs a call,
:func:`current_stop` is the pool's event, and a :class:`~sessionkit.Client` request made with
no ``stop`` of its own uses it — so ``client.map(client.get_session, ids)`` stops as a whole
although ``get_session`` takes no ``stop``.

Daemon threads: a worker still inside a connect when the process exits (a script ended by
Ctrl-C) does not hold the exit up.

Imports: nothing of sessionkit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Workers", "current_stop"]

R = TypeVar("R")


class _Current(threading.local):
    stop: threading.Event | None = None


_current = _Current()


def current_stop() -> threading.Event | None:
    """The stop event of the :class:`Workers` pool whose call this thread is running;
    ``None`` outside one (the main thread, a thread of its own)."""
    return _current.stop


_Task = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Workers:
    """Up to ``size`` daemon threads (named ``name``-N) running submitted calls, sharing
    :attr:`stop`; a context manager whose exit stops them (see the module's docstring)."""

    def __init__(self, size: int, *, name: str = "sessionkit") -> None:
        if size < 1:
            raise ValueError("Workers needs at least one thread")
        self.size, self.name = size, name
        #: Set when the pool closes; every call it runs may watch it.
        self.stop = threading.Event()
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` on a worker; its :class:`~concurrent.futures.Future`
        (cancelled if the pool closes before the call starts). Raises ``RuntimeError`` once
        the pool is closed."""
        future: Future[R] = Future()
        with self._lock:
            if self.stop.is_set():
                raise RuntimeError("this Workers pool is closed; start a new one")
            self._tasks.put((future, fn, args, kwargs))
            if len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        _current.stop = self.stop
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args, kwargs = task
            if self.stop.is_set():
                future.cancel()
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # the caller gets it from the future
                future.set_exception(exc)
            else:
                future.set_result(result)
            del future, fn, args, kwargs, task  # hold no result while idle

    def close(self) -> None:
        """Set :attr:`stop`, cancel the calls not started and let idle workers end; returns at
        once (running calls end on their own, soon: they watch :attr:`stop`)."""
        with self._lock:
            self.stop.set()
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
            for _ in self._threads:
                self._tasks.put(None)

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
