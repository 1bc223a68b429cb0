"""The :class:`Client`: the three documented endpoints, composed from one attempt, the
envelope, the retry policy, the paging walk and the fan-out.

Design
------
* Synchronous ``httpx.Client`` (thread-safe, keep-alive pool) driven by a thread pool for
  concurrency. Threads, not asyncio, so that it works unchanged inside Jupyter, where an event
  loop is already running.
* One request (:mod:`.attempt`) reads the body as a stream, refused past
  ``max_response_bytes`` and cut off past ``timeout``, and maps a status to its exception;
  the envelope (:mod:`.envelope`) is checked before anything is handed on; the retry loop
  (:mod:`.retry`) repeats what is worth repeating under a :class:`RetryPolicy`. 400/401/402/
  403/404/426 raise at once. A 421 is followed once to the region it names.
* Pages are handed on as raw bytes, so frame building can parse them natively (see
  :mod:`sessionkit.frames`); the walk over them is :mod:`.paging`'s, per-id fan-out
  :mod:`.fanout`'s.
* The key lives in a :class:`~sessionkit.config.Secret` and in the ``Authorization`` header
  only; exceptions carry method and URL, never headers; ``repr`` shows the backend, not the key.

Imports: httpx, pandas (a type), :mod:`sessionkit.config`, :mod:`sessionkit.errors` and the
sibling modules.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from html import escape
from typing import Any, Literal, TypeVar

import httpx
import pandas as pd

from .. import config, timestamps
from ..config import Secret
from ..errors import (
    BadResponseError,
    InsecureWarning,
    NotFoundError,
    SessionKitWarning,
    WrongRegionError,
)
from ..errors import warn as errors_warn
from ..params import session_id as valid_session_id
from .attempt import Attempt
from .deadline import instrument
from .envelope import envelope_data, page_ids
from .fanout import fan_out
from .offset_walk import OffsetWalk
from .paging import PAGE_MAX, Page, WalkQuery, read_ahead
from .retry import RetryPolicy, call_with_retries
from .time_walk import TimeWalk
from .workers import current_stop

__all__ = ["Client"]

logger = logging.getLogger("sessionkit")

T = TypeVar("T")
R = TypeVar("R")

_VERSION = "0.1.0"
_READ_AHEAD = 64  # pages a whole walk may fetch ahead of its caller (about 10 MB of bodies)


def _unverified(transport: httpx.BaseTransport | None) -> bool:
    """Whether ``transport`` (an httpx transport) carries a TLS context that does not verify."""
    context = getattr(getattr(transport, "_pool", None), "_ssl_context", None)
    return isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


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
        Seconds one attempt may take, all of it: connect, headers and body (a server dripping
        its headers or body a byte at a time is cut off at ``timeout``, its connection closed,
        and retried like any timeout, within ``retry_budget``).
    retry:
        The :class:`~sessionkit.client.retry.RetryPolicy` of every request (default
        ``RetryPolicy()``: 8 retries within 120 s, backoff from 0.2 s capped at 8 s).
    max_retries:
        Shorthand: retries per request after the first attempt (overrides ``retry``'s).
    retry_budget:
        Shorthand: seconds one request may spend retrying in total, waits included
        (overrides ``retry``'s). No attempt starts after it, so a request ends within
        ``retry_budget + timeout`` seconds.
    concurrency:
        Requests in flight at once for paging and per-session fan-out.
    transport:
        An ``httpx.BaseTransport`` used as given (tests, proxies, custom TLS). An
        ``httpx.HTTPTransport`` gets the per-attempt deadline installed in its connection
        pool (:mod:`sessionkit.client.deadline`; inert for other users of the transport);
        another kind bounds only the body, between chunks.
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
        max_retries: int | None = None,
        retry_budget: float | None = None,
        retry: RetryPolicy | None = None,
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
        if timeout <= 0:
            raise ValueError("max_retries and retry_budget must be >= 0 and timeout > 0")
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = replace(policy, max_retries=int(max_retries))
        if retry_budget is not None:
            policy = replace(policy, budget=float(retry_budget))
        #: How every request is retried.
        self.retry: RetryPolicy = policy
        self.timeout = float(timeout)
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
        limits = httpx.Limits(
            max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency * 2
        )
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {self._key.get()}",
                "Accept": "application/json",
                # the codings sessionkit decodes itself, under max_response_bytes (attempt.py)
                "Accept-Encoding": "gzip, deflate",
                "User-Agent": f"sessionkit/{_VERSION}",
            },
            timeout=httpx.Timeout(self.timeout),
            limits=limits,
            transport=transport,
            mounts=None if transport is not None else self._direct_loopback(limits, verify),
            follow_redirects=False,
            verify=verify,
        )
        # timeout bounds an attempt as a whole, stop ends it: at the socket, in every pool
        left_alone = instrument(self._http)
        if left_alone and transport is None:  # an httpx whose internals sessionkit misreads
            errors_warn(
                "sessionkit could not install its per-attempt deadline in httpx's connection "
                f"pools (httpx {httpx.__version__}): a server dripping its headers can hold a "
                "request past timeout=. Please report this with your httpx version.",
                SessionKitWarning,
                stacklevel=2,
            )
        self._attempt = Attempt(
            self._http,
            key=self._key,
            timeout=self.timeout,
            max_response_bytes=self.max_response_bytes,
        )
        #: The walk strategies of :meth:`iter_session_pages`.
        self.time_walk = TimeWalk(on_refetch=lambda: self._count("refetches"))
        self.offset_walk = OffsetWalk(on_refetch=lambda: self._count("refetches"))
        self.tls_verified = verify is not False and not _unverified(transport)
        if not self.tls_verified:
            errors_warn(
                "TLS certificate verification is OFF for this Client: anyone on the network "
                "path can read your key. Use verify=True (or a CA bundle) outside tests.",
                InsecureWarning,
                stacklevel=2,
            )

    def _direct_loopback(
        self, limits: httpx.Limits, verify: bool | str | ssl.SSLContext
    ) -> dict[str, httpx.BaseTransport]:
        """Transports that bypass any proxy (``HTTP_PROXY``, ``ALL_PROXY``, ...) for the
        plain-HTTP loopback hosts this client talks to: a request there carries the key
        unencrypted, and must never leave the machine through a proxy. Remote hosts are HTTPS
        only, so a proxy sees nothing but an encrypted tunnel (``CONNECT``) to them."""
        urls = [self.base_url, self.logs_base_url, *self.region_urls.values()]
        direct: dict[str, httpx.BaseTransport] = {}
        for url in map(httpx.URL, urls):
            if url.scheme == "http" and config.is_loopback(url.host):
                host = f"[{url.host}]" if ":" in url.host else url.host
                direct[f"http://{host}"] = httpx.HTTPTransport(limits=limits, verify=verify)
        return direct

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

    @property
    def max_retries(self) -> int:
        """Retries per request after the first attempt (``retry.max_retries``)."""
        return self.retry.max_retries

    @property
    def retry_budget(self) -> float:
        """Seconds one request may spend retrying, waits included (``retry.budget``)."""
        return self.retry.budget

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    # ------------------------------------------------------------------ one request

    def _retried(
        self,
        url: str,
        answer: Callable[[threading.Event | None], T],
        stop: threading.Event | None,
    ) -> T:
        """``answer(stop)`` (one attempt at GET ``url``, parsed) under the retry policy.
        ``stop`` defaults to the stop event of the fan-out or walk worker running this
        (:func:`~sessionkit.client.workers.current_stop`)."""
        if stop is None:
            stop = current_stop()
        return call_with_retries(
            lambda: answer(stop),
            self.retry,
            what=f"GET {url}",
            on_attempt=lambda: self._count("requests"),
            on_retry=lambda: self._count("retries"),
            stop=stop,
        )

    def _get_data(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> Any:
        """GET ``url`` with retries; the envelope's ``data``. ``stop``: see
        :func:`~sessionkit.client.retry.call_with_retries` (raises
        :class:`~sessionkit.client.retry.Stopped` once it is set)."""

        def answer(stop: threading.Event | None) -> Any:
            got = self._attempt.get(url, params, stop=stop)
            _, data = envelope_data(
                got.body, url=got.shown, content_type=got.content_type, redact=self._attempt.redact
            )
            return data

        return self._retried(url, answer, stop)

    def _get_page(
        self, url: str, params: Mapping[str, str], *, stop: threading.Event | None = None
    ) -> tuple[bytes, tuple[str, ...], tuple[str | None, ...]]:
        """GET ``url`` (a list page) with retries; ``(body, ids, start_time texts)``, in
        order. ``stop`` as in :meth:`_get_data`."""

        def answer(
            stop: threading.Event | None,
        ) -> tuple[bytes, tuple[str, ...], tuple[str | None, ...]]:
            got = self._attempt.get(url, params, stop=stop)
            return page_ids(
                got.body, url=got.shown, content_type=got.content_type, redact=self._attempt.redact
            )

        return self._retried(url, answer, stop)

    # ------------------------------------------------------------------ endpoints

    def list_sessions_page(
        self,
        params: Mapping[str, str] | None = None,
        *,
        offset: int = 0,
        limit: int = PAGE_MAX,
        stop: threading.Event | None = None,
    ) -> Page:
        """One page of ``GET /session``: ``limit`` (<= 100) sessions from ``offset``, with each
        row's ``start_time`` read (:attr:`Page.starts`, nanoseconds).

        ``stop`` (a walk's worker pool's event, default the running worker's): once it is
        set no attempt starts, a retry wait or a read under way ends, and
        :class:`~sessionkit.client.retry.Stopped` is raised."""
        if not 1 <= limit <= PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {PAGE_MAX}")
        query = {**(params or {}), "limit": str(limit), "offset": str(offset)}
        url = f"{self.base_url}/session"
        body, ids, starts = self._get_page(url, query, stop=stop)
        if len(ids) > limit:
            raise BadResponseError(
                f"GET /session answered {len(ids):,} sessions to a request for at most {limit}; "
                "the server is not following the paging contract (nothing was loaded from it).",
                method="GET",
                url=url,
            )
        return Page(offset, body, ids, starts=tuple(timestamps.parse_many(starts)))

    def get_session(self, session_id: str) -> dict[str, Any]:
        """``GET /session/{id}``: ``{"session", "agents", "eval_runs", "route"}``.

        Follows a 421 once to the region named by ``x-agentuity-region``.
        """
        path = f"/session/{valid_session_id(session_id)}"
        try:
            data = self._get_data_for(session_id, self.base_url + path)
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
            data = self._get_data_for(session_id, target + path)
        if not isinstance(data, dict) or not isinstance(data.get("session"), dict):
            raise BadResponseError(
                f"GET /session/{session_id} did not return an object with a session",
                method="GET",
                url=self.base_url + path,
            )
        return data

    def get_logs(self, session_id: str) -> list[Any]:
        """``GET {logs}/cli/session/{id}/logs``: the session's log lines (dicts)."""
        url = f"{self.logs_base_url}/cli/session/{valid_session_id(session_id)}/logs"
        data = self._get_data_for(session_id, url)
        if not isinstance(data, list):
            raise BadResponseError(
                f"logs of {session_id}: expected a list, got {type(data).__name__}",
                method="GET",
                url=url,
            )
        return data

    def _get_data_for(self, session_id: str, url: str) -> Any:
        """:meth:`_get_data` of ``url``; a 404 names ``session_id``."""
        try:
            return self._get_data(url)
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
        walk: Literal["auto", "time", "offset"] = "auto",
    ) -> Iterator[Page]:
        """Walk ``GET /session`` with ``concurrency`` page requests in flight; yields pages in
        walk order (``on_page`` is called with each before it is yielded), each with
        :attr:`Page.repeated` (ids yielded before: drop them to count each session once).

        Two walks (:mod:`sessionkit.client.paging` says more):

        * ``walk="time"`` (:class:`~sessionkit.client.time_walk.TimeWalk`): keyset paging on
          ``start_time`` in concurrent time slices, newest first (oldest first for
          ``sort=startTime, direction=asc``), whatever ``params`` asks for ``sort``: the caller
          orders the rows. Sessions deleted or created during the walk and ties in any order
          lose nothing; sessions that started after the walk's first page are not in it.
          Pages carry :attr:`Page.covered`.
        * ``walk="offset"`` (:class:`~sessionkit.client.offset_walk.OffsetWalk`): limit/offset in
          the server's order ``params`` asks for, from offset ``start``; it survives deletions
          and insertions (pages overlap and must connect; the walk steps back when they do
          not) and refuses a server seen reordering rows.
        * ``"auto"`` (default): the time walk, except for ``max_rows`` in another order than
          ``startTime`` or a ``start`` offset.

        ``max_rows`` bounds the rows; ``ramp=True`` grows the look-ahead 1, 2, 4, ... up to
        ``concurrency``, so a caller that stops after a page or two pays for a page or two.
        A server capping pages below ``limit`` is detected and followed.

        Bounded: a walk never loops on a server that ignores its query. It raises
        :class:`~sessionkit.errors.BadResponseError` naming the problem when rows come back
        outside the time bounds asked or out of order, when pages repeat what the walk has
        (offset ignored), or when idle pages outnumber productive ones (see
        :class:`~sessionkit.client.offset_walk.WalkGuard`).
        """
        params = dict(params or {})
        if walk == "auto":
            ordered = params.get("sort", "created") != "startTime" and max_rows is not None
            walk = "offset" if ordered or start else "time"
        query = WalkQuery(
            params, start=start, max_rows=max_rows, ramp=ramp, url=f"{self.base_url}/session"
        )
        strategy = self.time_walk if walk == "time" else self.offset_walk
        stop = threading.Event()
        pages = strategy(self._fetch_page, query, page_size, self.concurrency, stop)
        if not ramp:  # a whole walk: fetch on while the caller parses
            pages = read_ahead(pages, _READ_AHEAD, stop)
        try:
            for page in pages:
                if on_page:
                    on_page(page)
                yield page
        finally:  # the caller stopped, or Ctrl-C: no request is sent after this
            stop.set()
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def _fetch_page(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        """:meth:`list_sessions_page` as a walk's ``fetch``."""
        return self.list_sessions_page(params, offset=offset, limit=limit)

    # ------------------------------------------------------------------ fan-out

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
        what: str = "sessions",
        progress: bool | None = False,
    ) -> list[R]:
        """Apply ``fn`` to every item with ``concurrency`` workers; results in input order.

        ``progress`` shows a bar named ``what`` (``None``: after 1.5 s; ``False``: never).
        On the first failure the remaining work is cancelled and the error is raised with a
        note of how much had been fetched (``error.fetched``); see
        :func:`~sessionkit.client.fanout.fan_out`.

        Ctrl-C (``KeyboardInterrupt``, Jupyter's stop button) propagates within about 0.1 s
        and stops the workers with it: no request is sent after it, retry waits end, reads
        under way are cut and their connections closed. The client stays usable.
        """
        return fan_out(
            fn, items, concurrency=self.concurrency, on_done=on_done, what=what, progress=progress
        )
