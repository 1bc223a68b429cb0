"""The :class:`Store` facade: one object a user holds, composing the store's layers.

Each method hands its work to the layer that owns it: :class:`~._layout.Layout` (paths,
partitions, manifest, lock), :class:`~._reader.Reader` (loads with pushdown and their
warnings), :class:`~._writer.Writer` (merges and partition writes), :class:`~._sql.SQL`
(DuckDB views), :func:`._sync.sync` (the sync run) and :class:`~._scope.SyncScope` (what a
sync covered, for :meth:`Store.info`).

May import every store module but the CLI; none of them imports this one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..client import Client
from ..errors import InvalidArgumentError
from ..params import FilterArgs, ScopeArgs, SessionFilters, TimeLike, session_filters
from . import _arrow, _check
from ._check import StoreCheck
from ._layout import DEFAULT_PATH, ENTITIES, Layout, check_entity
from ._reader import Reader
from ._scope import synced_scopes
from ._sql import SQL
from ._sync import Selection, SyncResult, SyncSettings, sync
from ._writer import Writer

if TYPE_CHECKING:  # the type only: duckdb is imported on first use (see ._sql)
    import duckdb as _duckdb

__all__ = ["DEFAULT_PATH", "ENTITIES", "Store"]  # DEFAULT_PATH: the CLI imports it here


class Store:
    """A local copy of a project's sessions: Parquet datasets kept up to date by :meth:`sync`.

    Layout under ``path`` (default ``data/store`` relative to the working directory)::

        manifest.json                      watermarks, partition statistics, completed ids
        .lock                              held by the one sync allowed at a time
        sessions/day=YYYY-MM-DD/part-0.parquet
        eval_runs/ spans/ agents/ logs/    same days: the day of the session's created_at

    A session (and its eval runs, spans, agents and logs) lives in the day partition of its
    ``created_at``, once: a session whose ``created_at`` moves to another day between syncs is
    moved there, details included. Columns are stored with plain Arrow types and
    read back through :func:`sessionkit.frames.to_pandas`: ``store.load_sessions()`` has the
    dtypes of ``sk.load_sessions()``, ``agent`` and ``metadata.*`` columns included.

    Other tools read the datasets directly (``pyarrow.dataset``, DuckDB, Polars, Dask, Spark):
    see :meth:`dataset_path`. ``filesystem`` is the ``pyarrow.fs`` filesystem reads go through
    (default local; tests pass an instrumented one). ``overlap``, ``pending_refresh``,
    ``batch_pages`` and ``details_chunk`` tune :meth:`sync` (:class:`~._sync.SyncSettings`).
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
        settings = SyncSettings(
            pd.Timedelta(overlap), int(pending_refresh), int(batch_pages), int(details_chunk)
        )
        self.overlap = settings.overlap
        self.pending_refresh = settings.pending_refresh
        self.batch_pages = settings.batch_pages
        self.details_chunk = settings.details_chunk
        self._layout = Layout(path)
        self._reader = Reader(self._layout, filesystem)
        self._writer = Writer(self._layout)
        self._sql = SQL(self._layout)

    @property
    def path(self) -> Path:
        """The store's directory (absolute)."""
        return self._layout.path

    @property
    def filesystem(self) -> Any:
        """The ``pyarrow.fs`` filesystem reads go through (``None``: local)."""
        return self._reader.filesystem

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _repr_html_(self) -> str:
        info = self.info()
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
            for k, v in info.items()
        )
        return f"<table><caption>sessionkit.Store</caption>{rows}</table>"

    def info(self) -> dict[str, object]:
        """Path, day partitions and rows per dataset, and the last sync (ISO time, UTC) of
        each scope, keyed ``last sync [<scope>]``."""
        manifest = self.manifest()
        out: dict[str, object] = {"path": str(self.path)}
        stats = manifest["stats"].get("sessions", {})
        out["sessions"] = sum(int(s.get("rows", 0)) for s in stats.values())
        out["days"] = len(self.days("sessions"))
        out["sessions with details"] = len(manifest["details"])
        out["sessions with logs"] = len(manifest["logs"])
        for scope in synced_scopes(manifest):
            out[f"last sync [{scope.describe(manifest['agent_names'])}]"] = scope.synced_at
        return out

    # ------------------------------------------------------------------ layout

    def dataset_path(self, entity: str) -> Path:
        """Directory of one dataset (``sessions``, ``eval_runs``, ``logs``, ``spans``, ``agents``)."""
        return self._layout.dataset_path(entity)

    def days(self, entity: str = "sessions") -> list[str]:
        """The day partitions of a dataset that hold a file, oldest first."""
        return self._layout.days(entity)

    def manifest(self) -> dict[str, Any]:
        """The manifest as last committed (a fresh copy is not made: do not modify it)."""
        return self._layout.manifest()

    @property
    def demo_now(self) -> pd.Timestamp | None:
        """The frozen "now" of the demo data this store was synced from (relative times such
        as ``since="7d"`` count back from it, as on the demo client), else ``None``."""
        return self._layout.demo_now()

    def files(self, entity: str = "sessions", **filters: Unpack[FilterArgs]) -> list[Path]:
        """The partition files a :meth:`load_sessions` with these filters opens (``entity`` =
        sessions), or all files of a detail dataset."""
        return self._reader.files(entity, session_filters(**filters) if filters else None)

    # ------------------------------------------------------------------ reading

    def dataset(self, entity: str = "sessions") -> ds.Dataset:
        """One dataset as a ``pyarrow.dataset.Dataset`` (with its ``day`` column): scan it with
        filters, or hand it to Polars (``pl.scan_pyarrow_dataset``), DuckDB or Dask."""
        return self._reader.dataset(entity)

    def load_sessions(
        self, *, columns: Sequence[str] | None = None, **filters: Unpack[FilterArgs]
    ) -> pd.DataFrame:
        """Sessions in the store matching the filters, as :func:`sessionkit.load_sessions` gives.

        The filters have the names and meanings of :func:`sessionkit.load_sessions`
        (:class:`~sessionkit.params.FilterArgs`: ``since <= start_time < until``; ``agent`` is
        a name, a stable id or a deployment id) and are pushed down: only day partitions whose
        sessions can match are opened (each day's ``start_time`` range is in the manifest) and
        rows are filtered while scanning. ``columns`` restricts the columns returned. An
        unknown filter raises :class:`~sessionkit.errors.InvalidArgumentError`.
        """
        parsed = session_filters(now=self.demo_now, **filters)
        return self.load_filtered(parsed, columns)

    def load_filtered(
        self, filters: SessionFilters, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """:meth:`load_sessions` with filters already validated by
        :func:`sessionkit.params.session_filters` (what the loaders pass on)."""
        return self._reader.load_filtered(filters, columns)

    def load_eval_runs(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Eval runs stored for the given sessions (all when ``None``), as ``sk.load_eval_runs``."""
        return self._reader.load_detail("eval_runs", sessions_or_ids)

    def load_spans(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Timeline spans stored for the given sessions (all when ``None``), in pre-order."""
        return self._reader.load_detail("spans", sessions_or_ids)

    def load_agents(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Agents stored for the given sessions (all when ``None``)."""
        return self._reader.load_detail("agents", sessions_or_ids)

    def load_logs(self, sessions_or_ids: object = None) -> pd.DataFrame:
        """Log lines stored for the given sessions (all when ``None``), by session and time."""
        return self._reader.load_detail("logs", sessions_or_ids)

    # ------------------------------------------------------------------ SQL

    def duckdb(self) -> _duckdb.DuckDBPyConnection:
        """The store's DuckDB connection (in memory), with views ``sessions``, ``eval_runs``,
        ``logs``, ``spans`` and ``agents`` over the datasets (plus their ``day`` column).

        Results fetched with ``.df()`` lose time zones, durations and categories; use
        :meth:`sql`, or ``.arrow()`` and :func:`restore_dtypes`.
        """
        return self._sql.connection()

    def sql(
        self, query: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> pd.DataFrame:
        """Run ``query`` with DuckDB over the views of :meth:`duckdb`; the result comes back
        through Arrow, and columns named like contract columns get the contract dtypes."""
        return self._sql.query(query, params)

    # ------------------------------------------------------------------ writing

    def sync(
        self,
        client: Client | None = None,
        *,
        since: TimeLike | None = None,
        details: Selection = None,
        logs: bool | Selection = False,
        progress: bool | None = None,
        **filters: Unpack[ScopeArgs],
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
        settings = SyncSettings(
            self.overlap, self.pending_refresh, self.batch_pages, self.details_chunk
        )
        return sync(
            self._layout,
            self._reader,
            self._writer,
            settings,
            client,
            since=since,
            details=details,
            logs=logs,
            progress=progress,
            **filters,
        )

    # ------------------------------------------------------------------ health

    def check(self) -> StoreCheck:
        """What is wrong with the store's files, read whole (nothing is changed): files that
        cannot be read, a manifest that cannot be read or whose statistics no longer describe
        the files, files it does not know, files whose column types disagree, a session
        stored twice, an interrupted move. ``str(result)`` is the report; ``result.ok`` is
        ``True`` when nothing is wrong. ``sessionkit store check`` prints it."""
        return _check.check(self._layout)

    def repair(self) -> StoreCheck:
        """Put right what :meth:`check` finds, holding the store's lock: what cannot be read
        is moved into ``<path>/quarantine/<UTC time>/`` (never deleted); the manifest is
        rebuilt from the files that remain; a session stored twice keeps its newest row;
        every file of a dataset gets one schema. When sessions were moved aside (or the
        manifest was lost) the sync watermarks are forgotten, so the next sync fetches the
        history again. Returns what was done and a check after it (:class:`StoreCheck`).
        ``sessionkit store check --repair`` runs it."""
        return _check.repair(self._layout, self._writer)

    def upsert(self, entity: str, data: pd.DataFrame | pa.Table) -> tuple[int, int, int]:
        """Write rows into a dataset: sessions by ``id`` (the latest ``updated_at`` wins; a newer
        version whose ``created_at`` is on another day moves the session there), detail rows by
        ``session_id`` (every row of a session present in ``data`` replaces that session's
        rows; their sessions must be in the store). Returns ``(new, updated, unchanged)``
        counted in rows (sessions) or sessions (details). Reads the ids of every stored day
        once per call when some rows are new to their day (to find a session stored under
        another day)."""
        check_entity(entity)
        table = (
            _arrow.frame_to_table(data)
            if isinstance(data, pd.DataFrame)
            else _arrow.plain_table(data)
        )
        table = _arrow.check_contract(table, entity)
        with self._writer.locked():
            manifest = self._layout.manifest_copy()
            if entity == "sessions":
                counts = self._writer.upsert_sessions(manifest, table)
            else:
                ids = pc.unique(table["session_id"]).to_pylist()
                days = self._reader.session_days(ids)
                missing = [i for i in ids if i not in days]
                if missing:
                    raise InvalidArgumentError(
                        f"{len(missing)} session(s) of these {entity} rows are not in the store "
                        f"(e.g. {missing[0]}); upsert or sync their sessions first"
                    )
                self._writer.replace_details(entity, table, days)
                counts = (0, len(ids), 0)
            self._writer.settle(manifest)  # every file at the dataset's one schema
            self._layout.save_manifest(manifest)
        return counts
