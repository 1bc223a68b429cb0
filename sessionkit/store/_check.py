"""What is wrong with a store's files (:func:`check`), and putting it right (:func:`repair`).

:func:`check` reads every partition file whole (verifying its pages' checksums) and the
manifest, and reports (a
:class:`StoreCheck`) what a load or a sync would stumble on or be misled by: files that cannot
be read, a manifest that cannot be read, statistics for a day whose file is gone (or that no
longer describe their file), files the manifest does not know, files of a dataset whose column
types disagree, a session stored under two days, a move a crash interrupted, and files in a
partition the store never reads.

:func:`repair` holds the store's lock and never deletes what it cannot read: such files (and an
unreadable manifest) are moved into ``<store>/quarantine/<UTC time>/``, keeping their paths. It
then rebuilds the manifest from the files that remain — day statistics, the sessions whose
details and logs are stored, agent names — completes unfinished moves, keeps the newest row of
a session stored twice, brings every file of a dataset to one schema, and, when sessions were
moved aside or the manifest was lost, forgets the sync watermarks so the next sync fetches the
history again. What it did is listed in the returned :class:`StoreCheck`, with what (if
anything) is still wrong.

May import: :mod:`._arrow`, :mod:`._files`, :mod:`._layout`, :mod:`._writer`. Imported by the
facade (and re-exported by the package).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import frames
from . import _arrow, _files
from ._layout import ENTITIES, MANIFEST, PART, Layout, check_manifest, empty_manifest
from ._writer import Writer, start_range

QUARANTINE = "quarantine"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: its ``kind`` (``unreadable``, ``manifest``, ``missing
    file``, ``unknown file``, ``stale statistics``, ``schema``, ``duplicate``, ``unfinished
    move``, ``foreign file``), the file it is about (relative to the store; ``None``: the
    store as a whole) and what is wrong, in words."""

    kind: str
    path: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.kind}: {where}{self.detail}"


@dataclass
class StoreCheck:
    """What :meth:`Store.check` found (``problems``), or what :meth:`Store.repair` did
    (``actions``) and what is still wrong after it (``problems``). ``ok`` is ``True`` when
    nothing is wrong; ``str()`` (and the repr) is the report a person reads."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    sessions: int = 0
    days: int = 0
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """Whether the store has no problem (left)."""
        return not self.problems

    def __str__(self) -> str:
        lines: list[str] = []
        if self.repaired:
            done = "nothing to repair" if not self.actions else "repaired"
            lines.append(f"store {self.path}: {done}")
            lines += [f"  {a}" for a in self.actions]
        if self.ok:
            lines.append(
                f"store {self.path}: healthy ({self.sessions:,} sessions in {self.days:,} "
                f"day partition(s); every file readable)"
            )
            return "\n".join(lines)
        count = len(self.problems)
        left = " left" if self.repaired else ""
        lines.append(f"store {self.path}: {count} problem{'s' if count != 1 else ''}{left}")
        lines += [f"  {p}" for p in self.problems]
        if not self.repaired:
            lines.append(
                f"Repair with `sessionkit store check --repair --store {self.path}` (or "
                "Store(path).repair()): what cannot be read is moved into "
                f"{self.path / QUARANTINE}, never deleted; the manifest is rebuilt from the "
                "files, and the next sync fetches what was lost."
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


# --------------------------------------------------------------------------- reading


@dataclass
class _Scan:
    """What one pass over a store's files found."""

    manifest: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    #: (entity, day) → the file's table (only the columns the checks need)
    tables: dict[tuple[str, str], pa.Table] = field(default_factory=dict)
    footers: dict[tuple[str, str], pa.Schema] = field(default_factory=dict)
    unreadable: list[Path] = field(default_factory=list)
    manifest_unreadable: bool = False


_NEEDED = {
    "sessions": ["id", "created_at", "updated_at", "start_time", "agent", "agent_id"],
}


def _relative(layout: Layout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.path))
    except ValueError:
        return str(path)


def _partition_dirs(layout: Layout, entity: str) -> Iterator[tuple[str, Path]]:
    base = layout.dataset_path(entity)
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(f"{_arrow.DAY}=") and (base / name).is_dir():
            yield name[len(_arrow.DAY) + 1 :], base / name


def _scan(layout: Layout) -> _Scan:
    found = _Scan()
    path = layout.path / MANIFEST
    try:
        data = _files.read_json(path, layout.path)
        found.manifest = check_manifest(data, path, layout.path) if data is not None else None
    except _files.StoreCorruptError as exc:
        found.manifest_unreadable = True
        found.problems.append(Problem("manifest", MANIFEST, f"cannot be read: {exc.reason}"))
    for entity in ENTITIES:
        for day, directory in _partition_dirs(layout, entity):
            for name in sorted(os.listdir(directory)):
                file = directory / name
                if name != PART:
                    if not _files.is_tmp(name):
                        found.problems.append(
                            Problem(
                                "foreign file",
                                _relative(layout, file),
                                f"not written by sessionkit ({PART} is the one file of a "
                                "partition the store reads); its rows are not in loads",
                            )
                        )
                    continue
                try:
                    table = pq.read_table(file, page_checksum_verification=True)
                except _files.UNREADABLE as exc:
                    found.unreadable.append(file)
                    found.problems.append(
                        Problem(
                            "unreadable", _relative(layout, file), _short(_files.damage(str(exc)))
                        )
                    )
                    continue
                found.footers[(entity, day)] = table.schema
                wanted = _NEEDED.get(entity, ["session_id"])
                found.tables[(entity, day)] = _arrow.plain_table(
                    table.select([c for c in wanted if c in table.column_names])
                )
    return found


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _day_stats(layout: Layout, day: str, table: pa.Table) -> dict[str, Any]:
    low, high = start_range(table)
    return {
        "rows": table.num_rows,
        "min_start": low,
        "max_start": high,
        "file": layout.file_key("sessions", day),
    }


def _duplicates(found: _Scan) -> dict[str, list[tuple[str, int | None]]]:
    """Session ids stored under more than one day: id → [(day, updated_at ns)]."""
    parts = [
        (day, table)
        for (entity, day), table in found.tables.items()
        if entity == "sessions" and table.num_rows
    ]
    if not parts:
        return {}
    ids = pa.chunked_array([t["id"] for _, t in parts], pa.string())
    counts = pc.value_counts(ids)
    twice = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if not len(twice):
        return {}
    out: dict[str, list[tuple[str, int | None]]] = {}
    for day, table in parts:
        hit = table.filter(pc.is_in(table["id"], value_set=twice))
        stamps = hit["updated_at"].cast(pa.int64()).to_pylist()
        for sid, stamp in zip(hit["id"].to_pylist(), stamps, strict=True):
            out.setdefault(sid, []).append((day, stamp))
    return {sid: days for sid, days in out.items() if len({d for d, _ in days}) > 1}


def _problems(layout: Layout, found: _Scan) -> list[Problem]:
    """Every problem of a scanned store (the unreadable files and manifest are already in)."""
    problems = list(found.problems)
    manifest = found.manifest
    session_days = sorted(d for (e, d) in found.tables if e == "sessions")
    if manifest is None and not found.manifest_unreadable and (found.tables or found.unreadable):
        problems.insert(
            0,
            Problem(
                "manifest",
                MANIFEST,
                "missing: the partition files have no manifest (loads work; a repair rebuilds "
                "it, and the next sync fetches the history again)",
            ),
        )
    if manifest is not None:
        stats: dict[str, Any] = manifest["stats"].get("sessions", {})
        for day in sorted(stats):
            if not layout.file("sessions", day).exists():
                problems.append(
                    Problem(
                        "missing file",
                        _relative(layout, layout.file("sessions", day)),
                        "the manifest has statistics for this day, but the file is gone",
                    )
                )
        for day in session_days:
            recorded = stats.get(day)
            if recorded is None:
                problems.append(
                    Problem(
                        "unknown file",
                        _relative(layout, layout.file("sessions", day)),
                        "the manifest does not know this day (loads read it; its statistics "
                        "are rebuilt by a repair)",
                    )
                )
                continue
            actual = _day_stats(layout, day, found.tables[("sessions", day)])
            differs = [
                k for k in ("rows", "min_start", "max_start") if recorded.get(k) != actual[k]
            ]
            if recorded.get("file") != actual["file"]:
                differs.append("file size and time")
            if differs:
                problems.append(
                    Problem(
                        "stale statistics",
                        _relative(layout, layout.file("sessions", day)),
                        f"the manifest's {', '.join(differs)} no longer describe the file "
                        "(loads check the file itself; a repair records them again)",
                    )
                )
        if manifest.get("moves"):
            problems.append(
                Problem(
                    "unfinished move",
                    MANIFEST,
                    f"{len(manifest['moves']):,} session(s) whose day changed were not "
                    "completely moved (the next sync or a repair completes it)",
                )
            )
    for entity in ENTITIES:
        footers = {d: f for (e, d), f in found.footers.items() if e == entity}
        if len(footers) < 2:
            continue
        unified = frames.unify_schemas(list(footers.values()))
        for day, footer in sorted(footers.items()):
            if not footer.equals(unified):
                problems.append(
                    Problem(
                        "schema",
                        _relative(layout, layout.file(entity, day)),
                        f"its columns differ from the other {entity} files' (an interrupted "
                        "sync; the next sync or a repair gives every file one schema)",
                    )
                )
    for sid, where in sorted(_duplicates(found).items()):
        days = ", ".join(sorted({d for d, _ in where}))
        problems.append(
            Problem(
                "duplicate",
                None,
                f"session {sid} is stored under {len(where)} days ({days}; a repair keeps the "
                "newest)",
            )
        )
    return problems


def check(layout: Layout) -> StoreCheck:
    """What is wrong with the store at ``layout`` (reads every file whole; changes nothing)."""
    found = _scan(layout)
    report = StoreCheck(layout.path, _problems(layout, found))
    sessions = [t for (e, _), t in found.tables.items() if e == "sessions"]
    report.sessions = sum(t.num_rows for t in sessions)
    report.days = len(sessions)
    return report


# --------------------------------------------------------------------------- repairing


def _quarantine(layout: Layout, files: list[Path], stamp: str) -> Path:
    """Move ``files`` (under the store) into ``quarantine/<stamp>/``, keeping their relative
    paths; returns that directory."""
    target = layout.path / QUARANTINE / stamp
    for file in files:
        dest = target / file.relative_to(layout.path)
        _files.ensure_dir(dest.parent)
        os.replace(file, dest)
        _files.fsync_dir(dest.parent)
        _files.fsync_dir(file.parent)
        if file.parent != layout.path and not any(file.parent.iterdir()):
            file.parent.rmdir()
    return target


def _agent_names(found: _Scan) -> dict[str, str]:
    names: dict[str, str] = {}
    for (entity, _), table in found.tables.items():
        if entity != "sessions" or not {"agent", "agent_id"} <= set(table.column_names):
            continue
        pairs = table.select(["agent_id", "agent"]).filter(
            pc.and_(pc.is_valid(table["agent_id"]), pc.is_valid(table["agent"]))
        )
        for agent_id, name in zip(
            pairs["agent_id"].to_pylist(), pairs["agent"].to_pylist(), strict=True
        ):
            names.setdefault(str(agent_id), str(name))
    return names


def _ids_in(found: _Scan, entities: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for (entity, _), table in found.tables.items():
        if entity in entities and "session_id" in table.column_names:
            out.update(v for v in pc.unique(table["session_id"]).to_pylist() if v is not None)
    return out


def repair(layout: Layout, writer: Writer) -> StoreCheck:
    """Put right what :func:`check` finds (see the module docstring); returns what was done
    and a check of the store after it. Holds the store's lock (raises
    :class:`~._files.StoreLockedError` when a sync holds it)."""
    actions: list[str] = []
    with layout.locked():
        layout.remove_stale_tmp()
        found = _scan(layout)
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H-%M-%S.%fZ")
        lost_sessions = any(p.parent.parent.name == "sessions" for p in found.unreadable)
        moved = list(found.unreadable)
        if found.manifest_unreadable:
            moved.append(layout.path / MANIFEST)
        if moved:
            where = _quarantine(layout, moved, stamp)
            shown = ", ".join(_relative(layout, p) for p in moved[:5])
            more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
            actions.append(
                f"moved {len(moved)} file(s) that cannot be read into {where} (nothing "
                f"deleted): {shown}{more}"
            )
        lost_details = {
            (p.parent.parent.name, p.parent.name[len(_arrow.DAY) + 1 :])
            for p in found.unreadable
            if p.parent.parent.name != "sessions"
        }
        manifest = found.manifest if found.manifest is not None else empty_manifest()
        rebuilt = found.manifest_unreadable or found.manifest is None
        stored: set[str] = set()
        for (entity, _), table in found.tables.items():
            if entity == "sessions":
                stored.update(v for v in table["id"].to_pylist() if v is not None)
        if rebuilt:
            manifest["details"] = sorted(_ids_in(found, ("eval_runs", "spans", "agents")))
            manifest["logs"] = sorted(_ids_in(found, ("logs",)))
            manifest["agent_names"] = _agent_names(found)
            if found.tables:
                actions.append(
                    "rebuilt the manifest from the partition files (sessions whose details or "
                    "logs have rows count as synced; agent names from the stored sessions)"
                )
        # sessions whose detail (or log) rows were moved aside: fetch them again
        for entity, day in sorted(lost_details):
            sessions = found.tables.get(("sessions", day))
            ids = set(sessions["id"].to_pylist()) if sessions is not None else set()
            key = "logs" if entity == "logs" else "details"
            before = len(manifest[key])
            manifest[key] = [i for i in manifest[key] if i not in ids]
            if len(manifest[key]) < before:
                actions.append(
                    f"{before - len(manifest[key]):,} session(s) of {day} lose their "
                    f"recorded {key} (their {entity} file was moved aside): "
                    f"sync(details=..., logs=...) fetches them again"
                )
        for key in ("details", "logs"):
            manifest[key] = [i for i in manifest[key] if i in stored]
        stats = {
            day: _day_stats(layout, day, table)
            for (entity, day), table in sorted(found.tables.items())
            if entity == "sessions"
        }
        if stats != manifest["stats"].get("sessions") and not found.manifest_unreadable:
            actions.append(f"recorded the statistics of {len(stats):,} day partition(s) again")
        manifest["stats"]["sessions"] = stats
        if (lost_sessions or found.manifest_unreadable) and manifest["scopes"]:
            manifest["scopes"] = {}
            actions.append(
                "forgot the sync watermarks: the next sync fetches the history again and "
                "stores what was lost (give it the since= of your first sync)"
            )
        elif rebuilt and found.tables:
            actions.append("the next sync fetches the history again (no watermark is left)")
        layout.save_manifest(manifest)
        # moves, duplicates and schemas, with the writer's own rules
        moves = len(manifest.get("moves") or {})
        duplicates = _duplicates(found)
        for sid, held in duplicates.items():
            best = max(held, key=lambda pair: (pair[1] is not None, pair[1] or 0, pair[0]))
            manifest["moves"][sid] = {
                "from": sorted({d for d, _ in held if d != best[0]}),
                "to": best[0],
            }
        writer.finish_moves(manifest)
        if moves:
            actions.append(f"completed {moves:,} unfinished move(s) of sessions whose day changed")
        if duplicates:
            actions.append(
                f"kept the newest row of {len(duplicates):,} session(s) stored under two days "
                "(their detail rows follow it)"
            )
        rewritten = writer.settle_all(manifest)
        if rewritten:
            actions.append(f"gave {len(rewritten):,} file(s) their dataset's one schema")
        layout.save_manifest(manifest)
    after = check(layout)
    after.actions = actions
    after.repaired = True
    return after


__all__ = ["QUARANTINE", "Problem", "StoreCheck", "check", "repair"]
