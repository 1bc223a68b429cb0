"""A damaged store over real loopback HTTP (#15 item 23): a sync names the damaged file and the
fix (before: a raw ArrowInvalid or orjson error, and no sync ever repaired it); after
``Store.repair()`` the next sync fetches what was moved aside, details included."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import sessionkit as sk
from sessionkit.store import StoreCorruptError
from tests.servers import detail, list_server, session

KEY = "sk_canary_0123456789abcdefghij"


def _client(url: str) -> sk.Client:
    return sk.Client(KEY, base_url=url, logs_base_url=url, max_retries=0)


def test_a_damaged_partition_stops_the_sync_by_name_and_repair_lets_it_refetch(
    tmp_path: Path,
) -> None:
    rows = [session(i, metadata={"k": i}) for i in range(40)]
    later = session(100, updated_at="2026-12-01T00:00:00Z")
    known = {r["id"]: detail(r) for r in [*rows, later]}
    with list_server(rows, details=known) as url:
        client = _client(url)
        store = sk.Store(tmp_path / "s")
        store.sync(client, details="all", progress=False)
        damaged = store.files()[5]
        lost = set(store.load_sessions(since="2026-11-06", until="2026-11-07")["id"])
        assert lost and damaged.parent.name == "day=2026-11-06"
        damaged.write_bytes(damaged.read_bytes()[:300])
        agents = store.files("agents")[9]
        agents.write_bytes(b"PAR1 not really")
        rows.insert(0, later)  # and something new
        with pytest.raises(StoreCorruptError) as info:
            store.sync(client, details="all", progress=False)
        assert info.value.path in (damaged, agents)
        assert "sessionkit store check --repair" in str(info.value)
        report = store.repair()
        assert report.ok, str(report)
        assert "forgot the sync watermarks" in str(report)
        result = store.sync(client, details="all", progress=False)
    assert result.new == len(lost) + 1  # what was moved aside, and the new one
    frame = store.load_sessions()
    assert len(frame) == 41 and lost <= set(frame["id"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", sk.SessionKitWarning)  # every session has its details
        assert set(store.load_agents(frame)["session_id"]) == set(frame["id"])
    assert store.check().ok
    quarantined = sorted(p.name for p in (store.path / "quarantine").rglob("*.parquet"))
    assert quarantined == ["part-0.parquet", "part-0.parquet"]


def test_a_damaged_manifest_stops_the_sync_by_name_and_repair_rebuilds_it(
    tmp_path: Path,
) -> None:
    rows = [session(i) for i in range(30)]
    with list_server(rows) as url:
        client = _client(url)
        store = sk.Store(tmp_path / "s")
        store.sync(client, details="all", progress=False)
        names = dict(store.manifest()["agent_names"])
        (store.path / "manifest.json").write_bytes(b'{"scopes": {"x": ')
        with pytest.raises(StoreCorruptError, match=r"manifest\.json cannot be read"):
            store.sync(client, progress=False)
        with pytest.raises(StoreCorruptError, match=r"manifest\.json cannot be read"):
            store.load_sessions(since="2026-11-03")
        report = store.repair()
        assert report.ok and "rebuilt the manifest" in str(report)
        rebuilt = store.manifest()
        assert set(rebuilt["details"]) == {r["id"] for r in rows}  # their agents rows are there
        assert {k: v for k, v in names.items() if k.startswith("agent_")} == rebuilt["agent_names"]
        result = store.sync(client, details="all", progress=False)
        again = store.sync(client, progress=False)
    assert (result.new, result.unchanged, result.details) == (0, 30, 0)
    assert again.pages <= 2  # incremental again: a watermark was recorded
    assert len(store.load_sessions(since="2026-11-03", until="2026-11-05")) == 2
