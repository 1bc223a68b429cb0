"""One attempt at one GET: the body read as a stream under a size limit and a whole-response
deadline, and an HTTP error status turned into its exception (with the server's message).

The deadline covers connect, headers and body: the attempt runs inside
:func:`.deadline.bounded`, so every socket operation of a pool instrumented by
:func:`.deadline.instrument` ends by it (and on the ``stop`` event); for a transport that is
not instrumented, the body is checked against the deadline between chunks.

An attempt worth repeating (timeout, dropped connection, 409/429/5xx) raises
:class:`~sessionkit.client.retry.Retryable`; the retry loop is not here
(:mod:`sessionkit.client.retry`), nor is the envelope (:mod:`sessionkit.client.envelope`).

Imports: httpx, :mod:`sessionkit.config`, :mod:`sessionkit.errors`, :mod:`sessionkit.jsonparse`,
:mod:`.deadline`, :mod:`.retry`.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .. import jsonparse
from ..config import Secret
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadResponseError,
    NotFoundError,
    RateLimitError,
    ResponseTooLargeError,
    WrongRegionError,
    redact,
    status_error_class,
)
from .deadline import bounded
from .retry import Retryable, Stopped, retry_after_seconds, retryable_status

__all__ = ["Answer", "Attempt", "Shown"]


class Shown:
    """A request's URL as messages show it (the key redacted), redacted only when a message
    needs it: redaction scans for every encoding of the key, and most answers need no
    message. ``str()`` gives the text."""

    __slots__ = ("_raw", "_redact", "_text")

    def __init__(self, raw: str, redact: Callable[[str], str]) -> None:
        self._raw, self._redact = raw, redact
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._redact(self._raw)
        return self._text


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: the URL as messages show it (key redacted, :class:`Shown`), the body,
    its content type."""

    shown: Shown
    body: bytes
    content_type: str

    @property
    def url(self) -> str:
        """The URL as messages show it (the key redacted)."""
        return str(self.shown)


class Attempt:
    """Sends one GET through ``http`` and reads its answer.

    ``timeout`` (seconds) bounds the whole answer, not only each read; ``max_response_bytes``
    bounds the body. ``key`` is scrubbed from every text this puts in an exception.
    """

    def __init__(
        self, http: httpx.Client, *, key: Secret, timeout: float, max_response_bytes: int
    ) -> None:
        self.http, self.key = http, key
        self.timeout, self.max_response_bytes = timeout, max_response_bytes

    def redact(self, text: str) -> str:
        """``text`` with the key (and fragments of it) scrubbed."""
        return redact(text, [self.key.get()])

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> Answer:
        """GET ``url`` once; the 2xx :class:`Answer`, complete within ``timeout`` seconds of
        the call (connect, headers and body). Raises :class:`Retryable` for a timeout (no
        complete answer by then), a transport failure or a retryable status, the status's
        :class:`~sessionkit.errors.APIStatusError` for others, and
        :class:`~sessionkit.errors.ResponseTooLargeError` for a body over the limit.

        ``stop``: when it is set the attempt does not start, and a read under way ends within
        :data:`~.retry.STOP_POLL_S` (the connection is closed); both raise
        :class:`~.retry.Stopped`."""
        if stop is not None and stop.is_set():
            raise Stopped("stopped: a request was not sent")
        request = self.http.build_request("GET", url, params=params)
        shown = Shown(str(request.url), self.redact)
        deadline = time.monotonic() + self.timeout
        try:
            with bounded(deadline, stop):
                response = self.http.send(request, stream=True)
                try:
                    body = self._read_limited(response, shown, deadline)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            raise Retryable(
                APITimeoutError(
                    f"No answer within {self.timeout:g} s", method="GET", url=str(shown)
                )
            ) from exc
        except httpx.TransportError as exc:
            reason = self.redact(str(exc)) or type(exc).__name__
            raise Retryable(
                APIConnectionError(f"Connection failed: {reason}", method="GET", url=str(shown))
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return Answer(shown, body, response.headers.get("content-type", "unknown content type"))
        raise self.status_error(status, body, response.headers, shown)

    def _read_limited(self, response: httpx.Response, shown: Shown, deadline: float) -> bytes:
        """The whole body, refused past ``max_response_bytes`` (announced or sent) and cut off
        (:class:`Retryable` timeout) when it is not complete by ``deadline`` (monotonic s)."""
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ResponseTooLargeError(
                f"GET {shown} announced {int(declared):,} bytes, over max_response_bytes="
                f"{self.max_response_bytes:,}; raise it on the Client if this is expected."
            )
        chunks = bytearray()
        # as sent: decoded below, under the same limit (a response made in memory, by a
        # test transport, holds its content already)
        raw = [response.content] if response.is_stream_consumed else response.iter_raw()
        try:
            for chunk in raw:
                chunks += chunk
                if time.monotonic() > deadline:  # a transport the deadline is not installed in
                    raise self._incomplete(shown, len(chunks))
                if len(chunks) > self.max_response_bytes:
                    raise self._too_large(shown, "sent")
        except httpx.TimeoutException as exc:
            raise self._incomplete(shown, len(chunks)) from exc
        encodings = [
            e.strip().lower()
            for e in response.headers.get("content-encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        body = bytes(chunks)
        for encoding in reversed(encodings):  # applied in order, undone last first
            body = self._decoded(body, encoding, shown)
        return body

    def _incomplete(self, shown: Shown, received: int) -> Retryable:
        """The retryable timeout of an answer whose headers came but whose body did not
        complete within ``timeout`` (``received`` bytes of it had)."""
        return Retryable(
            APITimeoutError(
                f"The answer did not complete within {self.timeout:g} s (the server sent "
                f"{received:,} bytes of its body, slowly)",
                method="GET",
                url=str(shown),
            )
        )

    def _too_large(self, shown: Shown, how: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"GET {shown} {how} more than max_response_bytes={self.max_response_bytes:,}; "
            "raise it on the Client if this is expected."
        )

    def _decoded(self, data: bytes, encoding: str, shown: Shown) -> bytes:
        """``data`` with one content coding undone (gzip, deflate), never growing past
        ``max_response_bytes`` (a small compressed bomb is refused as it inflates, before
        the memory is taken); raises :class:`Retryable` for bytes that are not that coding
        and :class:`~sessionkit.errors.BadResponseError` for a coding sessionkit did not ask
        for."""
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise BadResponseError(
                f"The answer is encoded as {self.redact(encoding)!r}, which sessionkit did not "
                "ask for (Accept-Encoding: gzip, deflate)",
                method="GET",
                url=str(shown),
            )
        limit = self.max_response_bytes
        out = bytearray()
        rest = data
        try:
            while rest:
                # 47 = 32 + 15: a gzip or zlib header, detected; a bare deflate stream is -15
                wbits = 47 if encoding != "deflate" or rest[:1] in (b"\x78", b"\x1f") else -15
                inflater = zlib.decompressobj(wbits)
                out += inflater.decompress(rest, limit + 1 - len(out))
                if len(out) > limit or inflater.unconsumed_tail:
                    raise self._too_large(shown, "inflates to")
                out += inflater.flush()
                if len(out) > limit:
                    raise self._too_large(shown, "inflates to")
                if not inflater.eof:
                    raise zlib.error("the compressed stream is truncated")
                rest = inflater.unused_data  # another gzip member follows
        except zlib.error as exc:
            raise Retryable(
                BadResponseError(
                    f"The body is not valid {encoding} ({exc}; {len(data):,} bytes)",
                    method="GET",
                    url=str(shown),
                )
            ) from exc
        return bytes(out)

    def status_error(
        self, status: int, body: bytes, headers: Mapping[str, str], shown: Shown | str
    ) -> Exception:
        """The exception for a non-2xx ``status``: :class:`Retryable` around a
        :class:`RateLimitError` (409/429, with the server's wait) or a retryable 5xx, else the
        status's :class:`APIStatusError` (a 421 as :class:`WrongRegionError` naming
        ``x-agentuity-region``)."""
        server_message, code = self.server_message(body)
        cls = status_error_class(status)
        text = f"HTTP {status}"
        if server_message:
            text += f": {server_message}"
        kwargs: dict[str, Any] = {
            "status_code": status,
            "server_message": server_message,
            "code": code,
            "method": "GET",
            "url": str(shown),
        }
        if cls is RateLimitError:
            wait_s = retry_after_seconds(headers)
            error: APIStatusError = RateLimitError(text, retry_after=wait_s, **kwargs)
            return Retryable(error, wait_s)
        if cls is WrongRegionError:
            region = headers.get("x-agentuity-region")
            region = self.redact(region) if region is not None else None
            return WrongRegionError(text, region=region, **kwargs)
        if cls is NotFoundError:
            return NotFoundError(text, **kwargs)
        if status >= 500 and not retryable_status(status):
            kwargs["hint"] = (
                f"HTTP {status} says the server cannot serve this request at all, so it was "
                "not retried; check that base_url points at the Agentuity API or the emulator."
            )
        error = cls(text, **kwargs)
        if retryable_status(status):
            return Retryable(error, retry_after_seconds(headers))
        return error

    def server_message(self, body: bytes) -> tuple[str | None, str | None]:
        """``(message, code)`` an error body carries (``message``, ``error`` as text or as
        ``{issues: [{path, message}]}``, ``code``), redacted; the first 200 characters of a
        non-JSON body as the message; ``None`` for what is absent."""
        try:
            payload = jsonparse.loads(body)
        except jsonparse.JSONDecodeError:
            # redact before cutting: a key that crosses the cut must not leave a fragment
            window = 200 + 4 * len(self.key.get()) + 16
            text = self.redact(body[:window].decode("utf-8", "replace"))[:200].strip()
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
        return (self.redact("; ".join(parts)) or None), (self.redact(str(code)) if code else None)
