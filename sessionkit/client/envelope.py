"""The ``{success, data}`` envelope: checked and unwrapped from a response body's bytes.

Pure: bytes in, data (or a list page's ids) out; no HTTP. A body that is not the envelope,
or says ``success: false``, raises :class:`~sessionkit.client.retry.Retryable` wrapping a
:class:`~sessionkit.errors.BadResponseError` (such answers are worth another attempt); a list
page whose ``data`` is no list, or holds rows nested past any session, raises the
``BadResponseError`` itself.

Imports: :mod:`sessionkit.jsonparse`, :mod:`sessionkit.errors`, :mod:`.retry`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import orjson
import simdjson

from .. import jsonparse
from ..errors import BadResponseError, SchemaWarning
from ..errors import warn as errors_warn
from .retry import Retryable

__all__ = ["envelope_data", "page_ids"]

_SIMD = threading.local()


def _fast_page_ids(body: bytes) -> tuple[tuple[str, ...], tuple[str | None, ...]] | None:
    """The ids and ``start_time`` texts of a valid ``{"success": true, "data": [...]}`` page
    whose rows all have a string id, in order; ``None`` when the body is anything else (then
    the caller parses it fully). Raises whatever simdjson raises on a document it refuses."""
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
    starts: list[str | None] = []
    for item in data:
        if not isinstance(item, simdjson.Object):
            return None
        session_id = item.get("id")
        if not isinstance(session_id, str):
            return None
        ids.append(session_id)
        start = item.get("start_time")
        starts.append(start if isinstance(start, str) else None)
    return tuple(ids), tuple(starts)


def _row_key(item: object) -> str:
    """What identifies a list row in a walk: its ``id`` when that is a string, else a digest
    of the whole row (``"\0"`` + hex), so rows without a usable id are told apart — and the
    same row met on two overlapping pages is still recognised. Raises ``TypeError`` (or
    ``orjson.JSONEncodeError``) for a row nested past orjson's depth."""
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return str(item["id"])
    text = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)  # TypeError past orjson's depth
    return "\0" + hashlib.blake2b(text, digest_size=12).hexdigest()


def envelope_data(
    body: bytes, *, url: object, content_type: str, redact: Callable[[str], str]
) -> tuple[bytes, Any]:
    """``(body, data)`` of a ``{"success": true, "data": ...}`` body.

    Bytes that are not UTF-8 are replaced by U+FFFD (with a :class:`SchemaWarning`), so no
    row is lost to one bad byte; the returned body is then the repaired one. ``url`` (already
    redacted) and ``content_type`` name the answer in messages; ``redact`` scrubs server text
    before it is quoted. Raises :class:`Retryable` (a ``BadResponseError``) for a body that is
    not JSON, not the envelope, ``success`` other than ``true``, or without ``data``. ``url``
    is made text (``str()``) only for a message (:class:`~.attempt.Shown` redacts lazily).
    """
    try:
        try:
            payload = jsonparse.loads(body)
        except jsonparse.InvalidUTF8Error:
            body, replaced = jsonparse.repair_utf8(body)
            errors_warn(
                f"GET {url}: {replaced:,} byte sequence(s) that are not UTF-8 were replaced "
                "by U+FFFD; the server should send UTF-8 (RFC 8259).",
                SchemaWarning,
                stacklevel=2,
            )
            payload = jsonparse.loads(body)
    except jsonparse.JSONDecodeError as exc:
        kind = redact(content_type)
        raise Retryable(
            BadResponseError(
                f"The body is not JSON ({kind}, {len(body)} bytes)", method="GET", url=str(url)
            )
        ) from exc
    if not isinstance(payload, dict) or "success" not in payload:
        raise Retryable(
            BadResponseError(
                "The body is not the {success, data} envelope", method="GET", url=str(url)
            )
        )
    if payload.get("success") is not True:
        message = redact(str(payload.get("message") or payload.get("error") or "no message"))
        raise Retryable(
            BadResponseError(
                f"The API answered success: false: {message}", method="GET", url=str(url)
            )
        )
    if "data" not in payload:
        raise Retryable(BadResponseError("The envelope has no data", method="GET", url=str(url)))
    return body, payload["data"]


def page_ids(
    body: bytes, *, url: object, content_type: str, redact: Callable[[str], str]
) -> tuple[bytes, tuple[str, ...], tuple[str | None, ...]]:
    """``(body, ids, starts)`` of a list page: the rows' keys in order (:func:`_row_key`) and
    their ``start_time`` texts (``None`` where a row has none), checked without building the
    rows in Python when the page is plain.

    simdjson validates the whole document (structure, UTF-8, numbers) about 3x faster than a
    full parse; only ``success`` and the ids are read. Anything it does not accept as a plain,
    valid page takes :func:`envelope_data`, which repairs, reports or raises (same arguments).
    Raises ``BadResponseError`` when ``data`` is no list or a row is nested past any session.
    """
    try:
        ids = _fast_page_ids(body)
    except Exception:  # any doubt: the full path decides
        ids = None
        _SIMD.parser = None  # the traceback may keep proxies of the last document alive
    if ids is not None:
        return body, *ids
    body, data = envelope_data(body, url=url, content_type=content_type, redact=redact)
    if not isinstance(data, list):
        raise BadResponseError(
            f"GET /session returned {type(data).__name__} data, expected a list",
            method="GET",
            url=str(url),
        )
    try:
        keys = tuple(_row_key(item) for item in data)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise BadResponseError(
            f"GET /session returned a row that is no session: {exc} (a list nested "
            "deeper than any session object)",
            method="GET",
            url=str(url),
        ) from None
    starts = tuple(
        item.get("start_time")
        if isinstance(item, dict) and isinstance(item.get("start_time"), str)
        else None
        for item in data
    )
    return body, keys, starts
