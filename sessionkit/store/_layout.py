"""Where a store keeps things: dataset directories, day partitions, the manifest and the lock.

Owns the on-disk arrangement of a store and nothing about its rows' meaning::

    <path>/manifest.json                      watermarks, partition statistics, completed ids
    <path>/.lock                              held by the one writer allowed at a time
    <path>/<entity>/day=YYYY-MM-DD/part-0.parquet

and the order rows are kept in inside a sessions partition file (:data:`STORED_ORDER`).

May import: :mod:`._files` (atomic files, the lock, JSON), :mod:`._arrow` (only the ``day``
column name), :mod:`sessionkit.errors`. Imported by the reader, the writer, the SQL views, the
sync run and the :class:`~sessionkit.store.Store` facade; it imports none of them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq

from ..errors import InvalidArgumentError
from . import _files
from ._arrow import DAY

ENTITIES: tuple[str, ...] = ("sessions", "eval_runs", "logs", "spans", "agents")
DETAIL_ENTITIES: tuple[str, ...] = ("eval_runs", "spans", "agents")
DEFAULT_PATH = Path("data") / "store"
PART = "part-0.parquet"
MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT = 1

#: Row order inside a sessions partition file (and of a whole scan: days newest first).
STORED_ORDER: list[tuple[str, str]] = [("created_at", "descending"), ("id", "descending")]


def empty_manifest() -> dict[str, Any]:
    """The manifest of a store no sync or upsert has written to (a new dict each call)."""
    return {
        "format": FORMAT,
        "scopes": {},
        "stats": {},
        "details": [],
        "logs": [],
        "agent_names": {},
        "unnamed_agents": [],
        "demo_now": None,
        "moves": {},
    }


#: A partition file's identity as the manifest records it: ``[size in bytes, mtime in ns]``.
FileKey = list[int]


def check_manifest(data: dict[str, Any], path: Path, store: Path) -> dict[str, Any]:
    """``data`` with every key of :func:`empty_manifest` (missing ones added); a key holding
    another kind of value than the empty manifest's raises :class:`~._files.StoreCorruptError`."""
    for name, value in empty_manifest().items():
        data.setdefault(name, value)
        got = data[name]
        kind = type(value) if value is not None else str
        if not (isinstance(got, kind) or (value is None and got is None)):
            raise _files.StoreCorruptError(
                path, store, f"its {name!r} is {type(got).__name__}, not {kind.__name__}"
            )
    return data


def check_entity(entity: str) -> str:
    """``entity`` itself when it names a dataset; raises :class:`InvalidArgumentError` else."""
    if entity not in ENTITIES:
        raise InvalidArgumentError(f"unknown dataset {entity!r}; expected one of {ENTITIES}")
    return entity


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_path(path: str | os.PathLike[str] | None) -> Path:
    """``path`` (default :data:`DEFAULT_PATH`) as an absolute local path. A URL
    (``s3://bucket/x``, ``gs://...``, ``file://...``) raises :class:`InvalidArgumentError`:
    it would otherwise become a local folder named ``s3:`` and the sync would "succeed"."""
    text = os.fspath(path) if path is not None else DEFAULT_PATH
    if isinstance(text, str) and _URL.match(text):
        raise InvalidArgumentError(
            f"store {text!r} is a URL; a store is a local directory for now (object storage "
            "is not supported yet). Give a local path, e.g. ./sessionkit-store, and copy it "
            "to object storage with your usual tools if the team needs it there."
        )
    return Path(text).absolute()


class Layout:
    """The paths of one store under ``path`` and its committed manifest (cached by the file's
    modification time and size, so a reader sees what another process committed)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = local_path(path)
        self._manifest_cache: tuple[tuple[int, int], dict[str, Any]] | None = None

    # ------------------------------------------------------------------ paths

    def dataset_path(self, entity: str) -> Path:
        """Directory of one dataset (``sessions``, ``eval_runs``, ``logs``, ``spans``, ``agents``)."""
        return self.path / check_entity(entity)

    def file(self, entity: str, day: str) -> Path:
        """The one Parquet file of ``entity``'s partition ``day`` (``YYYY-MM-DD``), present or not."""
        return self.dataset_path(entity) / f"{DAY}={day}" / PART

    def file_key(self, entity: str, day: str) -> FileKey | None:
        """``[size, mtime_ns]`` of a partition's file (``None`` when it has none): what the
        manifest records with a day's statistics, to tell later whether they still describe
        the file (a restored manifest, a file changed behind the store's back)."""
        try:
            st = os.stat(self.file(entity, day))
        except FileNotFoundError:
            return None
        return [st.st_size, st.st_mtime_ns]

    def footer_stats(self, day: str) -> dict[str, int | None] | None:
        """``{"rows", "min_start", "max_start"}`` (``start_time`` in ns; ``None``: no start in
        the file) of a sessions day, from its file's Parquet footer alone; ``None`` when the
        file is missing, its footer cannot be read or a row group has no statistics."""
        try:
            meta = pq.read_metadata(self.file("sessions", day))
        except _files.UNREADABLE:
            return None
        paths = [meta.schema.column(i).path for i in range(meta.num_columns)]
        if "start_time" not in paths:
            return None
        column = paths.index("start_time")
        low: int | None = None
        high: int | None = None
        for i in range(meta.num_row_groups):
            chunk = meta.row_group(i).column(column)
            stats = chunk.statistics
            if stats is None:
                return None
            if stats.null_count == chunk.num_values:
                continue  # no start in this row group
            if not stats.has_min_max:
                return None
            lo, hi = int(stats.min_raw), int(stats.max_raw)
            low = lo if low is None else min(low, lo)
            high = hi if high is None else max(high, hi)
        return {"rows": meta.num_rows, "min_start": low, "max_start": high}

    def remove_partition(self, entity: str, day: str) -> None:
        """Delete a partition's file and then its directory (when empty); a partition whose
        rows all moved elsewhere (:meth:`Writer.write_sessions`) is removed so."""
        path = self.file(entity, day)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()
        _files.fsync_dir(self.dataset_path(entity))

    def days(self, entity: str = "sessions") -> list[str]:
        """The day partitions (``YYYY-MM-DD``) of a dataset that hold a file, oldest first."""
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
        """The manifest as last committed, every key of :func:`empty_manifest` present (a
        shared cached object, not a copy: do not modify it; see :meth:`manifest_copy`)."""
        path = self.path / MANIFEST
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return empty_manifest()
        key = (st.st_mtime_ns, st.st_size)
        if self._manifest_cache is None or self._manifest_cache[0] != key:
            data = _files.read_json(path, self.path) or empty_manifest()
            self._manifest_cache = (key, check_manifest(data, path, self.path))
        return self._manifest_cache[1]

    def manifest_copy(self) -> dict[str, Any]:
        """A deep copy of the committed manifest, for a writer to change and then
        :meth:`save_manifest`."""
        copy: dict[str, Any] = orjson.loads(orjson.dumps(self.manifest()))
        return copy

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        """Commit ``manifest``: written atomically (mode 0o600), after the data it describes."""
        _files.write_json(self.path / MANIFEST, manifest)

    def demo_now(self) -> pd.Timestamp | None:
        """The frozen "now" (UTC) of the demo data the store was synced from, else ``None``."""
        value = self.manifest().get("demo_now")
        return pd.Timestamp(value) if isinstance(value, str) else None

    # ------------------------------------------------------------------ lock

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock file for the block (creating the store's directory 0o700);
        raises :class:`~sessionkit.store.StoreLockedError` at once when another process holds it."""
        _files.ensure_dir(self.path)
        with _files.exclusive_lock(self.path / LOCK):
            yield

    def remove_stale_tmp(self) -> int:
        """Delete temporary files a killed writer left in the store; returns how many."""
        return _files.remove_stale_tmp(self.path)
