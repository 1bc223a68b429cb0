"""RFC 3339 text ↔ nanoseconds since the epoch (UTC): the one reading and writing of API times.

Arrow's string → ``timestamp[ns, UTC]`` cast is exact to the nanosecond and accepts ``Z`` and
numeric offsets with 0–9 fractional digits. RFC 3339 also allows a lower-case ``t``/``z``,
read the same, and a leap second (``23:59:60``), read as the next instant (``23:59:60.25Z``
is ``00:00:00.25Z`` of the next day: a ``datetime64[ns]`` has no 61st second). Anything else
(no zone, garbage, more than 9 digits) is unreadable: a time without a zone is never read as
local time.

Imports nothing of sessionkit (pyarrow only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

__all__ = ["TIMESTAMP", "format_ns", "parse", "parse_many", "parse_one"]

#: The Arrow type of every sessionkit timestamp.
TIMESTAMP = pa.timestamp("ns", tz="UTC")

_LEAP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):60(?=[.Z+-])")
_NS = 1_000_000_000


def parse(strings: pa.Array | pa.ChunkedArray) -> tuple[pa.Array | pa.ChunkedArray, list[int]]:
    """``(timestamps, unreadable)``: ``strings`` as ``timestamp[ns, UTC]`` (nulls stay null,
    unreadable text becomes null) and the positions of the unreadable, non-null strings."""
    try:
        return strings.cast(TIMESTAMP), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[int | None] = []
    bad: list[int] = []
    for i, text in enumerate(strings.to_pylist()):
        value = None if text is None else parse_one(text)
        if value is None and text is not None:
            bad.append(i)
        out.append(value)
    return pa.array(out, TIMESTAMP), bad


def parse_one(text: object) -> int | None:
    """One RFC 3339 string as nanoseconds since the epoch, or ``None`` when it is none."""
    if not isinstance(text, str):
        return None
    try:
        return int(pa.scalar(text, pa.string()).cast(TIMESTAMP).value)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        upper = text.upper()
        leap = _LEAP.match(upper)
        if leap is None and upper == text:
            return None
    try:
        if leap is None:
            return int(pa.scalar(upper, pa.string()).cast(TIMESTAMP).value)
        plain = _LEAP.sub(r"\1:59", upper, count=1)
        return int(pa.scalar(plain, pa.string()).cast(TIMESTAMP).value) + _NS
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_many(texts: Sequence[object]) -> list[int | None]:
    """Each of ``texts`` as nanoseconds since the epoch (``None`` where a value is no RFC 3339
    time); one Arrow cast when all are plain."""
    try:
        strings = pa.array(texts, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        strings = pa.array([t if isinstance(t, str) else None for t in texts], pa.string())
    values, _ = parse(strings)
    ints = values.cast(pa.int64())
    if ints.null_count == 0:
        return ints.to_numpy().tolist()  # (a tenth of to_pylist's time)
    return ints.to_pylist()


def format_ns(ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds: ``2026-11-01T00:00:00.000000000Z``."""
    seconds, fraction = divmod(ns, _NS)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{fraction:09d}Z"
