"""Loader arguments → API query parameters, validated before any request is made.

Every invalid argument raises :class:`~sessionkit.errors.InvalidArgumentError` naming the
argument and what is allowed. Times are never read as local time: a string or ``datetime``
without a zone is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import pandas as pd

from .errors import InvalidArgumentError
from .schema import DIRECTIONS, SORTS, TRIGGERS

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_RELATIVE_UNITS = {"s": "s", "m": "min", "min": "min", "h": "h", "d": "D", "w": "W"}
#: How much wider than ``since``/``until`` the window sent to the server is, on each side.
WINDOW_MARGIN = pd.Timedelta(1, "s")
_SORT_ALIASES = {
    "start_time": "startTime",
    "starttime": "startTime",
    "created_at": "created",
    "updated_at": "updated",
}


_BARE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def parse_time(value: object, name: str, *, now: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """An aware UTC ``pd.Timestamp`` from an ISO string, aware datetime/Timestamp or ``"7d"``.

    Relative strings (``"90s"``, ``"15m"``, ``"12h"``, ``"30d"``, ``"2w"``) mean that long before
    ``now`` (default: the current time). A bare date (``"2026-11-01"`` or a ``datetime.date``)
    is that UTC calendar day (its midnight, UTC). A date-time without a zone raises: it would
    be read as local time.
    """
    if value is None:
        return None
    try:
        stamp = _parse_time(value, name, now)
    except (OverflowError, NotImplementedError, pd.errors.OutOfBoundsDatetime,
            pd.errors.OutOfBoundsTimedelta) as exc:  # fmt: skip
        raise _out_of_range(value, name) from exc
    if not _FIRST <= stamp <= _LAST:
        raise _out_of_range(value, name)
    return stamp.as_unit("ns")


#: The instants a ``datetime64[ns]`` column holds (sessionkit's timestamps).
_FIRST = pd.Timestamp.min.tz_localize("UTC")
_LAST = pd.Timestamp.max.tz_localize("UTC")


def _out_of_range(value: object, name: str) -> InvalidArgumentError:
    side = "upper" if name == "until" else "lower"
    return InvalidArgumentError(
        f"{name}={value!r} is outside the times sessionkit's frames hold "
        f"({_FIRST:%Y-%m-%d} to {_LAST:%Y-%m-%d}, nanoseconds in 64 bits); leave {name}= out for no {side} bound"
    )


def _parse_time(value: object, name: str, now: pd.Timestamp | None) -> pd.Timestamp:
    """:func:`parse_time` of a value that is not ``None``, before the range check."""
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if match:
            amount, unit = float(match.group(1)), _RELATIVE_UNITS[match.group(2).lower()]
            base = now if now is not None else pd.Timestamp.now(tz="UTC")
            return base - pd.Timedelta(amount, unit=unit)
        if _BARE_DATE.match(value):
            try:
                return pd.Timestamp(value.strip(), tz="UTC")
            except ValueError as exc:
                raise InvalidArgumentError(f"{name}={value!r} is not a date") from exc
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(
                f"{name}={value!r} is not a time: give an ISO 8601 string with a zone "
                "('2026-11-01T00:00:00Z'), an aware datetime or pd.Timestamp, or a relative "
                "'7d', '12h', '30m'"
            ) from exc
    elif isinstance(value, datetime):  # includes pd.Timestamp
        stamp = pd.Timestamp(value)
    elif isinstance(value, date):  # a calendar day, like the bare date string
        return pd.Timestamp(value.isoformat(), tz="UTC")
    else:
        raise InvalidArgumentError(
            f"{name} must be an ISO string, a date, a datetime or a pd.Timestamp, "
            f"not {type(value).__name__}"
        )
    if stamp is pd.NaT or pd.isna(stamp):
        raise InvalidArgumentError(f"{name}={value!r} is not a time")
    if stamp.tzinfo is None:
        raise InvalidArgumentError(
            f"{name}={value!r} has no time zone; sessionkit never guesses local time. "
            f"Add one, e.g. '{stamp.isoformat()}Z' or pd.Timestamp(...).tz_localize('UTC')."
        )
    return stamp.tz_convert("UTC")


def format_time(stamp: pd.Timestamp) -> str:
    """RFC 3339 in UTC with nanoseconds: ``2026-11-01T00:00:00.000000000Z``."""
    stamp = stamp.tz_convert("UTC")
    return (
        stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond * 1000 + stamp.nanosecond:09d}Z"
    )


def _choice(value: object, name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgumentError(
            f"{name}={value!r} is not allowed; expected one of {', '.join(allowed)}"
        )
    return value


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _flag(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True, False or None, not {value!r}")
    return "true" if value else "false"


@dataclass(frozen=True)
class SessionFilters:
    """Validated filters of one :func:`~sessionkit.load_sessions` call.

    ``start``/``end`` are the exact ``since``/``until`` instants; ``params`` carries a window
    one second wider on each side (:data:`WINDOW_MARGIN`), so a server that rounds the bounds
    or reads ``startAfter`` as exclusive loses nothing; :meth:`in_window` trims exactly."""

    params: Mapping[str, str]
    triggers: tuple[str, ...]
    sort: str
    direction: str
    limit: int | None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    @property
    def windowed(self) -> bool:
        """True when ``since`` or ``until`` was given (rows must be trimmed to the window)."""
        return self.start is not None or self.end is not None

    def in_window(self, start_times: pd.Series) -> pd.Series:
        """Boolean mask: ``start <= start_time < end`` (missing start times are outside when a
        bound is set)."""
        mask = pd.Series(True, index=start_times.index)
        if self.start is not None:
            mask &= (start_times >= self.start).fillna(False)
        if self.end is not None:
            mask &= (start_times < self.end).fillna(False)
        return mask.astype(bool)

    @property
    def merged(self) -> bool:
        """True when several walks (one per trigger) are merged client-side."""
        return len(self.triggers) > 1

    def queries(self) -> Iterator[dict[str, str]]:
        """The query parameters of each walk."""
        if not self.triggers:
            yield dict(self.params)
        for trigger in self.triggers:
            yield {**self.params, "trigger": trigger}


def session_filters(
    *,
    since: object = None,
    until: object = None,
    trigger: str | Iterable[str] | None = None,
    env: object = None,
    success: object = None,
    devmode: object = None,
    org_id: object = None,
    project_id: object = None,
    deployment_id: object = None,
    thread_id: object = None,
    agent: object = None,
    metadata: Mapping[str, Any] | None = None,
    sort: object = "created",
    direction: object = "desc",
    limit: object = None,
    now: pd.Timestamp | None = None,
) -> SessionFilters:
    """Validate :func:`~sessionkit.load_sessions` arguments and map them to query parameters;
    relative times count back from ``now`` (default: the current time)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    start = parse_time(since, "since", now=now)
    end = parse_time(until, "until", now=now)
    if start is not None and end is not None and end <= start:
        raise InvalidArgumentError(f"until ({end}) must be after since ({start})")
    if isinstance(sort, str):
        sort = _SORT_ALIASES.get(sort.lower(), sort)
    params: dict[str, str] = {
        "sort": _choice(sort, "sort", SORTS),
        "direction": _choice(direction, "direction", DIRECTIONS),
    }
    # widened (trimmed exactly to since <= start_time < until by the loaders); a bound within
    # the margin of the representable range is not sent: nothing lies beyond it anyway
    if start is not None and start > _FIRST + WINDOW_MARGIN:
        params["startAfter"] = format_time(start - WINDOW_MARGIN)
    if end is not None and end < _LAST - WINDOW_MARGIN:
        params["startBefore"] = format_time(end + WINDOW_MARGIN)
    for name, key, value in (
        ("env", "env", env),
        ("org_id", "orgId", org_id),
        ("project_id", "projectId", project_id),
        ("deployment_id", "deploymentId", deployment_id),
        ("thread_id", "threadId", thread_id),
        ("agent", "agentIdentifier", agent),
    ):
        text = _text(value, name)
        if text is not None:
            params[key] = text
    for name, key, value in (("success", "success", success), ("devmode", "devmode", devmode)):
        flag = _flag(value, name)
        if flag is not None:
            params[key] = flag
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise InvalidArgumentError(
                f"metadata must be a dict of key → value, not {type(metadata).__name__}"
            )
        try:
            params["metadata"] = orjson.dumps(metadata).decode()
        except TypeError as exc:
            raise InvalidArgumentError(
                f"metadata cannot be sent as JSON ({exc}); use str, int, float, bool, None, lists and dicts"
            ) from exc
    triggers: tuple[str, ...] = ()
    if trigger is not None:
        values = [trigger] if isinstance(trigger, str) else list(trigger)
        if not values:
            raise InvalidArgumentError("trigger=[] matches nothing; pass None for every trigger")
        triggers = tuple(dict.fromkeys(_choice(t, "trigger", TRIGGERS) for t in values))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError(f"limit must be a positive integer or None, not {limit!r}")
    return SessionFilters(
        params, triggers, params["sort"], params["direction"], limit, start=start, end=end
    )


def session_ids(sessions_or_ids: object) -> list[str]:
    """Ids from a sessions frame (``id`` or ``session_id``), a Series, a str or an iterable,
    surrounding whitespace stripped, repeats dropped (first order kept); anything that cannot be
    an id raises :class:`~sessionkit.errors.InvalidArgumentError` before any request."""
    if isinstance(sessions_or_ids, pd.DataFrame):
        column = "id" if "id" in sessions_or_ids.columns else "session_id"
        if column not in sessions_or_ids.columns:
            raise InvalidArgumentError(
                "the DataFrame has neither an 'id' nor a 'session_id' column"
            )
        values: Iterable[object] = sessions_or_ids[column]
    elif isinstance(sessions_or_ids, str):
        values = [sessions_or_ids]
    elif isinstance(sessions_or_ids, Iterable):
        values = sessions_or_ids
    else:
        raise InvalidArgumentError(
            f"expected a sessions DataFrame, a Series or an iterable of session ids, "
            f"got {type(sessions_or_ids).__name__}"
        )
    ids: dict[str, None] = {}
    for value in values:
        text = value.strip() if isinstance(value, str) else value
        if (
            not isinstance(text, str)
            or not text
            or any(c in text for c in "/?#%")
            or any(c.isspace() for c in text)
        ):
            raise InvalidArgumentError(
                f"not a session id: {value!r} (expected an id such as 'sess_' + 32 hex digits; "
                "nothing was requested)"
            )
        ids.setdefault(text, None)
    return list(ids)
