"""Exceptions and warnings raised by sessionkit.

The tree, drawn once::

    SessionKitError
    ├── ConfigurationError          no key, a bad base URL, a plain-HTTP remote host
    ├── InvalidArgumentError        a loader argument that cannot be sent (also a ValueError)
    ├── SchemaError                 a record that does not fit the schema, with strict=True
    ├── ResponseTooLargeError       a body or page over the configured limits
    └── APIError                    anything that came back from (or failed on the way to) the API
        ├── APIConnectionError      connection refused/reset, dropped, truncated body
        │   └── APITimeoutError     no answer within the timeout
        ├── BadResponseError        not JSON, not the {success, data} envelope, success:false at 200
        └── APIStatusError          an HTTP error status; .status_code, .server_message
            ├── BadRequestError          400
            ├── AuthenticationError      401
            ├── PaymentRequiredError     402 / 426
            ├── PermissionDeniedError    403
            ├── NotFoundError            404 (.session_id)
            ├── WrongRegionError         421 (.region) — only when following it failed
            ├── RateLimitError           409 / 429 (.retry_after, seconds)
            └── ServerError              5xx

Every :class:`APIError` carries the request method and URL (never a header, so never the
key), the status and the server's message when there was one, and a ``hint`` saying what to
do. :func:`redact` scrubs a key from any text before it reaches a message.

Warnings: :class:`SessionKitWarning` (base) and :class:`SchemaWarning` (a value that did not
fit its column became missing; the warning names the field, the count and an example id).
"""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import re
import warnings
import weakref
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

import httpx

KEY_ENV_HELP = (
    "Give sessionkit an Agentuity SDK key in one of these ways:\n"
    "  * set the environment variable AGENTUITY_SDK_KEY (e.g. in your shell or a .env you load);\n"
    "  * pass it: sk.Client(api_key=...);\n"
    "  * or use the bundled emulator with demo data: sk.connect(demo=True)."
)


#: The shortest run of a secret's characters that :func:`redact` treats as a fragment of it.
FRAGMENT = 8


def _b64_cores(secret: bytes) -> set[str]:
    """The base64 characters (both alphabets) fully determined by ``secret`` at each of the
    three byte alignments: wherever the secret sits in a longer blob, one of them appears."""
    cores: set[str] = set()
    for lead in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            blob = encode(b"\0" * lead + secret).decode().rstrip("=")
            first = -(-lead * 4 // 3)  # characters touched by the lead bytes
            last = len(blob) - ((lead + len(secret)) % 3 != 0)  # the one a next byte touches
            if last - first >= FRAGMENT:
                cores.add(blob[first:last])
    return cores


@lru_cache(maxsize=16)
def _forms(secret: str) -> re.Pattern[str]:
    """One pattern matching ``secret`` as it may travel: verbatim, URL-encoded (only the
    reserved bytes, or every byte), hex, and base64 (longest alternative first); the verbatim,
    hex and percent forms in any letter case."""
    raw = secret.encode()
    exact = {quote(secret, safe=""), quote_plus(secret)}
    exact |= _b64_cores(raw) | _b64_cores(b"Bearer " + raw)
    folded = {secret, raw.hex(), "".join(f"%{b:02x}" for b in raw)}
    parts = [re.escape(f) for f in sorted(exact, key=len, reverse=True)]
    parts += [f"(?i:{re.escape(f)})" for f in sorted(folded, key=len, reverse=True)]
    return re.compile("|".join(parts))


_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{12,}")


def _decoded(token: str) -> list[str]:
    """What ``token`` may be an encoding of: hex, or base64 (both alphabets) read from each
    of its first four characters (a piece cut out of a longer blob starts anywhere)."""
    out = []
    if len(token) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in token):
        out.append(bytes.fromhex(token).decode("latin-1"))
    for start in range(4):
        body = token[start:].rstrip("=")
        body = body[: len(body) - len(body) % 4]
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(ValueError):  # not that encoding
                out.append(decode(body).decode("latin-1"))
    return out


def _fragments(text: str, secret: str) -> str:
    """``text`` with every run of :data:`FRAGMENT` or more characters that is a piece of
    ``secret`` (in any letter case) replaced by ``***``, and every token that decodes (hex,
    base64) to text holding such a piece."""
    if len(secret) < FRAGMENT or len(text) < FRAGMENT:
        return text
    grams = {secret[i : i + FRAGMENT].lower() for i in range(len(secret) - FRAGMENT + 1)}
    covered = bytearray(len(text))
    folded = text.lower()
    if len(folded) != len(text):  # a non-ASCII case mapping changed lengths: compare as is
        folded = text
    for i in range(len(text) - FRAGMENT + 1):
        if folded[i : i + FRAGMENT] in grams:
            covered[i : i + FRAGMENT] = b"\1" * FRAGMENT
    for match in _TOKEN.finditer(text):
        for plain in _decoded(match.group(0)):
            low = plain.lower()
            if any(low[i : i + FRAGMENT] in grams for i in range(len(low) - FRAGMENT + 1)):
                covered[match.start() : match.end()] = b"\1" * (match.end() - match.start())
                break
    if not any(covered):
        return text
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append("***")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _HasSecret(Protocol):
    def get(self) -> str: ...


_SECRETS: weakref.WeakSet[Any] = weakref.WeakSet()


def register_secret(secret: _HasSecret) -> None:
    """Remember ``secret`` (a :class:`~sessionkit.config.Secret`, held weakly) so that
    :func:`scrub` removes it from every message sessionkit builds — warnings and exceptions
    made of server data (a hostile server may echo the key as an env value or agent name)."""
    _SECRETS.add(secret)
    scrub_http_logs()


def scrub(text: str) -> str:
    """``text`` with every key of a live client redacted (:func:`redact`)."""
    secrets = [s.get() for s in list(_SECRETS)]
    return redact(text, secrets) if secrets else text


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs every live key from a record's message (its arguments
    merged in first): the HTTP libraries log response headers at DEBUG, and a server may echo
    the key into one (``Content-Type``, ``x-agentuity-region``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            text = record.getMessage()
            clean = scrub(text)
            if clean != text:
                record.msg, record.args = clean, ()
        return True


#: The loggers of the HTTP stack sessionkit uses (a filter on a logger sees only the
#: records logged to that very logger, so each is named).
HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def scrub_http_logs() -> None:
    """Attach one :class:`ScrubFilter` to each of :data:`HTTP_LOGGERS` (idempotent)."""
    for name in HTTP_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in target.filters):
            target.addFilter(ScrubFilter())


def warn(message: str, category: type[Warning], stacklevel: int = 2) -> None:
    """``warnings.warn`` of ``message`` scrubbed of every live key; ``stacklevel`` as there,
    counted from the caller."""
    warnings.warn(scrub(message), category, stacklevel=stacklevel + 1)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return ``text`` with every non-empty secret replaced by ``***``: verbatim, URL-encoded,
    hex- or base64-encoded (alone, inside a longer blob, or as ``Bearer <secret>``), and every
    fragment of :data:`FRAGMENT` or more of its characters. A secret shorter than
    :data:`FRAGMENT` (no real key is) is replaced only where it stands alone, verbatim: its
    letters inside ordinary words are not it. Text holding HTML character references is read
    unescaped as well; where that reveals a secret, the unescaped text is returned redacted."""
    for secret in secrets:
        if secret and len(secret) < FRAGMENT:
            alone = rf"(?<![A-Za-z0-9_\-]){re.escape(secret)}(?![A-Za-z0-9_\-])"
            text = re.sub(alone, "***", text)
        elif secret:
            text = _fragments(_forms(secret).sub("***", text), secret)
    if "&" in text:  # an HTML-escaped echo (``sk&#95;live...``): redact what it reads as
        plain = html.unescape(text)
        if plain != text:
            scrubbed = redact(plain, secrets)
            if scrubbed != plain:
                return scrubbed
    return text


class SessionKitError(Exception):
    """Base class of every error sessionkit raises. Its text never holds a live client's key
    (:func:`scrub`), whatever server data it quotes."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(SessionKitError):
    """sessionkit is not configured well enough to make a request (missing key, bad URL)."""


class InvalidArgumentError(SessionKitError, ValueError):
    """A loader argument is invalid; the message names it and lists what is allowed."""


class SchemaError(SessionKitError):
    """A record does not fit the schema and ``strict=True`` was asked for."""


class ResponseTooLargeError(SessionKitError):
    """A response body or a page exceeded the client's configured limits."""


class SessionKitWarning(UserWarning):
    """Base class of sessionkit's warnings."""


class InsecureWarning(SessionKitWarning):
    """A connection was configured without TLS certificate verification."""


class SchemaWarning(SessionKitWarning):
    """Values that did not fit their column were set to missing (the row was kept)."""


class APIError(SessionKitError):
    """A request to the API failed.

    Attributes: ``method`` and ``url`` of the request (no headers, so never the key),
    ``hint`` (what to do), and ``fetched`` (a short note of what had been fetched before
    the failure, when a loader knows it).
    """

    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = scrub(message)
        self.method = method
        self.url = url
        self.hint = hint if hint is not None else self.default_hint
        self.fetched: str | None = None
        super().__init__(self.message)

    def __setattr__(self, name: str, value: object) -> None:
        # every text attribute (message, code, region, server_message, session_id, fetched,
        # set here or later by a loader) is scrubbed of live keys: server text reaches them
        super().__setattr__(name, scrub(value) if isinstance(value, str) else value)

    def __str__(self) -> str:
        parts = [self.message]
        if self.method and self.url:
            parts.append(f"[{self.method} {self.url}]")
        text = " ".join(parts)
        if self.fetched:
            text += f"\nFetched before the failure: {self.fetched}"
        if self.hint:
            text += f"\n{self.hint}"
        return scrub(text)


class APIConnectionError(APIError):
    """The request did not get a complete answer (refused, reset, dropped, truncated)."""

    default_hint = (
        "Check the base URL and your network; sessionkit already retried. Raise max_retries "
        "or retry_budget on the Client to wait longer."
    )


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout."""

    default_hint = "The API did not answer in time; raise timeout= on the Client or retry later."


class BadResponseError(APIError):
    """The body is not the API's JSON envelope, or it says ``success: false``."""

    default_hint = "The server's answer was not usable; this is usually transient, retry later."


class APIStatusError(APIError):
    """The API answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        server_message: str | None = None,
        code: str | None = None,
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.server_message = server_message
        self.code = code
        super().__init__(message, method=method, url=url, hint=hint)


class BadRequestError(APIStatusError):
    """400: the API rejected a parameter."""

    default_hint = "Check the filter values; the message names the parameter the API rejected."


class AuthenticationError(APIStatusError):
    """401: missing or wrong key."""

    default_hint = (
        "The server rejected the key that was sent: check that it is a current SDK key of this "
        "project (not expired or revoked; for an emulator, the key it printed) and that the "
        "base URL is the API it belongs to. sessionkit takes the key from Client(api_key=...) "
        "or the environment variable AGENTUITY_SDK_KEY."
    )


class PermissionDeniedError(APIStatusError):
    """403: the key has no access to this organisation or project."""

    default_hint = "The key is valid but has no access here; use a key of this org/project."


class PaymentRequiredError(APIStatusError):
    """402 / 426: the plan does not allow this request."""

    default_hint = "Your Agentuity plan does not allow this request; check billing or upgrade."


class NotFoundError(APIStatusError):
    """404: the session does not exist (``session_id`` says which)."""

    default_hint = "Check the session id (it looks like sess_ followed by 32 hex digits)."

    def __init__(self, message: str, *, session_id: str | None = None, **kw: object) -> None:
        self.session_id = session_id
        super().__init__(message, **kw)  # type: ignore[arg-type]


class WrongRegionError(APIStatusError):
    """421: the session lives in another region and following the redirect failed."""

    default_hint = (
        "Give the region's base URL with region_urls= on the Client or SESSIONKIT_REGION_URLS "
        "(usw=URL,usc=URL,use=URL); for the public service, region= (usw, usc or use) or "
        "AGENTUITY_REGION picks the home region."
    )

    def __init__(self, message: str, *, region: str | None = None, **kw: object) -> None:
        self.region = region
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RateLimitError(APIStatusError):
    """409 / 429: rate limited, and the retry budget ran out."""

    default_hint = (
        "The API is rate limiting this key; lower concurrency= on the Client, or wait and retry."
    )

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ServerError(APIStatusError):
    """5xx: server trouble that outlasted the retries."""

    default_hint = "The API is having trouble; sessionkit retried with backoff. Try again later."


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: RateLimitError,
    421: WrongRegionError,
    426: PaymentRequiredError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error ``status``: one flat ladder, no text matching."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return APIStatusError


def describe_request(request: httpx.Request) -> tuple[str, str]:
    """``(method, url)`` of a request, safe to show: headers (and so the key) are left out."""
    return request.method, str(request.url)
