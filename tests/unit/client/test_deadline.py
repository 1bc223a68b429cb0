"""The attempt's deadline and stop at the socket: streams over a local socket pair (no HTTP
server), and the backend installed into every pool a Client builds."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpcore
import httpx
import pytest

import sessionkit as sk
from sessionkit.client.deadline import BoundedBackend, BoundedStream, bounded, instrument
from sessionkit.client.retry import Stopped


@pytest.fixture
def pair() -> Iterator[tuple[BoundedStream, socket.socket]]:
    """A bounded httpcore stream connected (by httpcore's own backend) to a local listening
    socket, and the socket accepted at the other end."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        stream = BoundedStream(httpcore.SyncBackend().connect_tcp("127.0.0.1", port, 5.0))
        theirs, _ = listener.accept()
    try:
        yield stream, theirs
    finally:
        stream.close()
        theirs.close()


def _drip(sock: socket.socket, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            sock.sendall(b"x")
        except OSError:
            return


def test_outside_an_attempt_a_read_is_the_wrapped_read(
    pair: tuple[BoundedStream, socket.socket],
) -> None:
    stream, theirs = pair
    theirs.sendall(b"abc")
    assert stream.read(10, timeout=1.0) == b"abc"
    began = time.monotonic()
    with pytest.raises(httpcore.ReadTimeout):
        stream.read(10, timeout=0.2)
    assert 0.15 < time.monotonic() - began < 1.0


def test_reads_of_a_dripping_peer_end_at_the_deadline(
    pair: tuple[BoundedStream, socket.socket],
) -> None:
    """Each byte comes well within the per-read timeout (5 s); the deadline still ends the
    reads 0.5 s after they began."""
    stream, theirs = pair
    done = threading.Event()
    threading.Thread(target=_drip, args=(theirs, 0.05, done), daemon=True).start()
    began = time.monotonic()
    got = b""
    try:
        with bounded(began + 0.5), pytest.raises(httpcore.ReadTimeout):
            while True:
                got += stream.read(1, timeout=5.0)
    finally:
        done.set()
    assert 0.45 < time.monotonic() - began < 1.5
    assert got  # it did read, until the deadline


@pytest.mark.parametrize("dripping", [False, True], ids=["silent", "dripping"])
def test_a_stop_ends_a_read_within_a_tenth_of_a_second(
    pair: tuple[BoundedStream, socket.socket], dripping: bool
) -> None:
    stream, theirs = pair
    stop, done = threading.Event(), threading.Event()
    if dripping:
        threading.Thread(target=_drip, args=(theirs, 0.05, done), daemon=True).start()
    set_at: list[float] = []

    def set_stop() -> None:
        set_at.append(time.monotonic())
        stop.set()

    threading.Timer(0.3, set_stop).start()
    try:
        with bounded(time.monotonic() + 30, stop), pytest.raises(Stopped):
            while True:
                stream.read(1, timeout=30.0)
    finally:
        done.set()
    assert time.monotonic() - set_at[0] < 0.3  # the next slice (0.1 s) or byte saw it


def test_after_a_stop_no_write_or_connect_starts(
    pair: tuple[BoundedStream, socket.socket],
) -> None:
    stream, theirs = pair
    stop = threading.Event()
    stop.set()
    backend = BoundedBackend(httpcore.SyncBackend())
    with bounded(time.monotonic() + 30, stop):
        with pytest.raises(Stopped):
            stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5.0)
        with pytest.raises(Stopped):
            backend.connect_tcp("127.0.0.1", 9, timeout=5.0)
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):
        theirs.recv(10)  # nothing was written


def test_past_the_deadline_nothing_starts(pair: tuple[BoundedStream, socket.socket]) -> None:
    stream, _ = pair
    backend = BoundedBackend(httpcore.SyncBackend())
    with bounded(time.monotonic() - 1):
        with pytest.raises(httpcore.WriteTimeout):
            stream.write(b"x", timeout=5.0)
        with pytest.raises(httpcore.ReadTimeout):
            stream.read(1, timeout=5.0)
        with pytest.raises(httpcore.ConnectTimeout):
            backend.connect_tcp("127.0.0.1", 9, timeout=5.0)


def test_every_pool_a_client_builds_is_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default transport, the direct loopback mounts and the proxies from the
    environment: if httpx moves the internals this relies on, this fails (and the Client
    warns)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = sk.Client("sk_test_0123456789abcdef0123", base_url="http://127.0.0.1:9")
    http = client._http
    transports = [http._transport, *(t for t in http._mounts.values() if t is not None)]
    assert len(transports) >= 3  # default, loopback direct, the proxy
    backends = [t._pool._network_backend for t in transports]  # type: ignore[attr-defined]
    assert all(isinstance(b, BoundedBackend) for b in backends), backends
    assert instrument(http) == []  # again: nothing left, nothing wrapped twice
    assert not isinstance(transports[0]._pool._network_backend.inner, BoundedBackend)  # type: ignore[attr-defined]
    client.close()


def test_a_transport_without_an_httpcore_pool_is_left_alone() -> None:
    mock = httpx.MockTransport(lambda r: httpx.Response(200))
    with httpx.Client(transport=mock) as http:
        assert instrument(http) == [mock]


def test_a_client_says_so_when_it_cannot_bound_its_own_pools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If a future httpx hid the pool this relies on, the Client warns instead of silently
    losing the bound; a transport the user gave is theirs (no warning)."""
    import sessionkit.client.facade as facade

    monkeypatch.setattr(facade, "instrument", lambda http: [http._transport])
    key = "sk_test_0123456789abcdef0123"
    with (
        pytest.warns(sk.SessionKitWarning, match="could not install its per-attempt deadline"),
        sk.Client(key, base_url="http://127.0.0.1:9"),
    ):
        pass
    mock = httpx.MockTransport(lambda r: httpx.Response(200))
    with sk.Client(key, base_url="http://127.0.0.1:9", transport=mock):
        pass  # filterwarnings = error: a warning here fails the test
