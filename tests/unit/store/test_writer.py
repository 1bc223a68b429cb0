"""The writer on hand-built Arrow tables: merges by id, one schema per dataset, detail
replacement, and the pure helpers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sessionkit.store._arrow import conform, empty_table
from sessionkit.store._layout import Layout
from sessionkit.store._writer import Writer, start_range, versions

TS = pa.timestamp("ns", tz="UTC")


def _ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def _sessions(rows: list[tuple[str, str, str]], **extra: list[object]) -> pa.Table:
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
    old = writer.read_partition("sessions", "2026-11-01")
    assert old is not None and old["metadata.tier"].to_pylist() == [None]


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
