"""An attempt's deadline and stop event, enforced at the socket.

httpx's timeouts are per operation: each read may take up to the read timeout, so a server
sending one byte of its headers (or of a chunk header) every second holds a request forever,
and a blocked read does not notice that its fan-out was stopped. httpx has no total timeout
(encode/httpx#1450). Here, a network backend wraps httpcore's (the documented
``network_backend`` hook of its connection pools) and bounds every socket operation of the
thread's current attempt:

* connect, TLS handshake, write and read each get at most the time left before the
  attempt's deadline, so connect + headers + body end by it (httpcore raises its
  ``ConnectTimeout``/``WriteTimeout``/``ReadTimeout``, which httpx maps to its own);
* with a stop event, a read waits in slices of :data:`~.retry.STOP_POLL_S` and raises
  :class:`~.retry.Stopped` once the event is set; no connect or write starts after it.

Either way httpcore closes that connection (its state is mid-response), so a cut-off or
stopped attempt hangs up and the pool never reuses it. A connect (DNS and TCP) already under
way does not look at the stop event: it ends by the deadline.

The bounds are per thread (:func:`bounded`, set by the attempt around its send and read;
httpx's synchronous client does all of a request's I/O on the calling thread). Outside
:func:`bounded` the backend behaves exactly like the one it wraps.

:func:`instrument` installs the backend into the pools of an ``httpx.Client``'s transports.
It needs httpx's ``HTTPTransport._pool`` and httpcore's ``ConnectionPool._network_backend``
(httpx does not let a caller pass a network backend); a transport without them (a test's
``MockTransport``, a custom one) is left alone, and the attempt's check between body chunks
is then the only whole-answer bound.

Imports: httpcore, httpx (the client whose pools it instruments), :mod:`.retry`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from .retry import STOP_POLL_S, Stopped

__all__ = ["BoundedBackend", "bounded", "instrument"]


class _Bounds(threading.local):
    """The current thread's attempt: its deadline (``time.monotonic()`` seconds) and stop."""

    deadline: float | None = None
    stop: threading.Event | None = None


_bounds = _Bounds()


@contextmanager
def bounded(deadline: float, stop: threading.Event | None = None) -> Iterator[None]:
    """Within this block, every socket operation of this thread through a
    :class:`BoundedBackend` ends by ``deadline`` (``time.monotonic()`` seconds) and, when
    ``stop`` is given, soon after ``stop`` is set (:class:`~.retry.Stopped`)."""
    saved = (_bounds.deadline, _bounds.stop)
    _bounds.deadline, _bounds.stop = deadline, stop
    try:
        yield
    finally:
        _bounds.deadline, _bounds.stop = saved


def _check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Stopped("stopped: the request's fan-out or walk has ended")


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` (seconds, ``None``: none) cut to the time left before the thread's
    deadline; raises ``error`` when none is left, :class:`~.retry.Stopped` when stopped."""
    _check_stop(_bounds.stop)
    deadline = _bounds.deadline
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)


class BoundedStream(httpcore.NetworkStream):
    """A network stream whose operations end by the thread's deadline or stop."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes; raises ``httpcore.ReadTimeout`` once ``timeout`` (per
        read) or the deadline is reached, :class:`~.retry.Stopped` once stopped."""
        stop = _bounds.stop
        if stop is None:
            return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _left(None if end is None else end - time.monotonic(), httpcore.ReadTimeout)
            if left is not None and left <= 0:
                raise httpcore.ReadTimeout("no data within the read timeout")
            piece = STOP_POLL_S if left is None else min(left, STOP_POLL_S)
            try:
                return self._inner.read(max_bytes, piece)
            except httpcore.ReadTimeout:
                continue  # a slice ended: look at the stop event and the time left again

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` by the deadline (not sliced: a partial write cannot be
        resumed); ``httpcore.WriteTimeout`` past it."""
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The TLS stream over this one (handshake by the deadline), bounded the same way."""
        left = _left(timeout, httpcore.ConnectTimeout)
        return BoundedStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's network backend ``inner``, its connections and their streams bounded by
    the thread's deadline and stop (see the module's docstring)."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """A TCP connection (connected by the deadline), bounded."""
        left = _left(timeout, httpcore.ConnectTimeout)
        return BoundedStream(
            self.inner.connect_tcp(host, port, left, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """A Unix socket connection (connected by the deadline), bounded."""
        left = _left(timeout, httpcore.ConnectTimeout)
        return BoundedStream(self.inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def instrument(http: httpx.Client) -> list[httpx.BaseTransport]:
    """Install a :class:`BoundedBackend` into the connection pool of every transport of
    ``http`` (its default one and its mounts: direct loopback, proxies from the environment);
    the transports that hold no httpcore pool and were left alone (in-memory test transports,
    custom ones). Installing twice wraps once."""
    transports = [http._transport, *(t for t in http._mounts.values() if t is not None)]
    left_alone = []
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            left_alone.append(transport)
        elif not isinstance(backend, BoundedBackend):
            pool._network_backend = BoundedBackend(backend)  # type: ignore[union-attr]
    return left_alone
