"""The writer on hand-built Arrow tables: merges by id, one schema per dataset, detail
replacement, and the pure helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sessionkit.store import _files
from sessionkit.store._arrow import VALUED, conform, empty_table, read_columns
from sessionkit.store._layout import Layout
from sessionkit.store._writer import Writer, start_range, versions

TS = pa.timestamp("ns", tz="UTC")


def _ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def _sessions(rows: list[tuple[str, str, str]], **extra: list[Any]) -> pa.Table:
    """Sessions ``(id, created_at, updated_at)``, started when created, other columns null."""
    base = pa.table(
        {
            "id": [r[0] for r in rows],
            "created_at": pa.array([_ns(r[1]) for r in rows], TS),
            "updated_at": pa.array([_ns(r[2]) for r in rows], TS),
            "start_time": pa.array([_ns(r[1]) for r in rows], TS),
        }
    )
    table = conform(base, empty_table("sessions").schema)
    for name, values in extra.items():
        table = table.append_column(name, pa.array(values))
    return table


def _writer(tmp_path: Path) -> tuple[Layout, Writer]:
    layout = Layout(tmp_path / "s")
    return layout, Writer(layout)


def test_upsert_counts_and_keeps_the_newest_version_per_day(tmp_path: Path) -> None:
    layout, writer = _writer(tmp_path)
    manifest = layout.manifest_copy()
    first = _sessions(
        [
            ("a", "2026-11-01T01:00", "2026-11-01T02:00"),
            ("b", "2026-11-02T01:00", "2026-11-02T02:00"),
        ]
    )
    with writer.locked():
        assert writer.upsert_sessions(manifest, first) == (2, 0, 0)
        again = _sessions(
            [
                ("a", "2026-11-01T01:00", "2026-11-01T05:00"),  # newer
                ("b", "2026-11-02T01:00", "2026-11-02T02:00"),  # same
                ("c", "2026-11-01T03:00", "2026-11-01T03:00"),  # new
                ("c", "2026-11-01T03:00", "2026-11-01T03:30"),  # read twice: latest wins
            ]
        )
        assert writer.upsert_sessions(manifest, again) == (1, 1, 1)
    assert layout.days() == ["2026-11-01", "2026-11-02"]
    day1 = writer.read_partition("sessions", "2026-11-01")
    assert day1 is not None
    assert day1["id"].to_pylist() == ["c", "a"]  # the stored order: created_at descending
    assert day1["updated_at"].cast(pa.int64()).to_pylist() == [
        _ns("2026-11-01T03:30"),
        _ns("2026-11-01T05:00"),
    ]
    stats = manifest["stats"]["sessions"]["2026-11-01"]
    assert stats == {
        "rows": 2,
        "min_start": _ns("2026-11-01T01:00"),
        "max_start": _ns("2026-11-01T03:00"),
        "file": layout.file_key("sessions", "2026-11-01"),  # what the statistics describe
    }


def test_a_new_column_reaches_every_file_of_the_dataset(tmp_path: Path) -> None:
    layout, writer = _writer(tmp_path)
    manifest = layout.manifest_copy()
    with writer.locked():
        writer.upsert_sessions(manifest, _sessions([("a", "2026-11-01", "2026-11-01")]))
        later = _sessions([("b", "2026-11-02", "2026-11-02")], **{"metadata.tier": [3]})
        writer.upsert_sessions(manifest, later)
    schemas = [pq.read_schema(layout.file("sessions", d)) for d in layout.days()]
    assert all("metadata.tier" in s.names for s in schemas)
    assert schemas[0].equals(schemas[1])
    old = pq.read_table(layout.file("sessions", "2026-11-01"))
    assert old["metadata.tier"].to_pylist() == [None]
    # the writer's own reads skip what a file holds no value in (a write conforms again)
    read = writer.read_partition("sessions", "2026-11-01")
    assert read is not None and "metadata.tier" not in read.column_names


def test_replace_details_replaces_only_the_given_sessions_rows(tmp_path: Path) -> None:
    layout, writer = _writer(tmp_path)
    schema = empty_table("agents").schema

    def agents(pairs: list[tuple[str, str]]) -> pa.Table:
        base = pa.table({"session_id": [p[0] for p in pairs], "name": [p[1] for p in pairs]})
        return conform(base, schema)

    day = "2026-11-01"
    with writer.locked():
        writer.replace_details("agents", agents([("s1", "x"), ("s2", "y")]), {"s1": day, "s2": day})
        writer.replace_details("agents", agents([("s1", "z"), ("s1", "w")]), {"s1": day})
        writer.replace_details("agents", agents([]), {"s3": "2026-11-02"})  # nothing to write
    stored = writer.read_partition("agents", day)
    assert stored is not None
    assert sorted(
        zip(stored["session_id"].to_pylist(), stored["name"].to_pylist(), strict=True)
    ) == [
        ("s1", "w"),
        ("s1", "z"),
        ("s2", "y"),
    ]
    assert layout.days("agents") == [day]


def test_versions_and_start_range() -> None:
    table = _sessions(
        [
            ("a", "2026-11-01T01:00", "2026-11-01T02:00"),
            ("b", "2026-11-01T00:00", "2026-11-01T04:00"),
        ]
    )
    ids, stamps = versions(table)
    assert ids.to_pylist() == ["a", "b"]
    assert stamps.to_pylist() == [_ns("2026-11-01T02:00"), _ns("2026-11-01T04:00")]
    assert start_range(table) == (_ns("2026-11-01T00:00"), _ns("2026-11-01T01:00"))
    assert start_range(table.slice(0, 0)) == (None, None)


def test_columns_added_batch_after_batch_rewrite_each_file_once_not_once_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync whose every batch brings a new metadata key and a new day (a project with
    thousands of keys) rewrote every stored file in every batch: the writes grew with batches
    x files (quadratic; #15 item 16). The other files now get the new schema once, when the
    locked section ends."""
    layout, writer = _writer(tmp_path)
    written: list[str] = []
    real = _files.write_atomic

    def counting(path: Path, write: Any) -> None:
        written.append(path.parent.name)
        real(path, write)

    monkeypatch.setattr(_files, "write_atomic", counting)
    batches = 8
    manifest = layout.manifest_copy()
    with writer.locked():
        for i in range(batches):
            day = f"2026-11-{i + 1:02d}"
            batch = _sessions([(f"s{i}", day, day)], **{f"metadata.k{i}": [i]})
            writer.upsert_sessions(manifest, batch)
    assert len(written) <= 2 * batches  # each day written once, then settled once at most
    footers = [pq.read_schema(layout.file("sessions", d)) for d in layout.days()]
    assert len(footers) == batches and all(f.equals(footers[0]) for f in footers)
    assert {f"metadata.k{i}" for i in range(batches)} <= set(footers[0].names)


def test_a_file_lists_the_columns_it_holds_a_value_in(tmp_path: Path) -> None:
    """Reads skip the columns a file holds no value in (most of a wide dataset's)."""
    layout, writer = _writer(tmp_path)
    manifest = layout.manifest_copy()
    with writer.locked():
        writer.upsert_sessions(manifest, _sessions([("a", "2026-11-01", "2026-11-01")]))
        writer.upsert_sessions(
            manifest, _sessions([("b", "2026-11-02", "2026-11-02")], **{"metadata.x": [1]})
        )
    first = pq.read_schema(layout.file("sessions", "2026-11-01"))
    listed = orjson.loads(first.metadata[VALUED])
    assert "metadata.x" in first.names and "metadata.x" not in listed
    assert {"id", "created_at", "updated_at", "start_time"} <= set(listed)
    assert read_columns(first, "sessions") is not None
    assert "metadata.x" not in (read_columns(first, "sessions") or [])
    second = pq.read_schema(layout.file("sessions", "2026-11-02"))
    assert "metadata.x" in orjson.loads(second.metadata[VALUED])


def test_a_move_a_crash_interrupted_is_completed_by_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move is recorded in the manifest before the new row is written; killed between the
    write and the old row's removal, the store holds the session twice until the next locked
    section, which completes the move (details first, then the old row)."""
    layout, writer = _writer(tmp_path)
    agents = empty_table("agents").schema
    with writer.locked():
        manifest = layout.manifest_copy()
        writer.upsert_sessions(
            manifest,
            _sessions(
                [("a", "2026-11-01T01:00", "2026-11-01T01:00"), ("b", "2026-11-01", "2026-11-01")]
            ),
        )
        detail = conform(pa.table({"session_id": ["a"], "name": ["alpha"]}), agents)
        writer.replace_details("agents", detail, {"a": "2026-11-01"})
        layout.save_manifest(manifest)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Writer, "finish_moves", crash)
    moved = _sessions([("a", "2026-11-09T01:00", "2026-11-09T02:00")])
    with pytest.raises(KeyboardInterrupt), writer.locked():
        writer.upsert_sessions(layout.manifest_copy(), moved)
    assert layout.manifest()["moves"] == {"a": {"from": ["2026-11-01"], "to": "2026-11-09"}}
    ids = [pq.read_table(layout.file("sessions", d))["id"].to_pylist() for d in layout.days()]
    assert ids == [["a", "b"], ["a"]]  # twice, for now
    monkeypatch.undo()
    with Writer(layout).locked():
        pass
    ids = [pq.read_table(layout.file("sessions", d))["id"].to_pylist() for d in layout.days()]
    assert ids == [["b"], ["a"]]
    assert layout.days("agents") == ["2026-11-09"]
    assert pq.read_table(layout.file("agents", "2026-11-09"))["name"].to_pylist() == ["alpha"]
    assert layout.manifest()["moves"] == {}
    assert layout.manifest()["stats"]["sessions"]["2026-11-01"]["rows"] == 1


def test_a_moved_session_older_than_the_stored_one_stays_where_it_is(tmp_path: Path) -> None:
    layout, writer = _writer(tmp_path)
    manifest = layout.manifest_copy()
    with writer.locked():
        writer.upsert_sessions(manifest, _sessions([("a", "2026-11-01", "2026-11-05")]))
        stale = _sessions([("a", "2026-11-09", "2026-11-02")])  # an older version, elsewhere
        assert writer.upsert_sessions(manifest, stale) == (0, 0, 1)
    assert layout.days() == ["2026-11-01"]


def test_statistics_recorded_without_a_file_key_adopt_it_where_the_footer_agrees(
    tmp_path: Path,
) -> None:
    """Stores written before the keys: a sync records them (loads then skip the footers)."""
    layout, writer = _writer(tmp_path)
    manifest = layout.manifest_copy()
    with writer.locked():
        writer.upsert_sessions(
            manifest,
            _sessions(
                [("a", "2026-11-01T01:00", "2026-11-01T01:00"), ("b", "2026-11-02", "2026-11-02")]
            ),
        )
        stats = manifest["stats"]["sessions"]
        for day in stats:
            del stats[day]["file"]
        stats["2026-11-02"]["rows"] = 5  # these do not describe their file: left as they are
        writer.settle(manifest)
    assert stats["2026-11-01"]["file"] == layout.file_key("sessions", "2026-11-01")
    assert "file" not in stats["2026-11-02"]
    assert layout.footer_stats("2026-11-01") == {
        "rows": 1,
        "min_start": _ns("2026-11-01T01:00"),
        "max_start": _ns("2026-11-01T01:00"),
    }
