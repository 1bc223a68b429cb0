"""A proxy in the environment never sees the key: plain-HTTP loopback requests (the emulator,
a local server) go direct, over real loopback HTTP (#15 item 20)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator
from tests.conftest import make_client


@pytest.fixture
def recording_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy that records every request line and Authorization header it gets, and
    answers 502 (a proxy that forwarded nothing)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _record(self) -> None:
            seen.append(f"{self.command} {self.path} auth={self.headers.get('Authorization')}")
            self.send_response(502)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_CONNECT = _record

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_loopback_requests_bypass_an_environment_proxy(
    small_emu: Emulator,
    recording_proxy: tuple[str, list[str]],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, seen = recording_proxy
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, proxy)
    client = make_client(small_emu)
    sessions = sk.load_sessions(client, progress=False)
    one = sessions["id"].iloc[0]
    assert client.get_session(one)["session"]["id"] == one
    assert isinstance(client.get_logs(one), list)
    assert len(sessions) > 0
    assert seen == []
