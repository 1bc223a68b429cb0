"""A proxy in the environment never sees the key: plain-HTTP loopback requests (the emulator,
a local server) go direct, over real loopback HTTP (#15 item 20)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator
from tests.conftest import make_client
from tests.servers import http_server, send


@pytest.fixture
def recording_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy that records every request line and Authorization header it gets, and
    answers 502 (a proxy that forwarded nothing)."""
    seen: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        auth = handler.headers.get("Authorization")
        seen.append(f"{handler.command} {handler.path} auth={auth}")
        send(handler, 502, b"")

    with http_server(respond) as url:
        yield url, seen


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
