"""Over real loopback HTTP: a session whose ``created_at`` moves to another day between syncs
is stored once, in its new day, its details with it (#15 item 8); a manifest restored from a
backup never makes a time-filtered load skip rows the files hold (#15 item 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

import sessionkit as sk
from tests.servers import list_server, session

KEY = "sk_canary_0123456789abcdefghij"


def _client(url: str) -> sk.Client:
    return sk.Client(KEY, base_url=url, logs_base_url=url, max_retries=0)


def _stored_ids(store: sk.Store, entity: str, column: str) -> list[str]:
    """Every row's id in every file of ``entity`` (read file by file, as another tool would)."""
    ids: list[str] = []
    for path in store.files(entity):
        ids += pq.read_table(path, columns=[column])[column].to_pylist()
    return ids


def test_a_session_moved_to_another_day_is_stored_once_with_its_details(
    tmp_path: Path,
) -> None:
    rows = [session(i) for i in range(6)]
    moved = rows[2]
    with list_server(rows) as url:
        client = _client(url)
        store = sk.Store(tmp_path / "s")
        store.sync(client, details="all", progress=False)
        old_day = "2026-11-03"
        assert moved["created_at"].startswith(old_day)
        # the server now says the session was created (and started) two weeks later
        moved.update(
            created_at="2026-11-17T08:00:00Z",
            start_time="2026-11-17T08:00:00Z",
            updated_at="2026-12-01T00:00:00Z",
            total_cost=9.5,
        )
        result = store.sync(client, details="all", progress=False)
    assert (result.new, result.updated) == (0, 1)
    frame = store.load_sessions()
    assert len(frame) == 6 and frame["id"].is_unique
    row = frame.set_index("id").loc[moved["id"]]
    assert row["total_cost"] == 9.5 and str(row["created_at"].date()) == "2026-11-17"
    # no file holds it twice: not the sessions, not its agents (the detail rows moved along)
    assert _stored_ids(store, "sessions", "id").count(moved["id"]) == 1
    assert _stored_ids(store, "agents", "session_id").count(moved["id"]) == 1
    assert old_day not in store.days("sessions")  # its only session left: the day is gone
    assert old_day not in store.days("agents")
    agents = store.load_agents(frame[frame["id"] == moved["id"]])
    assert agents["session_id"].tolist() == [moved["id"]]
    assert store.manifest()["moves"] == {}
    week = store.load_sessions(since="2026-11-17", until="2026-11-18")
    assert moved["id"] in set(week["id"])


def test_a_manifest_restored_from_before_a_sync_never_hides_rows(tmp_path: Path) -> None:
    """The issue's case: 10 sessions stored after the backup, on a day the old manifest knew
    with an earlier start range; a load since their start found 0 of them."""
    early = [
        session(i, created_at="2026-11-05T01:00:00Z", start_time="2026-11-05T01:00:00Z")
        for i in range(5)
    ]
    rows = list(early)
    with list_server(rows) as url:
        client = _client(url)
        store = sk.Store(tmp_path / "s")
        store.sync(client, progress=False)
        backup = tmp_path / "manifest-backup.json"
        shutil.copy2(store.path / "manifest.json", backup)
        later = [
            session(
                100 + i,
                created_at="2026-11-05T20:00:00Z",
                start_time=f"2026-11-05T20:{i:02d}:00Z",
                updated_at="2026-12-01T00:00:00Z",
            )
            for i in range(10)
        ]
        rows[:0] = later
        assert store.sync(client, progress=False).new == 10
    shutil.copy2(backup, store.path / "manifest.json")  # restored from the backup
    fresh = sk.Store(store.path)
    got = fresh.load_sessions(since="2026-11-05T19:00:00Z")
    assert sorted(got["id"]) == sorted(r["id"] for r in later)
    assert len(fresh.load_sessions(until="2026-11-05T02:00:00Z")) == 5
