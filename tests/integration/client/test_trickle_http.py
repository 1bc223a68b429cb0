"""Servers that answer slowly enough to beat a per-read timeout, over real loopback HTTP: each
request ends with :class:`sessionkit.APITimeoutError` within its documented bound.

The bounds (``Client`` docstring, README "Guarantees"): one attempt lasts at most ``timeout``
seconds, connect + headers + body; a request (every attempt and every wait) at most
``retry_budget`` + one ``timeout``, because no attempt starts once the budget is spent and the
last one started may use its whole ``timeout``.

The servers are raw sockets (the header drip cannot be written with ``http.server``): each
connection is served by a thread that reads the request, then drips or stalls; the server
records when each request arrived and when the client hung up.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import sessionkit as sk
from tests.conftest import CANARY_KEY

DRIP_S = 0.25  # between two bytes: well inside the per-read timeout of every client below
SLACK_S = 2.0  # generous: a loaded 2-core machine, thread start-up, interpreter work


class DripServer:
    """A loopback HTTP server that never finishes an answer.

    ``mode``: ``"headers"`` sends the status line and header lines one byte every ``DRIP_S``
    (an endless header section); ``"body"`` sends complete headers announcing 1 MB, then the
    body one byte every ``DRIP_S``; ``"chunked"`` sends complete headers of a chunked body,
    then a chunk header with an endless extension (``1;aaaa...``) one byte every ``DRIP_S``,
    so not one byte of body is ever decoded; ``"stall"`` sends complete headers and then
    nothing.
    ``requests`` holds the arrival time of each request, ``hangups`` the time each connection
    was closed by the client (``time.monotonic()``).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[float] = []
        self.hangups: list[float] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(DRIP_S)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
            except TimeoutError:
                return
            with self.lock:
                self.requests.append(time.monotonic())
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            if self.mode == "headers":
                drip = head + b"X-Padding: " + b"a" * 100_000
            elif self.mode == "chunked":
                conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
                drip = b"1;" + b"a" * 100_000
            else:
                conn.sendall(head + b"Content-Length: 1000000\r\n\r\n")
                drip = b'{"success":true,"data":[' + b" " * 1_000_000
            try:
                for i in range(len(drip)):
                    if self.mode != "stall":
                        conn.sendall(drip[i : i + 1])
                    if self._hung_up(conn):
                        break
            except OSError:
                pass
            with self.lock:
                self.hangups.append(time.monotonic())

    def _hung_up(self, conn: socket.socket) -> bool:
        """Wait ``DRIP_S``; whether the client closed the connection meanwhile."""
        try:
            return conn.recv(1) == b""
        except TimeoutError:
            return self.closing.is_set()
        except OSError:
            return True

    def close(self) -> None:
        self.closing.set()
        self.sock.close()
        self.thread.join(timeout=5)


@contextmanager
def drip_server(mode: str) -> Iterator[DripServer]:
    server = DripServer(mode)
    try:
        yield server
    finally:
        server.close()


def _timed_failure(client: sk.Client, call: str) -> tuple[float, sk.APITimeoutError]:
    """Run one client call (``"page"``: one list page, ``"detail"``: one session) in a daemon
    thread; ``(seconds it took, the APITimeoutError it raised)``. Fails, never hangs, when it
    has not ended after 20 s."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            if call == "page":
                client.list_sessions_page()
            else:
                client.get_session("sess_" + "0" * 32)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    began = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    elapsed = time.monotonic() - began
    assert not thread.is_alive(), f"the request was still waiting after {elapsed:.0f} s"
    error = outcome.get("error")
    assert isinstance(error, sk.APITimeoutError), repr(error)
    return elapsed, error


MESSAGES = {
    "headers": r"No answer within 1 s",
    "body": r"did not complete within 1 s \(the server sent [1-9]\d* bytes of its body",
    "chunked": r"did not complete within 1 s \(the server sent 0 bytes of its body",
    "stall": r"did not complete within 1 s \(the server sent 0 bytes of its body",
}


@pytest.mark.parametrize("mode", ["headers", "body", "chunked", "stall"])
def test_one_attempt_ends_at_its_timeout(mode: str) -> None:
    """``max_retries=0``: the one attempt is cut at ``timeout`` (1 s) — connect, headers and
    body together — although every byte arrives well within the per-read timeout."""
    with drip_server(mode) as server:
        client = sk.Client(
            CANARY_KEY, base_url=server.url, logs_base_url=server.url, timeout=1.0, max_retries=0
        )
        with client:
            elapsed, error = _timed_failure(client, "page")
        assert 1.0 <= elapsed < 1.0 + SLACK_S, elapsed
        assert len(server.requests) == 1
    assert error.method == "GET" and error.url is not None and "/session" in error.url
    assert re.search(MESSAGES[mode], str(error)), str(error)
    assert "gave up after 1 attempt(s)" in str(error)


@pytest.mark.parametrize("mode", ["headers", "body", "chunked", "stall"])
@pytest.mark.parametrize("call", ["page", "detail"])
def test_retries_end_within_the_budget_plus_one_timeout(mode: str, call: str) -> None:
    """The issue's case: ``timeout=3, retry_budget=5`` was still waiting after 20 s on a
    trickling body, and forever on dripping headers. Every attempt, every wait and the last
    attempt's timeout fit in ``retry_budget + timeout``."""
    timeout, budget = 1.0, 2.5
    with drip_server(mode) as server:
        client = sk.Client(
            CANARY_KEY,
            base_url=server.url,
            logs_base_url=server.url,
            timeout=timeout,
            retry_budget=budget,
            max_retries=50,
        )
        with client:
            elapsed, error = _timed_failure(client, call)
        attempts = len(server.requests)
    assert elapsed < budget + timeout + SLACK_S, elapsed
    assert attempts >= 2  # it did retry, inside the budget
    assert f"(gave up after {attempts} attempt(s))" in str(error)
    assert re.search(MESSAGES[mode], str(error)), str(error)


@pytest.mark.parametrize("mode", ["headers", "body", "chunked"])
def test_the_connection_of_a_cut_off_attempt_is_closed(mode: str) -> None:
    """A cut-off attempt hangs up (the server sees it), so a dripping server never holds the
    client's connections."""
    with drip_server(mode) as server:
        client = sk.Client(
            CANARY_KEY, base_url=server.url, logs_base_url=server.url, timeout=1.0, max_retries=0
        )
        with client:
            _timed_failure(client, "page")
            deadline = time.monotonic() + 5
            while not server.hangups and time.monotonic() < deadline:
                time.sleep(0.05)
        assert len(server.hangups) == 1
        assert server.hangups[0] - server.requests[0] < 1.0 + SLACK_S
