"""Writing a store: merging sessions into their day partitions, replacing a session's detail
rows, and keeping every partition file of a dataset at one schema.

A session's ``created_at`` never changes, so it (and its eval runs, spans, agents and logs)
always lives in one day partition. Sessions merge by ``id`` (the newest ``updated_at`` wins;
only days with new or newer rows are rewritten); detail rows are replaced per session. Every
write goes through :func:`._files.write_atomic`, and a dataset that gains a column (or widens
a type) has all its files rewritten to the new schema, so readers that take the first file's
schema (Polars, Dask, Spark without mergeSchema) see every column.

May import: :mod:`._layout`, :mod:`._files`, :mod:`._arrow`, sessionkit's ``frames`` and
``schema``. Never the reader, the SQL views or the sync (the sync and the facade call it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import frames, schema
from . import _arrow, _files
from ._layout import STORED_ORDER, Layout

#: Per stored day: ``(ids, updated_at as int64 ns)`` of its sessions (a sync's cache).
Versions: TypeAlias = dict[str, tuple[pa.Array, pa.Array]]


def versions(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """``(ids, updated_at as int64 ns)`` of a sessions table, each one contiguous array."""
    ids = table["id"].combine_chunks()
    return ids, table["updated_at"].cast(pa.int64()).combine_chunks()


def start_range(table: pa.Table) -> tuple[int | None, int | None]:
    """``(min, max)`` of a sessions table's ``start_time`` in ns; ``(None, None)`` if empty."""
    if table.num_rows == 0:
        return None, None
    result = pc.min_max(table["start_time"].cast(pa.int64()))
    return result["min"].as_py(), result["max"].as_py()


class Writer:
    """Writes the partition files of the store at ``layout``; call its writing methods inside
    :meth:`locked`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._schemas: dict[str, pa.Schema] = {}  # per locked section: see _target_schema

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock for the block (see :meth:`Layout.locked`); the dataset
        schemas are read afresh from the files' footers in each locked section."""
        with self.layout.locked():
            self._schemas = {}
            try:
                yield
            finally:
                self._schemas = {}

    # ------------------------------------------------------------------ files

    def read_partition(
        self, entity: str, day: str, columns: Sequence[str] | None = None
    ) -> pa.Table | None:
        """The whole file of one partition (``columns`` only, if given) with plain Arrow types;
        ``None`` when the partition has no file."""
        path = self.layout.file(entity, day)
        try:
            table = pq.read_table(path, columns=list(columns) if columns else None)
        except FileNotFoundError:
            return None
        return _arrow.plain_table(table)

    def _write_partition(self, entity: str, day: str, table: pa.Table) -> None:
        """Write one partition file with the dataset's schema (see :meth:`_target_schema`)."""
        current = self._target_schema(entity)
        target = table.schema if current is None else frames.unify_schemas([current, table.schema])
        if current is not None and not target.equals(current):
            # the dataset gained a column (or widened a type): give every file the new schema
            for other in self.layout.days(entity):
                if other != day:
                    self._rewrite(entity, other, target)
        self._schemas[entity] = target
        self._write_file(entity, day, _arrow.conform(table, target))

    def _write_file(self, entity: str, day: str, table: pa.Table) -> None:
        _files.ensure_dir(self.layout.dataset_path(entity))
        _files.write_atomic(
            self.layout.file(entity, day),
            lambda fh: pq.write_table(table, fh, compression="snappy"),
        )

    def _rewrite(self, entity: str, day: str, schema_: pa.Schema) -> None:
        table = self.read_partition(entity, day)
        if table is not None and not table.schema.equals(schema_):
            self._write_file(entity, day, _arrow.conform(table, schema_))

    def _target_schema(self, entity: str) -> pa.Schema | None:
        """The one schema all partition files of ``entity`` have (``None``: no file yet).

        Computed once per locked section from the files' footers; files left behind by an
        interrupted schema change are brought to it here.
        """
        if entity not in self._schemas:
            footers = {
                d: pq.read_schema(self.layout.file(entity, d)) for d in self.layout.days(entity)
            }
            if not footers:
                return None
            target = frames.unify_schemas(list(footers.values()))
            for day, footer in footers.items():
                if not footer.equals(target):
                    self._rewrite(entity, day, target)
            self._schemas[entity] = target
        return self._schemas[entity]

    # ------------------------------------------------------------------ sessions

    def _stored_versions(self, day: str, cache: Versions) -> tuple[pa.Array, pa.Array]:
        """``(ids, updated_at as int64 ns)`` of the sessions stored in ``day`` (cached per sync)."""
        if day not in cache:
            old = self.read_partition("sessions", day, ["id", "updated_at"])
            if old is None:
                cache[day] = (pa.array([], pa.string()), pa.array([], pa.int64()))
            else:
                cache[day] = versions(old)
        return cache[day]

    def _classify(self, table: pa.Table, cache: Versions) -> tuple[np.ndarray, np.ndarray]:
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

    def upsert_sessions(
        self,
        manifest: dict[str, Any],
        table: pa.Table,
        cache: Versions | None = None,
        label: Callable[[pa.Table], pa.Table] | None = None,
        seen: Callable[[pa.ChunkedArray, np.ndarray, np.ndarray], None] | None = None,
    ) -> tuple[int, int, int]:
        """Merge sessions into their day partitions; rewrite only days with new/newer rows.
        Returns ``(new, updated, unchanged)`` counted in distinct sessions of ``table``.

        ``label`` (the sync's agent labelling) is applied to the winning rows only; ``seen``
        gets the distinct ids and their ``(new, updated)`` masks before anything is written.
        ``manifest`` (a working copy) gets the partition statistics; it is saved here only
        when a day's ``start_time`` range must widen before its file is written.
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
            self.write_sessions(manifest, winners, cache)
        return int(new.sum()), int(updated.sum()), int(table.num_rows - new.sum() - updated.sum())

    def write_sessions(self, manifest: dict[str, Any], winners: pa.Table, cache: Versions) -> None:
        """Write ``winners`` (sessions that replace their stored rows, or are new) into their
        day partitions, updating ``manifest``'s statistics and ``cache``."""
        days = _arrow.day_strings(winners["created_at"])
        stats: dict[str, Any] = manifest["stats"].setdefault("sessions", {})
        by_day = {day: winners.filter(pc.equal(days, day)) for day in pc.unique(days).to_pylist()}
        # widen the start_time range of existing days first, so pruning never skips a row that
        # a crash left in a file the manifest had not caught up with
        widened = False
        for day, part in by_day.items():
            if day in stats and stats[day].get("min_start") is not None:
                low, high = start_range(part)
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
            self.layout.save_manifest(manifest)
        for day, part in by_day.items():
            old = self.read_partition("sessions", day)
            if old is not None:
                old = old.filter(pc.invert(pc.is_in(old["id"], value_set=part["id"])))
                merged = frames.concat_tables([old, part], schema.SESSION_COLUMNS)
            else:
                merged = part
            merged = _arrow.plain_table(merged).sort_by(STORED_ORDER)
            self._write_partition("sessions", day, merged)
            low, high = start_range(merged)
            stats[day] = {"rows": merged.num_rows, "min_start": low, "max_start": high}
            cache[day] = versions(merged)

    # ------------------------------------------------------------------ details

    def replace_details(self, entity: str, table: pa.Table, days: Mapping[str, str]) -> None:
        """Replace every row of the sessions in ``days`` (id → day) with the rows of ``table``
        (a session of ``days`` with no row in ``table`` is left with none)."""
        by_day: dict[str, list[str]] = {}
        for sid, day in days.items():
            by_day.setdefault(day, []).append(sid)
        cols = schema.columns(entity)
        for day, ids in by_day.items():
            part = table.filter(pc.is_in(table["session_id"], value_set=pa.array(ids, pa.string())))
            old = self.read_partition(entity, day)
            if old is not None:
                old = old.filter(
                    pc.invert(pc.is_in(old["session_id"], value_set=pa.array(ids, pa.string())))
                )
                merged = frames.concat_tables([old, part], cols)
            else:
                merged = part
            if merged.num_rows == 0 and old is None:
                continue
            self._write_partition(entity, day, _arrow.plain_table(merged))
