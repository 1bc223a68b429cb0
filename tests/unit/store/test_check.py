"""Damaged stores (#15 item 23): every read and write names the damaged file and the fix
(:class:`StoreCorruptError`, never a raw pyarrow or orjson error); :meth:`Store.check` reports
what is wrong, :meth:`Store.repair` moves what cannot be read aside (never deletes it) and
rebuilds the manifest. Stores built locally with ``upsert`` (no server)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sessionkit as sk
from sessionkit.errors import SessionKitError
from sessionkit.store import Store, StoreCheck, StoreCorruptError
from sessionkit.store._arrow import frame_to_table
from sessionkit.store._layout import Layout
from tests.servers import session


def _store(tmp_path: Path, n: int = 12) -> Store:
    """``n`` sessions over days 2026-11-02 .. (``tests.servers.session``), each with one agent."""
    store = Store(tmp_path / "store")
    records = [session(i) for i in range(1, n + 1)]
    store.upsert("sessions", sk.sessions_frame(records))
    agents = sk.frames.agents_frame(
        [(r["id"], {"name": "alpha", "identifier": r["agent_ids"][1]}) for r in records]
    )
    store.upsert("agents", agents)
    return store


def _truncate(path: Path) -> bytes:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path.read_bytes()


def _flip(path: Path) -> bytes:
    """Flip one bit in the middle of the file's largest column chunk: inside a data page,
    its header and the footer intact (without a page checksum it reads as another value)."""
    meta = pq.read_metadata(path).row_group(0)
    chunk = max(
        (meta.column(i) for i in range(meta.num_columns)), key=lambda c: c.total_compressed_size
    )
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + chunk.total_compressed_size - 2] ^= 0x01  # the last page's payload
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_healthy_store_checks_clean(tmp_path: Path) -> None:
    store = _store(tmp_path)
    report = store.check()
    assert isinstance(report, StoreCheck) and report.ok
    assert str(report) == (
        f"store {store.path}: healthy (12 sessions in 12 day partition(s); every file readable)"
    )
    assert repr(report) == str(report)


@pytest.mark.parametrize("damage", [_truncate, _flip])
def test_every_read_and_write_names_the_damaged_file_and_the_fix(tmp_path: Path, damage: object) -> None:  # fmt: skip
    store = _store(tmp_path)
    path = store.files()[4]
    damage(path)  # type: ignore[operator]
    calls = {
        "store.load_sessions()": lambda: store.load_sessions(),
        "store.load_sessions(since=...)": lambda: store.load_sessions(since="2026-11-04"),
        "store.upsert()": lambda: store.upsert(
            "sessions", sk.sessions_frame([session(5, updated_at="2026-12-01T00:00:00Z")])
        ),
    }
    if damage is _truncate:  # DuckDB reads no page checksum: a flipped bit is check's to find
        calls["store.sql()"] = lambda: store.sql("SELECT sum(total_cost) AS c FROM sessions")
    for what, call in calls.items():
        with pytest.raises(StoreCorruptError) as info:
            call()
        error = info.value
        assert isinstance(error, SessionKitError), what
        assert error.path == path, what
        text = str(error)
        assert text.startswith(f"{path} cannot be read: "), what
        assert f"sessionkit store check --repair --store {store.path}" in text, what
        assert "nothing was changed" in text
    report = store.check()
    assert [(p.kind, p.path) for p in report.problems] == [
        ("unreadable", str(path.relative_to(store.path)))
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "it is not JSON"),
        (b"[1, 2]", "it is not a JSON object"),
        (b'{"stats": []}', "its 'stats' is list, not dict"),
        (b"", "it is not JSON"),
    ],
)
def test_a_damaged_manifest_is_named_with_the_fix(tmp_path: Path, content: bytes, reason: str) -> None:  # fmt: skip
    store = _store(tmp_path)
    manifest = store.path / "manifest.json"
    manifest.write_bytes(content)
    for call in (
        lambda: Store(store.path).load_sessions(since="2026-11-04"),
        lambda: Store(store.path).info(),
        lambda: Store(store.path).upsert("sessions", sk.sessions_frame([session(99)])),
    ):
        with pytest.raises(StoreCorruptError, match=rf"manifest.json cannot be read: {reason}"):
            call()
    report = Store(store.path).check()
    assert [p.kind for p in report.problems] == ["manifest"]
    assert manifest.read_bytes() == content  # nothing was changed


def test_repair_moves_what_cannot_be_read_aside_and_rebuilds_the_manifest(tmp_path: Path) -> None:
    store = _store(tmp_path)
    sessions_file = store.files()[2]
    agents_file = store.files("agents")[7]
    lost_day = sessions_file.parent.name[len("day=") :]
    damaged = {sessions_file: _truncate(sessions_file), agents_file: _flip(agents_file)}
    manifest = store.path / "manifest.json"
    manifest.write_bytes(b"\x00garbage")
    report = store.repair()
    assert report.ok and report.repaired
    quarantine = next((store.path / "quarantine").iterdir())
    for path, data in damaged.items():  # moved, byte for byte, under the same relative path
        assert not path.exists()
        assert (quarantine / path.relative_to(store.path)).read_bytes() == data
    assert (quarantine / "manifest.json").read_bytes() == b"\x00garbage"
    text = str(report)
    assert text.splitlines()[0] == f"store {store.path}: repaired"
    assert f"moved 3 file(s) that cannot be read into {quarantine} (nothing deleted)" in text
    assert "rebuilt the manifest from the partition files" in text
    assert text.splitlines()[-1] == (
        f"store {store.path}: healthy (11 sessions in 11 day partition(s); every file readable)"
    )
    loaded = store.load_sessions()
    assert len(loaded) == 11 and lost_day not in store.days()
    rebuilt = store.manifest()
    assert len(rebuilt["stats"]["sessions"]) == 11
    assert all(s["file"] == Layout(store.path).file_key("sessions", d) for d, s in rebuilt["stats"]["sessions"].items())  # fmt: skip
    # sessions whose agents file was moved aside are not recorded as having details
    assert len(rebuilt["details"]) == 11 - 1
    assert rebuilt["agent_names"] == {}  # upserted sessions carry no agent names
    assert store.check().ok
    assert str(store.repair()).splitlines()[0] == f"store {store.path}: nothing to repair"


def test_check_reports_a_manifest_that_disagrees_with_the_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    layout = Layout(store.path)
    manifest = layout.manifest_copy()
    days = store.days()
    gone = store.path / "sessions" / f"day={days[0]}"
    shutil.rmtree(gone)  # a partition deleted behind the store's back
    del manifest["stats"]["sessions"][days[1]]  # a day the manifest does not know
    manifest["stats"]["sessions"][days[2]]["rows"] = 99  # statistics of another file
    manifest["moves"] = {"sess_x": {"from": [days[3]], "to": days[4]}}
    layout.save_manifest(manifest)
    (store.path / "sessions" / f"day={days[5]}" / "part-1.parquet").write_bytes(b"x")
    problems = [(p.kind, p.path) for p in store.check().problems]
    assert problems == [
        ("foreign file", f"sessions/day={days[5]}/part-1.parquet"),
        ("missing file", f"sessions/day={days[0]}/part-0.parquet"),
        ("unknown file", f"sessions/day={days[1]}/part-0.parquet"),
        ("stale statistics", f"sessions/day={days[2]}/part-0.parquet"),
        ("unfinished move", "manifest.json"),
    ]
    report = store.repair()  # the foreign file is not the store's: left, and said
    assert [p.kind for p in report.problems] == ["foreign file"] and not report.ok
    assert f"store {store.path}: 1 problem left" in str(report)


def test_check_finds_a_session_stored_twice_and_repair_keeps_the_newest(tmp_path: Path) -> None:
    """What the store held after a session's day changed, before #15 item 8."""
    store = _store(tmp_path)
    old = session(3)
    newer = dict(old, created_at="2026-11-20T10:00:00Z", updated_at="2026-12-01T00:00:00Z")
    newer["total_cost"] = 7.0
    table = frame_to_table(sk.sessions_frame([newer]))
    day = Layout(store.path).file("sessions", "2026-11-20")
    day.parent.mkdir()
    pq.write_table(table, day)  # written behind the writer's back, as the old bug left it
    report = store.check()
    assert [str(p) for p in report.problems if p.kind == "duplicate"] == [
        f"duplicate: session {old['id']} is stored under 2 days (2026-11-04, 2026-11-20; a "
        "repair keeps the newest)"
    ]
    fixed = store.repair()
    assert fixed.ok, str(fixed)
    assert "kept the newest row of 1 session(s) stored under two days" in str(fixed)
    frame = store.load_sessions()
    assert frame["id"].is_unique and len(frame) == 12
    assert frame.set_index("id").loc[old["id"], "total_cost"] == 7.0
    agents = store.load_agents()
    assert agents["session_id"].is_unique  # its agent row followed it, once


def test_check_finds_files_whose_columns_disagree_and_repair_settles_them(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = store.files()[0]
    table = pq.read_table(path)
    pq.write_table(table.append_column("metadata.late", pa.array([1] * table.num_rows)), path)
    problems = store.check().problems
    assert [(p.kind, p.path) for p in problems if p.kind == "schema"] == [
        (kind_path[0], kind_path[1])
        for kind_path in [("schema", str(f.relative_to(store.path))) for f in store.files()[1:]]
    ]
    report = store.repair()
    assert report.ok, str(report)
    footers = [pq.read_schema(f) for f in store.files()]
    assert all(f.equals(footers[0]) for f in footers) and "metadata.late" in footers[0].names


def test_repair_waits_for_no_sync(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with Layout(store.path).locked(), pytest.raises(sk.StoreLockedError):
        store.repair()


def test_a_store_file_is_never_left_unverified(tmp_path: Path) -> None:
    """The writer records a CRC of every page (what lets check tell a flipped bit)."""
    store = _store(tmp_path)
    meta = pq.ParquetFile(store.files()[0]).metadata
    assert meta.num_row_groups >= 1
    for path in store.files() + store.files("agents"):
        before = path.read_bytes()
        _flip(path)
        with pytest.raises(OSError, match="CRC"):
            pq.read_table(path, page_checksum_verification=True)
        path.write_bytes(before)
    assert os.listdir(store.path)  # (nothing else touched)


def test_the_report_lists_each_problem_on_its_line_and_the_fix(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = store.files()[1]
    _truncate(path)
    (store.path / "manifest.json").write_text(orjson.dumps([1]).decode())
    lines = str(store.check()).splitlines()
    assert lines[0] == f"store {store.path}: 2 problems"
    assert lines[1] == "  manifest: manifest.json: cannot be read: it is not a JSON object"
    assert lines[2].startswith(f"  unreadable: {path.relative_to(store.path)}: ")
    assert lines[3].startswith(
        f"Repair with `sessionkit store check --repair --store {store.path}`"
    )
    assert f"moved into {store.path / 'quarantine'}, never deleted" in lines[3]


def test_a_store_whose_manifest_is_gone_gets_one_rebuilt(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.path / "manifest.json").unlink()
    assert [str(p) for p in store.check().problems] == [
        "manifest: manifest.json: missing: the partition files have no manifest (loads work; a "
        "repair rebuilds it, and the next sync fetches the history again)"
    ]
    report = store.repair()
    assert report.ok
    assert "rebuilt the manifest from the partition files" in str(report)
    assert len(store.manifest()["stats"]["sessions"]) == 12
    assert len(store.manifest()["details"]) == 12
