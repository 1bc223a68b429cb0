"""The local store: Hive-partitioned Parquet datasets, read with filter pushdown and SQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .. import frames, schema
from ..agents import AgentNames, agent_kind, sessions_with_any, unknown_agent
from ..display import format_timestamp
from ..errors import InvalidArgumentError, SessionKitWarning
from ..errors import warn as errors_warn
from ..params import SORT_COLUMNS, SessionFilters, session_filters, session_ids
from . import _arrow, _files
from ._arrow import DAY

if TYPE_CHECKING:
    import duckdb as _duckdb

    from ..client import Client
    from ._sync import Selection, SyncResult

ENTITIES: tuple[str, ...] = ("sessions", "eval_runs", "logs", "spans", "agents")
DETAIL_ENTITIES: tuple[str, ...] = ("eval_runs", "spans", "agents")
DEFAULT_PATH = Path("data") / "store"
PART = "part-0.parquet"
MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT = 1

#: Row order inside a sessions partition file (and of a whole scan: days newest first).
_STORED_ORDER = [("created_at", "descending"), ("id", "descending")]
_Versions = dict[str, tuple[pa.Array, pa.Array]]
_HIVE = ds.partitioning(pa.schema([(DAY, pa.string())]), flavor="hive")
_FORMAT = ds.ParquetFileFormat()


def _empty_manifest() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "scopes": {},
        "stats": {},
        "details": [],
        "logs": [],
        "agent_names": {},
        "unnamed_agents": [],
        "demo_now": None,
    }


class Store:
    """A local copy of a project's sessions: Parquet datasets kept up to date by :meth:`sync`.

    Layout under ``path`` (default ``data/store`` relative to the working directory)::

        manifest.json                      watermarks, partition statistics, completed ids
        .lock                              held by the one sync allowed at a time
        sessions/day=YYYY-MM-DD/part-0.parquet
        eval_runs/ spans/ agents/ logs/    same days: the day of the session's created_at

    A session's ``created_at`` never changes, so a session (and its eval runs, spans, agents
    and logs) always lives in one day partition. Columns are stored with plain Arrow types and
    read back through :func:`sessionkit.frames.to_pandas`: ``store.load_sessions()`` has the
    dtypes of ``sk.load_sessions()``, ``agent`` and ``metadata.*`` columns included.

    Other tools read the datasets directly (``pyarrow.dataset``, DuckDB, Polars, Dask, Spark):
    see :meth:`dataset_path`. ``filesystem`` is the ``pyarrow.fs`` filesystem reads go through
    (default local; tests pass an instrumented one).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        overlap: str | pd.Timedelta = "10min",
        pending_refresh: int = 50,
        batch_pages: int = 100,
        details_chunk: int = 500,
        filesystem: Any = None,
    ) -> None:
        self.path = Path(path if path is not None else DEFAULT_PATH).absolute()
        self.overlap = pd.Timedelta(overlap)
        if self.overlap < pd.Timedelta(0):
            raise InvalidArgumentError(f"overlap must be >= 0, not {overlap!r}")
        if pending_refresh < 0 or batch_pages < 1 or details_chunk < 1:
            raise InvalidArgumentError(
                "pending_refresh must be >= 0, batch_pages and details_chunk >= 1"
            )
        self.pending_refresh = int(pending_refresh)
        self.batch_pages = int(batch_pages)
        self.details_chunk = int(details_chunk)
        self.filesystem = filesystem
        self._manifest_cache: tuple[tuple[int, int], dict[str, Any]] | None = None
        self._con: _duckdb.DuckDBPyConnection | None = None
        self._con_lock = threading.Lock()
        self._schemas: dict[str, pa.Schema] = {}  # per locked section: see _target_schema

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _repr_html_(self) -> str:
        from html import escape

        info = self.info()
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
            for k, v in info.items()
        )
        return f"<table><caption>sessionkit.Store</caption>{rows}</table>"

    def info(self) -> dict[str, object]:
        """Path, day partitions and rows per dataset, and the last sync of each scope."""
        manifest = self.manifest()
        out: dict[str, object] = {"path": str(self.path)}
        stats = manifest["stats"].get("sessions", {})
        out["sessions"] = sum(int(s.get("rows", 0)) for s in stats.values())
        out["days"] = len(self.days("sessions"))
        out["sessions with details"] = len(manifest["details"])
        out["sessions with logs"] = len(manifest["logs"])
        for state in manifest["scopes"].values():
            label = ", ".join(f"{k}={v}" for k, v in sorted(state.get("params", {}).items()))
            out[f"last sync [{label or 'all'}]"] = state.get("synced_at")
        return out

    # ------------------------------------------------------------------ layout

    def dataset_path(self, entity: str) -> Path:
        """Directory of one dataset (``sessions``, ``eval_runs``, ``logs``, ``spans``, ``agents``)."""
        if entity not in ENTITIES:
            raise InvalidArgumentError(f"unknown dataset {entity!r}; expected one of {ENTITIES}")
        return self.path / entity

    def _file(self, entity: str, day: str) -> Path:
        return self.dataset_path(entity) / f"{DAY}={day}" / PART

    def days(self, entity: str = "sessions") -> list[str]:
        """The day partitions of a dataset that hold a file, oldest first."""
        base = self.dataset_path(entity)
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return []
        prefix = f"{DAY}="
        return sorted(
            n[len(prefix) :]
            for n in names
            if n.startswith(prefix) and os.path.exists(base / n / PART)
        )

    # ------------------------------------------------------------------ manifest

    def manifest(self) -> dict[str, Any]:
        """The manifest as last committed (a fresh copy is not made: do not modify it)."""
        path = self.path / MANIFEST
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return _empty_manifest()
        key = (st.st_mtime_ns, st.st_size)
        if self._manifest_cache is None or self._manifest_cache[0] != key:
            data = _files.read_json(path) or _empty_manifest()
            for name, value in _empty_manifest().items():
                data.setdefault(name, value)
            self._manifest_cache = (key, data)
        return self._manifest_cache[1]

    @property
    def demo_now(self) -> pd.Timestamp | None:
        """The frozen "now" of the demo data this store was synced from (relative times such
        as ``since="7d"`` count back from it, as on the demo client), else ``None``."""
        value = self.manifest().get("demo_now")
        return pd.Timestamp(value) if isinstance(value, str) else None

    def _manifest_copy(self) -> dict[str, Any]:
        """A deep copy of the manifest, for a writer to change and save."""
        copy: dict[str, Any] = orjson.loads(orjson.dumps(self.manifest()))
        return copy

    def _save_manifest(self, manifest: dict[str, Any]) -> None:
        _files.write_json(self.path / MANIFEST, manifest)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        _files.ensure_dir(self.path)
        with _files.exclusive_lock(self.path / LOCK):
            self._schemas = {}
            try:
                yield
            finally:
                self._schemas = {}

    # ------------------------------------------------------------------ scanning

    def _dataset(self, entity: str, days: Iterable[str] | None = None) -> ds.Dataset | None:
        """The dataset over the files of ``days`` (all when ``None``); ``None`` when no file.

        Only the chosen files are opened; the schema is the union of their footers' schemas
        (a column missing from a file reads as nulls; a type clash reads as text).
        """
        chosen = self.days(entity)
        if days is not None:
            wanted = set(days)
            chosen = [d for d in chosen if d in wanted]
        if not chosen:
            return None
        # newest day first: rows are stored newest first too, so a scan comes out in the
        # default order of sk.load_sessions (created_at descending) without a sort
        files = [str(self._file(entity, d)) for d in reversed(chosen)]
        factory = ds.dataset(
            files,
            format=_FORMAT,
            partitioning=_HIVE,
            partition_base_dir=str(self.dataset_path(entity)),
            filesystem=self.filesystem,
        )
        fragments = list(factory.get_fragments())
        unified = _unify([f.physical_schema for f in fragments])
        # category columns are read dictionary-encoded: no string per row is materialised and
        # the frame's categoricals are built from the codes (a 1M-session load: -40%)
        cats = {
            f.name
            for f in unified
            if f.name in _arrow.category_columns(entity) and pa.types.is_string(f.type)
        }
        fmt = _FORMAT
        if cats:
            options = ds.ParquetReadOptions(dictionary_columns=sorted(cats))
            fmt = ds.ParquetFileFormat(read_options=options)
            fragments = [
                fmt.make_fragment(f.path, factory.filesystem, f.partition_expression)
                for f in fragments
            ]
            text = pa.dictionary(pa.int32(), pa.string())
            unified = pa.schema([f.with_type(text) if f.name in cats else f for f in unified])
        unified = unified.append(pa.field(DAY, pa.string()))
        return ds.FileSystemDataset(fragments, unified, fmt, factory.filesystem)

    def dataset(self, entity: str = "sessions") -> ds.Dataset:
        """One dataset as a ``pyarrow.dataset.Dataset`` (with its ``day`` column): scan it with
        filters, or hand it to Polars (``pl.scan_pyarrow_dataset``), DuckDB or Dask."""
        found = self._dataset(entity)
        return found if found is not None else ds.dataset(_arrow.empty_table(entity))

    def _scan(
        self,
        entity: str,
        days: Iterable[str] | None = None,
        where: ds.Expression | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        dataset = self._dataset(entity, days)
        if dataset is None:
            table = _arrow.empty_table(entity)
            return (
                table.select([c for c in columns if c in table.column_names]) if columns else table
            )
        names = dataset.schema.names
        if columns is not None:
            columns = [c for c in dict.fromkeys(columns) if c in names]
        # the system allocator: Arrow's default (mimalloc) makes the first large scan of a
        # process about twice as slow (1.8 s vs 0.7 s for 1M sessions, measured)
        return dataset.to_table(columns=columns, filter=where, memory_pool=pa.system_memory_pool())

    # ------------------------------------------------------------------ reading sessions

    def load_sessions(
        self,
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
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Sessions in the store matching the filters, as :func:`sessionkit.load_sessions` gives.

        The filters have the names and meanings of :func:`sessionkit.load_sessions`
        (``since <= start_time < until``; ``agent`` is an agent identifier) and are pushed
        down: only day partitions whose sessions can match are opened (each day's
        ``start_time`` range is in the manifest) and rows are filtered while scanning.
        ``columns`` restricts the columns returned.
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
            now=self.demo_now,
        )
        return self.load_filtered(filters, columns)

    def load_filtered(
        self, filters: SessionFilters, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """:meth:`load_sessions` with filters already validated by
        :func:`sessionkit.params.session_filters` (what the loaders pass on)."""
        table = self._sessions_table(filters, columns)
        if columns is None:
            table = _arrow.drop_empty_extras(table, "sessions")
        frame = _arrow.table_to_frame(table, "sessions")
        if columns is not None:
            frame = frame[[c for c in columns if c in frame.columns]]
        if frame.empty and (set(filters.params) - {"sort", "direction"} or filters.triggers):
            self._warn_no_match(filters)
        else:
            self._warn_partial(filters)
        return frame

    def _warn_partial(self, filters: SessionFilters) -> None:
        """Warn when no sync of this store covers ``filters``: every scope was synced with a
        filter (``agent=``, ``env=``, ...) this load does not also ask for, so sessions outside
        those scopes were never copied and the answer may be partial."""
        manifest = self.manifest()
        scopes = [dict(s.get("params") or {}) for s in manifest["scopes"].values()]
        if not scopes or any(not scope for scope in scopes):
            return  # never synced, or synced without filters: the store is the whole project
        asked = dict(filters.params)
        if len(filters.triggers) == 1:  # one trigger is sent like any filter (a sync's scope)
            asked.setdefault("trigger", filters.triggers[0])
        if asked.get("agentIdentifier") is not None:
            try:
                asked["agentIdentifier"] = next(iter(self._agent_ids_for(asked["agentIdentifier"])))
            except InvalidArgumentError:
                return
        if any(all(asked.get(k) == v for k, v in scope.items()) for scope in scopes):
            return
        names = manifest["agent_names"]

        def shown(key: str, value: str) -> str:  # the agent by its name where the store knows it
            if key == "agentIdentifier" and value in names:
                return f"agent={names[value]!r}"
            return f"{key}={value}"

        listed = "; ".join(
            ", ".join(shown(k, v) for k, v in sorted(scope.items())) for scope in scopes[:3]
        )
        errors_warn(
            f"{self.path} was synced only for {listed}: sessions outside "
            f"{'that scope' if len(scopes) == 1 else 'those scopes'} were never copied, so "
            "this load may be partial. Add the same filter to the load, or run "
            "store.sync(client, ...) with this load's filters (or none) first.",
            SessionKitWarning,
            stacklevel=4,
        )

    def _warn_no_match(self, filters: SessionFilters) -> None:
        """Warn that ``filters`` matched nothing in a store that has sessions, naming the
        values of the simple filters the store does hold, and the scopes it was synced with."""
        listed = {"env": "env", "trigger": "trigger", "deploymentId": "deployment_id"}
        asked = [k for k in listed if k in filters.params or (k == "trigger" and filters.triggers)]
        table = self._scan("sessions", None, None, ["id", *(listed[k] for k in asked)])
        if table.num_rows == 0:
            return
        hints = [
            f"{listed[k]} values in the store: "
            f"{sorted(v for v in pc.unique(table[listed[k]]).to_pylist() if v)[:10]}"
            for k in asked
        ]
        if filters.windowed:
            start = pc.min_max(self._scan("sessions", None, None, ["start_time"])["start_time"])
            hints.append(
                f"its sessions started {format_timestamp(start['min'].as_py())} to "
                f"{format_timestamp(start['max'].as_py())}"
            )
        scopes = [s.get("params") for s in self.manifest()["scopes"].values()]
        if any(scopes):
            hints.append(f"it was synced with the filters {scopes[:3]}")
        errors_warn(
            f"No sessions in {self.path} match these filters "
            f"({len(set(filters.params) - {'sort', 'direction'})} given), "
            f"although the store has {table.num_rows:,}"
            + ("; " + "; ".join(hints) if hints else "")
            + ".",
            SessionKitWarning,
            stacklevel=4,
        )

    def files(self, entity: str = "sessions", **filters: Any) -> list[Path]:
        """The partition files a :meth:`load_sessions` with these filters opens (``entity`` =
        sessions), or all files of a detail dataset."""
        days = self.days(entity)
        if entity == "sessions" and filters:
            pruned = self._days_for(session_filters(**filters))
            if pruned is not None:
                days = [d for d in days if d in pruned]
        return [self._file(entity, d) for d in days]

    def _days_for(self, filters: SessionFilters) -> set[str] | None:
        """Day partitions whose sessions may start in the filters' time range (``None``: all)."""
        low, high = _time_bounds(filters)
        if low is None and high is None:
            return None
        stats = self.manifest()["stats"].get("sessions", {})
        keep: set[str] = set()
        for day in self.days("sessions"):
            s = stats.get(day)
            if s is None or s.get("min_start") is None:
                keep.add(day)  # no statistics (or starts unknown): cannot rule it out
                continue
            if low is not None and s["max_start"] < low:
                continue
            if high is not None and s["min_start"] >= high:
                continue
            keep.add(day)
        return keep

    def _agent_ids_for(self, value: str) -> set[str]:
        """The ids sessions must carry one of for ``agent=value`` (a name, a stable id or a
        per-deployment id; see :mod:`sessionkit.agents`): the agent's stable id, as the API
        filters, from the names the syncs learned. An unknown name raises
        :class:`~sessionkit.agents.UnknownAgentError`, a name two agents share
        :class:`~sessionkit.agents.AmbiguousAgentError`."""
        names = AgentNames(dict(self.manifest()["agent_names"]))
        stable = names.stable_for(value)
        if stable is not None:
            return {stable}
        if agent_kind(value) == "name":
            raise unknown_agent(value, names.known(), f"the store {self.path}")
        return {value}  # an id the store never named: match it as it is

    def _sessions_table(
        self, filters: SessionFilters, columns: Sequence[str] | None = None
    ) -> pa.Table:
        where = _row_filter(filters)
        metadata = _flat_metadata(filters.metadata)
        need: list[str] | None = None
        if columns is not None:
            need = [*columns, SORT_COLUMNS[filters.sort], "id"]
            if filters.agent is not None:
                need.append("agent_ids")
            need += [f"metadata.{k}" for k in metadata]
        agents = self._agent_ids_for(filters.agent) if filters.agent is not None else None
        table = self._scan("sessions", self._days_for(filters), where, need)
        table = _post_filter(table, metadata, agents)
        table = _sorted(table, SORT_COLUMNS[filters.sort], filters.direction)
        if filters.limit is not None:
            table = table.slice(0, filters.limit)
        return table

    # ------------------------------------------------------------------ reading details

    def load_eval_runs(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Eval runs stored for the given sessions (all when ``None``), as ``sk.load_eval_runs``."""
        return self._load_detail("eval_runs", sessions_or_ids)

    def load_spans(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Timeline spans stored for the given sessions (all when ``None``), in pre-order."""
        return self._load_detail("spans", sessions_or_ids)

    def load_agents(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Agents stored for the given sessions (all when ``None``)."""
        return self._load_detail("agents", sessions_or_ids)

    def load_logs(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Log lines stored for the given sessions (all when ``None``), by session and time."""
        return self._load_detail("logs", sessions_or_ids)

    def _warn_unsynced(self, entity: str, ids: list[str] | None, frame: pd.DataFrame) -> None:
        """Warn when some of ``ids`` (``None``: the whole store) never had their details (or
        logs, for ``logs``) stored: they are missing here, not necessarily from the API."""
        manifest = self.manifest()
        done = set(manifest["logs" if entity == "logs" else "details"])
        present = set(frame["session_id"].dropna().astype(str)) if len(frame) else set()
        count: list[str] | None = None
        pending: set[str] = set()
        if ids is None:
            if done or present or not self.days("sessions"):
                return
            what = "the store's sessions"
        else:
            count = [i for i in ids if i not in done and i not in present]
            if not count:
                return
            table = self._scan("sessions", None, pc.field("id").isin(count), ["id", "pending"])
            pending = set(table.filter(pc.fill_null(table["pending"], False))["id"].to_pylist())
            what = f"{len(count):,} of the {len(ids):,} sessions asked for"
        part = "logs" if entity == "logs" else "details"
        logs = ", logs=True" if entity == "logs" else ""
        if count and len(pending) == len(count):
            message = (
                f"{entity}: {what} are still pending; their {part} are stored once they "
                "complete (the next sync after that fetches them), or read the API (store=None)."
            )
        else:
            example = (
                f"store.sync(details=ids{logs}) with the {len(count):,} ids (e.g. {count[0]!r})"
                if count
                else f"store.sync(details='all'{logs})"
            )
            still = f" ({len(pending):,} of them still pending)" if pending else ""
            message = (
                f"{entity}: {what} never had their {part} synced into {self.path}{still}, so "
                f"they have no {entity} here. Fetch them with {example} or `sessionkit sync "
                f"--details all{' --logs' if entity == 'logs' else ''}`, or read the API "
                "(store=None)."
            )
        errors_warn(message, SessionKitWarning, stacklevel=4)

    def _load_detail(self, entity: str, sessions_or_ids: object) -> pd.DataFrame:
        if sessions_or_ids is None:
            table = _arrow.drop_empty_extras(self._scan(entity), entity)
            frame = _arrow.table_to_frame(table, entity)
            ids: list[str] | None = None
        else:
            ids = session_ids(sessions_or_ids)
            days = None
            if isinstance(sessions_or_ids, pd.DataFrame) and {"id", "created_at"} <= set(
                sessions_or_ids.columns
            ):
                created = pa.array(sessions_or_ids["created_at"], pa.timestamp("ns", tz="UTC"))
                days = set(_arrow.day_strings(created).to_pylist())
            where = pc.field("session_id").isin(ids)
            table = _arrow.drop_empty_extras(self._scan(entity, days, where), entity)
            frame = _arrow.table_to_frame(table, entity)
        if entity == "logs":
            if len(frame):
                frame = frame.sort_values(
                    ["session_id", "timestamp"], kind="stable", ignore_index=True
                )
        elif ids is not None and len(frame):
            position = pd.Index(ids).get_indexer(frame["session_id"].to_numpy(dtype=object))
            frame = frame.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
        self._warn_unsynced(entity, ids, frame)
        return frame

    # ------------------------------------------------------------------ SQL

    def duckdb(self) -> _duckdb.DuckDBPyConnection:
        """The store's DuckDB connection (in memory), with views ``sessions``, ``eval_runs``,
        ``logs``, ``spans`` and ``agents`` over the datasets (plus their ``day`` column).

        Results fetched with ``.df()`` lose time zones, durations and categories; use
        :meth:`sql`, or ``.arrow()`` and :func:`restore_dtypes`.
        """
        import duckdb

        with self._con_lock:
            if self._con is None:
                self._con = duckdb.connect()
                self._con.execute("SET TimeZone = 'UTC'")
            self._refresh_views(self._con)
            return self._con

    def _refresh_views(self, con: _duckdb.DuckDBPyConnection) -> None:
        for entity in ENTITIES:
            if self.days(entity):
                pattern = str(self.dataset_path(entity) / f"{DAY}=*" / "*.parquet")
                source = (
                    f"read_parquet('{_sql_text(pattern)}', hive_partitioning = true, "
                    "union_by_name = true)"
                )
            else:
                con.register(f"_sessionkit_empty_{entity}", _arrow.empty_table(entity))
                source = f"(SELECT *, NULL::DATE AS day FROM _sessionkit_empty_{entity})"
            con.execute(f"CREATE OR REPLACE VIEW {entity} AS SELECT * FROM {source}")

    def sql(
        self, query: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> pd.DataFrame:
        """Run ``query`` with DuckDB over the views of :meth:`duckdb`; the result comes back
        through Arrow, and columns named like contract columns get the contract dtypes."""
        con = self.duckdb()
        with self._con_lock:
            relation = con.sql(query, params=params)
            if relation is None:  # a statement with no result (SET, CREATE, ...)
                return pd.DataFrame()
            fetch = getattr(relation, "to_arrow_table", None)  # DuckDB >= 1.4; .arrow() before
            result = fetch() if fetch is not None else relation.arrow()
        table = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
        return _arrow.restore_dtypes(table)

    # ------------------------------------------------------------------ syncing

    def sync(
        self,
        client: Client | None = None,
        *,
        since: str | datetime | pd.Timestamp | None = None,
        details: Selection = None,
        logs: bool | Selection = False,
        progress: bool | None = None,
        **filters: Any,
    ) -> SyncResult:
        """Bring the store up to date with the API and return what was done (:class:`SyncResult`).

        The first sync of a scope (a set of filters against one API) fetches the history,
        bounded by ``since`` (ISO time or ``"30d"``); later ones walk ``sort=updated``
        newest first and stop below the stored watermark minus :attr:`overlap`, picking up new,
        completed and deleted sessions; pending sessions no walk saw are refreshed by id when at
        most :attr:`pending_refresh`. ``filters`` are those of :func:`sessionkit.load_sessions`
        (not ``sort``/``direction``/``limit``). ``details`` picks the sessions whose eval runs,
        spans and agents are stored, once per completed session: ``None``, ``"all"``,
        ``"failed"``, a list of ids, or a function of the sessions frame returning a mask;
        ``logs=True`` stores logs for the same sessions (or give a selection of its own).
        A tqdm bar shows progress (``progress=False``: none); the one-line summary is the
        result's ``str()`` and ``repr()``, so a notebook shows it once as the cell's value. Killed at any point, the store stays readable and the next sync completes it.
        Raises :class:`StoreLockedError` at once when another process is syncing this store.
        See :mod:`sessionkit.store._sync` for the details of the walk.
        """
        from ._sync import sync

        return sync(
            self, client, since=since, details=details, logs=logs, progress=progress, **filters
        )

    def upsert(self, entity: str, data: pd.DataFrame | pa.Table) -> tuple[int, int, int]:
        """Write rows into a dataset: sessions by ``id`` (the latest ``updated_at`` wins), detail
        rows by ``session_id`` (every row of a session present in ``data`` replaces that
        session's rows; their sessions must be in the store). Returns ``(new, updated,
        unchanged)`` counted in rows (sessions) or sessions (details)."""
        if entity not in ENTITIES:
            raise InvalidArgumentError(f"unknown dataset {entity!r}; expected one of {ENTITIES}")
        table = (
            _arrow.frame_to_table(data)
            if isinstance(data, pd.DataFrame)
            else _arrow.plain_table(data)
        )
        table = _arrow.check_contract(table, entity)
        with self._locked():
            manifest = self._manifest_copy()
            if entity == "sessions":
                counts = self._upsert_sessions(manifest, table)
            else:
                ids = pc.unique(table["session_id"]).to_pylist()
                days = self._session_days(ids)
                missing = [i for i in ids if i not in days]
                if missing:
                    raise InvalidArgumentError(
                        f"{len(missing)} session(s) of these {entity} rows are not in the store "
                        f"(e.g. {missing[0]}); upsert or sync their sessions first"
                    )
                self._replace_details(manifest, entity, table, days)
                counts = (0, len(ids), 0)
            self._save_manifest(manifest)
        return counts

    def _session_days(self, ids: Sequence[str]) -> dict[str, str]:
        table = self._scan("sessions", None, pc.field("id").isin(list(ids)), ["id", "created_at"])
        days = _arrow.day_strings(table["created_at"]).to_pylist()
        return dict(zip(table["id"].to_pylist(), days, strict=True))

    # ------------------------------------------------------------------ writing

    def _read_partition(
        self, entity: str, day: str, columns: Sequence[str] | None = None
    ) -> pa.Table | None:
        path = self._file(entity, day)
        try:
            table = pq.read_table(path, columns=list(columns) if columns else None)
        except FileNotFoundError:
            return None
        return _arrow.plain_table(table)

    def _write_partition(
        self, manifest: dict[str, Any], entity: str, day: str, table: pa.Table
    ) -> None:
        """Write one partition file with the dataset's schema (see :meth:`_target_schema`)."""
        current = self._target_schema(entity)
        target = table.schema if current is None else _unify([current, table.schema])
        if current is not None and not target.equals(current):
            # the dataset gained a column (or widened a type): give every file the new schema
            for other in self.days(entity):
                if other != day:
                    self._rewrite(entity, other, target)
        self._schemas[entity] = target
        self._write_file(entity, day, _conform(table, target))

    def _write_file(self, entity: str, day: str, table: pa.Table) -> None:
        _files.ensure_dir(self.dataset_path(entity))
        _files.write_atomic(
            self._file(entity, day),
            lambda fh: pq.write_table(table, fh, compression="snappy"),
        )

    def _rewrite(self, entity: str, day: str, schema_: pa.Schema) -> None:
        table = self._read_partition(entity, day)
        if table is not None and not table.schema.equals(schema_):
            self._write_file(entity, day, _conform(table, schema_))

    def _target_schema(self, entity: str) -> pa.Schema | None:
        """The one schema all partition files of ``entity`` have, so that readers which take
        the first file's schema (Polars, Dask, Spark without mergeSchema) see every column.

        Computed once per locked section from the files' footers; files left behind by an
        interrupted schema change are brought to it here.
        """
        if entity not in self._schemas:
            footers = {d: pq.read_schema(self._file(entity, d)) for d in self.days(entity)}
            if not footers:
                return None
            target = _unify(list(footers.values()))
            for day, footer in footers.items():
                if not footer.equals(target):
                    self._rewrite(entity, day, target)
            self._schemas[entity] = target
        return self._schemas[entity]

    def _stored_versions(self, day: str, cache: _Versions) -> tuple[pa.Array, pa.Array]:
        """``(ids, updated_at as int64 ns)`` of the sessions stored in ``day`` (cached per sync)."""
        if day not in cache:
            old = self._read_partition("sessions", day, ["id", "updated_at"])
            if old is None:
                cache[day] = (pa.array([], pa.string()), pa.array([], pa.int64()))
            else:
                cache[day] = _versions(old)
        return cache[day]

    def _classify(self, table: pa.Table, cache: _Versions) -> tuple[np.ndarray, np.ndarray]:
        """Masks ``(new, updated)`` of the rows of a de-duplicated sessions table."""
        n = table.num_rows
        new = np.zeros(n, dtype=bool)
        updated = np.zeros(n, dtype=bool)
        days = _arrow.day_strings(table["created_at"])
        stamps = table["updated_at"].cast(pa.int64())
        for day in pc.unique(days).to_pylist():
            rows = np.flatnonzero(pc.equal(days, day).to_numpy(zero_copy_only=False))
            stored_ids, stored_stamps = self._stored_versions(day, cache)
            index = pc.index_in(table["id"].take(rows), value_set=stored_ids)
            is_new = pc.is_null(index)
            old = pc.take(stored_stamps, index)
            stamp = stamps.take(rows)
            newer = pc.and_kleene(
                pc.is_valid(stamp), pc.or_kleene(pc.is_null(old), pc.greater(stamp, old))
            )
            newer = pc.and_(pc.invert(is_new), pc.fill_null(newer, False))
            new[rows] = is_new.to_numpy(zero_copy_only=False)
            updated[rows] = newer.to_numpy(zero_copy_only=False)
        return new, updated

    def _upsert_sessions(
        self,
        manifest: dict[str, Any],
        table: pa.Table,
        cache: _Versions | None = None,
        label: Callable[[pa.Table], pa.Table] | None = None,
        seen: Callable[[pa.ChunkedArray, np.ndarray, np.ndarray], None] | None = None,
    ) -> tuple[int, int, int]:
        """Merge sessions into their day partitions; rewrite only days with new/newer rows.

        ``label`` (the sync's agent labelling) is applied to the winning rows only; ``seen``
        gets the distinct ids and their ``(new, updated)`` masks before anything is written.
        """
        cache = {} if cache is None else cache
        table = _arrow.latest_by_id(table)
        new, updated = self._classify(table, cache)
        if seen is not None:
            seen(table["id"], new, updated)
        winners = table.filter(pa.array(new | updated))
        if label is not None and winners.num_rows:
            winners = label(winners)
        if winners.num_rows:
            self._write_sessions(manifest, winners, cache)
        return int(new.sum()), int(updated.sum()), int(table.num_rows - new.sum() - updated.sum())

    def _write_sessions(
        self, manifest: dict[str, Any], winners: pa.Table, cache: _Versions
    ) -> None:
        days = _arrow.day_strings(winners["created_at"])
        stats: dict[str, Any] = manifest["stats"].setdefault("sessions", {})
        by_day = {day: winners.filter(pc.equal(days, day)) for day in pc.unique(days).to_pylist()}
        # widen the start_time range of existing days first, so pruning never skips a row that
        # a crash left in a file the manifest had not caught up with
        widened = False
        for day, part in by_day.items():
            if day in stats and stats[day].get("min_start") is not None:
                low, high = _start_range(part)
                if low is not None and (
                    low < stats[day]["min_start"] or high > stats[day]["max_start"]
                ):
                    stats[day] = {
                        **stats[day],
                        "min_start": min(low, stats[day]["min_start"]),
                        "max_start": max(high, stats[day]["max_start"]),
                    }
                    widened = True
        if widened:
            self._save_manifest(manifest)
        for day, part in by_day.items():
            old = self._read_partition("sessions", day)
            if old is not None:
                old = old.filter(pc.invert(pc.is_in(old["id"], value_set=part["id"])))
                merged = frames.concat_tables([old, part], schema.SESSION_COLUMNS)
            else:
                merged = part
            merged = _arrow.plain_table(merged).sort_by(_STORED_ORDER)
            self._write_partition(manifest, "sessions", day, merged)
            low, high = _start_range(merged)
            stats[day] = {"rows": merged.num_rows, "min_start": low, "max_start": high}
            cache[day] = _versions(merged)

    def _replace_details(
        self, manifest: dict[str, Any], entity: str, table: pa.Table, days: Mapping[str, str]
    ) -> None:
        """Replace every row of the sessions in ``days`` (id → day) with the rows of ``table``."""
        by_day: dict[str, list[str]] = {}
        for sid, day in days.items():
            by_day.setdefault(day, []).append(sid)
        cols = schema.columns(entity)
        for day, ids in by_day.items():
            part = table.filter(pc.is_in(table["session_id"], value_set=pa.array(ids, pa.string())))
            old = self._read_partition(entity, day)
            if old is not None:
                old = old.filter(
                    pc.invert(pc.is_in(old["session_id"], value_set=pa.array(ids, pa.string())))
                )
                merged = frames.concat_tables([old, part], cols)
            else:
                merged = part
            if merged.num_rows == 0 and old is None:
                continue
            self._write_partition(manifest, entity, day, _arrow.plain_table(merged))


# --------------------------------------------------------------------------- helpers


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with exactly the fields of ``target``: missing ones null, others cast."""
    n = table.num_rows
    arrays = []
    for field in target:
        if field.name in table.column_names:
            column = table[field.name]
            arrays.append(column if column.type == field.type else column.cast(field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=target)


def _versions(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    ids = table["id"].combine_chunks()
    return ids, table["updated_at"].cast(pa.int64()).combine_chunks()


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _unify(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """Union of file schemas, in first-seen order; a type clash becomes text (string)."""
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    types: dict[str, list[pa.DataType]] = {}
    for s in schemas:
        for f in s:
            types.setdefault(f.name, []).append(f.type)
    fields = []
    for name, ts in types.items():
        try:
            fields.append(
                pa.unify_schemas(
                    [pa.schema([pa.field(name, t)]) for t in ts], promote_options="permissive"
                ).field(name)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def _sorted(table: pa.Table, key: str, direction: str) -> pa.Table:
    """``table`` sorted by ``key`` then ``id`` (both in ``direction``), nulls last.

    A scan is already in the stored order (created_at, id descending); that case is checked
    (one vectorised comparison) instead of sorted, and its ascending twin is a reversal.
    """
    n = table.num_rows
    if n < 2:
        return table
    if key == "created_at" and table["created_at"].null_count == 0 and "id" in table.column_names:
        stamps = table["created_at"]
        ids = table["id"]
        head, tail = stamps.slice(0, n - 1), stamps.slice(1)
        later = pc.greater(head, tail)
        tied = pc.and_(pc.equal(head, tail), pc.greater(ids.slice(0, n - 1), ids.slice(1)))
        if pc.all(pc.or_(later, tied)).as_py():
            if direction == "desc":
                return table
            return table.take(pa.array(np.arange(n - 1, -1, -1)))
    order = "ascending" if direction == "asc" else "descending"
    return table.sort_by([(key, order), ("id", order)])


def _time_bounds(filters: SessionFilters) -> tuple[int | None, int | None]:
    """``start_time`` bounds in ns: ``(inclusive low, exclusive high)``, the exact
    ``since``/``until`` of the filters (not the widened window sent to a server)."""
    low = filters.start.value if filters.start is not None else None
    high = filters.end.value if filters.end is not None else None
    return low, high


def _start_range(table: pa.Table) -> tuple[int | None, int | None]:
    if table.num_rows == 0:
        return None, None
    result = pc.min_max(table["start_time"].cast(pa.int64()))
    return result["min"].as_py(), result["max"].as_py()


def _row_filter(filters: SessionFilters) -> ds.Expression | None:
    """The filters the scan applies while reading (everything but agent and metadata)."""
    terms: list[ds.Expression] = []
    low, high = _time_bounds(filters)
    ts = pa.timestamp("ns", tz="UTC")
    if low is not None:
        terms.append(pc.field("start_time") >= pa.scalar(low, ts))
    if high is not None:
        terms.append(pc.field("start_time") < pa.scalar(high, ts))
    for column, value in filters.equal.items():  # env, ids as text; success, devmode as bool
        terms.append(pc.field(column) == value)
    if filters.triggers:
        terms.append(pc.field("trigger").isin(list(filters.triggers)))
    if not terms:
        return None
    expr = terms[0]
    for term in terms[1:]:
        expr = expr & term
    return expr


def _flat_metadata(metadata: Mapping[str, object] | None) -> dict[str, object]:
    """The ``metadata=`` filter as flattened column key → value (``{}`` when not given)."""
    return frames._flatten_object(metadata, "") if metadata is not None else {}


def _post_filter(
    table: pa.Table, metadata: Mapping[str, object], agent_ids: set[str] | None = None
) -> pa.Table:
    """``agent`` (sessions whose ``agent_ids`` hold any of ``agent_ids``) and ``metadata``
    (flattened key = value, :func:`_flat_metadata`) filters."""
    n = table.num_rows
    if not n:
        return table
    mask = np.ones(n, dtype=bool)
    if agent_ids is not None:
        mask &= sessions_with_any(table["agent_ids"], agent_ids)
    for key, value in metadata.items():
        column = f"metadata.{key}"
        if column not in table.column_names:
            mask[:] = False
            break
        values = table[column].to_pylist()
        mask &= np.fromiter((_json_equal(v, value) for v in values), dtype=bool, count=n)
    return table if mask.all() else table.filter(pa.array(mask))


def _json_equal(a: object, b: object) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
