"""Writing a store: merging sessions into their day partitions, replacing a session's detail
rows, moving a session whose ``created_at`` changed day, and keeping every partition file of a
dataset at one schema.

A session (and its eval runs, spans, agents and logs) lives in the day partition of its
``created_at``. Sessions merge by ``id`` (the newest ``updated_at`` wins; only days with new or
newer rows are rewritten); detail rows are replaced per session. A session read again with a
``created_at`` on another day is *moved*: its new version is written into the new day, its
detail rows follow it, and its old row is removed, so it is never stored twice (the intent is
recorded in the manifest first, and :meth:`Writer.finish_moves` completes a move a crash
interrupted).

Every write goes through :func:`._files.write_atomic`, with a CRC of every Parquet page (the
store's reads verify them: a flipped bit is an error, never a changed value). A dataset that
gains a column (or whose column type drifts) gets one schema for all its files, so readers
that take the first file's schema (Polars, Dask, Spark without mergeSchema) see every column:
the widest type that keeps every value (Arrow's promotion where it is exact, else text —
:func:`._arrow.settled_schema`), brought to every file once per locked section
(:meth:`Writer.settle`), not once per batch, so a sync adding columns in every batch stays
linear in the columns.

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

from .. import frames
from . import _arrow, _files
from ._layout import DETAIL_ENTITIES, ENTITIES, STORED_ORDER, Layout

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


def _ids(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


class Writer:
    """Writes the partition files of the store at ``layout``; call its writing methods inside
    :meth:`locked`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._schemas: dict[str, pa.Schema] = {}  # per locked section: see _target_schema
        #: datasets whose files may not all have their target schema yet (see settle)
        self._unsettled: set[str] = set()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock for the block (see :meth:`Layout.locked`). On entry a move a
        crash interrupted is completed (:meth:`finish_moves`); on a normal exit every dataset
        is brought to one schema (:meth:`settle`). The dataset schemas are read afresh from
        the files' footers in each locked section."""
        with self.layout.locked():
            self._schemas = {}
            self._unsettled = set()
            try:
                if self.layout.manifest()["moves"]:
                    manifest = self.layout.manifest_copy()
                    self.finish_moves(manifest)
                    self.settle(manifest)
                    self.layout.save_manifest(manifest)
                yield
                self.settle()
            finally:
                self._schemas = {}
                self._unsettled = set()

    # ------------------------------------------------------------------ files

    def read_partition(
        self, entity: str, day: str, columns: Sequence[str] | None = None
    ) -> pa.Table | None:
        """The whole file of one partition (``columns`` only, if given) with plain Arrow types;
        ``None`` when the partition has no file. Columns the file holds no value in are not
        read (a write conforms the table to the dataset's schema again). Page checksums are
        verified (a damaged page is never rewritten into a new file). A file that cannot
        be read raises
        :class:`~._files.StoreCorruptError` naming it (nothing is written over it)."""
        path = self.layout.file(entity, day)
        try:
            file = pq.ParquetFile(path, page_checksum_verification=True)
            wanted = _arrow.read_columns(file.schema_arrow, entity)  # skip columns empty here
            if columns:
                wanted = list(columns) if wanted is None else [c for c in columns if c in wanted]
            table = file.read(columns=wanted)
        except FileNotFoundError:
            return None
        except _files.UNREADABLE as exc:
            raise _files.StoreCorruptError(path, self.layout.path, str(exc)) from None
        return _arrow.plain_table(table)

    def _footer(self, entity: str, day: str) -> pa.Schema:
        path = self.layout.file(entity, day)
        try:
            return pq.read_schema(path)
        except _files.UNREADABLE as exc:
            raise _files.StoreCorruptError(path, self.layout.path, str(exc)) from None

    def _write_partition(self, entity: str, day: str, table: pa.Table) -> None:
        """Write one partition file at the dataset's schema (:meth:`_target_schema`), widened
        as this table needs; the other files get a changed schema in :meth:`settle`."""
        current = self._target_schema(entity)
        target = _arrow.settled_schema([table], base=current)
        if current is not None and not target.equals(current):
            self._unsettled.add(entity)
        self._schemas[entity] = target
        self._write_file(entity, day, _arrow.conform(table, target))

    def _write_file(self, entity: str, day: str, table: pa.Table) -> None:
        _files.ensure_dir(self.layout.dataset_path(entity))
        _files.write_atomic(
            self.layout.file(entity, day),
            lambda fh: pq.write_table(
                _arrow.with_valued(table), fh, compression="snappy", write_page_checksum=True
            ),
        )

    def _target_schema(self, entity: str) -> pa.Schema | None:
        """The schema every partition file of ``entity`` gets (``None``: no file yet): the
        union of the files' footers, read once per locked section. Files left behind with
        another schema (an interrupted sync) are brought to it by :meth:`settle`."""
        if entity not in self._schemas:
            footers = [self._footer(entity, d) for d in self.layout.days(entity)]
            if not footers:
                return None
            target = frames.unify_schemas(footers)
            if any(not f.equals(target) for f in footers):
                self._unsettled.add(entity)
            self._schemas[entity] = target
        return self._schemas[entity]

    def settle(self, manifest: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """Bring every file of the datasets whose schema changed in this locked section to
        their one schema, widened where a file's values need it (an integer beyond 2**53 in
        a column that became float makes it text). Returns the files rewritten (entity,
        day); the file keys of rewritten sessions days in ``manifest``'s statistics are
        updated when it is given."""
        rewritten: list[tuple[str, str]] = []
        for entity in sorted(self._unsettled):
            target = self._schemas[entity]
            footers = {d: self._footer(entity, d) for d in self.layout.days(entity)}
            while True:
                stale = [d for d, footer in footers.items() if not footer.equals(target)]
                if not stale:
                    break
                for day in stale:
                    table = self.read_partition(entity, day)
                    if table is None:
                        footers.pop(day)
                        continue
                    wider = _arrow.widen_lossy(target, [table])
                    if not wider.equals(target):
                        target = wider  # the files already rewritten are stale again
                        continue
                    self._write_file(entity, day, _arrow.conform(table, target))
                    footers[day] = target
                    rewritten.append((entity, day))
            self._schemas[entity] = target
        self._unsettled.clear()
        if manifest is not None:
            stats = manifest["stats"].get("sessions", {})
            for entity, day in rewritten:
                if entity == "sessions" and day in stats:
                    stats[day] = {**stats[day], "file": self.layout.file_key("sessions", day)}
            self._adopt_file_keys(stats)
        return rewritten

    def _adopt_file_keys(self, stats: dict[str, Any]) -> None:
        """Give the day statistics recorded without their file's key (by a sessionkit before
        the keys) the key of their file, where the file's footer agrees with them; loads then
        trust them without reading the footer (see :meth:`Reader.verified_stats`)."""
        for day, recorded in stats.items():
            if not isinstance(recorded, dict) or "file" in recorded:
                continue
            found = self.layout.footer_stats(day)
            if found is not None and all(recorded.get(k) == v for k, v in found.items()):
                recorded["file"] = self.layout.file_key("sessions", day)

    def settle_all(self, manifest: dict[str, Any]) -> list[tuple[str, str]]:
        """:meth:`settle` every dataset whose files' schemas disagree now (a repair, with the
        store's lock held by the caller); returns the files rewritten."""
        self._schemas = {}
        for entity in (*ENTITIES,):
            self._target_schema(entity)
        try:
            return self.settle(manifest)
        finally:
            self._schemas = {}

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

    def _elsewhere(self, ids: pa.Array, cache: Versions) -> dict[str, tuple[list[str], int | None]]:
        """Where ``ids`` (sessions new to the day of their ``created_at``) are stored under
        another day: id → (those days, the newest stored ``updated_at`` in ns). Every day's
        versions are read once per sync (then kept in ``cache``); one hash lookup per batch."""
        days = self.layout.days("sessions")
        if not days:
            return {}
        for day in days:
            self._stored_versions(day, cache)
        names = [d for d in days if len(cache[d][0])]
        if not names:
            return {}
        stored = pa.chunked_array([cache[d][0] for d in names], pa.string())
        hit = pc.is_in(stored, value_set=ids)
        if not pc.any(hit).as_py():
            return {}
        rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        bounds = np.cumsum([len(cache[d][0]) for d in names])
        found: dict[str, tuple[list[str], int | None]] = {}
        for row in rows.tolist():
            at = int(np.searchsorted(bounds, row, side="right"))
            day = names[at]
            i = row - (int(bounds[at - 1]) if at else 0)
            sid, stamp = cache[day][0][i].as_py(), cache[day][1][i].as_py()
            days_of, newest = found.get(sid, ([], None))
            if newest is None or (stamp is not None and stamp > newest):
                newest = stamp
            found[sid] = ([*days_of, day], newest)
        return found

    def _classify(
        self, table: pa.Table, cache: Versions
    ) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
        """Masks ``(new, updated)`` of the rows of a de-duplicated sessions table, and the
        sessions that moved: id → the other days holding an older version of it."""
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
        moved: dict[str, list[str]] = {}
        if new.any():
            candidates = np.flatnonzero(new)
            ids = table["id"].take(pa.array(candidates)).combine_chunks()
            found = self._elsewhere(ids, cache)
            if found:
                incoming = stamps.take(pa.array(candidates)).to_pylist()
                for row, sid, stamp in zip(candidates, ids.to_pylist(), incoming, strict=True):
                    if sid not in found:
                        continue
                    days_of, stored = found[sid]
                    new[row] = False  # stored before, under another day
                    if stamp is not None and (stored is None or stamp > stored):
                        updated[row] = True
                        moved[sid] = days_of
        return new, updated, moved

    def upsert_sessions(
        self,
        manifest: dict[str, Any],
        table: pa.Table,
        cache: Versions | None = None,
        label: Callable[[pa.Table], pa.Table] | None = None,
        seen: Callable[[pa.ChunkedArray, np.ndarray, np.ndarray], None] | None = None,
    ) -> tuple[int, int, int]:
        """Merge sessions into their day partitions; rewrite only days with new/newer rows.
        Returns ``(new, updated, unchanged)`` counted in distinct sessions of ``table`` (a
        session whose newer version moved to another day is updated).

        ``label`` (the sync's agent labelling) is applied to the winning rows only; ``seen``
        gets the distinct ids and their ``(new, updated)`` masks before anything is written.
        ``manifest`` (a working copy) gets the partition statistics; it is saved here only to
        record a move before it is made.
        """
        cache = {} if cache is None else cache
        table = _arrow.latest_by_id(table)
        new, updated, moved = self._classify(table, cache)
        if seen is not None:
            seen(table["id"], new, updated)
        winners = table.filter(pa.array(new | updated))
        if label is not None and winners.num_rows:
            winners = label(winners)
        if winners.num_rows:
            self.write_sessions(manifest, winners, cache, moved)
        return int(new.sum()), int(updated.sum()), int(table.num_rows - new.sum() - updated.sum())

    def write_sessions(
        self,
        manifest: dict[str, Any],
        winners: pa.Table,
        cache: Versions,
        moved: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Write ``winners`` (sessions that replace their stored rows, or are new) into their
        day partitions, updating ``manifest``'s statistics and ``cache``. ``moved`` (id → the
        other days holding an older version) are moved: recorded in the manifest's ``moves``
        (saved) first, then their details follow and their old rows go (:meth:`finish_moves`)."""
        days = _arrow.day_strings(winners["created_at"])
        if moved:
            new_day = dict(zip(winners["id"].to_pylist(), days.to_pylist(), strict=True))
            moves: dict[str, Any] = manifest.setdefault("moves", {})
            for sid, old_days in moved.items():
                moves[sid] = {"from": sorted(set(old_days)), "to": new_day[sid]}
            self.layout.save_manifest(manifest)
        for day in pc.unique(days).to_pylist():
            part = winners.filter(pc.equal(days, day))
            old = self.read_partition("sessions", day)
            if old is not None:
                old = old.filter(pc.invert(pc.is_in(old["id"], value_set=part["id"])))
                part = _arrow.stack([old, part])
            self._write_sessions_day(manifest, day, part, cache)
        if moved:
            self.finish_moves(manifest, cache)

    def _write_sessions_day(
        self, manifest: dict[str, Any], day: str, rows: pa.Table, cache: Versions | None
    ) -> None:
        """Write ``rows`` as the whole sessions partition ``day`` (in the stored order), or
        remove the partition when there are none; records its statistics (with the file's
        key) in ``manifest``."""
        stats: dict[str, Any] = manifest["stats"].setdefault("sessions", {})
        if rows.num_rows == 0:
            self.layout.remove_partition("sessions", day)
            stats.pop(day, None)
        else:
            rows = _arrow.plain_table(rows).sort_by(STORED_ORDER)
            self._write_partition("sessions", day, rows)
            low, high = start_range(rows)
            stats[day] = {
                "rows": rows.num_rows,
                "min_start": low,
                "max_start": high,
                "file": self.layout.file_key("sessions", day),
            }
        if cache is not None:
            cache[day] = versions(rows) if rows.num_rows else versions(rows.slice(0, 0))

    def finish_moves(self, manifest: dict[str, Any], cache: Versions | None = None) -> None:
        """Complete the moves recorded in ``manifest["moves"]`` (id → ``{"from": days, "to":
        day}``) and clear them: each detail dataset's rows of a moved session go from its old
        days to the new one, then the old session rows are removed — only where the new day
        holds the session (the only copy is never removed). Idempotent: a move a crash
        interrupted is completed by the next locked section."""
        moves: dict[str, Any] = manifest.get("moves") or {}
        if not moves:
            return
        by_old: dict[str, list[str]] = {}
        for sid, move in moves.items():
            for old_day in move["from"]:
                if old_day != move["to"]:
                    by_old.setdefault(old_day, []).append(sid)
        to = {sid: str(move["to"]) for sid, move in moves.items()}
        for entity in (*DETAIL_ENTITIES, "logs"):
            for old_day, ids in sorted(by_old.items()):
                old = self.read_partition(entity, old_day)
                if old is None:
                    continue
                leaving = pc.is_in(old["session_id"], value_set=_ids(ids))
                if not pc.any(leaving).as_py():
                    continue  # moved already (or none): the new day's rows are the ones
                rows = old.filter(leaving)
                present = set(rows["session_id"].to_pylist())
                for new_day in sorted({to[s] for s in present}):
                    held = self.read_partition(entity, new_day, ["session_id"])
                    there = set() if held is None else set(held["session_id"].to_pylist())
                    # a session with rows in the new day already keeps them (copied there by
                    # an interrupted move, or its newer details)
                    going = [s for s in ids if s in present and to[s] == new_day and s not in there]
                    if going:
                        self.replace_details(
                            entity,
                            rows.filter(pc.is_in(rows["session_id"], value_set=_ids(going))),
                            dict.fromkeys(going, new_day),
                        )
                rest = old.filter(pc.invert(leaving))
                if rest.num_rows:
                    self._write_partition(entity, old_day, rest)
                else:
                    self.layout.remove_partition(entity, old_day)
        for old_day, ids in sorted(by_old.items()):
            old = self.read_partition("sessions", old_day)
            if old is None:
                continue
            present = set()
            for new_day in {to[s] for s in ids}:
                held = self.read_partition("sessions", new_day, ["id"])
                if held is not None:
                    present |= set(
                        held["id"].filter(pc.is_in(held["id"], value_set=_ids(ids))).to_pylist()
                    )
            gone = [s for s in ids if s in present]
            if gone:
                keep = old.filter(pc.invert(pc.is_in(old["id"], value_set=_ids(gone))))
                self._write_sessions_day(manifest, old_day, keep, cache)
        manifest["moves"] = {}

    # ------------------------------------------------------------------ details

    def replace_details(self, entity: str, table: pa.Table, days: Mapping[str, str]) -> None:
        """Replace every row of the sessions in ``days`` (id → day) with the rows of ``table``
        (a session of ``days`` with no row in ``table`` is left with none)."""
        by_day: dict[str, list[str]] = {}
        for sid, day in days.items():
            by_day.setdefault(day, []).append(sid)
        for day, ids in by_day.items():
            part = table.filter(pc.is_in(table["session_id"], value_set=_ids(ids)))
            old = self.read_partition(entity, day)
            if old is not None:
                old = old.filter(pc.invert(pc.is_in(old["session_id"], value_set=_ids(ids))))
                merged = _arrow.stack([old, part])
            else:
                merged = part
            if merged.num_rows == 0 and old is None:
                continue
            self._write_partition(entity, day, _arrow.plain_table(merged))
