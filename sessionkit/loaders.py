"""Loaders: the functions a notebook's first cell calls. They do I/O and return typed frames.

Every loader validates its arguments before any request (:mod:`sessionkit.params`), fetches
through a :class:`~sessionkit.client.Client` (``client=None`` means :func:`sessionkit.connect`'s
default), and builds frames with the pure functions of :mod:`sessionkit.frames` and
:mod:`sessionkit.spans`. Column names and dtypes follow :mod:`sessionkit.schema`; every frame
has its full column set even when empty.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from html import escape
from typing import Any, Unpack

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import frames, schema
from .agents import AgentNames, page_rows, resolve_agent, with_agent_id
from .client import Client, Page
from .connect import default_client
from .details import details_frames
from .display import MISSING, format_duration, format_money, format_timestamp
from .errors import (
    APIError,
    InvalidArgumentError,
    NotFoundError,
    SchemaWarning,
    SessionKitWarning,
)
from .errors import warn as errors_warn
from .nomatch import warn_no_match
from .params import SORT_COLUMNS, FilterArgs, SessionFilters, session_filters, session_ids
from .progress import progress_bar
from .status import status_of
from .store import Store

__all__ = [
    "SessionDetail",
    "load_agents",
    "load_details",
    "load_eval_runs",
    "load_logs",
    "load_session",
    "load_sessions",
    "load_spans",
]

_PAGES_PER_BATCH = 50  # pages converted to Arrow at once: bounds raw bytes held during a walk


# --------------------------------------------------------------------------- sessions


def load_sessions(
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
    agent_names: bool = True,
    store: Store | str | os.PathLike[str] | None = None,
    **filters: Unpack[FilterArgs],
) -> pd.DataFrame:
    """Sessions matching the filters, one row each, as a typed frame (see the README's table).

    ``since``/``until`` bound ``start_time`` (``since <= start_time < until``, exactly: the
    server is asked for a window one second wider and the rows are trimmed here). They accept
    ISO strings with a zone, a bare date ``"2026-11-01"`` (that UTC calendar day's midnight),
    aware ``datetime``/``pd.Timestamp``, or a relative ``"7d"``/``"12h"`` — before now, or on
    the bundled demo data before the demo's now (its data is frozen in time; sk.connect() prints it).
    ``trigger`` may be a list (one walk per value, merged). ``agent`` is an agent's name (as in
    the ``agent`` column), its stable id ``agent_<40hex>`` or one of its per-deployment ids
    ``agentid_<40hex>``, and selects every session that agent took part in (see
    :mod:`sessionkit.agents`); a name no agent has raises
    :class:`~sessionkit.agents.UnknownAgentError` listing the known names. Filters that match
    nothing on a project that has sessions give an empty frame and a
    :class:`~sessionkit.errors.SessionKitWarning` naming the values that exist. ``limit`` caps
    the rows returned, in sort order. Every session that existed when the walk started and
    still exists when it ends appears exactly once, whatever is created or deleted meanwhile
    (the walk is keyed by ``start_time``: :mod:`sessionkit.client.time_walk`); sessions that
    start during the walk do not appear. Rows come sorted by ``sort`` then ``id``.

    With ``agent_names=True`` an ``agent`` column (category) names each session's agent: the
    list endpoint only sends ids, so one session detail per distinct agent id is fetched
    (a handful of requests, cached) to learn the names. ``agent_id`` (category) is each
    session's stable agent id, the first ``agent_…`` element of ``agent_ids``.

    ``store`` (a :class:`~sessionkit.store.Store` or its directory) reads the local store
    instead of the API — same filters, same frame, no request; ``store.sync()`` refreshes it.
    """
    if client is not None and not isinstance(client, Client):
        raise InvalidArgumentError(
            f"load_sessions takes its filters as keywords; the first positional argument is the "
            f"client, got {client!r}. Did you mean load_sessions(since={client!r})?"
        )
    local = _local(store, client) if store is not None else None
    if local is None:
        client = client or default_client()
    query = session_filters(
        now=local.demo_now if local is not None else client.demo_now if client else None,
        **filters,
    )
    if local is not None:
        frame = local.load_filtered(query)  # agent_id included (the store derives it)
        return frame if agent_names else frame.drop(columns="agent", errors="ignore")
    assert client is not None
    resolved = _resolve_agent(client, query, progress)
    frame = walk_sessions(client, resolved, progress=progress, strict=strict)
    if frame.empty and resolved.selective:
        warn_no_match(client, query)
    elif resolved.windowed:
        _warn_partial_window(client, resolved)
    if agent_names:
        try:
            frame = label_agents(frame, client, progress=progress)
        except APIError as exc:
            exc.fetched = (
                f"the walk finished ({len(frame):,} sessions); naming their agents failed after "
                f"{exc.fetched or 'no detail'} — agent_names=False skips that step"
            )
            raise
    return with_agent_id(frame)


def _warn_partial_window(client: Client, filters: SessionFilters) -> None:
    """Warn when the ``since``/``until`` window reaches beyond the project's data: before its
    first session by more than 1% of the window (one request: the oldest session) or, on the
    frozen demo data, after its "now" — so a "last 30 days" over 12 days of data is not read
    as 30 days."""
    oldest = page_rows(
        client.list_sessions_page({"sort": "startTime", "direction": "asc"}, limit=1).body
    )
    first = frames.sessions_frame(oldest)["start_time"].min() if oldest else pd.NaT
    gaps = []
    now = client.demo_now if client.demo_now is not None else pd.Timestamp.now(tz="UTC")
    window = (filters.end if filters.end is not None else now) - (filters.start or now)
    # a gap under 1% of the window (the demo's first session 39 s into "the last 30 days")
    # is no partial coverage worth a warning
    if (
        filters.start is not None
        and not pd.isna(first)
        and first - filters.start > max(window, pd.Timedelta(0)) / 100
    ):
        gaps.append(
            f"it starts at {format_timestamp(filters.start)} but the project's first session "
            f"started at {format_timestamp(first)}"
        )
    if filters.end is not None and client.demo_now is not None and filters.end > client.demo_now:
        gaps.append(
            f"it ends at {format_timestamp(filters.end)}, after the demo data's now "
            f"({format_timestamp(client.demo_now)})"
        )
    if gaps:
        errors_warn(
            "The time window is only partly covered by the data: " + "; ".join(gaps) + ".",
            SessionKitWarning,
            stacklevel=3,
        )


#: Keywords whose existing values one page of the newest sessions shows cheaply.
def walk_sessions(
    client: Client, filters: SessionFilters, *, progress: bool | None = None, strict: bool = False
) -> pd.DataFrame:
    """Run the walks of ``filters`` and return the merged, de-duplicated, typed frame, trimmed
    exactly to ``since <= start_time < until``. With a ``limit`` and a time window, rows the
    server sent from its one-second margin do not count towards the limit: when trimming left
    fewer than ``limit`` rows of a walk that hit the limit, the walk is repeated asking more."""
    extra = 0
    with frames.gc_paused():
        while True:
            frame, walked = _walk_sessions(
                client, filters, progress=progress, strict=strict, extra=extra
            )
            short = filters.limit is not None and len(frame) < filters.limit
            if not (short and filters.limit is not None and walked >= filters.limit + extra):
                return frame
            extra = 2 * extra + (walked - len(frame)) + 1


def _walk_sessions(
    client: Client,
    filters: SessionFilters,
    *,
    progress: bool | None,
    strict: bool,
    extra: int = 0,
) -> tuple[pd.DataFrame, int]:
    tables: list[pa.Table] = []
    problems = frames.Problems("sessions", strict)
    bar = progress_bar(None, "sessions", " sessions", progress)
    seen = [0, 0]  # pages, rows (overlapping rows included)
    try:
        for params in filters.queries():
            batch: list[Page] = []

            def on_page(page: Page) -> None:
                bar.update(page.rows)
                seen[0] += 1
                seen[1] += page.rows

            max_rows = None if filters.limit is None else filters.limit + extra
            for page in client.iter_session_pages(params, max_rows=max_rows, on_page=on_page):
                if page.rows:
                    batch.append(page)
                if len(batch) >= _PAGES_PER_BATCH:
                    tables.append(_batch_table(batch, problems))
                    batch = []
            if batch:
                tables.append(_batch_table(batch, problems))
    except APIError as exc:
        if seen[0]:  # nothing fetched: nothing to say about it
            exc.fetched = exc.fetched or (
                f"{seen[0]:,} page(s), {seen[1]:,} session rows, not returned (a walk is all "
                "or nothing); for walks that must survive long outages, sync a Store, which "
                "keeps what it fetched and continues on the next sync()"
            )
        raise
    finally:
        bar.close()
    problems.warn()
    table = frames.concat_tables(tables, schema.SESSION_COLUMNS)
    del tables
    # a time walk reads in start_time order whatever the sort asked: the sort is applied here
    held = [frames.sorted_table(table, SORT_COLUMNS[filters.sort], filters.direction)]
    del table
    rows = held[0].num_rows
    unique = rows == 0 or pc.count_distinct(held[0]["id"]).as_py() == rows
    # to_pandas gets the only reference and frees each Arrow column once converted
    frame = frames.to_pandas(held.pop(), schema.SESSION_COLUMNS)
    return _finish_sessions(frame, filters, unique=unique), rows


def _batch_table(pages: list[Page], problems: frames.Problems) -> pa.Table:
    """The typed Arrow table of a batch of walked pages, each session once."""
    table = frames.sessions_table_from_pages([p.body for p in pages], problems=problems)
    return frames.drop_repeated(table, pages)


def _finish_sessions(
    frame: pd.DataFrame, filters: SessionFilters, *, unique: bool = False
) -> pd.DataFrame:
    """Drop repeated ids (keep the latest ``updated_at``; ``unique=True``: known to have none),
    trim to the exact time window, apply ``limit`` (the rows come sorted)."""
    no_id = frame["id"].isna()
    if no_id.any():  # never de-duplicated: "no id" is not one session
        errors_warn(
            f"sessions.id: {int(no_id.sum()):,} session(s) have no usable id (null, or not a "
            "string); each is kept as its own row with a missing id (they cannot be told "
            "apart from repeats on overlapping pages, nor joined to details or logs).",
            SchemaWarning,
            stacklevel=4,
        )
    if not unique and frame["id"].duplicated().any():
        order = (
            frame["updated_at"].fillna(pd.Timestamp.min.tz_localize("UTC")).argsort(kind="stable")
        )
        latest = frame.iloc[order].drop_duplicates("id", keep="last").index
        keep = frame.index.isin(latest) | no_id.to_numpy()
        frame = frame.loc[keep]
    if filters.windowed:
        frame = frame.loc[filters.in_window(frame["start_time"])]
    if filters.limit is not None:
        frame = frame.iloc[: filters.limit]
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- per-session details


class _DetailCache:
    """Detail payloads of completed sessions (they never change): a bounded LRU per client.

    Keyed by the client object itself through weak references, so a client's entries go with
    it and are never served to another client (an ``id()`` key would be: CPython reuses the
    address of a freed object).
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._per_client: weakref.WeakKeyDictionary[Client, OrderedDict[str, dict[str, Any]]]
        self._per_client = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, client: Client, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            items = self._per_client.get(client)
            item = items.get(session_id) if items is not None else None
            if item is not None and items is not None:
                items.move_to_end(session_id)
            return item

    def put(self, client: Client, session_id: str, detail: dict[str, Any]) -> None:
        session = detail.get("session") or {}
        if session.get("pending") is not False:
            return  # a pending session will change: never cache it
        with self._lock:
            items = self._per_client.setdefault(client, OrderedDict())
            items[session_id] = detail
            while len(items) > self.size:
                items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._per_client.clear()


_details = _DetailCache()


def _fetch_details(
    client: Client, ids: list[str], progress: bool | None, *, missing_ok: bool = False
) -> list[Any]:
    """One detail per id, concurrently (completed ones cached); with ``missing_ok`` a session
    that is gone (404) gives ``None`` instead of raising."""

    def fetch(session_id: str) -> dict[str, Any] | None:
        cached = _details.get(client, session_id)
        if cached is not None:
            return cached
        try:
            detail = client.get_session(session_id)
        except NotFoundError:
            if missing_ok:
                return None
            raise
        _details.put(client, session_id, detail)
        return detail

    bar = progress_bar(len(ids), "session details", " sessions", progress)
    try:
        return client.map(fetch, ids, on_done=bar.update, what="session details")
    finally:
        bar.close()


@dataclass(repr=False)
class Details:
    """The enriched data of many sessions, from one ``GET /session/{id}`` each."""

    sessions: pd.DataFrame
    eval_runs: pd.DataFrame
    spans: pd.DataFrame
    agents: pd.DataFrame
    routes: pd.DataFrame

    def _counts(self) -> list[tuple[str, int]]:
        return [
            (name, len(getattr(self, name)))
            for name in ("sessions", "eval_runs", "spans", "agents", "routes")
        ]

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={n:,}" for name, n in self._counts())
        return f"Details({counts})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>.{name}</th><td>{n:,} rows</td></tr>"
            for name, n in self._counts()
        )
        return f"<table><caption>Details of {len(self.sessions):,} sessions</caption>{rows}</table>"


def load_details(
    sessions_or_ids: object,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
) -> Details:
    """Sessions, eval runs, spans, agents and routes of many sessions, in one fan-out.

    One ``GET /session/{id}`` per session (completed sessions are cached on the client, so a
    later ``load_spans`` of the same ids makes no request).
    """
    client = client or default_client()
    ids = session_ids(sessions_or_ids)
    pairs = list(zip(ids, _fetch_details(client, ids, progress), strict=True))
    parts = details_frames(
        pairs, strict, frozenset({"sessions", "eval_runs", "spans", "agents", "routes"})
    )
    return Details(**parts)


def _local(store: Store | str | os.PathLike[str], client: Client | None) -> Store:
    """The store to read instead of the API (``client`` and ``store`` exclude each other)."""
    if client is not None:
        raise InvalidArgumentError("pass client= (read the API) or store= (read a local store)")
    return store if isinstance(store, Store) else Store(store)


def _load_part(
    part: str,
    sessions_or_ids: object,
    client: Client | None,
    progress: bool | None,
    strict: bool,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """One frame (``eval_runs``, ``spans`` or ``agents``) of the sessions' details."""
    if store is not None:
        loader = getattr(_local(store, client), f"load_{part}")
        frame: pd.DataFrame = loader(sessions_or_ids)
        return frame
    client = client or default_client()
    ids = session_ids(sessions_or_ids)
    pairs = list(zip(ids, _fetch_details(client, ids, progress), strict=True))
    return details_frames(pairs, strict, frozenset({part}))[part]


def load_eval_runs(
    sessions_or_ids: object,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Eval runs of the given sessions, one row each (``session_id`` joins sessions.id).

    ``store``: read them from a local :class:`~sessionkit.store.Store` instead (only what
    ``store.sync(details=...)`` fetched is there).
    """
    return _load_part("eval_runs", sessions_or_ids, client, progress, strict, store)


def load_spans(
    sessions_or_ids: object,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Timeline spans of the given sessions, one row per node, in pre-order.

    ``store``: read them from a local :class:`~sessionkit.store.Store` instead (only what
    ``store.sync(details=...)`` fetched is there).
    """
    return _load_part("spans", sessions_or_ids, client, progress, strict, store)


def load_agents(
    sessions_or_ids: object,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Agents of the given sessions: ``session_id``, ``name``, ``identifier``.

    ``store``: read them from a local :class:`~sessionkit.store.Store` instead (only what
    ``store.sync(details=...)`` fetched is there).
    """
    return _load_part("agents", sessions_or_ids, client, progress, strict, store)


def load_logs(
    sessions_or_ids: object,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    strict: bool = False,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Log lines of the given sessions (one request each), sorted by session and time.

    ``store``: read them from a local :class:`~sessionkit.store.Store` instead (only what
    ``store.sync(logs=True)`` fetched is there).
    """
    if store is not None:
        return _local(store, client).load_logs(sessions_or_ids)
    client = client or default_client()
    ids = session_ids(sessions_or_ids)
    bar = progress_bar(len(ids), "session logs", " sessions", progress)
    try:
        results = client.map(client.get_logs, ids, on_done=bar.update, what="session logs")
    finally:
        bar.close()
    return frames.logs_frame(
        ((sid, line) for sid, lines in zip(ids, results, strict=True) for line in lines),
        strict=strict,
    )


# --------------------------------------------------------------------------- agent names


def label_agents(
    sessions: pd.DataFrame, client: Client | None = None, *, progress: bool | None = None
) -> pd.DataFrame:
    """Return ``sessions`` with an ``agent`` category column: the name of each session's agent.

    The name is that of the first id in ``agent_ids`` whose name is known. Names come from the
    ``agents`` of one session detail per distinct agent id (at most ``MAX_AGENT_LOOKUPS``
    requests per load; completed details and learned names are kept per client, see
    :class:`~sessionkit.agents.AgentNames`). A looked-up session that is gone (404) is replaced
    by another of the same agent; a session whose ids cannot be named gets a missing value and
    a :class:`~sessionkit.errors.SchemaWarning` says so. The column is inserted after
    ``agent_ids``.
    """
    frame = sessions.drop(columns="agent", errors="ignore")
    client = client or default_client()
    names = _agent_names(client)
    agent_ids = pa.array(frame["agent_ids"].array, type=pa.list_(pa.string()))
    names.name(
        agent_ids,
        frame["id"].astype(object).tolist(),
        lambda ids: _fetch_details(client, ids, progress, missing_ok=True),
    )
    labels = names.labels(agent_ids)
    position = frame.columns.get_loc("agent_ids") + 1
    frame.insert(
        position, "agent", pd.Categorical(labels, categories=sorted({n for n in labels if n}))
    )
    return frame


_names_lock = threading.Lock()
_names_by_client: weakref.WeakKeyDictionary[Client, dict[str, str]] = weakref.WeakKeyDictionary()


def _agent_names(client: Client) -> AgentNames:
    """Agent names learned so far through ``client`` (kept with it: an agent id's name does not
    change); what could not be named is forgotten after each load."""
    with _names_lock:
        learned = _names_by_client.setdefault(client, {})
    return AgentNames(learned)


def _resolve_agent(
    client: Client, filters: SessionFilters, progress: bool | None
) -> SessionFilters:
    """``filters`` with ``agent=`` resolved to the agent's stable id
    (:func:`sessionkit.agents.resolve_agent`), names learned through ``client`` reused."""
    return resolve_agent(
        filters,
        _agent_names(client),
        lambda params: (p.body for p in client.iter_session_pages(params, ramp=True)),
        lambda ids: _fetch_details(client, ids, progress, missing_ok=True),
    )


# --------------------------------------------------------------------------- one session


@dataclass
class SessionDetail:
    """Everything about one session: ``session`` (one-row frame), ``agents``, ``eval_runs``,
    ``spans`` (the timeline), ``logs`` and ``route`` (a dict or ``None``)."""

    session: pd.DataFrame
    agents: pd.DataFrame
    eval_runs: pd.DataFrame
    spans: pd.DataFrame
    logs: pd.DataFrame
    route: dict[str, Any] | None = field(default=None)

    @property
    def id(self) -> str:
        """The session id."""
        return str(self.session["id"].iloc[0])

    @property
    def status(self) -> str | None:
        """``"succeeded"``, ``"failed"`` or ``"pending"`` (``None`` if ``success`` is missing)."""
        return status_of(self.session.iloc[0])

    def __repr__(self) -> str:
        row = self.session.iloc[0]
        return (
            f"SessionDetail(id={self.id!r}, status={self.status!r}, "
            f"duration={format_duration(row['duration'])!r}, "
            f"total_cost={format_money(row['total_cost'])!r}, spans={len(self.spans)}, "
            f"eval_runs={len(self.eval_runs)}, logs={len(self.logs)})"
        )

    def _repr_html_(self) -> str:
        row = self.session.iloc[0]
        status = self.status or MISSING
        agents = ", ".join(sorted(set(self.agents["name"].dropna().astype(str)))) or "—"
        facts = [
            ("status", status),
            ("agents", agents),
            ("trigger / env", f"{row['trigger']} / {row['env']}"),
            ("start", format_timestamp(row["start_time"])),
            ("duration", format_duration(row["duration"])),
            ("total cost", format_money(row["total_cost"])),
            (
                "spans / eval runs / log lines",
                f"{len(self.spans)} / {len(self.eval_runs)} / {len(self.logs)}",
            ),
        ]
        if isinstance(row["error"], str):
            facts.append(("error", row["error"]))
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in facts
        )
        return f"<table><caption>Session {escape(self.id)}</caption>{body}</table>"


def load_session(
    session_id: str, client: Client | None = None, *, logs: bool = True, strict: bool = False
) -> SessionDetail:
    """One session with its agents, eval runs, timeline spans, route and (``logs=True``) logs."""
    client = client or default_client()
    (sid,) = session_ids([session_id])
    detail = client.get_session(sid)
    _details.put(client, sid, detail)
    parts = details_frames(
        [(sid, detail)], strict, frozenset({"sessions", "eval_runs", "spans", "agents"})
    )
    log_frame = (
        frames.logs_frame(((sid, line) for line in client.get_logs(sid)), strict=strict)
        if logs
        else frames.empty_frame("logs")
    )
    route = detail.get("route") if isinstance(detail.get("route"), dict) else None
    return SessionDetail(
        session=parts["sessions"],
        agents=parts["agents"],
        eval_runs=parts["eval_runs"],
        spans=parts["spans"],
        logs=log_frame,
        route=route,
    )
