"""The HTTP client of the three documented endpoints, with retries, paging and fan-out.

Design
------
* Synchronous ``httpx.Client`` (thread-safe, keep-alive pool) driven by a thread pool for
  concurrency. Threads, not asyncio, so that it works unchanged inside Jupyter, where an event
  loop is already running.
* One request path (:meth:`Client._send`) owns retries: 409/429 honour ``Retry-After``
  (seconds or an HTTP date), ``X-RateLimit-Retry-After`` and ``X-RateLimit-Reset``; 5xx,
  dropped connections, truncated bodies, timeouts and ``success: false`` at 200 back off
  exponentially with full jitter; every retry stays inside ``retry_budget`` seconds.
  400/401/402/403/404/426 raise at once. A 421 is followed once to the region it names.
* Bodies are read as a stream and refused past ``max_response_bytes``; the envelope is checked
  before anything is handed on. Pages are handed on as raw bytes, so frame building can parse
  them natively (see :mod:`sessionkit.frames`).
* The key lives in a :class:`~sessionkit.config.Secret` and in the ``Authorization`` header
  only; exceptions carry method and URL, never headers; ``repr`` shows the backend, not the key.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from html import escape
from typing import Any, TypeVar

import httpx
import orjson
import pandas as pd
import simdjson

from . import config, jsonparse
from .config import Secret
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    BadResponseError,
    InsecureWarning,
    NotFoundError,
    RateLimitError,
    ResponseTooLargeError,
    SchemaWarning,
    WrongRegionError,
    redact,
    status_error_class,
)
from .errors import warn as errors_warn

__all__ = ["Client", "Page"]

logger = logging.getLogger("sessionkit")

T = TypeVar("T")
R = TypeVar("R")

PAGE_MAX = 100  # the spec: the official CLI never asks more than 100 per page
_RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})
_VERSION = "0.1.0"

_WALK_REQUESTS_SLACK = 20  # idle pages a walk may read beyond twice its productive ones
_WALK_STALE_PAGES = 3  # this many pages in a row repeating an earlier page: offset ignored
_PAGING_HINT = (
    "The server at this base URL does not follow the paging contract of GET /session "
    "(limit/offset: the page at offset N starts at the N-th session). Check that base_url points "
    "at the Agentuity API or the emulator, not a proxy or mock that ignores the query string; "
    "if sessions arrive faster than the walk reads them, narrow the walk (since=/until=, "
    "limit=) or sync a Store. Nothing was loaded from this walk."
)


@dataclass(frozen=True)
class Page:
    """One page of ``GET /session``: its offset, the raw body and the ids it held, in order.

    In a walk, ``repeated`` holds the ids the page shares with the walk's previous page
    (consecutive pages overlap on purpose; drop these rows to count each session once).
    """

    offset: int
    body: bytes
    ids: tuple[str, ...]
    repeated: frozenset[str] = frozenset()

    @property
    def rows(self) -> int:
        """Number of sessions on the page."""
        return len(self.ids)


def _unverified(transport: httpx.BaseTransport | None) -> bool:
    """Whether ``transport`` (an httpx transport) carries a TLS context that does not verify."""
    context = getattr(getattr(transport, "_pool", None), "_ssl_context", None)
    return isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


_SIMD = threading.local()


def _fast_page_ids(body: bytes) -> tuple[str, ...] | None:
    """The ids of a valid ``{"success": true, "data": [...]}`` page, or ``None`` when the body
    is anything else (then the caller parses it fully). Raises whatever simdjson raises."""
    parser = getattr(_SIMD, "parser", None)
    if parser is None:
        parser = _SIMD.parser = simdjson.Parser()
    doc = parser.parse(body)
    if not isinstance(doc, simdjson.Object) or doc.get("success") is not True:
        return None
    data = doc.get("data")
    if not isinstance(data, simdjson.Array):
        return None
    ids = []
    for item in data:
        session_id = item.get("id") if isinstance(item, simdjson.Object) else None
        if not isinstance(session_id, str):
            return None
        ids.append(session_id)
    return tuple(ids)


def _row_key(item: object) -> str:
    """What identifies a list row in a walk: its ``id`` when that is a string, else a digest
    of the whole row (``"\0"`` + hex), so rows without a usable id are told apart — and the
    same row met on two overlapping pages is still recognised."""
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return str(item["id"])
    text = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)  # TypeError past orjson's depth
    return "\0" + hashlib.blake2b(text, digest_size=12).hexdigest()


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying; wraps the user-facing error."""

    def __init__(self, error: APIError, wait_hint: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_hint = wait_hint


class _WalkGuard:
    """The progress check of one walk (one call of :meth:`Client.iter_session_pages`).

    Every page handed on goes through :meth:`check`. A page is *productive* when at least a
    tenth of its rows (at least one) are ids the walk had not seen, else *idle*. The walk
    raises :class:`BadResponseError` when ``_WALK_STALE_PAGES`` pages in a row at new
    offsets repeat an earlier page exactly (same ids, same order: the server ignores
    ``offset``), or when idle pages outnumber ``2 × productive + 20 + concurrency`` (it returns
    pages but the walk makes no progress: a server ignoring ``offset`` or ``limit`` some other
    way). Idle pages are legitimate one at a time — sessions arriving during a walk push rows
    down, pages overlap on purpose — and a busy live project keeps most pages productive.
    Requests that are not handed on are bounded already: ``concurrency`` in flight, 3
    re-fetches per page.
    """

    def __init__(self, url: str, concurrency: int) -> None:
        self.url, self.concurrency = url, concurrency
        self.seen: set[str] = set()
        self.stale = self.productive = self.idle = 0
        self.pages: set[int] = set()  # hashes of the pages seen (ids in order)

    def check(self, page: Page, previous: Page | None) -> None:
        new = len(self.seen)
        self.seen.update(page.ids)
        digest = hash(page.ids)
        repeat = digest in self.pages
        self.pages.add(digest)
        if not page.rows:
            return
        if len(self.seen) - new >= max(1, page.rows // 10):
            self.productive += 1
        else:
            self.idle += 1
            allowed = 2 * self.productive + _WALK_REQUESTS_SLACK + self.concurrency
            if self.idle > allowed:
                raise BadResponseError(
                    f"GET /session made no progress: {self.idle:,} pages up to offset "
                    f"{page.offset} brought (almost) no session the walk had not seen, against "
                    f"{self.productive:,} that did (at most twice as many plus "
                    f"{allowed - 2 * self.productive} are allowed); the server ignores offset or "
                    "limit, paging cannot continue.",
                    method="GET",
                    url=self.url,
                    hint=_PAGING_HINT,
                )
        if previous is None or len(self.seen) > new or not repeat:
            self.stale = 0
            return
        self.stale += 1
        if self.stale >= _WALK_STALE_PAGES:
            run = f"{self.stale} pages in a row up to offset {page.offset}"
            raise _ignored_offset(self.url, page.offset, previous.offset, run)


def _ignored_offset(url: str, offset: int, previous: int, run: str = "") -> BadResponseError:
    """The error of a walk whose page at ``offset`` repeats what earlier pages held."""
    return BadResponseError(
        f"GET /session: the server ignored offset={offset}: the page at offset {offset} "
        f"returned only sessions already seen on earlier pages (offset {previous} and "
        f"before{'; ' + run if run else ''}), paging cannot continue.",
        method="GET",
        url=url,
        hint=_PAGING_HINT,
    )


class Client:
    """A connection to the Agentuity Sessions API (or the bundled emulator).

    Parameters
    ----------
    api_key:
        The SDK key; default ``AGENTUITY_SDK_KEY``. Without one this raises
        :class:`~sessionkit.errors.ConfigurationError` listing every way to give one — it never
        falls back to demo data (use :func:`sessionkit.connect` for that).
    region:
        ``usw``, ``usc`` or ``use``; default ``AGENTUITY_REGION`` or ``usw``.
    base_url, logs_base_url:
        Override the sessions ("Catalyst") and logs ("App API") base URLs; defaults from
        ``AGENTUITY_CATALYST_URL``/``AGENTUITY_TRANSPORT_URL`` and ``AGENTUITY_API_URL``.
        Plain ``http://`` is accepted for loopback hosts only.
    region_urls:
        Base URL per region, used to follow a 421; default ``SESSIONKIT_REGION_URLS``
        (``usw=URL,use=URL``), else ``https://catalyst-{R}.agentuity.cloud`` — but when
        ``base_url`` is a loopback host only configured region URLs are followed.
    timeout:
        Seconds to wait for a response: connect, each read and write, and the whole answer
        (a server dripping bytes slowly is cut off at ``timeout`` too; then retried like any
        timeout, within ``retry_budget``).
    max_retries:
        Retries per request after the first attempt.
    retry_budget:
        Seconds one request may spend retrying in total, waits included.
    concurrency:
        Requests in flight at once for paging and per-session fan-out.
    transport:
        An ``httpx.BaseTransport`` used as given (tests, proxies, custom TLS).
    verify:
        TLS certificate verification: ``True`` (default), a CA bundle path or an
        ``ssl.SSLContext``. ``False`` turns it off, never silently: a
        :class:`~sessionkit.errors.InsecureWarning` is raised and ``repr`` says so. A
        ``transport`` whose own TLS context does not verify is flagged the same way.
    max_response_bytes:
        A body larger than this raises :class:`~sessionkit.errors.ResponseTooLargeError`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        region: str | None = None,
        base_url: str | None = None,
        logs_base_url: str | None = None,
        region_urls: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_retries: int = 8,
        retry_budget: float = 120.0,
        concurrency: int = 8,
        transport: httpx.BaseTransport | None = None,
        max_response_bytes: int = 256 * 1024 * 1024,
        backend: str | None = None,
        verify: bool | str | ssl.SSLContext = True,
    ) -> None:
        self._key: Secret = config.resolve_key(api_key)
        self.region = config.resolve_region(region)
        self.base_url = config.resolve_base_url(base_url, self.region)
        self.logs_base_url = config.resolve_logs_url(logs_base_url)
        self.region_urls = config.resolve_region_urls(region_urls)
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if max_retries < 0 or retry_budget < 0 or timeout <= 0:
            raise ValueError("max_retries and retry_budget must be >= 0 and timeout > 0")
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.retry_budget = float(retry_budget)
        self.concurrency = int(concurrency)
        self.max_response_bytes = int(max_response_bytes)
        #: What the client talks to, for people: given, else "Agentuity", or "local server
        #: (loopback)" for a loopback base URL (an emulator, a proxy).
        self.backend = backend or (
            "local server (loopback)"
            if config.is_loopback(httpx.URL(self.base_url).host)
            else "Agentuity"
        )
        #: First and last day of the data when this client talks to the bundled demo emulator
        #: (set by :func:`sessionkit.connect`), else ``None``.
        self.demo_span: tuple[str, str] | None = None
        #: "Now" of the bundled demo data (frozen in time), against which relative times such
        #: as ``since="7d"`` are resolved when this client talks to it; else ``None`` (the
        #: wall clock).
        self.demo_now: pd.Timestamp | None = None
        self.stats: dict[str, int] = {"requests": 0, "retries": 0}
        self._stats_lock = threading.Lock()
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {self._key.get()}",
                "Accept": "application/json",
                "User-Agent": f"sessionkit/{_VERSION}",
            },
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(
                max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency * 2
            ),
            transport=transport,
            follow_redirects=False,
            verify=verify,
        )
        self.tls_verified = verify is not False and not _unverified(transport)
        if not self.tls_verified:
            errors_warn(
                "TLS certificate verification is OFF for this Client: anyone on the network "
                "path can read your key. Use verify=True (or a CA bundle) outside tests.",
                InsecureWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ lifecycle & display

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Client(backend={self.backend!r}, region={self.region!r}, "
            f"base_url={self.base_url!r}, logs_base_url={self.logs_base_url!r}, "
            f"concurrency={self.concurrency}"
            + ("" if self.tls_verified else ", tls_verification='OFF'")
            + ")"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("backend", self.backend),
            ("region", self.region),
            ("sessions API", self.base_url),
            ("logs API", self.logs_base_url),
            ("key", "set (hidden)"),
            ("concurrency", str(self.concurrency)),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{escape(v)}</td></tr>" for k, v in rows
        )
        return f"<table><caption>sessionkit.Client</caption>{body}</table>"

    def _redact(self, text: str) -> str:
        return redact(text, [self._key.get()])

    # ------------------------------------------------------------------ one request

    def _send(
        self, url: str, params: Mapping[str, str] | None = None, *, page: bool = False
    ) -> tuple[bytes, Any]:
        """GET ``url`` with retries. Returns ``(raw body, parsed envelope data)``; with
        ``page=True`` (a list page) the data is only the tuple of session ids, in order."""
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            self._count("requests")
            try:
                return self._attempt(url, params, page)
            except _Retryable as failure:
                attempt += 1
                delay = self._backoff(attempt, failure.wait_hint)
                if attempt > self.max_retries or time.monotonic() + delay > deadline:
                    error = failure.error
                    error.message += f" (gave up after {attempt} attempt(s))"
                    raise error from failure.__cause__
                self._count("retries")
                logger.info(
                    "retrying GET %s after %s in %.2fs (attempt %d of %d)",
                    url,
                    type(failure.error).__name__,
                    delay,
                    attempt,
                    self.max_retries,
                )
                time.sleep(delay)

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    @staticmethod
    def _backoff(attempt: int, hint: float | None) -> float:
        if hint is not None:
            return max(0.0, hint) + random.uniform(0, 0.05)
        return random.uniform(0, min(8.0, 0.2 * 2 ** (attempt - 1)))

    def _attempt(
        self, url: str, params: Mapping[str, str] | None, page: bool = False
    ) -> tuple[bytes, Any]:
        request = self._http.build_request("GET", url, params=params)
        shown = self._redact(str(request.url))
        deadline = time.monotonic() + self.timeout
        try:
            response = self._http.send(request, stream=True)
            try:
                body = self._read_limited(response, shown, deadline)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise _Retryable(
                APITimeoutError(f"No answer within {self.timeout:g} s", method="GET", url=shown)
            ) from exc
        except httpx.TransportError as exc:
            reason = self._redact(str(exc)) or type(exc).__name__
            raise _Retryable(
                APIConnectionError(f"Connection failed: {reason}", method="GET", url=shown)
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            if page:
                return self._page_envelope(body, shown, response)
            return self._envelope(body, shown, response)
        raise self._status_error(status, body, response, shown)

    def _read_limited(self, response: httpx.Response, shown: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ResponseTooLargeError(
                f"GET {shown} announced {int(declared):,} bytes, over max_response_bytes="
                f"{self.max_response_bytes:,}; raise it on the Client if this is expected."
            )
        chunks = bytearray()
        for chunk in response.iter_bytes():
            chunks += chunk
            if time.monotonic() > deadline:  # each read was in time, the whole was not
                raise _Retryable(
                    APITimeoutError(
                        f"The answer did not complete within {self.timeout:g} s (the server "
                        f"sent {len(chunks):,} bytes, slowly)",
                        method="GET",
                        url=shown,
                    )
                )
            if len(chunks) > self.max_response_bytes:
                raise ResponseTooLargeError(
                    f"GET {shown} sent more than max_response_bytes={self.max_response_bytes:,}; "
                    "raise it on the Client if this is expected."
                )
        return bytes(chunks)

    def _envelope(self, body: bytes, shown: str, response: httpx.Response) -> tuple[bytes, Any]:
        """``(body, envelope data)``; bytes that are not UTF-8 come back replaced by U+FFFD
        (with a :class:`SchemaWarning`), so no row is lost to one bad byte."""
        try:
            try:
                payload = jsonparse.loads(body)
            except jsonparse.InvalidUTF8Error:
                body, replaced = jsonparse.repair_utf8(body)
                errors_warn(
                    f"GET {shown}: {replaced:,} byte sequence(s) that are not UTF-8 were replaced "
                    "by U+FFFD; the server should send UTF-8 (RFC 8259).",
                    SchemaWarning,
                    stacklevel=2,
                )
                payload = jsonparse.loads(body)
        except jsonparse.JSONDecodeError as exc:
            kind = self._redact(response.headers.get("content-type", "unknown content type"))
            raise _Retryable(
                BadResponseError(
                    f"The body is not JSON ({kind}, {len(body)} bytes)", method="GET", url=shown
                )
            ) from exc
        if not isinstance(payload, dict) or "success" not in payload:
            raise _Retryable(
                BadResponseError(
                    "The body is not the {success, data} envelope", method="GET", url=shown
                )
            )
        if payload.get("success") is not True:
            message = self._redact(
                str(payload.get("message") or payload.get("error") or "no message")
            )
            raise _Retryable(
                BadResponseError(
                    f"The API answered success: false: {message}", method="GET", url=shown
                )
            )
        if "data" not in payload:
            raise _Retryable(BadResponseError("The envelope has no data", method="GET", url=shown))
        return body, payload["data"]

    def _page_envelope(
        self, body: bytes, shown: str, response: httpx.Response
    ) -> tuple[bytes, tuple[str, ...]]:
        """``(body, ids)`` of a list page, checked without building its objects in Python.

        simdjson validates the whole document (structure, UTF-8, numbers) about 3x faster
        than a full parse; only ``success`` and the ids are read. Anything it does not accept
        as a plain, valid page takes :meth:`_envelope`, which repairs, reports or raises.
        """
        try:
            ids = _fast_page_ids(body)
        except Exception:  # any doubt: the full path decides
            ids = None
            _SIMD.parser = None  # the traceback may keep proxies of the last document alive
        if ids is not None:
            return body, ids
        body, data = self._envelope(body, shown, response)
        if not isinstance(data, list):
            raise BadResponseError(
                f"GET /session returned {type(data).__name__} data, expected a list",
                method="GET",
                url=shown,
            )
        try:
            return body, tuple(_row_key(item) for item in data)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise BadResponseError(
                f"GET /session returned a row that is no session: {exc} (a list nested "
                "deeper than any session object)",
                method="GET",
                url=shown,
            ) from None

    def _status_error(
        self, status: int, body: bytes, response: httpx.Response, shown: str
    ) -> Exception:
        server_message, code = self._server_message(body)
        cls = status_error_class(status)
        text = f"HTTP {status}"
        if server_message:
            text += f": {server_message}"
        kwargs: dict[str, Any] = {
            "status_code": status,
            "server_message": server_message,
            "code": code,
            "method": "GET",
            "url": shown,
        }
        if cls is RateLimitError:
            wait_s = retry_after_seconds(response.headers)
            error: APIStatusError = RateLimitError(text, retry_after=wait_s, **kwargs)
            return _Retryable(error, wait_s)
        if cls is WrongRegionError:
            region = response.headers.get("x-agentuity-region")
            region = self._redact(region) if region is not None else None
            return WrongRegionError(text, region=region, **kwargs)
        if cls is NotFoundError:
            return NotFoundError(text, **kwargs)
        error = cls(text, **kwargs)
        if status in _RETRYABLE_STATUS:
            return _Retryable(error, retry_after_seconds(response.headers))
        return error

    def _server_message(self, body: bytes) -> tuple[str | None, str | None]:
        try:
            payload = jsonparse.loads(body)
        except jsonparse.JSONDecodeError:
            # redact before cutting: a key that crosses the cut must not leave a fragment
            window = 200 + 4 * len(self._key.get()) + 16
            text = self._redact(body[:window].decode("utf-8", "replace"))[:200].strip()
            return (f"non-JSON body: {text}" if text else None), None
        if not isinstance(payload, dict):
            return None, None
        parts = [str(payload["message"])] if payload.get("message") else []
        error = payload.get("error")
        if isinstance(error, str):
            parts.append(error)
        elif isinstance(error, dict):
            for issue in error.get("issues") or []:
                if isinstance(issue, dict):
                    path = ".".join(str(p) for p in issue.get("path") or [])
                    parts.append(
                        f"{path}: {issue.get('message')}" if path else str(issue.get("message"))
                    )
        code = payload.get("code")
        return (self._redact("; ".join(parts)) or None), (self._redact(str(code)) if code else None)

    # ------------------------------------------------------------------ endpoints

    def list_sessions_page(
        self, params: Mapping[str, str] | None = None, *, offset: int = 0, limit: int = PAGE_MAX
    ) -> Page:
        """One page of ``GET /session``: ``limit`` (<= 100) sessions from ``offset``."""
        if not 1 <= limit <= PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {PAGE_MAX}")
        query = {**(params or {}), "limit": str(limit), "offset": str(offset)}
        url = f"{self.base_url}/session"
        body, ids = self._send(url, query, page=True)
        if len(ids) > limit:
            raise BadResponseError(
                f"GET /session answered {len(ids):,} sessions to a request for at most {limit}; "
                "the server is not following the paging contract (nothing was loaded from it).",
                method="GET",
                url=url,
            )
        return Page(offset, body, ids)

    def get_session(self, session_id: str) -> dict[str, Any]:
        """``GET /session/{id}``: ``{"session", "agents", "eval_runs", "route"}``.

        Follows a 421 once to the region named by ``x-agentuity-region``.
        """
        path = f"/session/{_quote_id(session_id)}"
        try:
            _, data = self._send_for(session_id, self.base_url + path)
        except WrongRegionError as exc:
            if not exc.region:
                raise
            target = self.region_urls.get(exc.region)
            local = config.is_loopback(httpx.URL(self.base_url).host)
            if target is None and exc.region in config.REGIONS and not local:
                target = config.catalyst_url(exc.region)
            if target is None:  # the key only ever goes to hosts the user configured or knows
                if local and exc.region in config.REGIONS:
                    exc.message += (
                        f" — the session lives in region {exc.region[:40]!r} and the sessions "
                        f"base {self.base_url} is a local server, so the public region host is "
                        f"not tried. Give that region's URL: Client(region_urls={{"
                        f"{exc.region[:40]!r}: 'http://...'}}) or "
                        f"{config.REGION_URLS_ENV}={exc.region[:40]}=http://... (an emulator "
                        "started with --multi-region prints it)"
                    )
                else:
                    exc.message += (
                        f" — the server named region {exc.region[:40]!r}, which is neither a "
                        f"known region ({', '.join(config.REGIONS)}) nor in region_urls; not "
                        "followed"
                    )
                raise
            logger.info("session %s lives in region %s; following", session_id, exc.region)
            _, data = self._send_for(session_id, target + path)
        if not isinstance(data, dict) or not isinstance(data.get("session"), dict):
            raise BadResponseError(
                f"GET /session/{session_id} did not return an object with a session",
                method="GET",
                url=self.base_url + path,
            )
        return data

    def get_logs(self, session_id: str) -> list[Any]:
        """``GET {logs}/cli/session/{id}/logs``: the session's log lines (dicts)."""
        url = f"{self.logs_base_url}/cli/session/{_quote_id(session_id)}/logs"
        _, data = self._send_for(session_id, url)
        if not isinstance(data, list):
            raise BadResponseError(
                f"logs of {session_id}: expected a list, got {type(data).__name__}",
                method="GET",
                url=url,
            )
        return data

    def _send_for(self, session_id: str, url: str) -> tuple[bytes, Any]:
        try:
            return self._send(url)
        except NotFoundError as exc:
            exc.session_id = session_id
            exc.message = f"Session {session_id} was not found ({exc.message})"
            raise

    # ------------------------------------------------------------------ paging

    def iter_session_pages(
        self,
        params: Mapping[str, str] | None = None,
        *,
        start: int = 0,
        max_rows: int | None = None,
        page_size: int = PAGE_MAX,
        on_page: Callable[[Page], None] | None = None,
        ramp: bool = False,
    ) -> Iterator[Page]:
        """Walk ``GET /session`` from offset ``start`` with ``concurrency`` page requests in
        flight; yields pages in order.

        There is no total: pages are fetched ahead speculatively and the walk stops at the first
        page shorter than the page size. If the first page is short but not empty, one probe
        checks whether the server caps pages below ``limit``; if so the walk continues with the
        server's page size, so a low cap loses nothing. Consecutive pages overlap by a few rows
        (see :meth:`_pages_from`); each page's ``repeated`` names the ids it shares with the
        previous one (:func:`sessionkit.frames.drop_repeated` drops them).
        ``ramp=True`` grows the look-ahead 1, 2, 4, ... up to ``concurrency``, so a caller that
        stops after a page or two (an incremental sync) pays for a page or two.

        Bounded: a walk never loops on a server that ignores ``offset`` or ``limit``. It raises
        :class:`~sessionkit.errors.BadResponseError` when 3 pages in a row at new offsets repeat
        an earlier page exactly ("ignored offset=N"), or when the pages of which less than a
        tenth is new outnumber twice the others plus ``20 + concurrency`` ("made no
        progress"); an honest walk, even of a project where sessions arrive all the time, reads
        mostly pages with new sessions.
        """
        guard = _WalkGuard(f"{self.base_url}/session", self.concurrency)
        previous: Page | None = None
        for page in self._walk(params, start, max_rows, page_size, on_page, ramp):
            guard.check(page, previous)
            if previous is not None:
                page = replace(page, repeated=frozenset(previous.ids) & frozenset(page.ids))
            yield page
            previous = page

    def _walk(
        self,
        params: Mapping[str, str] | None,
        start: int,
        max_rows: int | None,
        page_size: int,
        on_page: Callable[[Page], None] | None,
        ramp: bool,
    ) -> Iterator[Page]:
        """:meth:`iter_session_pages` without the ``repeated`` sets."""
        size = min(page_size, PAGE_MAX, max_rows or PAGE_MAX)
        short_first = yield from self._pages_from(
            params, start, size, max_rows, on_page, first=True, ramp=ramp
        )
        if short_first is None:
            return
        # the first page was short but not empty: the end, or a server capping pages below limit
        probe = self.list_sessions_page(params, offset=short_first, limit=size)
        if probe.rows == 0:
            return
        logger.info("the server caps pages at %d rows (asked %d); adapting", short_first, size)
        size = short_first
        if on_page:
            on_page(probe)
        yield probe
        if probe.rows < size or (max_rows is not None and short_first + probe.rows >= max_rows):
            return
        remaining = None if max_rows is None else max_rows - short_first - probe.rows
        yield from self._pages_from(
            params, probe.offset + size, size, remaining, on_page, previous=probe, ramp=ramp
        )

    def _pages_from(
        self,
        params: Mapping[str, str] | None,
        offset: int,
        size: int,
        max_rows: int | None,
        on_page: Callable[[Page], None] | None,
        *,
        first: bool = False,
        previous: Page | None = None,
        ramp: bool = False,
    ) -> Generator[Page, None, int | None]:
        """Pages from ``offset`` on, ``concurrency`` requests in flight, yielded in order.

        Consecutive pages overlap by a few rows (``size // 20``, at least 1), and each page must
        contain the last id of the page before it. Pages fetched concurrently are answered at
        different moments, so while sessions arrive a page fetched *before* its predecessor can
        start too far on and skip rows; the overlap detects that and the page is fetched again
        (now after its predecessor, so it can only start earlier). Repeats are dropped by the
        loaders. With ``first=True`` (a walk from offset 0) a short, non-empty first page ends
        this loop and its row count is returned, so the caller can check for a page cap.
        """
        overlap = max(1, size // 20) if size > 1 else 0
        step = size - overlap
        if previous is not None:
            offset -= overlap
        pool = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="sessionkit-page"
        )
        pending: dict[int, Future[Page]] = {}
        start, seen = offset, 0
        window, yielded = (1 if ramp else self.concurrency), 0
        try:
            while True:
                while len(pending) < window and (
                    max_rows is None or offset - start < max_rows + overlap
                ):
                    pending[offset] = pool.submit(
                        self.list_sessions_page, params, offset=offset, limit=size
                    )
                    offset += step
                head = min(pending)
                page = pending.pop(head).result()
                page = self._continuous(params, page, previous, size, overlap)
                if first and head == start and 0 < page.rows < size:
                    if on_page:
                        on_page(page)
                    yield page
                    return page.rows
                if on_page:
                    on_page(page)
                yield page
                seen += page.rows - (overlap if previous is not None else 0)
                previous = page
                yielded += 1  # look-ahead 1, 1, 2, 4, ... (only a third page is speculative)
                window = min(max(window, 2 ** (yielded - 1)), self.concurrency)
                if page.rows < size or (max_rows is not None and seen >= max_rows):
                    return None
        finally:
            for future in pending.values():
                future.cancel()
            # requests already on the wire finish in the background; their pages are not needed
            pool.shutdown(wait=False, cancel_futures=True)

    def _continuous(
        self,
        params: Mapping[str, str] | None,
        page: Page,
        previous: Page | None,
        size: int,
        overlap: int,
    ) -> Page:
        """``page``, fetched again if it does not overlap ``previous`` (rows would be skipped)
        or is empty (an empty end may have been answered before ``previous``, above rows
        pushed down since; a non-empty one proves itself by the overlap)."""
        if previous is None or not overlap or previous.rows < size:
            return page
        if not page.rows:  # at most one request per walk: the end, asked again after `previous`
            self._count("refetches")
            page = self.list_sessions_page(params, offset=page.offset, limit=size)
            if not page.rows:
                return page
        if page.ids == previous.ids:
            raise _ignored_offset(f"{self.base_url}/session", page.offset, previous.offset)
        for _ in range(3):
            if previous.ids[-1] in page.ids:
                return page
            logger.info(
                "page at offset %d does not overlap its predecessor; fetching it again", page.offset
            )
            self._count("refetches")
            page = self.list_sessions_page(params, offset=page.offset, limit=size)
        if previous.ids[-1] not in page.ids:
            logger.warning(
                "GET /session pages at offsets %d and %d do not overlap even when re-fetched "
                "(sessions deleted during the walk?); rows between them may be missing",
                previous.offset,
                page.offset,
            )
        return page

    # ------------------------------------------------------------------ fan-out

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
        what: str = "sessions",
    ) -> list[R]:
        """Apply ``fn`` to every item with ``concurrency`` workers; results in input order.

        On the first failure the remaining work is cancelled and the error is raised with a
        note of how much had been fetched (``error.fetched``).
        """
        results: list[Any] = [None] * len(items)
        if not items:
            return results
        done = 0
        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="sessionkit"
        ) as pool:
            index = {pool.submit(fn, item): i for i, item in enumerate(items)}
            remaining = set(index)
            try:
                while remaining:
                    finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for future in finished:
                        results[index[future]] = future.result()
                        done += 1
                        if on_done:
                            on_done(1)
            except APIError as exc:
                for future in remaining:
                    future.cancel()
                exc.fetched = f"{done} of {len(items)} {what} had been fetched"
                raise
            except BaseException:
                for future in remaining:
                    future.cancel()
                raise
        return results


def _quote_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id or "/" in session_id or "?" in session_id:
        raise ValueError(f"not a session id: {session_id!r}")
    return session_id


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date), ``X-RateLimit-Retry-After``
    (seconds) or ``X-RateLimit-Reset`` (epoch seconds); ``None`` when none is usable."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    value = headers.get("x-ratelimit-retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            return max(0.0, float(value) - now)
        except ValueError:
            pass
    return None


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split ``items`` into lists of at most ``size``."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
