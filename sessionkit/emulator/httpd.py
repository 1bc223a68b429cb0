"""The emulator's HTTP servers: the Sessions API per region and the App API (logs).

Why the standard library (``http.server.ThreadingHTTPServer``): fault injection needs raw
control of the socket — closing a connection without an answer, announcing a Content-Length and
sending half of it — which frameworks hide; it adds no dependency to a package users install;
and with HTTP/1.1 keep-alive, pre-filtered row indexes and orjson it serves well over 20,000
sessions per second on two cores (``benchmarks/bench_emulator.py``). Servers bind 127.0.0.1.

Semantics a client author must know (the spec leaves them open):

* ``limit`` above 100 is clamped to 100 ("treat 100 as the page maximum"); ``page_cap`` lowers it
  further to emulate a server that returns fewer rows than asked.
* ``startAfter`` / ``startBefore`` compare with ``start_time`` and are exclusive (``>``, ``<``).
* Deleted sessions are listed, flagged ``deleted: true``; hard-deleted ones
  (``Faults.deletes_per_list``) are gone: not listed, 404 by id.
* ``metadata`` matches a session when each of its top-level keys is present with an equal
  value by JSON value equality (:func:`json_equal`: ``2 == 2.0``, ``true != 1``,
  ``"2" != 2``, objects with the same keys, lists item by item).
* Pending sessions have ``success: false``; ``success=true`` therefore never lists them, and
  ``success=false`` lists failures *and* pending sessions, as the flag says.
* Sorting is total: ties are broken by id; sessions without a duration (pending) sort as the
  smallest durations.
* ``GET /session`` lists every region's sessions. By default every region server also answers
  ``GET /session/{id}`` for every session it lists (single-region mode: any one base URL
  serves the whole project). With multi-region on (``Emulator(multi_region=True)``,
  ``Faults(multi_region=True)`` or ``--multi-region``) it answers 421 with
  ``x-agentuity-region`` when the session lives in another region.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson

from .catalog import TRIGGERS, parse_iso
from .chaos import FaultChooser, Faults
from .dataset import Dataset

PAGE_MAX = 100
_SORTS = ("created", "updated", "duration", "startTime")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_SESSION_PATH = re.compile(r"^/session/([^/]+)$")
_LOGS_PATH = re.compile(r"^/cli/session/([^/]+)/logs$")


class BadParameter(Exception):
    """A query parameter the API would reject with 400."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class Stats:
    """Thread-safe request counters: totals, per endpoint, per status and per injected fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, *names: str) -> None:
        with self._lock:
            for name in names:
                self.counts[name] = self.counts.get(name, 0) + 1

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self.counts.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def __repr__(self) -> str:
        return f"Stats({self.snapshot()})"


# ---------------------------------------------------------------------------- the query engine


class QueryEngine:
    """Filtering, sorting and paging over a :class:`Dataset`, with an LRU of row orders."""

    def __init__(self, dataset: Dataset, cache_size: int = 64) -> None:
        self.ds = dataset
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._id_rank: np.ndarray | None = None
        self._id_rank_n = -1
        #: rows hard-deleted (``Faults.deletes_per_list``): gone from lists and by id
        self.gone = np.zeros(0, dtype=bool)

    def delete(self, count: int, now_ns: int, *, newest: bool, pick: Callable[[], float]) -> int:
        """Hard-delete ``count`` visible sessions: the newest, or at random (``pick`` draws
        in [0, 1)); returns how many were deleted."""
        visible = int(np.searchsorted(self.ds.columns["created_ns"], now_ns, side="right"))
        with self._lock:
            if len(self.gone) < visible:
                self.gone = np.concatenate([self.gone, np.zeros(visible - len(self.gone), bool)])
            alive = np.flatnonzero(~self.gone[:visible])
            if not len(alive):
                return 0
            if newest:
                starts = self.ds.columns["start_ns"][alive]
                chosen = alive[np.argsort(starts)[-count:]]
            else:
                chosen = np.unique([alive[int(pick() * len(alive))] for _ in range(count)])
            self.gone[chosen] = True
            return len(chosen)

    def is_gone(self, row: int) -> bool:
        """Whether session row ``row`` was hard-deleted."""
        return row < len(self.gone) and bool(self.gone[row])

    def _ranks(self, n: int) -> np.ndarray:
        if self._id_rank is None or self._id_rank_n != n:
            ids = self.ds.columns["id"][:n]
            rank = np.empty(n, dtype=np.int64)
            rank[np.argsort(ids.astype(str), kind="stable")] = np.arange(n)
            self._id_rank, self._id_rank_n = rank, n
        return self._id_rank

    def rows(
        self,
        query: dict[str, str],
        now_ns: int,
        *,
        frozen: bool,
        tie_order: np.ndarray | None = None,
    ) -> np.ndarray:
        """Row indexes matching ``query`` (without limit/offset), in the requested order, less
        the hard-deleted ones. ``tie_order`` (random keys, one per row) orders equal sort
        values instead of the ids (``Faults.shuffle_ties``; never cached)."""
        visible = int(np.searchsorted(self.ds.columns["created_ns"], now_ns, side="right"))
        if tie_order is not None:
            return self._alive(self._compute(query, now_ns, visible, tie_order))
        key = (tuple(sorted(query.items())), visible, None if frozen else now_ns)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return self._alive(hit)
        order = self._compute(query, now_ns, visible)
        with self._lock:
            self._cache[key] = order
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return self._alive(order)

    def _alive(self, order: np.ndarray) -> np.ndarray:
        gone = self.gone
        if not gone.any():
            return order
        inside = order < len(gone)
        keep = np.ones(len(order), dtype=bool)
        keep[inside] = ~gone[order[inside]]
        return order[keep]

    def _compute(
        self, q: dict[str, str], now_ns: int, n: int, tie_order: np.ndarray | None = None
    ) -> np.ndarray:
        c = self.ds.columns
        mask = np.ones(n, dtype=bool)
        for param, column in (
            ("orgId", "org_id"),
            ("projectId", "project_id"),
            ("deploymentId", "deployment_id"),
            ("trigger", "trigger"),
            ("env", "env"),
            ("threadId", "thread_id"),
        ):
            if param in q:
                mask &= c[column][:n] == q[param]
        done = c["end_ns"][:n] <= now_ns
        if "success" in q:
            success_now = c["success"][:n] & done
            mask &= success_now if q["success"] == "true" else ~success_now
        if "devmode" in q:
            mask &= c["devmode"][:n] == (q["devmode"] == "true")
        if "startAfter" in q:
            mask &= c["start_ns"][:n] > parse_iso(q["startAfter"])
        if "startBefore" in q:
            mask &= c["start_ns"][:n] < parse_iso(q["startBefore"])
        if "agentIdentifier" in q:
            wanted = q["agentIdentifier"]
            mask &= np.fromiter(
                (wanted in ids for ids in c["agent_identifiers"][:n]), dtype=bool, count=n
            )
        if "metadata" in q:
            wanted_meta = orjson.loads(q["metadata"])
            candidates = np.flatnonzero(mask)
            keep = np.zeros(n, dtype=bool)
            for i, found in zip(candidates.tolist(), self.ds.metadata_of(candidates), strict=True):
                meta = found or {}
                keep[i] = all(k in meta and json_equal(meta[k], v) for k, v in wanted_meta.items())
            mask &= keep
        rows = np.flatnonzero(mask)
        sort = q.get("sort", "created")
        if sort == "created":
            values = c["created_ns"][:n]
        elif sort == "startTime":
            values = c["start_ns"][:n]
        elif sort == "updated":
            values = self.ds.updated_ns(now_ns)[:n]
        else:
            values = np.where(done, c["duration_ns"][:n], -1)
        ties = self._ranks(n)[rows] if tie_order is None else tie_order[: len(rows)]
        order = np.lexsort((ties, values[rows]))
        if q.get("direction", "desc") == "desc":
            order = order[::-1]
        return rows[order]


def json_equal(a: object, b: object) -> bool:
    """JSON value equality, what the ``metadata`` filter compares a session's top-level values
    with: numbers by value (``2 == 2.0``, an integer exactly: ``2**53 + 1 != 2.0**53``), a
    boolean only with a boolean (``true != 1``, unlike Python's ``True == 1``), strings by
    their characters, ``null`` only with ``null``, arrays item by item in order, objects key
    by key (the same keys, each value equal; key order does not matter)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def validate_list_query(
    raw: dict[str, list[str]], *, count_param: str
) -> tuple[dict[str, str], int, int]:
    """Check ``GET /session`` parameters; returns ``(filters, limit, offset)`` or raises BadParameter."""
    q = {k: v[-1] for k, v in raw.items() if v}
    limit_text = q.pop(count_param, "10")
    q.pop("limit" if count_param == "count" else "count", None)
    offset_text = q.pop("offset", "0")
    try:
        limit = int(limit_text)
    except ValueError:
        raise BadParameter(
            count_param, f"{count_param} must be an integer, got {limit_text!r}"
        ) from None
    if limit < 1:
        raise BadParameter(count_param, f"{count_param} must be at least 1")
    try:
        offset = int(offset_text)
    except ValueError:
        raise BadParameter("offset", f"offset must be an integer, got {offset_text!r}") from None
    if offset < 0:
        raise BadParameter("offset", "offset must not be negative")
    checks: dict[str, Callable[[str], bool]] = {
        "sort": lambda v: v in _SORTS,
        "direction": lambda v: v in ("asc", "desc"),
        "trigger": lambda v: v in TRIGGERS,
        "devmode": lambda v: v in ("true", "false"),
        "success": lambda v: v in ("true", "false"),
        "startAfter": lambda v: bool(_RFC3339.match(v)),
        "startBefore": lambda v: bool(_RFC3339.match(v)),
    }
    allowed = {
        "sort": "created, updated, duration, startTime",
        "direction": "asc, desc",
        "trigger": ", ".join(TRIGGERS),
        "devmode": "true, false",
        "success": "true, false",
        "startAfter": "an RFC 3339 timestamp",
        "startBefore": "an RFC 3339 timestamp",
    }
    for name, ok in checks.items():
        if name in q and not ok(q[name]):
            raise BadParameter(name, f"Invalid {name} {q[name]!r}: expected {allowed[name]}")
    if "metadata" in q:
        try:
            value = orjson.loads(q["metadata"])
        except orjson.JSONDecodeError:
            raise BadParameter("metadata", "metadata must be a JSON object") from None
        if not isinstance(value, dict):
            raise BadParameter("metadata", "metadata must be a JSON object")
    known = {
        "sort",
        "direction",
        "orgId",
        "projectId",
        "deploymentId",
        "trigger",
        "env",
        "devmode",
        "success",
        "threadId",
        "agentIdentifier",
        "startAfter",
        "startBefore",
        "metadata",
    }
    return {k: v for k, v in q.items() if k in known}, min(limit, PAGE_MAX), offset


# ---------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: Any, role: str, region: str | None, port: int = 0) -> None:
        self.emulator = emulator
        self.role = role  # "catalyst" or "app"
        self.region = region
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (it gave up on a slow fault, or was stopped) is normal for
        this server: no traceback. Anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_all(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms Nagle stalls
    server: _Server
    server_version = "sessionkit-emulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.emulator.verbose:
            self.log_message("%s %s -> %s", self.command, urlsplit(self.path).path, str(code))

    # ---------------------------------------------------------------- responses

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        emu = self.server.emulator
        emu.stats.add(f"status_{status}")
        rate = emu.faults.trickle_bytes_per_s
        if rate and emu.faults.trickle_headers:
            self._trickle(self._head(status, content_type, len(body), headers), rate)
        else:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
        if rate:
            self._trickle(body, rate)
        else:
            self.wfile.write(body)

    def _head(
        self, status: int, content_type: str, length: int, headers: dict[str, str] | None
    ) -> bytes:
        """The status line and headers of an answer, as bytes."""
        lines = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            f"Server: {self.version_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {length}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, data: bytes, rate: float) -> None:
        """Send ``data`` at ``rate`` bytes per second (``Faults.trickle_bytes_per_s``), a
        byte at a time below 100 bytes/s; stops when the emulator stops or the client goes."""
        emu = self.server.emulator
        step = max(1, int(rate // 10))
        for i in range(0, len(data), step):
            self.wfile.write(data[i : i + step])
            self.wfile.flush()
            if emu._stop.wait(step / rate):
                return

    def _error(
        self,
        status: int,
        message: str,
        code: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        payload: dict[str, Any] = {"success": False, "message": message, "code": code}
        payload.update(extra or {})
        self._send(status, orjson.dumps(payload), headers=headers)

    def do_GET(self) -> None:
        emu = self.server.emulator
        emu.stats.add("requests")
        if self.headers.get("Authorization") != f"Bearer {emu.key}":
            emu.stats.add("unauthorized")
            self._error(401, "Unauthorized: missing or invalid API key", "UNAUTHORIZED")
            return
        chooser: FaultChooser = emu._chooser
        kind, delay = chooser.draw()
        if delay:
            emu._sleep(delay)
        if kind is not None:
            emu.stats.add(f"fault_{kind}")
            if self._inject(kind, chooser):
                return
        self._route()

    def _inject(self, kind: str, chooser: FaultChooser) -> bool:
        """Apply a fault; True when the response has been dealt with."""
        emu = self.server.emulator
        faults: Faults = emu.faults
        if kind == "429":
            wait = faults.retry_after
            if chooser.pick(2) == 0:
                value = f"{wait:g}"
            else:
                value = email.utils.formatdate(time.time() + max(wait, 0), usegmt=True)
            self._error(429, "Too Many Requests", "RATE_LIMITED", headers={"Retry-After": value})
            return True
        if kind == "409":
            reset = time.time() + faults.retry_after
            self._error(
                409,
                "Conflict: concurrent request limit",
                "CONFLICT",
                headers={
                    "X-RateLimit-Reset": f"{reset:.3f}",
                    "X-RateLimit-Retry-After": f"{faults.retry_after:g}",
                },
            )
            return True
        if kind == "5xx":
            status = (502, 503)[chooser.pick(2)]
            if chooser.pick(2) == 0:
                html = f"<html><head><title>{status}</title></head><body><h1>{status} Bad Gateway</h1></body></html>"
                self._send(status, html.encode(), content_type="text/html")
            else:
                self._error(status, "Service temporarily unavailable", "SERVICE_UNAVAILABLE")
            return True
        if kind == "drop":
            self.close_connection = True
            return True
        if kind == "false200":
            self._error(200, "Internal error while reading sessions", "INTERNAL_ERROR")
            return True
        if kind == "truncate":
            status, body, content_type, _headers = self._answer()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return True
        if kind == "slow":
            emu._sleep(faults.slow_seconds)
            return False
        return False

    def _route(self) -> None:
        status, body, content_type, headers = self._answer()
        self._send(status, body, content_type=content_type, headers=headers)

    def _answer(self) -> tuple[int, bytes, str, dict[str, str]]:
        """The fault-free ``(status, body, content type, headers)`` of this request."""
        emu = self.server.emulator
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"

        json = "application/json"
        raw = emu.raw_answers.get(path)
        if raw is not None:
            return 200, raw, json, {}

        def error(
            status: int, message: str, code: str, **extra: Any
        ) -> tuple[int, bytes, str, dict[str, str]]:
            return (
                status,
                orjson.dumps({"success": False, "message": message, "code": code, **extra}),
                json,
                {},
            )

        if self.server.role == "catalyst":
            if path in ("/session", "/session/2025-03-17"):
                emu.stats.add("list")
                count_param = "count" if path.endswith("2025-03-17") else "limit"
                try:
                    query, limit, offset = validate_list_query(
                        parse_qs(parts.query), count_param=count_param
                    )
                except BadParameter as exc:
                    return error(
                        400,
                        str(exc),
                        "VALIDATION_ERROR",
                        error={
                            "name": "ValidationError",
                            "issues": [{"path": [exc.name], "message": str(exc)}],
                        },
                    )
                return 200, emu._list(query, limit, offset), json, {}
            match = _SESSION_PATH.match(path)
            if match:
                emu.stats.add("detail")
                session_id = match.group(1)
                row = emu.dataset.position(session_id)
                now = emu.now()
                if (
                    row is None
                    or int(emu.dataset.columns["created_ns"][row]) > now
                    or emu.queries.is_gone(row)
                ):
                    return error(404, f"Session {session_id} not found", "NOT_FOUND")
                home = str(emu.dataset.columns["region"][row])
                if emu.routes_regions() and home != self.server.region:
                    status, body, _, _ = error(
                        421, f"Session {session_id} lives in region {home}", "WRONG_REGION"
                    )
                    return status, body, json, {"x-agentuity-region": home}
                return (
                    200,
                    orjson.dumps({"success": True, "data": emu.dataset.detail(row, now)}),
                    json,
                    {},
                )
        else:
            match = _LOGS_PATH.match(path)
            if match:
                emu.stats.add("logs")
                session_id = match.group(1)
                row = emu.dataset.position(session_id)
                now = emu.now()
                if (
                    row is None
                    or int(emu.dataset.columns["created_ns"][row]) > now
                    or emu.queries.is_gone(row)
                ):
                    return error(404, f"Session {session_id} not found", "NOT_FOUND")
                return (
                    200,
                    orjson.dumps({"success": True, "data": emu.dataset.logs(row, now)}),
                    json,
                    {},
                )
        return error(404, f"No route for GET {path}", "NOT_FOUND")
