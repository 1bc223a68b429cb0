"""Loaders: the functions a notebook's first cell calls. They do I/O and return typed frames.

Every loader validates its arguments before any request (:mod:`sessionkit.params`), fetches
through a :class:`~sessionkit.client.Client` (``client=None`` means :func:`sessionkit.connect`'s
default), and builds frames with the pure functions of :mod:`sessionkit.frames` and
:mod:`sessionkit.spans`. Column names and dtypes follow :mod:`sessionkit.schema`; every frame
has its full column set even when empty.
"""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import frames, schema
from .client import Client, Page
from .connect import default_client
from .details import MAX_AGENT_LOOKUPS, details_frames, learn_agent_names
from .display import MISSING, format_duration, format_money, format_timestamp
from .errors import APIError, InvalidArgumentError, SessionKitWarning
from .params import SessionFilters, session_filters, session_ids
from .progress import progress_bar
from .status import status_of

if TYPE_CHECKING:
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
    since: str | datetime | pd.Timestamp | None = None,
    until: str | datetime | pd.Timestamp | None = None,
    trigger: str | Iterable[str] | None = None,
    env: str | None = None,
    success: bool | None = None,
    devmode: bool | None = None,
    org_id: str | None = None,
    project_id: str | None = None,
    deployment_id: str | None = None,
    thread_id: str | None = None,
    agent: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    sort: str = "created",
    direction: str = "desc",
    limit: int | None = None,
    progress: bool | None = None,
    strict: bool = False,
    agent_names: bool = True,
    store: Store | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Sessions matching the filters, one row each, as a typed frame (see the README's table).

    ``since``/``until`` bound ``start_time`` (``since <= start_time < until``); they accept ISO
    strings with a zone, aware ``datetime``/``pd.Timestamp``, or a relative ``"7d"``/``"12h"``
    (before now). ``trigger`` may be a list (one walk per value, merged). ``agent`` is an agent
    identifier (``agent_<40hex>`` or ``agentid_<40hex>``). ``limit`` caps the rows returned, in
    sort order. Sessions created during the walk may appear; every session that existed when the
    walk started appears exactly once (repeats caused by shifting offsets are dropped by id,
    keeping the most recently updated version).

    With ``agent_names=True`` an ``agent`` column (category) names each session's agent: the
    list endpoint only sends ids, so one session detail per distinct agent id is fetched
    (a handful of requests, cached) to learn the names.

    ``store`` (a :class:`~sessionkit.store.Store` or its directory) reads the local store
    instead of the API — same filters, same frame, no request; ``store.sync()`` refreshes it.
    """
    filters = session_filters(
        since=since,
        until=until,
        trigger=trigger,
        env=env,
        success=success,
        devmode=devmode,
        org_id=org_id,
        project_id=project_id,
        deployment_id=deployment_id,
        thread_id=thread_id,
        agent=agent,
        metadata=metadata,
        sort=sort,
        direction=direction,
        limit=limit,
    )
    if store is not None:
        frame = _local(store, client).load_filtered(filters)
        return frame if agent_names else frame.drop(columns="agent", errors="ignore")
    client = client or default_client()
    frame = walk_sessions(client, filters, progress=progress, strict=strict)
    span = client.demo_span
    if frame.empty and span and {"startAfter", "startBefore"} & set(filters.params):
        warnings.warn(
            f"No sessions in this time window: the demo dataset spans {span[0]} to {span[1]}, "
            "and relative times such as since='7d' count back from now. Pass times inside "
            "that span, or no since/until.",
            SessionKitWarning,
            stacklevel=2,
        )
    if agent_names:
        try:
            frame = label_agents(frame, client, progress=progress)
        except APIError as exc:
            exc.fetched = (
                f"the walk finished ({len(frame):,} sessions); naming their agents failed after "
                f"{exc.fetched or 'no detail'} — agent_names=False skips that step"
            )
            raise
    return frame


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while pages are parsed.

    Checking each page's envelope allocates many short-lived objects; with a large live heap
    (a notebook holding big frames) every full collection would traverse it again and again.
    The objects made here hold no reference cycles, so pausing is safe; the previous state is
    restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def walk_sessions(
    client: Client, filters: SessionFilters, *, progress: bool | None = None, strict: bool = False
) -> pd.DataFrame:
    """Run the walks of ``filters`` and return the merged, de-duplicated, typed frame."""
    with _gc_paused():
        return _walk_sessions(client, filters, progress=progress, strict=strict)


def _walk_sessions(
    client: Client, filters: SessionFilters, *, progress: bool | None, strict: bool
) -> pd.DataFrame:
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

            for page in client.iter_session_pages(params, max_rows=filters.limit, on_page=on_page):
                if page.rows:
                    batch.append(page)
                if len(batch) >= _PAGES_PER_BATCH:
                    tables.append(_batch_table(batch, problems))
                    batch = []
            if batch:
                tables.append(_batch_table(batch, problems))
    except APIError as exc:
        exc.fetched = exc.fetched or (
            f"{seen[0]:,} page(s), {seen[1]:,} session rows, not returned (a walk is all or "
            "nothing); for walks that must survive long outages, sync a Store, which keeps "
            "what it fetched and continues on the next sync()"
        )
        raise
    finally:
        bar.close()
    problems.warn()
    held = [frames.concat_tables(tables, schema.SESSION_COLUMNS)]
    del tables
    rows = held[0].num_rows
    unique = rows == 0 or pc.count_distinct(held[0]["id"]).as_py() == rows
    # to_pandas gets the only reference and frees each Arrow column once converted
    frame = frames.to_pandas(held.pop(), schema.SESSION_COLUMNS)
    return _finish_sessions(frame, filters, unique=unique)


def _batch_table(pages: list[Page], problems: frames.Problems) -> pa.Table:
    """The typed Arrow table of a batch of walked pages, each session once."""
    table = frames.sessions_table_from_pages([p.body for p in pages], problems=problems)
    return frames.drop_repeated(table, pages)


_SORT_COLUMNS = {
    "created": "created_at",
    "updated": "updated_at",
    "duration": "duration",
    "startTime": "start_time",
}


def _finish_sessions(
    frame: pd.DataFrame, filters: SessionFilters, *, unique: bool = False
) -> pd.DataFrame:
    """Drop repeated ids (keep the latest ``updated_at``; ``unique=True``: known to have none),
    restore sort order, apply ``limit``."""
    if not unique and frame["id"].duplicated().any():
        order = (
            frame["updated_at"].fillna(pd.Timestamp.min.tz_localize("UTC")).argsort(kind="stable")
        )
        latest = frame.iloc[order].drop_duplicates("id", keep="last").index
        frame = frame.loc[frame.index.isin(latest)]
    if filters.merged:
        key = _SORT_COLUMNS[filters.sort]
        frame = frame.sort_values(
            [key, "id"], ascending=filters.direction == "asc", kind="stable", na_position="last"
        )
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


def _fetch_details(client: Client, ids: list[str], progress: bool | None) -> list[dict[str, Any]]:
    def fetch(session_id: str) -> dict[str, Any]:
        cached = _details.get(client, session_id)
        if cached is not None:
            return cached
        detail = client.get_session(session_id)
        _details.put(client, session_id, detail)
        return detail

    bar = progress_bar(len(ids), "session details", " sessions", progress)
    try:
        return client.map(fetch, ids, on_done=bar.update, what="session details")
    finally:
        bar.close()


@dataclass
class Details:
    """The enriched data of many sessions, from one ``GET /session/{id}`` each."""

    sessions: pd.DataFrame
    eval_runs: pd.DataFrame
    spans: pd.DataFrame
    agents: pd.DataFrame
    routes: pd.DataFrame


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
    from .store import Store

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
    requests; completed details are cached). A session whose ids have no known name gets a
    missing value. The column is inserted after ``agent_ids``.
    """
    frame = sessions.drop(columns="agent", errors="ignore")
    flat = _flat_agent_ids(frame)  # one row per (session row, agent id), in list order
    firsts = flat.drop_duplicates("agent_id")
    example = dict(zip(firsts["agent_id"], firsts["session_id"], strict=True))
    wanted = list(example)[:MAX_AGENT_LOOKUPS]
    names: dict[str, str] = {}
    looked: set[str] = set()
    client = client or default_client()
    for _ in range(3):  # a second or third session per id only when the first did not name it
        lookup = list(dict.fromkeys(example[a] for a in wanted))
        looked.update(lookup)
        for detail in _fetch_details(client, lookup, progress):
            learn_agent_names(detail, names)
        unnamed = flat[flat["agent_id"].isin([a for a in wanted if a not in names])]
        unnamed = unnamed[~unnamed["session_id"].isin(looked)].drop_duplicates("agent_id")
        example = dict(zip(unnamed["agent_id"], unnamed["session_id"], strict=True))
        wanted = list(example)
        if not wanted:
            break
    named = flat.assign(name=flat["agent_id"].map(names)).dropna(subset=["name"])
    first_name = named.drop_duplicates("row").set_index("row")["name"]
    labels = first_name.reindex(range(len(frame)))
    position = frame.columns.get_loc("agent_ids") + 1
    frame.insert(
        position,
        "agent",
        pd.Categorical(labels.to_numpy(dtype=object), categories=sorted(set(names.values()))),
    )
    return frame


def _flat_agent_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """``(row, session_id, agent_id)`` for every id of every session, in list order."""
    lists = (
        pa.array(frame["agent_ids"].array, type=pa.list_(pa.string()))
        if len(frame)
        else pa.array([], pa.list_(pa.string()))
    )
    rows = pc.list_parent_indices(lists).to_numpy()
    return pd.DataFrame(
        {
            "row": rows,
            "session_id": frame["id"].to_numpy(dtype=object)[rows],
            "agent_id": pc.list_flatten(lists).to_numpy(zero_copy_only=False),
        }
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
