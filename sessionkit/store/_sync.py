"""``Store.sync``: fetch what is new or changed and merge it into the store, crash-safely.

The walk
--------
Every walk is ``GET /session?sort=updated&direction=desc`` with the user's filters. Offsets
shift under a live project, but in this order they only shift *towards* later pages (a new
or changed session moves to the front), so a walk may read a row twice (de-duplicated by id,
latest ``updated_at`` wins) and never skips one that existed when it started; a session that
changes during the walk has an ``updated_at`` newer than the walk's top and is picked up by the
next one.

* **History** (the first sync of a scope, i.e. of a filter set against one API): the whole walk,
  ``since`` bounding it. Progress (the offset reached) is committed to the manifest after each
  durable batch, so a killed first sync resumes where it stopped; the top ``updated_at`` seen
  when it started becomes the watermark once it completes.
* **Incremental** (every sync, right after a history walk too): the walk stops at the first
  page entirely older than ``watermark - overlap`` (default 10 minutes, for clock skew and
  late commits); the watermark then advances to the newest ``updated_at`` seen. A crash
  before that leaves the old watermark, so the next sync walks the same ground again.
* **Pending refresh**: sessions still pending in the store that the walk did not cover are
  refreshed by id (``GET /session/{id}``) when there are at most ``Store.pending_refresh`` of
  them; otherwise they surface in a later walk when they change.
* **Details** (eval runs, spans, agents; logs opt-in) for the selection, once per completed
  session: the manifest records which sessions have them; a pending session's are fetched again
  until it completes.

Durability: partition files are replaced atomically, and the manifest (watermarks, history
offsets, completed ids, partition statistics) is written atomically *after* the data it
describes. Re-doing any step after a crash is harmless (upserts are idempotent), so a sync
killed at any point leaves a readable store that the next sync completes.

The run reads and writes the store only through the public methods of its
:class:`~._layout.Layout`, :class:`~._reader.Reader` and :class:`~._writer.Writer`, which
:meth:`Store.sync` hands it with the store's :class:`SyncSettings`.

May import: :mod:`._layout`, :mod:`._reader`, :mod:`._writer`, :mod:`._arrow`, and
sessionkit's client side (``client``, ``connect``, ``loaders``, ``agents``, ``details``,
``frames``, ``params``, ``progress``). Never :mod:`._store` (the facade imports this module).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeAlias, Unpack

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import frames, schema, status
from ..agents import AGENT_ID, AgentNames, resolve_agent, stable_agent_ids
from ..client import Client, Page, chunks
from ..connect import default_client
from ..details import details_frames
from ..errors import APIError, InvalidArgumentError, NotFoundError, SchemaWarning
from ..errors import warn as errors_warn
from ..nomatch import warn_no_match
from ..params import (
    SCOPE_NAMES,
    WINDOW_MARGIN,
    ScopeArgs,
    SessionFilters,
    TimeLike,
    askable_session_id,
    format_time,
    session_filters,
    unknown_filters,
)
from ..progress import progress_bar
from . import _arrow
from ._layout import DETAIL_ENTITIES, Layout
from ._reader import Reader
from ._writer import Versions, Writer

#: What ``details=``/``logs=`` accept: ``None``, ``"all"``, ``"failed"``, a list of session ids,
#: or a function of the store's sessions frame returning a boolean mask.
Selection: TypeAlias = str | Sequence[str] | Callable[[pd.DataFrame], Any] | None

_SELECT_COLUMNS = ("id", "pending", "success")
#: The filters a sync takes besides ``since`` (the scope filters of :data:`~sessionkit.params.FILTERS`).
_FILTER_NAMES = tuple(name for name in SCOPE_NAMES if name != "since")


@dataclass(frozen=True)
class SyncSettings:
    """How a sync walks and batches (the :class:`~sessionkit.store.Store` arguments of the
    same names): ``overlap`` re-read below the watermark, at most ``pending_refresh``
    pending sessions refreshed by id, a commit every ``batch_pages`` pages and every
    ``details_chunk`` sessions' details."""

    overlap: pd.Timedelta
    pending_refresh: int
    batch_pages: int
    details_chunk: int

    def __post_init__(self) -> None:
        if self.overlap < pd.Timedelta(0):
            raise InvalidArgumentError(f"overlap must be >= 0, not {self.overlap!r}")
        if self.pending_refresh < 0 or self.batch_pages < 1 or self.details_chunk < 1:
            raise InvalidArgumentError(
                "pending_refresh must be >= 0, batch_pages and details_chunk >= 1"
            )


@dataclass
class SyncResult:
    """What one :meth:`Store.sync` did. ``str()`` and ``repr()`` give the one-line summary
    (a notebook shows it once as a cell's value; :meth:`as_dict` has every count).

    ``new``, ``updated`` and ``unchanged`` count each distinct session the sync read once,
    against the store as it was when the sync began: ``new`` were not in it, ``updated`` were
    older there, ``unchanged`` were there as read (re-read pages count nothing twice).
    ``matched`` counts the rows the sync's filters selected (page rows, overlaps included;
    pending sessions refreshed by id are not a match): 0 means the filters matched nothing.
    ``without_id`` counts rows read without a usable id, which the store cannot key and did
    not store (a warning says so).
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    pages: int = 0
    details: int = 0
    logs: int = 0
    refreshed: int = 0
    agent_lookups: int = 0
    seconds: float = 0.0
    matched: int = 0
    without_id: int = 0

    def __str__(self) -> str:
        text = (
            f"sync: {self.new:,} new, {self.updated:,} updated, {self.unchanged:,} unchanged "
            f"sessions from {self.pages:,} page(s); details fetched for {self.details:,}"
        )
        if self.logs:
            text += f", logs for {self.logs:,}"
        if self.refreshed:
            text += f"; {self.refreshed:,} pending refreshed by id"
        return text + f"; {self.seconds:.1f} s"

    def __repr__(self) -> str:
        return str(self)

    def as_dict(self) -> dict[str, float]:
        """The counts as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------- selection


def _check_selection(value: object, name: str) -> None:
    if value is None or callable(value) or value in ("all", "failed"):
        return
    if isinstance(value, str):
        raise InvalidArgumentError(
            f"{name}={value!r} is not allowed; expected None ('none'), 'all', 'failed', a list of "
            "session ids or a function of the sessions frame returning a boolean mask"
        )
    if not isinstance(value, Sequence | pd.Series | pd.Index | np.ndarray):
        raise InvalidArgumentError(
            f"{name} must be None, 'all', 'failed', a list of session ids or a function, "
            f"not {type(value).__name__}"
        )


def _selected(value: Selection, frame: pd.DataFrame, name: str) -> list[str]:
    """Session ids of ``frame`` (the store's sessions in scope) chosen by ``value``."""
    if value is None:
        return []
    if isinstance(value, str) and value == "all":
        return frame["id"].tolist()
    if isinstance(value, str) and value == "failed":
        return frame.loc[status.failed(frame), "id"].tolist()
    if callable(value):
        mask = value(frame)
        try:
            mask = pd.Series(mask, index=frame.index).fillna(False).astype(bool)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{name}: the function must return one boolean per session row ({exc})"
            ) from exc
        return frame.loc[mask.to_numpy(), "id"].tolist()
    return list(dict.fromkeys(str(v) for v in value))


def _askable(ids: list[str], value: Selection, what: str) -> list[str]:
    """``ids`` without those no request can ask for (a stored row whose id is null, numeric or
    holds a space or ``#``: the API sent it so), with a warning counting them; ids the caller
    listed are kept (a bad one is refused by name when it is asked for)."""
    if not (isinstance(value, str) or callable(value)):
        return ids
    kept = [i for i in map(askable_session_id, ids) if i is not None]
    if len(kept) < len(ids):
        errors_warn(
            f"{what}: {len(ids) - len(kept):,} selected session(s) have an id no request can "
            "ask for (null, not text, or holding a space, '/', '?', '#' or '%'); their "
            f"{what} were not fetched. The sessions themselves are stored.",
            SchemaWarning,
            stacklevel=4,
        )
    return kept


# --------------------------------------------------------------------------- the run


def _source(client: Client) -> str:
    """The API ``client`` reads, as a sync scope records it (see :func:`_scope_key`)."""
    if client.demo_now is not None:
        return f"demo:{'..'.join(client.demo_span or ())}@{format_time(client.demo_now)}"
    return client.base_url


class StoreSourceError(InvalidArgumentError):
    """The store was synced from another API than the client's: one store holds one source."""


def other_sources(manifest: Mapping[str, Any], client: Client) -> list[str]:
    """The APIs the store's scopes were synced from, when ``client`` reads none of them
    (else ``[]``)."""
    sources = set()
    for key in manifest["scopes"]:
        try:
            sources.add(str(orjson.loads(key)["source"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a key of another format: no source to compare with
    return [] if _source(client) in sources else sorted(sources)


def check_same_projects(
    layout: Layout, reader: Reader, sources: Sequence[str], client: Client, table: pa.Table
) -> None:
    """Raise :class:`StoreSourceError` when ``client`` reads another API than the store was
    synced from (``sources``) *and* the sessions it sends belong to none of the stored
    projects: mixing two projects (or a project and the demo, when a key went missing) in
    one store would make every count wrong, silently. The same projects at a new address (a
    proxy, a moved emulator) sync on."""
    stored = reader.scan("sessions", None, None, ["project_id"])["project_id"]
    have = set(pc.unique(stored).to_pylist()) - {None}
    arriving = set(pc.unique(table["project_id"]).to_pylist()) - {None}
    if not have or not arriving or have & arriving:
        return
    demo = " (the bundled demo: is AGENTUITY_SDK_KEY unset?)" if client.demo_now else ""
    raise StoreSourceError(
        f"{layout.path} holds project(s) {', '.join(sorted(have)[:3])} synced from "
        f"{', '.join(sources)}; this client reads {_source(client)}{demo}, whose sessions "
        f"belong to {', '.join(sorted(arriving)[:3])}. A store holds the sessions of one API: "
        "sync this one into another store path. Nothing was written."
    )


def _scope_key(client: Client, params: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The manifest key of a sync scope: the API and the filters (``since`` apart).

    The API is its URL, host and port included (two local servers on different ports are two
    sources), except for the bundled demo (:func:`sessionkit.connect`): its emulator listens
    on a new port every run and serves the same data, so it is named by that data (its span
    and frozen now) and ``sessionkit sync --demo`` stays incremental."""
    source = _source(client)
    scope = {k: v for k, v in params.items() if k not in ("sort", "direction", "startAfter")}
    key = orjson.dumps({"source": source, "params": scope}, option=orjson.OPT_SORT_KEYS).decode()
    return key, scope


def _max_time(table: pa.Table, column: str) -> pd.Timestamp | None:
    """The latest value of a timestamp column, or ``None``."""
    if table.num_rows == 0 or column not in table.column_names:
        return None
    # the integer, not .as_py(): that imports a time-zone module lazily, and a Ctrl-C landing
    # in that import surfaces as an ArrowInvalid instead of a KeyboardInterrupt
    top = pc.max(table[column])
    if not top.is_valid:
        return None
    return pd.Timestamp(top.value, unit=top.type.unit, tz="UTC")


def _stamp(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_convert("UTC")


def _text(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None else format_time(stamp)


class _Run:
    """State of one sync: the manifest being built, caches, counters and progress bars."""

    def __init__(
        self,
        layout: Layout,
        reader: Reader,
        writer: Writer,
        settings: SyncSettings,
        client: Client,
        progress: bool | None,
    ) -> None:
        self.layout = layout
        self.reader = reader
        self.writer = writer
        self.settings = settings
        self.client = client
        self.progress = progress
        self.manifest = layout.manifest_copy()
        self.versions: Versions = {}
        self.result = SyncResult()
        self.problems = frames.Problems("sessions")
        self.names = AgentNames(self.manifest["agent_names"])
        #: agent ids left unnamed because looking them up failed, in an earlier sync (from the
        #: manifest) and in this one; their stored sessions are named by a later sync
        self.unnamed_before: set[str] = set(self.manifest["unnamed_agents"])
        self.unnamed: set[str] = set()
        self.lookup_errors: list[APIError] = []
        self.done_details: set[str] = set(self.manifest["details"])
        self.done_logs: set[str] = set(self.manifest["logs"])
        self.pending_before = self._pending_ids()
        self.seen_pending: set[str] = set()
        #: the rows read without a usable id, as JSON (``result.without_id`` counts them)
        self.without_id: set[bytes] = set()
        #: the store's other APIs when this client reads a new one: the first sessions read
        #: must then belong to a stored project (:func:`check_same_projects`)
        self.foreign = other_sources(self.manifest, client)
        #: ids read by this sync, as classified when read (``tally`` counts each id once)
        self.classified: dict[str, list[pa.ChunkedArray]] = {
            "new": [],
            "updated": [],
            "unchanged": [],
        }
        self.bar = progress_bar(None, "sync sessions", " sessions", progress)

    def commit(self) -> None:
        self.manifest["agent_names"] = self.names.names
        unnamed = (self.unnamed_before | self.unnamed) - set(self.names.names)
        self.manifest["unnamed_agents"] = sorted(unnamed)
        self.manifest["details"] = list(self.done_details)
        self.manifest["logs"] = list(self.done_logs)
        if self.client.demo_now is not None:
            self.manifest["demo_now"] = format_time(self.client.demo_now)
        self.layout.save_manifest(self.manifest)

    # ------------------------------------------------------------------ sessions

    def ingest(self, table: pa.Table, *, count: bool = True) -> None:
        if table.num_rows == 0:
            return
        no_id = pc.is_null(table["id"])
        if pc.any(no_id).as_py():  # the store keys every row by its id: these cannot be kept
            for row in table.filter(no_id).to_pylist():  # counted once, however often read
                self.without_id.add(orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS))
            self.result.without_id = len(self.without_id)
            table = table.filter(pc.invert(no_id))
            if table.num_rows == 0:
                return
        if self.foreign:  # before anything of this API is written
            check_same_projects(self.layout, self.reader, self.foreign, self.client, table)
            self.foreign = []
        if self.pending_before:
            seen = pc.is_in(table["id"], value_set=pa.array(list(self.pending_before), pa.string()))
            self.seen_pending.update(table["id"].filter(seen).to_pylist())
        self.writer.upsert_sessions(
            self.manifest, table, self.versions, label=self.label, seen=self.seen if count else None
        )

    def seen(self, ids: pa.ChunkedArray, new: np.ndarray, updated: np.ndarray) -> None:
        self.classified["new"].append(ids.filter(pa.array(new)))
        self.classified["updated"].append(ids.filter(pa.array(updated)))
        self.classified["unchanged"].append(ids.filter(pa.array(~(new | updated))))

    def tally(self) -> None:
        """Set the result's counts: each distinct id once, against the store as it was when
        the sync began. A row is classified against the store as it is when read, so an id
        first read as new stays new when read again (an incremental pass re-reads what the
        history walk wrote; a resumed walk re-reads a page), and one read unchanged and then
        newer (it changed during the sync) is updated."""
        counted = pa.array([], pa.string())
        for kind in ("new", "updated", "unchanged"):
            chunks = [c for ids in self.classified[kind] for c in ids.chunks]
            ids = pc.unique(pa.chunked_array(chunks, pa.string()))
            ids = ids.filter(pc.invert(pc.is_in(ids, value_set=counted)))
            setattr(self.result, kind, len(ids))
            counted = pa.concat_arrays([counted, ids])

    def scope(self, params: Mapping[str, str]) -> None:
        key, scope = _scope_key(self.client, params)
        scopes: dict[str, Any] = self.manifest["scopes"]
        state: dict[str, Any] | None = scopes.get(key)
        since = params.get("startAfter")
        if state is not None and "newest" not in state:
            state = None  # a scope recorded by an offset walk (before 0.2): walk it again
        if (
            state is not None
            and state["since"] is not None
            and (since is None or since < state["since"])
        ):
            state = None  # a longer history is asked for: walk it (stored rows are kept)
        walk = dict(params)
        if state is None:
            state = {
                "params": scope,
                "since": since,
                "phase": "history",
                "floor": None,
                "newest": None,
                "top": None,
                "watermark": None,
                "synced_at": None,
            }
        elif state["since"] is not None:
            walk["startAfter"] = state["since"]
        else:
            walk.pop("startAfter", None)
        if state["phase"] == "history":
            self.history(key, state, walk)
        self.incremental(key, state, walk)

    def _save(self, key: str, state: dict[str, Any]) -> None:
        self.manifest["scopes"][key] = state
        self.commit()

    def _read(
        self, pages: Iterator[Page], on_batch: Callable[[Page], None] | None = None
    ) -> pd.Timestamp | None:
        """Ingest ``pages`` (a walk) in durable batches of ``batch_pages``; after each batch,
        ``on_batch(last page of it)``. Returns the newest ``start_time`` read."""
        batch: list[Page] = []
        newest: pd.Timestamp | None = None

        def flush() -> None:
            nonlocal newest
            table = frames.sessions_table_from_pages(
                [page.body for page in batch], problems=self.problems
            )
            table = frames.drop_repeated(table, batch)
            top = _max_time(table, "start_time")
            if top is not None and (newest is None or top > newest):
                newest = top
            self.ingest(table)
            if on_batch is not None:
                on_batch(batch[-1])
            batch.clear()

        for page in pages:
            self.result.pages += 1
            self.bar.update(page.rows - len(page.repeated))
            if not page.rows:
                continue
            self.result.matched += page.rows
            batch.append(page)
            if len(batch) >= self.settings.batch_pages:
                flush()
        if batch:
            flush()
        return newest

    def history(self, key: str, state: dict[str, Any], walk: Mapping[str, str]) -> None:
        """The scope's first walk: every session that started since ``since``, newest first,
        by keyset on ``start_time`` (deletes and inserts during it lose nothing). After each
        durable batch the manifest records ``floor``: every session that started at or after
        it (up to the walk's top) is stored, so a killed history resumes below it."""
        if state["top"] is None:  # the change feed starts from here once the history is done
            first = self.client.list_sessions_page(
                {**walk, "sort": "updated", "direction": "desc"}, limit=1
            )
            self.result.pages += 1
            table = frames.sessions_table_from_pages([first.body], problems=self.problems)
            state["top"] = _text(_max_time(table, "updated_at"))  # saved with the first batch
        params = dict(walk)
        if state["floor"] is not None:  # resume: below what is stored (a second's overlap)
            before = pd.Timestamp(state["floor"]) + pd.Timedelta(1, "s")
            bound = params.get("startBefore")
            if bound is None or pd.Timestamp(bound) > before:
                params["startBefore"] = format_time(before)

        def progress(page: Page) -> None:
            if page.covered is not None:
                low, high = page.covered
                state["floor"] = _text(pd.Timestamp(low, tz="UTC"))
                if state["newest"] is None:
                    state["newest"] = _text(pd.Timestamp(high, tz="UTC"))
                self._save(key, state)

        newest = self._read(self.client.iter_session_pages(params, walk="time"), progress)
        if newest is not None and (state["newest"] is None or newest > _stamp(state["newest"])):
            state["newest"] = _text(newest)
        state.update(phase="incremental", watermark=state["top"], floor=None)
        self._save(key, state)

    def incremental(self, key: str, state: dict[str, Any], walk: Mapping[str, str]) -> None:
        """Every sync after the history: (1) the sessions that started since the newest one
        stored, less ``overlap``, by keyset on ``start_time`` (new sessions; exact whatever is
        created or deleted meanwhile); (2) the change feed of the sessions that started before
        that: ``sort=updated`` newest first, by offset, until a page entirely older than the
        watermark less ``overlap`` (completions, deletions; the offset walk survives deletes
        and refuses a server that reorders rows). Each part commits when it is done."""
        overlap = self.settings.overlap
        newest = _stamp(state["newest"])
        watermark = _stamp(state["watermark"])
        recent = dict(walk)
        older = {**walk, "sort": "updated", "direction": "desc"}
        if newest is not None:
            edge = newest - overlap
            since = recent.get("startAfter")
            if since is None or pd.Timestamp(since) < edge:
                recent["startAfter"] = format_time(edge)
            until = older.get("startBefore")
            if until is None or pd.Timestamp(until) > edge + WINDOW_MARGIN:
                older["startBefore"] = format_time(edge + WINDOW_MARGIN)
        read = self._read(self.client.iter_session_pages(recent, walk="time"))
        if read is not None and (newest is None or read > newest):
            state["newest"] = _text(read)
        self._save(key, state)
        if newest is None:
            return  # nothing stored before: (1) read everything there is
        threshold = None if watermark is None else watermark - overlap
        top: pd.Timestamp | None = None
        tables: list[pa.Table] = []
        for page in self.client.iter_session_pages(older, walk="offset", ramp=True):
            self.result.pages += 1
            if not page.rows:
                continue
            self.result.matched += page.rows
            table = frames.sessions_table_from_pages([page.body], problems=self.problems)
            latest = _max_time(table, "updated_at")
            if top is None:
                top = latest
            if threshold is not None and latest is not None and latest < threshold:
                break  # the page is entirely older than the watermark: nothing new below
            self.bar.update(page.rows - len(page.repeated))
            tables.append(frames.drop_repeated(table, [page]))
            if len(tables) >= self.settings.batch_pages:
                self.ingest(frames.concat_tables(tables, schema.SESSION_COLUMNS))
                tables.clear()
        if tables:
            self.ingest(frames.concat_tables(tables, schema.SESSION_COLUMNS))
        if top is not None and (watermark is None or top > watermark):
            state["watermark"] = _text(top)
        state["synced_at"] = _text(pd.Timestamp.now(tz="UTC"))
        self._save(key, state)

    def _pending_ids(self) -> set[str]:
        table = self.reader.scan("sessions", None, pc.field("pending") == True, ["id"])  # noqa: E712
        return set(table["id"].to_pylist())

    def refresh_pending(self) -> None:
        """Refresh by id the sessions pending in the store that no walk of this sync saw (out
        of its scope, or unchanged on a server that did not move their ``updated_at``), when
        there are at most ``Store.pending_refresh`` of them."""
        ids = sorted(self.pending_before - self.seen_pending)
        if not ids or len(ids) > self.settings.pending_refresh:
            return
        details = self.fetch(self.client.get_session, ids, "pending sessions")
        found = [d for d in details if d is not None]
        self.result.refreshed += len(found)
        for d in found:
            self.names.learn(d)
        if found:
            self.ingest(
                frames.sessions_table_from_records(
                    [d["session"] for d in found], problems=self.problems
                )
            )
            self.commit()

    # ------------------------------------------------------------------ fan-out

    def fetch(
        self,
        fn: Callable[[str], Any],
        ids: list[str],
        what: str,
        *,
        errors: list[APIError] | None = None,
    ) -> list[Any]:
        """``fn(id)`` for every id, concurrently; a session gone (404) gives ``None``, and so
        does any other API error when ``errors`` is given (it collects them)."""

        def one(session_id: str) -> Any:
            try:
                return fn(session_id)
            except NotFoundError:
                return None
            except APIError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                return None

        bar = progress_bar(len(ids), what, " sessions", self.progress)
        try:
            return self.client.map(one, ids, on_done=bar.update, what=what)
        finally:
            bar.close()

    # ------------------------------------------------------------------ agent names

    def label(self, table: pa.Table) -> pa.Table:
        """``table`` with ``agent`` (the name of the first id whose name is known, as
        :func:`sessionkit.loaders.label_agents` gives) and ``agent_id`` (the stable id) columns
        after ``agent_ids``. Names are remembered in the manifest; an unknown id costs one
        session detail, looked up once per sync (:class:`~sessionkit.agents.AgentNames`)."""
        before, failed_before = self.names.lookups, len(self.lookup_errors)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.names.name(
                table["agent_ids"],
                table["id"].to_pylist(),
                lambda ids: self.fetch(
                    self.client.get_session, ids, "agent names", errors=self.lookup_errors
                ),
            )
        self.result.agent_lookups += self.names.lookups - before
        failed = len(self.lookup_errors) > failed_before
        if failed:  # a failed lookup leaves names missing, not the sessions unsaved
            present = pc.unique(pc.list_flatten(table["agent_ids"])).to_pylist()
            self.unnamed.update(a for a in present if a in self.names.unnamed)
        for w in caught:
            if failed and issubclass(w.category, SchemaWarning) and "agent names" in str(w.message):
                continue  # warn_unnamed says it once, with the cause, when the sync ends
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        labels = self.names.labels(table["agent_ids"])
        table = table.drop_columns([c for c in ("agent", AGENT_ID) if c in table.column_names])
        position = table.column_names.index("agent_ids") + 1
        table = table.add_column(position, "agent", pa.array(labels, pa.string()))
        return table.add_column(position + 1, AGENT_ID, stable_agent_ids(table["agent_ids"]))

    def name_stored(self) -> None:
        """Name the stored sessions an earlier sync left without an agent name because
        looking their agents up failed (the walk rewrites only new and changed sessions)."""
        if not self.unnamed_before:
            return
        found = self.reader.scan(
            "sessions", None, pc.field("agent").is_null(), ["id", "agent_ids", _arrow.DAY]
        )
        lists = found["agent_ids"].combine_chunks()
        hit = pc.is_in(
            pc.list_flatten(lists), value_set=pa.array(sorted(self.unnamed_before), pa.string())
        )
        rows = np.unique(pc.list_parent_indices(lists).filter(hit).to_numpy())
        if not len(rows):
            return
        found = found.take(pa.array(rows))
        ids = pa.array(found["id"].to_pylist(), pa.string())
        parts = []
        for day in pc.unique(found[_arrow.DAY]).to_pylist():
            part = self.writer.read_partition("sessions", day)
            if part is not None:
                parts.append(part.filter(pc.is_in(part["id"], value_set=ids)))
        failed_before = len(self.lookup_errors)
        table = self.label(frames.concat_tables(parts, schema.SESSION_COLUMNS))
        table = table.filter(pc.is_valid(table["agent"]))
        if table.num_rows:
            self.writer.write_sessions(self.manifest, table, self.versions)
        if len(self.lookup_errors) == failed_before:
            self.unnamed_before.clear()  # named, or answered without a name: not failed now
        self.commit()

    def warn_without_id(self) -> None:
        if self.result.without_id:
            errors_warn(
                f"sessions.id: {self.result.without_id:,} session row(s) read without a usable "
                "id (null, or not a string) were not stored: the store keeps one row per id. "
                "sk.load_sessions() (without store=) returns them, each as its own row.",
                SchemaWarning,
                stacklevel=4,
            )

    def warn_unnamed(self) -> None:
        missing = sorted(self.unnamed - set(self.names.names))
        if not missing or not self.lookup_errors:
            return
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
        )
        first = str(self.lookup_errors[0]).splitlines()[0]
        errors_warn(
            f"agent names: {len(missing):,} agent id(s) have no name: {shown}; "
            f"{len(self.lookup_errors):,} session detail lookup(s) failed (e.g. {first}). "
            "Their sessions are saved with a missing agent name (agent_ids and agent_id are "
            "complete); sync again to name them.",
            SchemaWarning,
            stacklevel=4,
        )

    # ------------------------------------------------------------------ details and logs

    def details(self, filters: SessionFilters, details: Selection, logs: bool | Selection) -> None:
        log_selection: Selection = (
            (details if details is not None else "all")
            if logs is True
            else (None if logs is False else logs)
        )
        if details is None and log_selection is None:
            return
        frame = pd.DataFrame({"id": pd.Series([], dtype=object)})  # lists of ids need none
        if any(isinstance(v, str) or callable(v) for v in (details, log_selection)):
            # a function sees the whole frame; "all"/"failed" need three columns
            columns = None if callable(details) or callable(log_selection) else _SELECT_COLUMNS
            table = self.reader.sessions_table(filters, columns)
            frame = _arrow.table_to_frame(table, "sessions")
        want_details = _askable(_selected(details, frame, "details"), details, "details")
        want_logs = _askable(_selected(log_selection, frame, "logs"), log_selection, "logs")
        todo_details = [i for i in want_details if i not in self.done_details]
        todo_logs = [i for i in want_logs if i not in self.done_logs]
        listed = list(dict.fromkeys(todo_details + todo_logs))
        days = self.reader.session_days(listed) if listed else {}
        missing = [i for i in listed if i not in days]
        if missing:
            raise InvalidArgumentError(
                f"{len(missing)} selected session(s) are not in the store (e.g. {missing[0]}); "
                "sync them first (widen since= or the filters)"
            )
        pending = self.pending_ids(listed)
        detail_set, log_set = set(todo_details), set(todo_logs)
        for chunk in chunks(listed, self.settings.details_chunk):
            self.details_chunk(
                [i for i in chunk if i in detail_set],
                [i for i in chunk if i in log_set],
                days,
                pending,
            )

    def pending_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        table = self.reader.scan("sessions", None, pc.field("id").isin(ids), ["id", "pending"])
        mask = pc.fill_null(pc.equal(table["pending"], False), False)
        return set(ids) - set(table["id"].filter(mask).to_pylist())

    def details_chunk(
        self, detail_ids: list[str], log_ids: list[str], days: Mapping[str, str], pending: set[str]
    ) -> None:
        fetched = self.fetch(self.client.get_session, detail_ids, "session details")
        pairs = [(sid, d) for sid, d in zip(detail_ids, fetched, strict=True) if d is not None]
        lines = self.fetch(self.client.get_logs, log_ids, "session logs")
        log_pairs = [(sid, ls) for sid, ls in zip(log_ids, lines, strict=True) if ls is not None]
        self.result.details += len(pairs)
        self.result.logs += len(log_pairs)
        if pairs:
            for _, d in pairs:
                self.names.learn(d)
            self.ingest(
                frames.sessions_table_from_records(
                    [d["session"] for _, d in pairs], problems=self.problems
                ),
                count=False,
            )
            parts = details_frames(pairs, False, frozenset(DETAIL_ENTITIES))
            chunk_days = {sid: days[sid] for sid, _ in pairs}
            for entity in DETAIL_ENTITIES:
                self.writer.replace_details(
                    entity, _arrow.frame_to_table(parts[entity]), chunk_days
                )
        if log_pairs:
            frame = frames.logs_frame((sid, line) for sid, ls in log_pairs for line in ls)
            self.writer.replace_details(
                "logs",
                _arrow.frame_to_table(frame),
                {sid: days[sid] for sid, _ in log_pairs},
            )
        self.done_details.update(sid for sid, d in pairs if d["session"].get("pending") is False)
        self.done_logs.update(sid for sid, _ in log_pairs if sid not in pending)
        self.commit()


# --------------------------------------------------------------------------- entry point


def sync(
    layout: Layout,
    reader: Reader,
    writer: Writer,
    settings: SyncSettings,
    client: Client | None = None,
    *,
    since: TimeLike | None = None,
    details: Selection = None,
    logs: bool | Selection = False,
    progress: bool | None = None,
    **filters: Unpack[ScopeArgs],
) -> SyncResult:
    """:meth:`Store.sync` (documented there; the module docstring says how it works)."""
    started = time.perf_counter()
    unknown = sorted(set(filters) - set(_FILTER_NAMES))
    if unknown:
        error = unknown_filters(unknown, SCOPE_NAMES)
        raise InvalidArgumentError(
            f"sync() got {error}"
            " (a sync always walks sort='updated', direction='desc', with no limit)"
        )
    if isinstance(details, str) and details == "none":  # the CLI's word for None
        details = None
    if isinstance(logs, str) and logs == "none":
        logs = False
    _check_selection(details, "details")
    if not isinstance(logs, bool):
        _check_selection(logs, "logs")
    if client is None:
        client = default_client()
    scope = session_filters(since=since, now=client.demo_now, **filters)
    with writer.locked():
        layout.remove_stale_tmp()
        run = _Run(layout, reader, writer, settings, client, progress)
        try:
            scope = resolve_agent(
                scope,
                run.names,
                lambda params: (p.body for p in client.iter_session_pages(params, ramp=True)),
                lambda ids: run.fetch(client.get_session, ids, "agent names"),
            )
            for params in scope.queries():
                run.scope(params)
            run.refresh_pending()
            run.name_stored()
            run.details(scope, details, logs)
            writer.settle(run.manifest)  # every file at its dataset's one schema, once a sync
            run.commit()
        except APIError as exc:
            run.tally()
            done = run.result
            exc.fetched = exc.fetched or (
                f"{done.pages:,} page(s) read; {done.new:,} new and {done.updated:,} updated "
                f"sessions, details of {done.details:,} and logs of {done.logs:,} are saved in "
                "the store — the next sync() continues from there"
            )
            raise
        finally:
            run.bar.close()
        run.warn_unnamed()
        run.warn_without_id()
        run.problems.warn()
    run.tally()
    run.result.seconds = time.perf_counter() - started
    done = run.result
    if not run.result.matched and scope.selective:
        # (pending sessions refreshed by id are no match of these filters)
        warn_no_match(client, scope)  # the loaders' words for a filter matching nothing
    return run.result  # not printed: its repr is the summary (a notebook shows it once)
