"""What ``Store.sync`` reports: counts that add up, one summary in a notebook, one sync state per
local server, and a failed agent-name lookup that does not lose the sessions fetched."""

from __future__ import annotations

import http.server
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator
from sessionkit.errors import SchemaWarning
from sessionkit.store import Store, StoreSourceError
from sessionkit.store._sync import _scope_key
from tests.conftest import CANARY_KEY, make_client


def _seen_ids(client: sk.Client) -> list[tuple[str, ...]]:
    """Records the ids of every ``GET /session`` page the client reads from now on."""
    seen: list[tuple[str, ...]] = []
    original = client.iter_session_pages

    def recording(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for page in original(*args, **kwargs):
            seen.append(page.ids)
            yield page

    client.iter_session_pages = recording  # type: ignore[method-assign]
    return seen


def _summary(result: sk.SyncResult) -> str:
    return (
        f"sync: {result.new:,} new, {result.updated:,} updated, {result.unchanged:,} unchanged "
        "sessions"
    )


def test_first_sync_into_an_empty_store_counts_every_session_once_as_new(
    tmp_path: Path, small_emu: Emulator, request: pytest.FixtureRequest
) -> None:
    client = make_client(small_emu)
    request.addfinalizer(client.close)
    seen = _seen_ids(client)
    store = Store(tmp_path / "s", batch_pages=2)
    first = store.sync(client, progress=False)
    assert len(set().union(*seen)) == 700 and len(seen) > 7  # the top was read twice
    assert (first.new, first.updated, first.unchanged) == (700, 0, 0)
    assert str(first).startswith("sync: 700 new, 0 updated, 0 unchanged sessions")
    assert repr(first) == str(first)
    seen.clear()
    second = store.sync(client, progress=False)
    assert second.new == 0 and second.updated == 0
    # the last page read is entirely older than the watermark: the walk stops there unread
    assert second.pages == len(seen) >= 2
    read = set().union(*seen[:-1])
    assert second.new + second.updated + second.unchanged == len(read) > 0
    assert str(second).startswith(f"sync: 0 new, 0 updated, {len(read):,} unchanged sessions")


def test_a_store_holding_some_sessions_counts_each_session_once(
    tmp_path: Path, small_emu: Emulator, request: pytest.FixtureRequest
) -> None:
    """The history walk finds some sessions stored (unchanged) and the incremental pass
    re-reads the top: still one count per distinct session."""
    client = make_client(small_emu)
    request.addfinalizer(client.close)
    store = Store(tmp_path / "r", batch_pages=1)
    store.upsert("sessions", sk.load_sessions(client, progress=False).iloc[:150])
    seen = _seen_ids(client)
    result = store.sync(client, progress=False)
    assert result.new + result.updated + result.unchanged == len(set().union(*seen)) == 700
    assert result.new == 550 and result.unchanged == 150
    assert str(result).startswith(_summary(result))


def test_sync_shows_its_summary_once_in_a_notebook(
    tmp_path: Path, small_emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.formatters import DisplayFormatter

    with make_client(small_emu) as client:
        result = Store(tmp_path / "n").sync(client, progress=None)
    printed = capsys.readouterr()
    shown, _ = DisplayFormatter().format(result)  # what Jupyter shows for the cell's last line
    assert "sync:" not in printed.out and "sync:" not in printed.err
    assert shown["text/plain"] == str(result)
    assert str(result).startswith("sync: 700 new, 0 updated, 0 unchanged")


def test_two_local_servers_of_two_projects_cannot_share_a_store(tmp_path: Path) -> None:
    """Two APIs on loopback (two emulators, two ports, two projects) are two sources: the
    second is refused before it writes anything (it used to be kept as a second scope, so a
    load mixed both projects); the first syncs on incrementally."""
    store = Store(tmp_path / "two")
    with (
        Emulator(sessions=300, seed=21, key=CANARY_KEY) as one,
        Emulator(sessions=200, seed=22, key=CANARY_KEY) as two,
        make_client(one) as client_one,
        make_client(two) as client_two,
    ):
        assert _scope_key(client_one, {})[0] != _scope_key(client_two, {})[0]
        assert store.sync(client_one, progress=False).new == 300
        with pytest.raises(StoreSourceError, match="holds project"):
            store.sync(client_two, progress=False)
        assert len(store.load_sessions()) == 300
        assert len(store.manifest()["scopes"]) == 1
        again = store.sync(client_one, progress=False)
        assert (again.new, again.updated) == (0, 0) and again.pages <= 2


def test_the_demo_scope_survives_a_new_port() -> None:
    """The bundled demo's emulator listens on a new port every run and serves the same data,
    so ``sessionkit sync --demo`` stays incremental; other local servers differ by port."""
    clients = [sk.Client(CANARY_KEY, base_url=f"http://127.0.0.1:{p}") for p in (1111, 2222)]
    try:
        assert _scope_key(clients[0], {}) != _scope_key(clients[1], {})
        for client in clients:
            client.demo_span = ("2026-01-01", "2026-03-01")
            client.demo_now = pd.Timestamp("2026-03-01T12:00:00Z")
        assert _scope_key(clients[0], {}) == _scope_key(clients[1], {})
    finally:
        for client in clients:
            client.close()


class _DetailsFail(http.server.ThreadingHTTPServer):
    """Forwards every request to an emulator but ``GET /session/{id}``, answered 500."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.detail_requests = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _DetailsFailHandler)


class _DetailsFailHandler(http.server.BaseHTTPRequestHandler):
    server: _DetailsFail

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.startswith("/session/") and path.count("/") == 2 and path != "/session/2025-03-17":
            with self.server.lock:
                self.server.detail_requests += 1
            body = b'{"success": false, "message": "internal error", "code": "INTERNAL"}'
            self._reply(500, body, "application/json")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization",)}
        answer = httpx.get(self.server.upstream + self.path, headers=headers, timeout=10)
        self._reply(answer.status_code, answer.content, answer.headers.get("content-type", ""))

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_failed_agent_name_lookups_keep_the_sessions_and_warn(
    tmp_path: Path, small_emu: Emulator
) -> None:
    server = _DetailsFail(small_emu.catalyst_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = sk.Client(
            small_emu.key,
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            logs_base_url=small_emu.api_url,
            timeout=5.0,
            max_retries=1,
            retry_budget=5.0,
        )
        store = Store(tmp_path / "names")
        with pytest.warns(SchemaWarning, match=r"agent names.*agent_.*sync again") as caught:
            result = store.sync(client, progress=False)
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert server.detail_requests > 0
    assert result.new == 700
    stored = store.load_sessions()
    assert len(stored) == 700 and stored["agent"].isna().all()
    assert stored["agent_id"].notna().any()
    assert store.manifest()["agent_names"] == {}
    messages = [str(w.message) for w in caught if issubclass(w.category, SchemaWarning)]
    assert len(messages) == 1, messages  # once, with the cause, not once per batch
    unnamed = store.manifest()["unnamed_agents"]
    assert unnamed and all(a in messages[0] for a in unnamed[:5])
    assert f"{len(unnamed):,} agent id(s) have no name" in messages[0]
    assert "HTTP 500" in messages[0]
    # the next sync against a healthy server names them, stored sessions unchanged included
    with warnings.catch_warnings(), make_client(small_emu) as healthy:
        warnings.simplefilter("error")
        again = store.sync(healthy, progress=False)
    assert (again.new, again.updated) == (0, 0)
    assert store.load_sessions()["agent"].notna().all()
    assert store.manifest()["unnamed_agents"] == []
    assert store.manifest()["agent_names"]
