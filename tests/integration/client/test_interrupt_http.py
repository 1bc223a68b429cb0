"""Ctrl-C during a fan-out stops everything within about a second, over real loopback HTTP.

A stdlib server answers every request with a 503 and ``Retry-After: 1`` (a retry storm: the
workers spend their time in retry waits) or holds every request without answering (the
workers sit in reads), and records when each request arrived and when a held one was hung
up. The fan-out runs with a budget that would keep it retrying for minutes
(``max_retries=1000, retry_budget=600, timeout=30``).

* In a child process (a script, as a user runs it), SIGINT must end the process with
  ``KeyboardInterrupt`` within 2 s, through ``Client.map`` and the loaders that use it.
* In this process (a notebook's kernel lives on after the stop button), the
  ``KeyboardInterrupt`` must reach the caller within 1 s, the server must see no request
  after it (a 0.25 s grace for one already being written), held requests must be hung up,
  the worker threads must end, and the same client must then work.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import pytest

import sessionkit as sk
from sessionkit.client.retry import Stopped
from tests.conftest import CANARY_KEY
from tests.servers import detail, http_server, listing, send, send_json, session

GRACE_S = 0.25  # a request already being written when the signal came
IDS = [f"sess_{i:032x}" for i in range(200)]
ROWS = [session(i) for i in range(5000)]  # what a walk lists (a month of distinct times)


class Busy:
    """The server's state: ``mode`` (``"503"`` or ``"stall"``) until ``healthy`` is set, then
    ordinary answers (a session detail, an empty log list). ``requests``: arrival times;
    ``hangups``: when a held request's client closed its connection (``time.monotonic()``)."""

    def __init__(self, mode: str, good_lists: int = 0) -> None:
        self.mode = mode
        self.healthy = threading.Event()
        self.requests: list[float] = []
        self.hangups: list[float] = []
        self.lock = threading.Lock()
        #: list requests answered with sessions before the trouble starts (a walk under way)
        self.good_lists = good_lists

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(time.monotonic())
            path, _, query = handler.path.partition("?")
            good = path == "/session" and self.good_lists > 0
            if good:
                self.good_lists -= 1
        if good or (self.healthy.is_set() and path == "/session"):
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", 10))
            rows = listing(ROWS, params)[offset : offset + limit]
            send_json(handler, 200, {"success": True, "data": rows})
            return
        if not self.healthy.is_set():
            if self.mode == "503":
                body = json.dumps({"success": False, "message": "busy"}).encode()
                send(handler, 503, body, {"content-type": "application/json", "retry-after": "1"})
                return
            if self._held_until_hung_up(handler.connection):
                return
        path = handler.path.split("?")[0]
        if path.endswith("/logs"):
            send_json(handler, 200, {"success": True, "data": []})
        else:
            row = session(int(path.rsplit("_", 1)[1], 16))
            send_json(handler, 200, {"success": True, "data": detail(row)})

    def _held_until_hung_up(self, conn: socket.socket) -> bool:
        """Hold the request until the client hangs up (``True``) or ``healthy`` is set."""
        while not self.healthy.is_set():
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable:
                try:
                    gone = conn.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    gone = True
                if gone:
                    with self.lock:
                        self.hangups.append(time.monotonic())
                    return True
        return False

    def wait_for_requests(self, count: int, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"only {len(self.requests)} requests arrived"
            time.sleep(0.02)

    def after(self, instant: float) -> list[float]:
        """Arrival times later than ``instant``, as seconds after it."""
        with self.lock:
            return [round(t - instant, 3) for t in self.requests if t > instant]


@contextmanager
def busy_server(mode: str, good_lists: int = 0) -> Iterator[tuple[Busy, str]]:
    busy = Busy(mode, good_lists)
    try:
        with http_server(busy.respond) as url:
            yield busy, url
    finally:
        busy.healthy.set()  # release held handlers


def _client(url: str) -> sk.Client:
    return sk.Client(
        CANARY_KEY,
        base_url=url,
        logs_base_url=url,
        timeout=30.0,
        max_retries=1000,
        retry_budget=600.0,
        concurrency=8,
    )


SCRIPT = """
import sys
import sessionkit as sk
from sessionkit.client.retry import Stopped
url, call = sys.argv[1], sys.argv[2]
client = sk.Client(sys.argv[3], base_url=url, logs_base_url=url, timeout=30.0,
                   max_retries=1000, retry_budget=600.0, concurrency=8)
ids = [f"sess_{i:032x}" for i in range(200)]
if call == "map":
    client.map(client.get_session, ids)
elif call == "load_sessions":
    sk.load_sessions(client, progress=False, agent_names=False)
elif call == "sync":
    sk.Store(sys.argv[4]).sync(client, progress=False)
elif call == "load_logs":
    sk.load_logs(ids, client, progress=False)
else:
    sk.load_details(ids, client, progress=False)
print("finished", flush=True)
"""


@pytest.mark.parametrize(
    ("mode", "call"),
    [
        ("503", "map"),
        ("stall", "map"),
        ("503", "load_details"),
        ("stall", "load_logs"),
        ("503", "load_sessions"),
        ("stall", "load_sessions"),
        ("503", "sync"),
    ],
)
def test_sigint_ends_a_script_within_two_seconds(mode: str, call: str, tmp_path: Path) -> None:
    """A walk (``load_sessions``, a sync's) first reads two pages and the far end, then cuts
    itself into slices whose workers all meet the trouble."""
    walks = call in ("load_sessions", "sync")
    with busy_server(mode, good_lists=3 if walks else 0) as (busy, url):
        child = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, url, call, CANARY_KEY, str(tmp_path / "store")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[3],
            text=True,
        )
        try:
            busy.wait_for_requests((16 if mode == "503" else 8) + (3 if walks else 0))
            time.sleep(0.5)  # the workers are in their waits (503) or reads (stall)
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            try:
                _, err = child.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                pytest.fail("the process was still running 15 s after SIGINT")
            took = time.monotonic() - sent
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        late = busy.after(sent + GRACE_S)
    assert "KeyboardInterrupt" in err, err[-2000:]
    assert child.returncode == -signal.SIGINT, (child.returncode, err[-2000:])
    assert took < 2.0, f"exited {took:.2f} s after SIGINT"
    assert late == [], f"requests {late} s after SIGINT"
    assert CANARY_KEY not in err


def _after_the_interrupt(
    busy: Busy, before: set[threading.Thread], sent: float
) -> tuple[list[str], list[float]]:
    """``(still, late)``: the sessionkit threads started since ``before`` still alive 1 s after
    the SIGINT at ``sent``, and the requests the server saw after it (past the grace),
    watched for 2 s."""
    workers = [
        t for t in threading.enumerate() if t not in before and t.name.startswith("sessionkit")
    ]
    for thread in workers:
        thread.join(timeout=max(0.0, sent + 1.0 - time.monotonic()))
    still = [t.name for t in workers if t.is_alive()]
    time.sleep(max(0.0, sent + 2.0 - time.monotonic()))  # watch the server 2 s
    return still, busy.after(sent + GRACE_S)


@pytest.mark.parametrize("mode", ["503", "stall"])
def test_ctrl_c_in_a_kernel_stops_the_workers_and_the_client_works_after(mode: str) -> None:
    """The interrupt is a real SIGINT sent to this (the main) thread while it waits in
    ``client.map``. The server turns healthy 4 s after it, so a client that did not stop
    its workers finishes late instead of hanging the suite (and fails the timings)."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main
    before = set(threading.enumerate())
    with busy_server(mode) as (busy, url), _client(url) as client:
        sent = [0.0]

        def interrupt() -> None:
            busy.wait_for_requests(16 if mode == "503" else 8)
            time.sleep(0.5)
            sent[0] = time.monotonic()
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(4.0)
            busy.healthy.set()

        interrupter = threading.Thread(target=interrupt, daemon=True)
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            client.map(client.get_session, IDS)
        raised = time.monotonic() - sent[0]
        still, late = _after_the_interrupt(busy, before, sent[0])
        held = len(busy.requests)
        hangups = [round(t - sent[0], 3) for t in busy.hangups]
        interrupter.join(timeout=10)
        assert busy.healthy.is_set()
        # the same client, after the interrupt: a fresh call works
        again = client.get_session(IDS[7])
    assert raised < 1.0, f"KeyboardInterrupt reached the caller {raised:.2f} s after SIGINT"
    assert late == [], f"requests {late} s after SIGINT"
    assert still == [], f"worker threads alive 1 s after SIGINT: {still}"
    if mode == "stall":  # every held request was hung up, promptly
        assert len(hangups) == held and max(hangups) < 1.0, hangups
    assert again["session"]["id"] == IDS[7]


@pytest.mark.parametrize("mode", ["503", "stall"])
def test_ctrl_c_during_a_walk_in_a_kernel_stops_its_workers(mode: str) -> None:
    """The same for ``load_sessions``: its walk read three answers, cut itself into slices
    whose workers then meet the trouble; a SIGINT to this thread reaches the caller within
    1 s, no request follows, the workers end, and the client then walks to the end."""
    main = threading.main_thread().ident
    assert main is not None
    before = set(threading.enumerate())
    with busy_server(mode, good_lists=3) as (busy, url), _client(url) as client:
        sent = [0.0]

        def interrupt() -> None:
            busy.wait_for_requests(3 + (8 if mode == "503" else 6))
            time.sleep(0.5)
            sent[0] = time.monotonic()
            signal.pthread_kill(main, signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            sk.load_sessions(client, progress=False, agent_names=False)
        raised = time.monotonic() - sent[0]
        still, late = _after_the_interrupt(busy, before, sent[0])
        busy.healthy.set()
        frame = sk.load_sessions(client, progress=False, agent_names=False)
    assert raised < 1.0, f"KeyboardInterrupt reached the caller {raised:.2f} s after SIGINT"
    assert late == [], f"requests {late} s after SIGINT"
    assert still == [], f"worker threads alive 1 s after SIGINT: {still}"
    assert len(frame) == len(ROWS)


@pytest.mark.parametrize("mode", ["503", "stall"])
def test_a_page_request_ends_when_its_stop_event_is_set(mode: str) -> None:
    """The interface a walk's workers use: ``list_sessions_page(..., stop=event)``. Set
    before, nothing is sent; set 1.5 s into a retry storm or a held request, the call raises
    ``Stopped`` at once, sends nothing more, and hangs up a held request."""
    with busy_server(mode) as (busy, url), _client(url) as client:
        stop = threading.Event()
        stop.set()
        with pytest.raises(Stopped):
            client.list_sessions_page({"sort": "startTime"}, offset=0, limit=100, stop=stop)
        assert busy.requests == []
        stop = threading.Event()
        threading.Timer(1.5, stop.set).start()
        began = time.monotonic()
        with pytest.raises(Stopped):
            client.list_sessions_page({"sort": "startTime"}, offset=0, limit=100, stop=stop)
        took = time.monotonic() - began
        time.sleep(1.0)
        late = busy.after(began + 1.5 + GRACE_S)
        hangups = [round(t - began, 2) for t in busy.hangups]
    assert 1.5 <= took < 2.0, took
    assert late == []
    assert len(busy.requests) == (2 if mode == "503" else 1)  # at 0 s and 1 s; one held
    if mode == "stall":
        assert len(hangups) == 1 and hangups[0] < 2.0, hangups
