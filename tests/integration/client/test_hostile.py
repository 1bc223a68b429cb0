"""Huge, deep and malformed responses over real HTTP: bounded, parsed, or refused by name.

The emulator's ``raw_answers`` serves exact bytes for a path (a timeline 10,000 levels deep, a
page with far more rows than asked for); a tiny hostile server in this module sends bodies of
several GB (announced or streamed) to prove the client stops reading at its limit.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import frames
from sessionkit.emulator import Emulator
from tests.conftest import CANARY_KEY, make_client
from tests.servers import listing

# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def hostile(small_emu: Emulator) -> Iterator[Emulator]:
    """``small_emu`` whose raw answers are cleared after the test."""
    yield small_emu
    small_emu.raw_answers.clear()


def _detail_with_timeline(emu: Emulator, timeline: str) -> tuple[str, bytes]:
    row = 3
    detail = emu.dataset.detail(row, emu.now())
    session_id = str(detail["session"]["id"])
    detail = {**detail, "session": {**detail["session"], "timeline": "@TIMELINE@"}}  # a copy
    envelope = orjson.dumps({"success": True, "data": detail})
    return session_id, envelope.replace(b'"@TIMELINE@"', timeline.encode())


def _chain_text(depth: int) -> str:
    opening = "".join(
        f'{{"id":"n{i}","operation":"op","duration":{depth - i}.0,"children":['
        for i in range(depth - 1)
    )
    leaf = f'{{"id":"n{depth - 1}","operation":"leaf","duration":1.0}}'
    return opening + leaf + "]}" * (depth - 1)


def test_a_timeline_ten_thousand_levels_deep_loads_over_http(hostile: Emulator) -> None:
    session_id, body = _detail_with_timeline(hostile, _chain_text(10_000))
    hostile.raw_answers[f"/session/{session_id}"] = body
    with make_client(hostile, max_retries=0) as client:
        detail = sk.load_session(session_id, client, logs=False)
    spans = detail.spans
    assert len(spans) == 10_000 and spans["depth"].max() == 9_999
    assert spans["operation"].iloc[-1] == "leaf"
    assert (spans["self_duration"] == spans["self_duration"].iloc[0]).all()
    assert client.stats["retries"] == 0


def test_a_timeline_a_hundred_thousand_nodes_wide_loads_over_http(hostile: Emulator) -> None:
    kids = ",".join(f'{{"id":"c{i}","operation":"op","duration":0.5}}' for i in range(100_000))
    root = f'{{"id":"r","operation":"root","duration":60000.0,"children":[{kids}]}}'
    session_id, body = _detail_with_timeline(hostile, root)
    hostile.raw_answers[f"/session/{session_id}"] = body
    with make_client(hostile, max_retries=0) as client:
        spans = sk.load_session(session_id, client, logs=False).spans
    assert len(spans) == 100_001
    assert spans["position"].iloc[-1] == 99_999
    assert spans["self_duration"].iloc[0] == pd.Timedelta(60_000 - 50_000, "ms")


def test_a_page_with_more_rows_than_asked_is_refused_by_name(hostile: Emulator) -> None:
    record = hostile.dataset.render_sessions([0], hostile.now())[0]
    rows = b",".join([orjson.dumps(record)] * 5_000)
    hostile.raw_answers["/session"] = b'{"success":true,"data":[' + rows + b"]}"
    refused = pytest.raises(sk.BadResponseError, match=r"answered 5,000 sessions .* at most 100")
    with make_client(hostile, max_retries=0) as client, refused:
        sk.load_sessions(client=client, progress=False)


def test_non_utf8_bytes_in_a_page_are_replaced_reported_and_no_row_is_lost(
    hostile: Emulator,
) -> None:
    records = [dict(r) for r in hostile.dataset.render_sessions(list(range(40)), hostile.now())]
    records[7]["error"] = "@BAD@"
    body = orjson.dumps({"success": True, "data": records})
    hostile.raw_answers["/session"] = body.replace(b'"@BAD@"', b'"timeout at caf\xe9 \xff"')
    reported = pytest.warns(sk.SchemaWarning, match=r"2 byte sequence\(s\) that are not UTF-8")
    with make_client(hostile, max_retries=0) as client, reported:
        page = client.list_sessions_page()
    frame = frames.sessions_frame_from_pages([page.body])
    assert len(frame) == 40
    assert frame["error"].iloc[7] == "timeout at caf\ufffd \ufffd"
    assert frame["id"].tolist() == [r["id"] for r in records]


def test_nan_and_infinity_literals_in_a_page_are_read_not_refused(hostile: Emulator) -> None:
    """Servers written in Python or JavaScript may emit these non-JSON literals: the page is
    still read; NaN is a missing value, Infinity is kept as the value sent."""
    records = [dict(r) for r in hostile.dataset.render_sessions(list(range(30)), hostile.now())]
    missing = sum(r["total_cost"] is None for k, r in enumerate(records) if k != 2)  # sent null
    records[2]["total_cost"] = "@NAN@"
    records[5]["llm_cost"] = "@INF@"
    body = orjson.dumps({"success": True, "data": records})
    body = body.replace(b'"@NAN@"', b"NaN").replace(b'"@INF@"', b"Infinity")
    hostile.raw_answers["/session"] = body
    with make_client(hostile, max_retries=0) as client:
        page = client.list_sessions_page()
    with pytest.warns(sk.SchemaWarning, match=r"llm_cost: 1 value\(s\) are infinite.*kept as inf"):
        frame = frames.sessions_frame_from_pages([page.body])
    assert len(frame) == 30
    assert frame["total_cost"].isna().sum() == missing + 1 and frame["total_cost"].isna().iloc[2]
    assert frame["llm_cost"].iloc[5] == float("inf")
    assert frame["id"].tolist() == [r["id"] for r in records]


# --------------------------------------------------------------------------- huge bodies


class _HugeBodyServer:
    """A loopback peer that answers every request with a body of ``size`` bytes, announced
    with Content-Length or streamed chunked, and counts how many bytes it managed to send."""

    def __init__(self, size: int, *, announce: bool) -> None:
        self.size, self.announce, self.sent = size, announce, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += (
                f"Content-Length: {self.size}\r\n\r\n"
                if self.announce
                else "Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b'{"success":true,"data":[' + b"1," * 32_000
            try:
                conn.sendall(head.encode())
                while self.sent < self.size:
                    data = chunk if self.announce else b"%x\r\n%s\r\n" % (len(chunk), chunk)
                    conn.sendall(data)
                    self.sent += len(chunk)
            except OSError:
                return  # the client hung up: what we want

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=10)


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "chunked"])
def test_a_multi_gigabyte_body_is_refused_at_the_limit_without_reading_it(announce: bool) -> None:
    server = _HugeBodyServer(8 * 2**30, announce=announce)
    try:
        client = sk.Client(
            CANARY_KEY,
            base_url=server.url,
            logs_base_url=server.url,
            max_retries=0,
            max_response_bytes=4 * 2**20,
        )
        tracemalloc.start()
        with client, pytest.raises(sk.ResponseTooLargeError, match="max_response_bytes=4,194,304"):
            client.list_sessions_page()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.close()
    assert peak < 64 * 2**20  # bounded by the limit, not by the 8 GiB on offer
    assert server.sent < 2**30  # the client stopped reading long before the end


# --------------------------------------------------------------------------- paging contract

_Window = Callable[[int, int, int], tuple[int, int]]


class _PagingServer:
    """A loopback ``GET /session`` that serves slices of ``records`` (with ``honour_query``,
    of the rows the query's time bounds and sort select, as the API does; else of ``records``
    as they are): ``window(request_number, offset, limit)`` gives the ``(start, stop)`` served. After ``cutoff`` requests every answer
    is a 500, so a client that never gives up fails (``max_retries=0``) instead of hanging.
    The first ``grow`` records appear one at a time at the front (newest first), one every
    ``every`` requests: a live project whose sessions arrive during the walk."""

    def __init__(
        self,
        records: list[dict[str, object]],
        window: _Window,
        *,
        cutoff: int = 3_000,
        grow: int = 0,
        every: int = 1,
        honour_query: bool = True,
    ) -> None:
        self.records, self.window, self.cutoff = records, window, cutoff
        self.honour_query = honour_query
        self.grow, self.every = grow, every
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != "/session":
                    self.send_error(404)
                    return
                query = parse_qs(urlsplit(self.path).query)
                offset, limit = int(query["offset"][0]), int(query["limit"][0])
                with server.lock:
                    server.requests += 1
                    number = server.requests
                    visible = server.records[max(0, server.grow - number // server.every) :]
                if server.honour_query:  # the time bounds and the sort, as the API does
                    visible = listing(visible, {k: v[-1] for k, v in query.items()})
                if number > server.cutoff:
                    status, body = 500, b'{"success":false,"message":"cut off"}'
                else:
                    start, stop = server.window(number, offset, limit)
                    status = 200
                    body = orjson.dumps({"success": True, "data": visible[start:stop]})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def client(self, **options: object) -> sk.Client:
        defaults: dict[str, object] = {"timeout": 5.0, "max_retries": 0}
        defaults.update(options)
        return sk.Client(CANARY_KEY, base_url=self.url, logs_base_url=self.url, **defaults)  # type: ignore[arg-type]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _guarded(fn: Callable[[], object], seconds: float = 60.0) -> object:
    """Run ``fn`` in a thread; fail (never hang) when it does not finish within ``seconds``."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), f"the walk did not finish within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


@pytest.fixture
def records(small_emu: Emulator) -> list[dict[str, object]]:
    return [dict(r) for r in small_emu.dataset.render_sessions(list(range(300)), small_emu.now())]


class TestServersThatIgnoreOffset:
    """A server that ignores ``offset`` (and maybe ``limit``) but answers the time bounds and
    the sort: every walk without a limit is keyed by ``start_time`` and reads it all; a walk
    by offset (a limit in another order than ``startTime``, the store's change feed) must not
    loop: it stops long before the server's cut-off with a BadResponseError naming the
    problem. A server that ignores the whole query string is refused by any walk."""

    HOSTILE: ClassVar[dict[str, _Window]] = {
        "full-pages": lambda n, offset, limit: (0, limit),
        "one-row-pages": lambda n, offset, limit: (0, 1),
        # (sizes by offset, not by request: what a walk sees does not depend on its timing)
        "same-page-varying-sizes": lambda n, offset, limit: (
            0,
            min(limit, (1, 7, 3)[offset // 7 % 3]),
        ),
        "same-page-shifted": lambda n, offset, limit: (n % 3, n % 3 + limit),
    }

    @pytest.mark.parametrize("concurrency", [1, 8])
    def test_a_time_walk_reads_everything_whatever_the_offsets(
        self, records: list[dict[str, object]], concurrency: int
    ) -> None:
        server = _PagingServer(records, self.HOSTILE["full-pages"], cutoff=3_000)
        try:
            with server.client(concurrency=concurrency) as client:
                frame = _guarded(
                    lambda: sk.load_sessions(client=client, progress=False, agent_names=False)
                )
        finally:
            server.close()
        assert isinstance(frame, pd.DataFrame)
        assert sorted(frame["id"]) == sorted(str(r["id"]) for r in records)
        assert server.requests < len(records) // 50 + 20

    @pytest.mark.parametrize("concurrency", [1, 8])
    def test_one_row_pages_that_ignore_offset_are_refused_by_a_time_walk(
        self, records: list[dict[str, object]], concurrency: int
    ) -> None:
        """A page of one row cannot step past the rows at the cursor by time alone (the
        cursor's rows are asked again, on purpose: ties); offsets would, and this server
        ignores them: a clear error, not a truncated frame."""
        server = _PagingServer(records, self.HOSTILE["one-row-pages"], cutoff=3_000)
        try:
            refused = pytest.raises(sk.BadResponseError, match=r"the server ignores offset")
            with server.client(concurrency=concurrency) as client, refused:
                _guarded(lambda: sk.load_sessions(client=client, progress=False))
        finally:
            server.close()
        assert server.requests < 40

    @pytest.mark.parametrize("name", list(HOSTILE))
    @pytest.mark.parametrize("concurrency", [1, 8])
    def test_an_offset_walk_gives_up_with_a_clear_error(
        self, records: list[dict[str, object]], name: str, concurrency: int
    ) -> None:
        server = _PagingServer(records, self.HOSTILE[name], cutoff=3_000)
        try:
            refused = pytest.raises(
                sk.BadResponseError, match=r"ignored offset=\d+|another order than before"
            )
            with server.client(concurrency=concurrency) as client, refused as caught:
                _guarded(
                    lambda: sk.load_sessions(
                        client=client, progress=False, sort="created", limit=1_000
                    )
                )
        finally:
            server.close()
        error = caught.value
        assert error.method == "GET" and error.url == f"{server.url}/session"
        assert "offset" in error.hint and CANARY_KEY not in str(error)
        assert server.requests < 200  # gave up long before the cut-off

    @pytest.mark.parametrize("concurrency", [1, 8])
    def test_a_server_ignoring_the_whole_query_is_refused_by_name(
        self, records: list[dict[str, object]], concurrency: int
    ) -> None:
        server = _PagingServer(records, self.HOSTILE["full-pages"], honour_query=False)
        try:
            refused = pytest.raises(sk.BadResponseError, match=r"it ignores (startBefore|sort)")
            with server.client(concurrency=concurrency) as client, refused as caught:
                _guarded(lambda: sk.load_sessions(client=client, progress=False))
        finally:
            server.close()
        assert "paging contract" in caught.value.hint and CANARY_KEY not in str(caught.value)
        assert server.requests < 40

    def test_every_offset_walk_is_bounded_by_its_progress(
        self, records: list[dict[str, object]]
    ) -> None:
        """A server that keeps sending a few new rows per page, never reaching a short page,
        still ends: pages of which less than a tenth is new may not outnumber twice the others
        plus 20 and the look-ahead."""
        # each request brings 1 new row: a full page that slides by 1 per request, whatever the offset
        server = _PagingServer(records, lambda n, offset, limit: (n - 1, n - 1 + limit))
        try:
            refused = pytest.raises(sk.BadResponseError, match="made no progress")
            with server.client(concurrency=1) as client, refused as caught:
                _guarded(lambda: list(client.iter_session_pages({}, walk="offset")))
        finally:
            server.close()
        assert "offset" in caught.value.hint
        assert server.requests < 200

    @pytest.mark.parametrize(
        ("cap", "grow", "every"),
        [(1, 0, 1), (10, 0, 1), (100, 0, 1), (1, 40, 3), (10, 100, 1), (100, 100, 1)],
    )
    @pytest.mark.parametrize("walk", ["time", "offset"])
    def test_an_honest_server_still_walks_to_the_end(
        self, records: list[dict[str, object]], cap: int, grow: int, every: int, walk: str
    ) -> None:
        """Caps far below ``limit`` and sessions arriving during the walk (already-seen ids at
        new offsets) are legitimate: every session there at the start is read, no error."""
        # 1-row pages have no overlap to detect a page fetched ahead of its predecessor: while
        # sessions arrive, only an offset walk without look-ahead reads every one (a known limit)
        concurrency = 1 if cap == 1 and grow and walk == "offset" else 8
        records = sorted(records, key=lambda r: str(r["created_at"]), reverse=True)
        records = listing(records, {})  # newest first: the first `grow` arrive at the front
        server = _PagingServer(
            records,
            lambda n, offset, limit: (offset, offset + min(limit, cap)),
            grow=grow,
            every=every,
        )
        try:
            with server.client(concurrency=concurrency) as client:
                pages = _guarded(lambda: list(client.iter_session_pages({}, walk=walk)))  # type: ignore[arg-type]
        finally:
            server.close()
        assert isinstance(pages, list)
        got = {i for page in pages for i in page.ids}
        assert {str(r["id"]) for r in records[grow:]} <= got
        # a time walk asks the rows at its cursor again (ties): with 1-row pages each row
        # costs a keyset request and two readings by offset (a known cost of tiny caps)
        per_row = 6 if walk == "time" and cap == 1 else 3
        assert server.requests < per_row * len(records) // cap + 40


@pytest.mark.parametrize("bad_id", [None, 12345, {"nested": 1}])
def test_sessions_without_a_usable_id_are_each_kept_and_counted(
    records: list[dict[str, object]], bad_id: object
) -> None:
    """Found by an outside attacker: 150 sessions with ``"id": null`` (or numeric ids) came
    back as one row, with no warning (or one saying the rows were kept)."""
    broken = [dict(r) for r in records[:150]]
    for row in broken:
        row["id"] = bad_id
    server = _PagingServer(broken, lambda n, offset, limit: (offset, offset + limit))
    try:
        with server.client(concurrency=4) as client, pytest.warns(sk.SchemaWarning) as caught:
            frame = _guarded(lambda: sk.load_sessions(client, progress=False, agent_names=False))
    finally:
        server.close()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 150
    assert frame["id"].isna().all()
    total = sum(float(r["total_cost"]) for r in broken if r["total_cost"] is not None)  # type: ignore[arg-type]
    assert frame["total_cost"].sum() == pytest.approx(total)
    assert any("150 session(s) have no usable id" in str(w.message) for w in caught)


@contextmanager
def _answering(body: bytes, *, byte_delay: float = 0.0) -> Iterator[str]:
    """A loopback server answering every GET with ``body`` (200, JSON), one byte every
    ``byte_delay`` seconds when that is set; yields its URL."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if not byte_delay:
                    self.wfile.write(body)
                for k in range(len(body) if byte_delay else 0):
                    self.wfile.write(body[k : k + 1])
                    self.wfile.flush()
                    time.sleep(byte_delay)
            except OSError:
                pass  # the client hung up: what it should do

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_dripping_its_answer_is_cut_off_at_the_timeout() -> None:
    """Found by an outside attacker: one byte every 50 ms kept each read within timeout=1, and
    the load ran for 120 s before failing with a misleading error."""
    body = orjson.dumps({"success": True, "data": []}) + b" " * 4000
    with _answering(body, byte_delay=0.05) as url:
        client = sk.Client(
            CANARY_KEY, base_url=url, logs_base_url=url, timeout=1.0, retry_budget=2.0,
            max_retries=1,
        )  # fmt: skip
        began = time.monotonic()
        with client, pytest.raises(sk.APITimeoutError, match="did not complete within 1 s"):
            _guarded(lambda: sk.load_sessions(client, progress=False, agent_names=False), 30)
        assert time.monotonic() - began < 10  # timeout × attempts, not the drip's 200 s


def test_a_page_of_rows_nested_past_any_depth_is_refused_by_name() -> None:
    """Found by an outside attacker: a page whose data is a list nested 200,000 deep raised a
    bare TypeError ("Recursion limit reached")."""
    body = b'{"success":true,"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with _answering(body) as url:
        client = sk.Client(CANARY_KEY, base_url=url, logs_base_url=url, max_retries=0)
        with client, pytest.raises(sk.BadResponseError, match="row that is no session"):
            _guarded(lambda: sk.load_sessions(client, progress=False, agent_names=False))
