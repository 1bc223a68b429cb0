"""The session filter model: one table (:data:`FILTERS`, :class:`FilterArgs`), parsed once.

:func:`session_filters` validates the keywords into a typed :class:`SessionFilters`, which
renders them as API query parameters (:attr:`SessionFilters.params`), as the column values the
store scans for (:attr:`SessionFilters.equal`, times, triggers) and, through the table, as CLI
options. Imports only :mod:`~sessionkit.display`, :mod:`~sessionkit.errors` and :mod:`~sessionkit.schema`.

Every invalid argument raises :class:`~sessionkit.errors.InvalidArgumentError` naming the
argument and what is allowed. Times are never read as local time: a string or ``datetime``
without a zone is refused.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, TypeAlias, TypedDict, Unpack

import numpy as np
import orjson
import pandas as pd

from . import timestamps
from .display import format_timestamp
from .errors import InvalidArgumentError
from .schema import DIRECTIONS, SORTS, TRIGGERS

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_RELATIVE_UNITS = {"s": "s", "m": "min", "min": "min", "h": "h", "d": "D", "w": "W"}
#: How much wider than ``since``/``until`` the window sent to the server is, on each side.
WINDOW_MARGIN = pd.Timedelta(1, "s")
#: Sort key (the API's ``sort=``) → the sessions column it orders by.
SORT_COLUMNS: dict[str, str] = {
    "created": "created_at",
    "updated": "updated_at",
    "duration": "duration",
    "startTime": "start_time",
}
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
    return timestamps.format_ns(pd.Timestamp(stamp).tz_convert("UTC").as_unit("ns").value)


def _choice(value: object, name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgumentError(
            f"{name}={value!r} is not allowed; expected one of {', '.join(allowed)}"
        )
    return value


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True, False or None, not {value!r}")
    return value


#: A time argument: ISO string with a zone, a bare date, relative ``"7d"``, aware datetime.
TimeLike: TypeAlias = str | date | datetime | pd.Timestamp


class ScopeArgs(TypedDict, total=False):
    """The filters a sync scope holds besides ``since`` (``Store.sync(client, since=...,
    **filters)``, whose ``since`` is the history bound of a first sync): one key per row of
    :data:`FILTERS` with ``scope=True``. Editors read the types from here;
    :func:`session_filters` checks the values."""

    until: TimeLike | None
    trigger: str | Iterable[str] | None
    env: str | None
    success: bool | None
    devmode: bool | None
    org_id: str | None
    project_id: str | None
    deployment_id: str | None
    thread_id: str | None
    agent: str | None
    metadata: Mapping[str, Any] | None


class FilterArgs(ScopeArgs, total=False):
    """The session filters as keywords (``load_sessions(**filters)``, ``Store.files``, the
    report): one key per row of :data:`FILTERS` — :class:`ScopeArgs`, ``since`` and the walk's
    ``sort``, ``direction``, ``limit``."""

    since: TimeLike | None
    sort: str
    direction: str
    limit: int | None


FilterKind = Literal["time", "choice", "text", "flag", "agent", "metadata", "order", "limit"]


@dataclass(frozen=True)
class Filter:
    """One session filter: its keyword, how its value is read (``kind``), the API query
    parameter it becomes (``query``; ``None``: applied client-side), whether a sync scope may
    hold it (``scope``: sort, direction and limit are the walk's, not the data's) and a
    one-line help text (the CLI's; a ``flag`` has one for True, ``help``, and one for False,
    ``help_false``). A ``choice`` takes one value or a list (one walk per value, merged; the
    store scans with ``isin``); its column in the sessions frame is named as the filter."""

    name: str
    kind: FilterKind
    query: str | None
    help: str
    scope: bool = True
    help_false: str = ""
    #: A ``choice``'s allowed values (``None``: any non-empty text).
    choices: tuple[str, ...] | None = None


#: Every session filter. Adding a filter: a row here, a key in :class:`ScopeArgs` (or
#: :class:`FilterArgs` when a scope cannot hold it) and the emulator's query engine (the
#: independent oracle); the loaders, the store (the sessions column named as the filter),
#: the report and the CLI options follow (ARCHITECTURE.md, "Adding a session filter").
FILTERS: tuple[Filter, ...] = (
    Filter("since", "time", "startAfter", "sessions that started at or after this time"),
    Filter("until", "time", "startBefore", "sessions that started before this time"),
    Filter(
        "trigger",
        "choice",
        "trigger",
        f"only these triggers ({', '.join(TRIGGERS)})",
        choices=TRIGGERS,
    ),
    Filter("env", "text", "env", "only this environment (e.g. production)"),
    Filter(
        "success",
        "flag",
        "success",
        "only sessions that succeeded (success=True)",
        help_false="only sessions that did not succeed (success=False; pending ones included)",
    ),
    Filter(
        "devmode",
        "flag",
        "devmode",
        "only development-mode runs (devmode=True)",
        help_false="only deployed runs (devmode=False)",
    ),
    Filter("org_id", "text", "orgId", "only this organisation's sessions"),
    Filter("project_id", "text", "projectId", "only this project's sessions"),
    Filter("deployment_id", "text", "deploymentId", "only this deployment's sessions"),
    Filter("thread_id", "text", "threadId", "only this thread's sessions"),
    Filter("agent", "agent", "agentIdentifier", "sessions this agent took part in (name or id)"),
    Filter("metadata", "metadata", "metadata", "metadata key = value (JSON object)"),
    Filter("sort", "order", "sort", f"sort key ({', '.join(SORTS)})", scope=False),
    Filter("direction", "order", "direction", "asc or desc", scope=False),
    Filter("limit", "limit", None, "at most this many sessions, in sort order", scope=False),
)
FILTER_NAMES: tuple[str, ...] = tuple(f.name for f in FILTERS)
#: Each filter's API query parameter (``None``: applied client-side).
FILTER_QUERY: dict[str, str | None] = {f.name: f.query for f in FILTERS}
#: The filters a sync scope may hold (the data selected, not the walk's order).
SCOPE_NAMES: tuple[str, ...] = tuple(f.name for f in FILTERS if f.scope)
if set(FilterArgs.__annotations__) != set(FILTER_NAMES) or set(ScopeArgs.__annotations__) != set(
    SCOPE_NAMES
) - {"since"}:  # pragma: no cover - a broken edit
    raise AssertionError("FILTERS, FilterArgs and ScopeArgs must list the same filters")
_BY_NAME = {f.name: f for f in FILTERS}
_DEFAULTS: dict[str, object] = {"sort": "created", "direction": "desc"}


@dataclass(frozen=True)
class SessionFilters:
    """Validated filters of one load, sync or report, as typed values (parsed once).

    ``start``/``end`` are the exact ``since``/``until`` instants; :attr:`params` (the API
    query) carries a window one second wider on each side (:data:`WINDOW_MARGIN`), so a server
    that rounds the bounds or reads ``startAfter`` as exclusive loses nothing; :meth:`in_window`
    trims exactly. ``equal`` maps a session column to the value it must hold (``env``,
    ``org_id``, ``project_id``, ``deployment_id``, ``thread_id`` as text; ``success``,
    ``devmode`` as bool): the store turns it into scan expressions, the API into query
    parameters."""

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    equal: Mapping[str, str | bool] = field(default_factory=dict)
    agent: str | None = None
    metadata: Mapping[str, Any] | None = None
    sort: str = "created"
    direction: str = "desc"
    limit: int | None = None

    @property
    def windowed(self) -> bool:
        """True when ``since`` or ``until`` was given (rows must be trimmed to the window)."""
        return self.start is not None or self.end is not None

    @property
    def selective(self) -> bool:
        """True when any filter narrows the sessions (sort, direction and limit do not)."""
        return bool(self.given())

    def given(self) -> dict[str, object]:
        """The filters that narrow the sessions, keyword → value as a person reads it (times
        as :class:`pd.Timestamp`, triggers joined by commas), in :data:`FILTERS` order."""
        values: dict[str, object] = {
            "since": self.start,
            "until": self.end,
            **{name: ",".join(values) for name, values in self.lists.items()},
            **self.equal,
            "agent": self.agent,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }
        return {n: values[n] for n in SCOPE_NAMES if values.get(n) is not None}

    def described(self) -> dict[str, object]:
        """:meth:`given` for messages: times as ``"2026-11-27 11:54:35 UTC"``."""
        return {
            k: format_timestamp(v) if isinstance(v, pd.Timestamp) else v
            for k, v in self.given().items()
        }

    def described_text(self) -> str:
        """:meth:`described` as message text: ``env='prod', since='2026-11-27 11:54:35 UTC'``."""
        return ", ".join(f"{k}={v!r}" for k, v in self.described().items())

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
        """True when several walks (one per value of a list filter) are merged client-side."""
        return any(len(values) > 1 for values in self.lists.values())

    @property
    def triggers(self) -> tuple[str, ...]:
        """The triggers asked for (``()``: any)."""
        return self.lists.get("trigger", ())

    @property
    def params(self) -> dict[str, str]:
        """The API query parameters of these filters (the list filters apart: see
        :meth:`queries`)."""
        params = {"sort": self.sort, "direction": self.direction}
        # widened (trimmed exactly to since <= start_time < until by the loaders); a bound
        # within the margin of the representable range is not sent: nothing lies beyond it
        if self.start is not None and self.start > _FIRST + WINDOW_MARGIN:
            params["startAfter"] = format_time(self.start - WINDOW_MARGIN)
        if self.end is not None and self.end < _LAST - WINDOW_MARGIN:
            params["startBefore"] = format_time(self.end + WINDOW_MARGIN)
        for name, value in self.equal.items():
            query = _BY_NAME[name].query
            assert query is not None
            params[query] = ("true" if value else "false") if isinstance(value, bool) else value
        if self.agent is not None:
            params["agentIdentifier"] = self.agent
        if self.metadata is not None:
            params["metadata"] = orjson.dumps(self.metadata).decode()
        return params

    def queries(self) -> Iterator[dict[str, str]]:
        """The query parameters of each walk: one per combination of the list filters'
        values (one per trigger, say), or one."""
        params = self.params
        queries = [_BY_NAME[name].query for name in self.lists]
        for values in itertools.product(*self.lists.values()):
            yield {**params, **{q: v for q, v in zip(queries, values, strict=True) if q}}

    def with_agent(self, agent: str | None) -> SessionFilters:
        """These filters with ``agent`` replaced (``None``: any agent)."""
        return replace(self, agent=agent)


def session_filters(
    *, now: pd.Timestamp | None = None, **filters: Unpack[FilterArgs]
) -> SessionFilters:
    """Validate filter keywords (:class:`FilterArgs`) into :class:`SessionFilters`; relative
    times count back from ``now`` (default: the current time). An unknown keyword or a bad
    value raises :class:`~sessionkit.errors.InvalidArgumentError` naming it."""
    unknown = [k for k in filters if k not in _BY_NAME]
    if unknown:
        raise unknown_filters(unknown, FILTER_NAMES)
    raw: dict[str, object] = {**_DEFAULTS, **filters}
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    start = parse_time(raw.get("since"), "since", now=now)
    end = parse_time(raw.get("until"), "until", now=now)
    if start is not None and end is not None and end <= start:
        raise InvalidArgumentError(f"until ({end}) must be after since ({start})")
    sort = raw["sort"]
    if isinstance(sort, str):
        sort = _SORT_ALIASES.get(sort.lower(), sort)
    equal: dict[str, str | bool] = {}
    lists: dict[str, tuple[str, ...]] = {}
    for spec in FILTERS:
        value = raw.get(spec.name)
        if spec.kind == "choice" and value is not None:
            lists[spec.name] = _values(value, spec)
        elif spec.kind == "text" and value is not None:
            equal[spec.name] = _text(value, spec.name)
        elif spec.kind == "flag" and value is not None:
            equal[spec.name] = _flag(value, spec.name)
    return SessionFilters(
        start=start,
        end=end,
        lists=lists,
        equal=equal,
        agent=_text(raw.get("agent"), "agent") if raw.get("agent") is not None else None,
        metadata=_metadata(raw.get("metadata")),
        sort=_choice(sort, "sort", SORTS),
        direction=_choice(raw["direction"], "direction", DIRECTIONS),
        limit=_limit(raw.get("limit")),
    )


def unknown_filters(unknown: Iterable[str], allowed: Sequence[str]) -> InvalidArgumentError:
    """The error for filter keywords that do not exist: names them, suggests the closest
    allowed one, lists the allowed ones."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, allowed, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return InvalidArgumentError(
        f"unknown filter {', '.join(parts)}; the filters are {', '.join(allowed)}"
    )


def _values(value: object, spec: Filter) -> tuple[str, ...]:
    """A ``choice`` filter's value (one, or a list) as distinct values, each checked."""
    name = spec.name
    if not isinstance(value, (str, Iterable)):
        raise InvalidArgumentError(
            f"{name} must be a value or a list of them, not {type(value).__name__}"
        )
    values = [value] if isinstance(value, str) else list(value)
    if not values:
        raise InvalidArgumentError(f"{name}=[] matches nothing; pass None for any {name}")
    allowed = spec.choices
    if allowed is not None:
        return tuple(dict.fromkeys(_choice(v, name, allowed) for v in values))
    return tuple(dict.fromkeys(_text(v, name) for v in values))


def _metadata(metadata: object) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"metadata must be a dict of key → value, not {type(metadata).__name__}"
        )
    bad = _non_finite(metadata)
    if bad is not None:  # orjson would send it as null: a filter for another value
        raise InvalidArgumentError(
            f"metadata {bad} is not a finite number; JSON has no NaN or infinity (it would "
            "be sent as null, matching something else)"
        )
    try:  # what is sent must round-trip: a key the API cannot receive is refused here
        # numpy scalars (a value taken from a frame: np.int64, np.bool_) are sent as numbers
        return dict(orjson.loads(orjson.dumps(metadata, option=orjson.OPT_SERIALIZE_NUMPY)))
    except TypeError as exc:
        raise InvalidArgumentError(
            f"metadata cannot be sent as JSON ({exc}); use str, int, float, bool, None, lists and dicts"
        ) from exc


def _non_finite(value: object, where: str = "") -> str | None:
    """Where in ``value`` (a metadata filter) a NaN or infinite number is (``key=nan``), or
    ``None``; walks nested dicts and lists without recursion."""
    stack: list[tuple[str, object]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, (float, np.floating)) and not math.isfinite(float(item)):
            return f"{path}={float(item)!r}"
    return None


def _limit(limit: object) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError(f"limit must be a positive integer or None, not {limit!r}")
    return limit


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
        ids.setdefault(session_id(value), None)
    return list(ids)


def session_id(value: object) -> str:
    """``value`` as a session id (surrounding whitespace stripped), or
    :class:`~sessionkit.errors.InvalidArgumentError` when it cannot be one: not text, empty,
    holding whitespace or a character that would change the request path (``/ ? # %``)."""
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
    return text


def askable_session_id(value: object) -> str | None:
    """``value`` as a session id a request can ask for (:func:`session_id`), or ``None`` when
    it is none (null, not text, holding a space, ``/``, ``?``, ``#`` or ``%``): rows the API
    sent with such ids are kept, but never fetched by id."""
    try:
        return session_id(value)
    except InvalidArgumentError:
        return None
